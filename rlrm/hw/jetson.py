"""Jetson facts for ``rlrm hw status`` and ``rlrm run``: board model, L4T release, nvpmodel
mode, whether ``jetson_clocks`` is active, GPU load and EMC (memory) frequency.

Each is read from the file where L4T keeps it, under the sysfs root (a fake tree in tests),
and is ``None`` where the file does not exist or cannot be read (another board, no root for
debugfs): nothing here writes.

- model: ``/proc/device-tree/model`` (``/sys/firmware/devicetree/base/model``)
- L4T: the first line of ``/etc/nv_tegra_release``
- nvpmodel: ``/var/lib/nvpmodel/status`` (``pmode:0002 ...``), the name from ``/etc/nvpmodel.conf``
- GPU load: ``load`` beside the GPU's devfreq node (``/sys/devices/gpu.0/load``), per mille
- EMC: ``/sys/kernel/debug/bpmp/debug/clk/emc/rate`` (Xavier, Orin) or
  ``/sys/kernel/debug/clk/emc/clk_rate`` (TX2, Nano), Hz
- jetson_clocks: active when every online CPU cluster's and the GPU's minimum frequency
  equals its maximum at the top of its table (what the script sets)
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence

from rlrm.errors import InputError
from rlrm.hw.sysfs import Sysfs

MODEL_FILES = ("proc/device-tree/model", "sys/firmware/devicetree/base/model")
L4T_RELEASE = "etc/nv_tegra_release"
NVPMODEL_STATUS = "var/lib/nvpmodel/status"
NVPMODEL_CONF = "etc/nvpmodel.conf"
GPU_LOAD_FILES = ("sys/devices/gpu.0/load", "sys/devices/platform/gpu.0/load")
EMC_RATE_FILES = ("sys/kernel/debug/bpmp/debug/clk/emc/rate", "sys/kernel/debug/clk/emc/clk_rate")


def _text(fs: Sysfs, rel: str) -> Optional[str]:
    try:
        return fs.read_text(rel).strip()
    except (OSError, InputError):
        return None


def _int(fs: Sysfs, rel: str) -> Optional[int]:
    text = _text(fs, rel)
    return int(text) if text is not None and text.isdigit() else None


def board_model(fs: Sysfs) -> Optional[str]:
    """The device tree's model string (``NVIDIA Jetson Xavier NX Developer Kit``)."""
    for rel in MODEL_FILES:
        text = _text(fs, rel)
        if text:
            return text
    return None


def l4t_release(fs: Sysfs) -> Optional[str]:
    """``R35 (release), REVISION: 4.1`` from ``/etc/nv_tegra_release``."""
    text = _text(fs, L4T_RELEASE)
    if not text:
        return None
    first = text.splitlines()[0].lstrip("# ").strip()
    return ", ".join(first.split(", ")[:2]) or None


def nvpmodel_mode(fs: Sysfs) -> Optional[Dict[str, Any]]:
    """``{"id": 2, "name": "MODE_15W_6CORE"}`` (name ``None`` when nvpmodel.conf lacks it)."""
    text = _text(fs, NVPMODEL_STATUS)
    match = re.search(r"pmode:\s*([0-9]+)", text or "")
    if match is None:
        return None
    mode = int(match.group(1))
    name = None
    conf = _text(fs, NVPMODEL_CONF) or ""
    for m in re.finditer(r"<\s*POWER_MODEL\s+ID=([0-9]+)\s+NAME=([A-Za-z0-9_.+-]+)\s*>", conf):
        if int(m.group(1)) == mode:
            name = m.group(2)
            break
    return {"id": mode, "name": name}


def gpu_load_percent(fs: Sysfs, gpu_rel: Optional[str] = None) -> Optional[float]:
    """GPU load in % (the driver's ``load`` is per mille), beside the devfreq node or at gpu.0."""
    candidates: List[str] = []
    if gpu_rel:
        parts = gpu_rel.split("/")
        if len(parts) > 2 and parts[-2] == "devfreq":  # <device>/devfreq/<name> -> <device>/load
            candidates.append("/".join(parts[:-2] + ["load"]))
    candidates.extend(GPU_LOAD_FILES)
    for rel in candidates:
        value = _int(fs, rel)
        if value is not None and value <= 1000:
            return value / 10.0
    return None


def emc_hz(fs: Sysfs) -> Optional[int]:
    """The EMC (memory controller) clock in Hz (debugfs: needs root on a board)."""
    for rel in EMC_RATE_FILES:
        value = _int(fs, rel)
        if value:
            return value
    return None


def jetson_clocks_active(clusters: Sequence[Any], gpu: Any) -> Optional[bool]:
    """Whether every active CPU cluster and the GPU are held at their top frequency
    (minimum = maximum = the table's highest), as ``jetson_clocks`` leaves them; ``None``
    when there is nothing to judge by or a limit cannot be read."""
    checked = 0
    try:
        for p in clusters:
            if not p.active or not p.available_khz:
                continue
            st = p.state()
            if not (st.min_khz == st.max_khz == p.available_khz[-1]):
                return False
            checked += 1
        if gpu is not None and gpu.available_hz:
            g = gpu.state()
            if not (g.min_hz == g.max_hz == gpu.available_hz[-1]):
                return False
            checked += 1
    except (OSError, InputError):
        return None
    return True if checked else None


def jetson_status(fs: Sysfs, clusters: Sequence[Any], gpu: Any) -> Dict[str, Any]:
    """Every Jetson fact above, ``None`` where unknown."""
    return {
        "model": board_model(fs),
        "l4t": l4t_release(fs),
        "nvpmodel": nvpmodel_mode(fs),
        "jetson_clocks": jetson_clocks_active(clusters, gpu),
        "gpu_load_pct": gpu_load_percent(fs, getattr(gpu, "rel", None)),
        "emc_hz": emc_hz(fs),
    }
