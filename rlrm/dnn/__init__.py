"""Dynamic-OFA model: an OFA-compatible elastic MobileNetV3 supernet with in-process
subnetwork switching, its FLOPs / latency models and a small trained demo."""
