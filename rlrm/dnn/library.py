"""Sub-network libraries: the levels a Dynamic-OFA model switches between (no torch).

A library file has the form of Dynamic-OFA's libraries as converted in
``reference/dynamic_ofa_subnets.json``::

    {
      "supernet": "ofa_mbv3_d234_e346_k357_w1.2",
      "n_classes": 1000,                      // optional, default 1000
      "dataset": "ImageNet-1k validation, top-1 %",
      "latency_note": "...",                  // optional, free text
      "provenance": {...},                    // optional, free form
      "libraries": {
        "dynamic-ofa-6": [
          {"level": 0, "top1": 74.202, "latency_ms": 41.16, "resolution": 176,
           "depth": [5 ints], "kernel": [20 ints], "expand": [20 numbers],
           "mflops": 235.5, "mparams": 5.339}
        ]
      }
    }

``top1``, ``latency_ms``, ``mflops`` and ``mparams`` are optional; when ``mflops`` /
``mparams`` are given they must agree with the count of :mod:`rlrm.dnn.flops` within 1 %.
Levels are numbered 0..n-1 in file order. Anything else is refused with a one-line
:class:`~rlrm.errors.InputError` naming the file and field.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from rlrm.dnn.arch import N_STAGES, SupernetArch
from rlrm.dnn.flops import Cost, count_subnet
from rlrm.errors import InputError
from rlrm.paths import ENVS_DIR, find_data
from rlrm.validate import read_json

#: Folder of the project's libraries, ``envs/libraries/<name>.json``.
LIBRARIES_DIR = ENVS_DIR / "libraries"
#: Relative disagreement allowed between a file's mflops/mparams and the count.
COST_TOLERANCE = 0.01

_TOP_KEYS = {"supernet", "n_classes", "dataset", "latency_note", "provenance", "libraries"}
_LEVEL_KEYS = {"level", "top1", "latency_ms", "resolution", "depth", "kernel", "expand", "mflops", "mparams"}


@dataclass(frozen=True)
class SubnetSpec:
    """One level of a library: a sub-network of the supernet.

    :param level: index in the library (0 = smallest by convention)
    :param resolution: input side in pixels
    :param depth: blocks per stage (5)
    :param kernel: kernel size per elastic block (20)
    :param expand: expand ratio per elastic block (20)
    :param top1: accuracy in %, if known
    :param latency_ms: latency the library's source measured, if known
    :param mflops: multiply-accumulates in millions
    :param mparams: parameters in millions
    """

    level: int
    resolution: int
    depth: tuple[int, ...]
    kernel: tuple[int, ...]
    expand: tuple[float, ...]
    top1: Optional[float] = None
    latency_ms: Optional[float] = None
    mflops: Optional[float] = None
    mparams: Optional[float] = None

    @property
    def ofa_config(self) -> dict[str, list[Any]]:
        """Arguments of ``OFAMobileNetV3.set_active_subnet``."""
        return {"ks": list(self.kernel), "e": list(self.expand), "d": list(self.depth)}

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("depth", "kernel", "expand"):
            d[k] = list(d[k])
        return {k: v for k, v in d.items() if v is not None}


@dataclass
class SubnetLibrary:
    """An ordered set of sub-networks of one supernet.

    :param name: library name (``dynamic-ofa-6``)
    :param arch: the supernet's skeleton
    :param levels: the sub-networks, index = level
    :param dataset: what ``top1`` was measured on
    :param source: file it was read from
    :param extra: other top-level fields kept for writing back (``latency_note``, ``provenance``)
    """

    name: str
    arch: SupernetArch
    levels: list[SubnetSpec]
    dataset: str = ""
    source: str = "<memory>"
    extra: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.levels)

    def __getitem__(self, level: int) -> SubnetSpec:
        return self.levels[level]

    def cost(self, level: int) -> Cost:
        """Counted MACs and parameters of ``level``."""
        s = self.levels[level]
        return count_subnet(self.arch, s.resolution, s.kernel, s.expand, s.depth)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"supernet": self.arch.name, "n_classes": self.arch.n_classes}
        if self.dataset:
            out["dataset"] = self.dataset
        out.update(self.extra)
        out["libraries"] = {self.name: [s.to_json() for s in self.levels]}
        return out

    def save(self, path: Union[str, "os.PathLike[str]"]) -> None:
        Path(path).write_text(dump_json(self.to_json()))


def dump_json(data: Any) -> str:
    """Indented JSON with lists of numbers kept on one line."""
    text = json.dumps(data, indent=1)
    return re.sub(
        r"\[\s*([-0-9.e,\s]+?)\s*\]",
        lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
        text,
    ) + "\n"


def resolve_library(name_or_path: Union[str, "os.PathLike[str]"]) -> tuple[Path, Optional[str]]:
    """``dynamic-ofa-6`` -> ``envs/libraries/dynamic-ofa-6.json``; ``file.json#six_levels``
    -> that file, library ``six_levels``."""
    text = os.fspath(name_or_path)
    name: Optional[str] = None
    if "#" in text:
        text, name = text.rsplit("#", 1)
    p = Path(text)
    if p.is_file() or os.sep in text or text.endswith(".json"):
        return p, name
    return find_data(LIBRARIES_DIR, f"{text}.json"), name or text


def load_library(name_or_path: Union[str, "os.PathLike[str]"], name: Optional[str] = None) -> SubnetLibrary:
    """Read and validate a library file.

    :param name_or_path: a library name under ``envs/libraries/`` or a path, optionally
        with ``#<library>`` appended
    :param name: which library of the file (needed when it holds several)
    """
    path, hash_name = resolve_library(name_or_path)
    name = name or hash_name
    return parse_library(read_json(path), path, name)


def parse_library(data: Any, source: Union[str, Path] = "<memory>", name: Optional[str] = None) -> SubnetLibrary:
    """Validate a library already parsed from JSON (see :func:`load_library`)."""
    if not isinstance(data, dict):
        raise InputError(source, "<root>", "expected a JSON object")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise InputError(source, unknown[0], f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")
    for key in ("supernet", "libraries"):
        if key not in data:
            raise InputError(source, key, "missing")
    n_classes = data.get("n_classes", 1000)
    if not isinstance(n_classes, int) or isinstance(n_classes, bool) or n_classes < 1:
        raise InputError(source, "n_classes", f"expected a positive integer, got {n_classes!r}")
    try:
        arch = SupernetArch.from_name(str(data["supernet"]), n_classes=n_classes)
    except ValueError as err:
        raise InputError(source, "supernet", str(err)) from None
    libs = data["libraries"]
    if not isinstance(libs, dict) or not libs:
        raise InputError(source, "libraries", "expected a non-empty object {name: [levels]}")
    if name is None:
        if len(libs) != 1:
            raise InputError(source, "libraries", f"holds several libraries, choose one of: {', '.join(libs)}")
        name = next(iter(libs))
    if name not in libs:
        raise InputError(source, "libraries", f"no library {name!r} (has: {', '.join(libs)})")
    entries = libs[name]
    if not isinstance(entries, list) or not entries:
        raise InputError(source, f"libraries.{name}", "expected a non-empty list of levels")
    levels = [_parse_level(e, arch, source, f"libraries.{name}[{i}]", i) for i, e in enumerate(entries)]
    extra = {k: data[k] for k in ("latency_note", "provenance") if k in data}
    return SubnetLibrary(name, arch, levels, str(data.get("dataset", "")), str(source), extra)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _int_list(v: Any, n: int, allowed: Sequence[Any], source: Any, where: str) -> tuple[Any, ...]:
    if not isinstance(v, list) or len(v) != n:
        raise InputError(source, where, f"expected a list of {n} values, got {v!r}")
    for j, x in enumerate(v):
        if not _number(x) or x not in allowed:
            raise InputError(source, f"{where}[{j}]", f"{x!r} not one of {list(allowed)}")
    return tuple(int(x) if float(x).is_integer() else float(x) for x in v)


def _parse_level(e: Any, arch: SupernetArch, source: Any, where: str, index: int) -> SubnetSpec:
    if not isinstance(e, dict):
        raise InputError(source, where, "expected an object")
    unknown = sorted(set(e) - _LEVEL_KEYS)
    if unknown:
        raise InputError(source, f"{where}.{unknown[0]}", f"unknown key (allowed: {', '.join(sorted(_LEVEL_KEYS))})")
    for key in ("resolution", "depth", "kernel", "expand"):
        if key not in e:
            raise InputError(source, f"{where}.{key}", "missing")
    level = e.get("level", index)
    if level != index or isinstance(level, bool):
        raise InputError(source, f"{where}.level", f"expected {index} (levels are numbered 0..n-1 in order), got {level!r}")
    res = e["resolution"]
    if not isinstance(res, int) or isinstance(res, bool) or not 8 <= res <= 1024:
        raise InputError(source, f"{where}.resolution", f"expected an integer side in pixels (8..1024), got {res!r}")
    depth = _int_list(e["depth"], N_STAGES, arch.depth_list, source, f"{where}.depth")
    kernel = _int_list(e["kernel"], arch.n_blocks, arch.ks_list, source, f"{where}.kernel")
    expand = _int_list(e["expand"], arch.n_blocks, arch.expand_ratio_list, source, f"{where}.expand")
    opt: dict[str, Optional[float]] = {}
    for key in ("top1", "latency_ms", "mflops", "mparams"):
        v = e.get(key)
        if v is not None and (not _number(v) or v < 0 or (key == "top1" and v > 100) or (key != "top1" and v == 0)):
            raise InputError(source, f"{where}.{key}", f"expected a positive number{' <= 100' if key == 'top1' else ''}, got {v!r}")
        opt[key] = None if v is None else float(v)
    cost = count_subnet(arch, res, kernel, expand, depth)
    for key, counted in (("mflops", cost.mflops), ("mparams", cost.mparams)):
        given = opt[key]
        if given is not None and abs(given - counted) > COST_TOLERANCE * counted:
            raise InputError(
                source, f"{where}.{key}",
                f"{given:g} disagrees with the counted {counted:.3f} by more than {COST_TOLERANCE:.0%}",
            )
    return SubnetSpec(index, res, depth, kernel, expand, **opt)
