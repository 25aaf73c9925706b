"""Dynamic-OFA: a supernet plus a library of sub-networks it switches between in-process.

Dynamic-OFA keeps, per sub-network, the BatchNorm statistics recalibrated on sample data
(a sub-network's activations have other statistics than the full supernet's). Here each
level owns its own running-mean / running-variance tensors, and :meth:`DynamicOFA.switch`
points every BatchNorm of the supernet at the chosen level's tensors and sets the active
kernel sizes, expand ratios and depths: no weight is copied or reloaded, no process started.
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from rlrm.dnn.checkpoint import load_weights, read_tensors, save_weights
from rlrm.dnn.library import SubnetLibrary, load_library
from rlrm.dnn.static import MobileNetV3
from rlrm.dnn.supernet import OFAMobileNetV3
from rlrm.errors import InputError
from rlrm.validate import read_json

WEIGHTS_FILE = "weights.safetensors"
BN_STATS_FILE = "bn_stats.safetensors"
LIBRARY_FILE = "library.json"
MODEL_FILE = "model.json"


class DynamicOFA(nn.Module):
    """A supernet with a sub-network library and per-level BatchNorm statistics.

    Call :meth:`switch` to change level; the next :meth:`forward` runs that sub-network
    (inputs are resized to the level's resolution). :meth:`calibrate` recomputes the
    levels' BatchNorm statistics on sample data, as Dynamic-OFA does before storing them.

    :param supernet: the elastic network whose weights all levels share
    :param library: the levels (must describe ``supernet``'s search space)
    :param bn_stats: per-level statistics as written by :meth:`bn_stats_state` (optional;
        levels without statistics use the supernet's own)
    :param level: level to start at (default: the largest, the last)
    """

    def __init__(
        self,
        supernet: OFAMobileNetV3,
        library: SubnetLibrary,
        bn_stats: Optional[Mapping[str, torch.Tensor]] = None,
        level: Optional[int] = None,
    ) -> None:
        super().__init__()
        if library.arch != supernet.arch:
            raise InputError(
                library.source, "supernet",
                f"library is for {library.arch.name} ({library.arch.n_classes} classes), "
                f"the model is {supernet.arch.name} ({supernet.arch.n_classes} classes)",
            )
        self.supernet = supernet
        self.library = library
        self._bn_names = [n for n, m in supernet.named_modules() if isinstance(m, nn.BatchNorm2d)]
        self._bns = [m for m in supernet.modules() if isinstance(m, nn.BatchNorm2d)]
        self._bn_buffers = [bn._buffers for bn in self._bns]
        #: the supernet's own statistics, kept aside while a level's are swapped in
        self._base_stats = [(bn.running_mean, bn.running_var) for bn in self._bns]
        self._level_stats: list[list[tuple[torch.Tensor, torch.Tensor]]] = [
            [(m.clone(), v.clone()) for m, v in self._base_stats] for _ in range(len(library))
        ]
        #: per level, channels each BatchNorm used when calibrated (0: not active)
        self._active_channels: list[Optional[list[int]]] = [None] * len(library)
        self._configs = [self._block_settings(spec.ofa_config) for spec in library.levels]
        self.level = -1
        self.resolution = library[-1].resolution
        if bn_stats is not None:
            self.load_bn_stats(bn_stats)
        self.switch(len(library) - 1 if level is None else level)

    # -------------------------------------------------------------------------- switching
    def _block_settings(self, cfg: Mapping[str, Sequence[Any]]) -> tuple[list[tuple[Any, int, float]], list[int]]:
        self.supernet.set_active_subnet(cfg["ks"], cfg["e"], cfg["d"])  # validates
        blocks = [(b, int(k), e) for b, k, e in zip(self.supernet.elastic_blocks, cfg["ks"], cfg["e"])]
        return blocks, [int(d) for d in cfg["d"]]

    def switch(self, level: int) -> None:
        """Make ``level`` the sub-network the next inference runs.

        Sets the active kernel size / expand ratio of every block and the depth of every
        stage, and points every BatchNorm at the level's statistics. Nothing is loaded
        or copied; cost is a few hundred attribute assignments.
        """
        if not 0 <= level < len(self._configs):
            raise ValueError(f"level {level} out of range 0..{len(self._configs) - 1}")
        blocks, depth = self._configs[level]
        for block, k, e in blocks:
            d = block.__dict__
            d["active_kernel_size"] = k
            d["active_expand_ratio"] = e
        self.supernet.runtime_depth[:] = depth
        for buffers, (mean, var) in zip(self._bn_buffers, self._level_stats[level]):
            buffers["running_mean"] = mean
            buffers["running_var"] = var
        self.level = level
        self.resolution = self.library.levels[level].resolution

    def _apply(self, fn: Any, recurse: bool = True) -> "DynamicOFA":  # .to(), .cuda(), .double()
        super()._apply(fn, recurse)
        self._base_stats = [(fn(m), fn(v)) for m, v in self._base_stats]
        self._level_stats = [[(fn(m), fn(v)) for m, v in level] for level in self._level_stats]
        if self.level >= 0:
            self.switch(self.level)
        else:
            self.use_supernet_stats()
        return self

    @property
    def n_levels(self) -> int:
        return len(self.library)

    def use_supernet_stats(self) -> None:
        """Point every BatchNorm back at the supernet's own statistics (e.g. to save or
        train the supernet itself); the active architecture stays as it is."""
        for buffers, (mean, var) in zip(self._bn_buffers, self._base_stats):
            buffers["running_mean"] = mean
            buffers["running_var"] = var
        self.level = -1

    # ---------------------------------------------------------------------------- running
    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Resize a batch of images to the active level's resolution (bilinear)."""
        r = self.resolution
        if x.shape[-1] != r or x.shape[-2] != r:
            x = F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.supernet(self.prepare(x))

    def static_subnet(self, level: Optional[int] = None) -> MobileNetV3:
        """A standalone static network of ``level`` (default: the active one), with that
        level's BatchNorm statistics."""
        current = self.level
        if level is not None and level != current:
            self.switch(level)
        try:
            return self.supernet.get_active_subnet(preserve_weight=True)
        finally:
            if level is not None and level != current and current >= 0:
                self.switch(current)

    # ------------------------------------------------------------------------ calibration
    @torch.no_grad()
    def calibrate(self, batches: Iterable[torch.Tensor], levels: Optional[Sequence[int]] = None) -> None:
        """Recompute the BatchNorm statistics of ``levels`` (default: all) on ``batches``.

        Per BatchNorm, the mean and (biased) variance of each batch, averaged over batches
        weighted by batch size, as once-for-all's ``set_running_statistics`` does.

        :param batches: image batches (any size; resized per level); iterated once per level
        :param levels: which levels
        """
        batches = list(batches)
        current = self.level
        was_training = self.training
        self.eval()
        for level in range(self.n_levels) if levels is None else levels:
            self.switch(level)
            sums: list[Optional[list[Any]]] = [None] * len(self._bns)

            def make_forward(i: int, bn: nn.BatchNorm2d, sums: list[Optional[list[Any]]]) -> Any:
                def fwd(_self: nn.BatchNorm2d, inp: torch.Tensor) -> torch.Tensor:
                    c, n = inp.size(1), inp.size(0)
                    mean = inp.mean(dim=(0, 2, 3))
                    var = (inp - mean.view(1, -1, 1, 1)).pow(2).mean(dim=(0, 2, 3))
                    acc = sums[i]
                    if acc is None:
                        sums[i] = [mean * n, var * n, n, c]
                    else:
                        acc[0] += mean * n
                        acc[1] += var * n
                        acc[2] += n
                    return F.batch_norm(inp, mean, var, bn.weight[:c], bn.bias[:c], False, 0.0, bn.eps)

                return fwd

            for i, bn in enumerate(self._bns):
                bn.forward = types.MethodType(make_forward(i, bn, sums), bn)  # type: ignore[method-assign]
                bn._rlrm_calibrating = True  # type: ignore[attr-defined]
            try:
                for x in batches:
                    self(x)
            finally:
                for bn in self._bns:
                    del bn.forward
                    del bn._rlrm_calibrating
            active = []
            for acc, (mean, var) in zip(sums, self._level_stats[level]):
                if acc is None:
                    active.append(0)
                    continue
                s_mean, s_var, n, c = acc
                mean[:c].copy_(s_mean / n)
                var[:c].copy_(s_var / n)
                active.append(c)
            self._active_channels[level] = active
        self.train(was_training)
        if current >= 0:
            self.switch(current)
        else:
            self.use_supernet_stats()

    def is_calibrated(self, level: int) -> bool:
        return self._active_channels[level] is not None

    def bn_stats_state(self) -> dict[str, torch.Tensor]:
        """Calibrated statistics of every level, only the channels the level uses:
        ``level{L}.{bn module}.running_mean`` / ``.running_var``."""
        out: dict[str, torch.Tensor] = {}
        for level, active in enumerate(self._active_channels):
            if active is None:
                continue
            for name, c, (mean, var) in zip(self._bn_names, active, self._level_stats[level]):
                if c:
                    out[f"level{level}.{name}.running_mean"] = mean[:c].clone()
                    out[f"level{level}.{name}.running_var"] = var[:c].clone()
        return out

    def load_bn_stats(self, state: Mapping[str, torch.Tensor], source: Union[str, Path] = "<memory>") -> None:
        """Install statistics written by :meth:`bn_stats_state`."""
        index = {n: i for i, n in enumerate(self._bn_names)}
        per_level: dict[int, list[int]] = {}
        for key, tensor in state.items():
            head, _, rest = key.partition(".")
            name, _, kind = rest.rpartition(".")
            if not head.startswith("level") or not head[5:].isdigit() or kind not in ("running_mean", "running_var"):
                raise InputError(source, key, "expected level<L>.<batchnorm>.running_mean|running_var")
            level = int(head[5:])
            if level >= self.n_levels:
                raise InputError(source, key, f"level {level} but the library has {self.n_levels} levels")
            if name not in index:
                raise InputError(source, key, "no such BatchNorm in the supernet")
            i = index[name]
            full = self._level_stats[level][i][0 if kind == "running_mean" else 1]
            c = tensor.numel()
            if tensor.dim() != 1 or c > full.numel() or c == 0:
                raise InputError(source, key, f"shape {list(tensor.shape)} does not fit a BatchNorm of {full.numel()} channels")
            if not bool(torch.isfinite(tensor).all()) or (kind == "running_var" and bool((tensor < 0).any())):
                raise InputError(source, key, "holds NaN, infinite or negative-variance values (corrupt file?)")
            with torch.no_grad():
                full[:c].copy_(tensor)
            active = per_level.setdefault(level, [0] * len(self._bns))
            active[i] = c
        for level, active in per_level.items():
            self._active_channels[level] = active
        if self.level >= 0:
            self.switch(self.level)

    # ----------------------------------------------------------------------- persistence
    def save_pretrained(self, directory: Union[str, Path], model_info: Optional[Mapping[str, Any]] = None) -> None:
        """Write ``weights.safetensors`` (the supernet, its own BatchNorm statistics),
        ``bn_stats.safetensors`` (per level), ``library.json`` and ``model.json``."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        level = self.level
        self.use_supernet_stats()
        try:
            save_weights(self.supernet, d / WEIGHTS_FILE, {"arch": self.supernet.arch.name})
        finally:
            if level >= 0:
                self.switch(level)
        save_weights(self.bn_stats_state(), d / BN_STATS_FILE, {"library": self.library.name})
        self.library.save(d / LIBRARY_FILE)
        info = {
            "supernet": self.supernet.arch.name,
            "n_classes": self.supernet.arch.n_classes,
            "dropout_rate": self.supernet.dropout_rate,
            "library": self.library.name,
        }
        info.update(model_info or {})
        (d / MODEL_FILE).write_text(json.dumps(info, indent=1) + "\n")

    @classmethod
    def from_pretrained(cls, directory: Union[str, Path], level: Optional[int] = None) -> "DynamicOFA":
        """Build a model from a directory written by :meth:`save_pretrained`."""
        d = Path(directory)
        if not d.is_dir():
            raise InputError(d, "<dir>", "no such model directory")
        library = load_library(d / LIBRARY_FILE)
        arch = library.arch
        _check_model_info(d / MODEL_FILE, library)
        supernet = OFAMobileNetV3(
            n_classes=arch.n_classes, width_mult=arch.width_mult, ks_list=arch.ks_list,
            expand_ratio_list=arch.expand_ratio_list, depth_list=arch.depth_list, dropout_rate=0.0,
        )
        load_weights(supernet, d / WEIGHTS_FILE, what=arch.name)
        stats_path = d / BN_STATS_FILE
        model = cls(supernet, library, level=level)
        if stats_path.is_file():
            model.load_bn_stats(read_tensors(stats_path), stats_path)
        return model.eval()


def _check_model_info(path: Path, library: SubnetLibrary) -> None:
    """``model.json`` (when present) must be a JSON object agreeing with ``library.json``
    on the supernet and the number of classes; else a one-line :class:`InputError`."""
    if not path.exists():
        return
    info = read_json(path)
    if not isinstance(info, dict):
        raise InputError(path, "<top>", f"expected a JSON object, got {type(info).__name__}")
    for key, expected in (("supernet", library.arch.name), ("n_classes", library.arch.n_classes)):
        if key in info and (info[key] != expected or isinstance(info[key], bool)):
            raise InputError(path, key, f"{info[key]!r} disagrees with {LIBRARY_FILE} ({expected!r})")
