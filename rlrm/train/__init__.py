"""PPO training: configs, callbacks and the training run."""
