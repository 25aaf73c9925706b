"""Latency prediction from once-for-all-format look-up tables (JSON only, no torch).

A table is one JSON object per input resolution, ``{r}.json`` in a directory, mapping an
operator key to ``{"count", "mean", "std"}`` in ms. Keys are once-for-all's
``MBv3LatencyTable`` keys::

    Conv-input:224x224x3-output:112x112x24
    expanded_conv-input:112x112x24-output:56x56x32-expand:144-kernel:3-stride:2-idskip:0-se:0-hs:0
    Conv_1-input:7x7x192-output:7x7x1152
    AvgPool2D-input:7x7x1152-output:1x1x1152
    Conv_2-input:1x1x1152-output:1x1x1536
    Logits-input:1x1x1536-output:1000

:func:`predict_latency` sums them the way once-for-all's
``LatencyEstimator.predict_network_latency_given_spec`` walks a sub-network: first conv,
first block, the first ``depth[s]`` blocks of each stage, then the head. ``expand`` in a
key is the block's middle channel count, ``round(in_channels * expand_ratio)``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Union

from rlrm.dnn.arch import SupernetArch, conv_out_size, walk_blocks
from rlrm.errors import InputError
from rlrm.validate import is_finite_number, read_json

#: The supernet the published Dynamic-OFA tables were measured for.
LUT_ARCH = SupernetArch(width_mult=1.2)

Table = Mapping[str, Mapping[str, float]]
LutSource = Union[str, "os.PathLike[str]", Mapping[int, Table], Table]


@dataclass(frozen=True)
class SubnetShape:
    """What the look-up table needs to know about a sub-network.

    :param resolution: input side in pixels
    :param kernel: kernel size per elastic block (20)
    :param expand: expand ratio per elastic block (20)
    :param depth: depth per stage (5)
    """

    resolution: int
    kernel: tuple[int, ...]
    expand: tuple[float, ...]
    depth: tuple[int, ...]

    @classmethod
    def from_any(cls, spec: Any) -> "SubnetShape":
        """Accept a library level (``resolution/kernel/expand/depth``, as a mapping or an
        object with those attributes) or a once-for-all spec (``r/ks/e/d``)."""
        if isinstance(spec, SubnetShape):
            return spec
        get = spec.get if isinstance(spec, Mapping) else lambda k, d=None: getattr(spec, k, d)
        if get("ks") is not None:
            r = get("r")
            r = r[0] if isinstance(r, (list, tuple)) else r
            return cls(int(r), tuple(get("ks")), tuple(get("e")), tuple(get("d")))
        return cls(int(get("resolution")), tuple(get("kernel")), tuple(get("expand")), tuple(get("depth")))


def _shape(*dims: int) -> str:
    return "x".join(str(d) for d in dims)


def operator_keys(spec: Any, arch: SupernetArch = LUT_ARCH, n_classes: int = 1000) -> list[str]:
    """The table keys a sub-network's latency is the sum of, in execution order."""
    s = SubnetShape.from_any(spec)
    r = s.resolution
    f = conv_out_size(r, 2)
    keys = [f"Conv-input:{_shape(r, r, 3)}-output:{_shape(f, f, arch.first_conv_channels)}"]
    for i, b in enumerate(walk_blocks(arch, r, s.kernel, s.expand, s.depth)):
        # The published estimator uses round(in * e), not make_divisible; for the w1.2
        # widths they agree. The first block has no expansion: "expand" is its width.
        mid = b.in_channels if i == 0 else round(b.in_channels * b.expand_ratio)
        keys.append(
            f"expanded_conv-input:{_shape(b.in_size, b.in_size, b.in_channels)}"
            f"-output:{_shape(b.out_size, b.out_size, b.out_channels)}"
            f"-expand:{mid}-kernel:{b.kernel_size}-stride:{b.stride}"
            f"-idskip:{int(b.id_skip)}-se:{int(b.use_se)}-hs:{int(b.act_func == 'h_swish')}"
        )
        f = b.out_size
    last, fe, mix = arch.stage_widths[-1], arch.final_expand_channels, arch.last_channels
    keys.append(f"Conv_1-input:{_shape(f, f, last)}-output:{_shape(f, f, fe)}")
    keys.append(f"AvgPool2D-input:{_shape(f, f, fe)}-output:{_shape(1, 1, fe)}")
    keys.append(f"Conv_2-input:{_shape(1, 1, fe)}-output:{_shape(1, 1, mix)}")
    keys.append(f"Logits-input:{_shape(1, 1, mix)}-output:{n_classes}")
    return keys


def load_table(path: Union[str, "os.PathLike[str]"]) -> dict[str, dict[str, float]]:
    """Read one resolution's table; bad JSON or entries without a numeric ``mean`` -> InputError."""
    p = Path(path)
    data = read_json(p)
    if not isinstance(data, dict):
        raise InputError(p, "<root>", "expected an object mapping operator keys to {count, mean, std}")
    for key, val in data.items():
        if not isinstance(val, dict) or not is_finite_number(val.get("mean")):
            raise InputError(p, key, "expected an object with a numeric 'mean' (ms)")
    return data


def _table_for(source: LutSource, resolution: int) -> tuple[Table, str]:
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            path = path / f"{resolution}.json"
        if not path.is_file():
            raise InputError(path, "<file>", f"no look-up table for resolution {resolution}")
        return load_table(path), str(path)
    if resolution in source:  # {resolution: table}
        return source[resolution], f"<table {resolution}>"  # type: ignore[index]
    if str(resolution) in source:
        return source[str(resolution)], f"<table {resolution}>"  # type: ignore[return-value]
    return source, "<table>"  # type: ignore[return-value]


def predict_latency(
    lut: LutSource, spec: Any, arch: SupernetArch = LUT_ARCH, n_classes: int = 1000, stat: str = "mean"
) -> float:
    """Predicted latency in ms: the sum of the table entries of ``spec``'s operators.

    :param lut: a directory of ``{r}.json`` tables, one table file, a ``{resolution: table}``
        mapping, or a single table
    :param spec: a library level or a once-for-all ``{"r", "ks", "e", "d"}`` spec
    :param arch: the supernet the table was measured for (w1.2 for the published tables)
    :param n_classes: classifier outputs in the ``Logits`` key
    :param stat: which statistic to sum (``mean``)
    """
    shape = SubnetShape.from_any(spec)
    table, where = _table_for(lut, shape.resolution)
    total = 0.0
    for key in operator_keys(shape, arch, n_classes):
        entry = table.get(key)
        if entry is None:
            raise InputError(where, key, "operator missing from the look-up table")
        total += float(entry[stat])
    return total
