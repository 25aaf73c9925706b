"""Reading an exported checkpoint: ``policy.json`` validated field by field, the weights file
checked against its SHA-256 and the layer list, never unpickled.

A checkpoint is a folder with two files:

* ``policy.json``, the sidecar: format version, the environment the policy was trained for
  (:class:`rlrm.policy.spec.EnvSpec`), the observation normalisation, the network's layer
  list and activation, the weights file's name and SHA-256, versions, and the source run;
* ``policy.safetensors`` or ``policy.npz``: float32 arrays ``pi.<i>.weight`` /
  ``pi.<i>.bias`` (hidden layers, torch's ``(out, in)`` layout) and ``action.weight`` /
  ``action.bias`` (the logits layer).

:func:`load` validates everything before it returns (one-line
:class:`rlrm.errors.InputError` naming the file and the field).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Union

import numpy as np

from rlrm.errors import InputError
from rlrm.policy.network import ACTIVATIONS, LayerSpec
from rlrm.policy.numpy_policy import NumpyPolicy
from rlrm.policy.spec import EnvSpec, Normalization
from rlrm.policy.weights import WEIGHT_SUFFIXES, decode_weights, read_file_bytes, sha256_bytes
from rlrm.validate import Fields, read_json

PathLike = Union[str, Path]

#: ``format`` of policy.json
FORMAT = "rlrm-policy"
#: the only ``format_version`` this rlrm reads and writes
FORMAT_VERSION = 1
#: the sidecar's file name inside a checkpoint folder
SIDECAR_NAME = "policy.json"

_HIDDEN_NAME = re.compile(r"^pi\.(\d+)$")


def sidecar_path_of(path: PathLike) -> Path:
    """``policy.json`` of a checkpoint given as its folder, its sidecar or its weights file."""
    p = Path(path)
    if p.is_dir():
        side = p / SIDECAR_NAME
        if not side.exists():
            hint = (" (this is a training run: export it with `rlrm export RUN -o checkpoints/NAME`)"
                    if (p / "model.zip").exists() else "")
            raise InputError(side, "<file>", f"no such file{hint}")
        return side
    if p.suffix in WEIGHT_SUFFIXES:
        return p.with_name(SIDECAR_NAME)
    return p


def load(path: PathLike, expected_platform: Optional[str] = None) -> NumpyPolicy:
    """Load and validate a checkpoint with NumPy alone.

    :param path: the checkpoint folder, its ``policy.json`` or its weights file
    :param expected_platform: refuse a policy trained for another board
    :raise InputError: one line naming the file and the field at fault
    """
    side = sidecar_path_of(path)
    top = Fields(read_json(side), side)
    top.format(FORMAT, FORMAT_VERSION, "an rlrm policy checkpoint")
    spec = EnvSpec.from_fields(top.table("env"))
    norm_raw = top.raw("normalization")
    normalization = None if norm_raw is None else Normalization.from_fields(top.table("normalization"))
    activation, layers = _parse_network(top.table("network"))
    weights_file, sha = _parse_weights_entry(top.table("weights"))
    versions = top.raw("versions")
    if not isinstance(versions, dict):
        raise top.error("versions", "expected a table")
    source = top.raw("source")
    if not isinstance(source, dict):
        raise top.error("source", "expected a table")
    top.finish()

    _check_chain(side, spec, normalization, layers)
    if expected_platform is not None and spec.platform != expected_platform:
        raise InputError(side, "env.platform", f"the policy was trained for {spec.platform!r}, "
                                               f"not {expected_platform!r}")

    weights_path = side.parent / weights_file
    data = read_file_bytes(weights_path, follow_symlinks=False)  # the checkpoint's own file, not one it points at
    if sha256_bytes(data) != sha:  # the file's own digest is not printed: it would tell what another file holds
        raise InputError(side, "weights.sha256", f"{weights_file} does not match the sidecar's sha256 "
                                                 "(modified or corrupted weights)")
    arrays = decode_weights(data, weights_path)
    _check_arrays(weights_path, arrays, layers)
    return NumpyPolicy(spec, layers, arrays, normalization, activation, versions, source, sha,
                       path=side.parent, sidecar_path=side, weights_file=weights_file)


def _parse_network(t: Fields) -> tuple[str, list[LayerSpec]]:
    activation = t.str("activation", choices=ACTIVATIONS)
    rows = t.tables("layers")
    if not rows:
        raise t.error("layers", "must list at least the action layer")
    layers = []
    for i, row in enumerate(rows):
        name = row.str("name")
        n_in = row.number("in", integer=True, minimum=1)
        n_out = row.number("out", integer=True, minimum=1)
        act = row.str("activation", choices=(*ACTIVATIONS, "none"))
        row.finish()
        last = i == len(rows) - 1
        if last and name != "action":
            raise row.error("name", f"the last layer must be 'action' (the logits), got {name!r}")
        if not last:
            m = _HIDDEN_NAME.match(name)
            if not m or int(m.group(1)) != i:
                raise row.error("name", f"expected 'pi.{i}', got {name!r}")
        expected_act = "none" if last else activation
        if act != expected_act:
            raise row.error("activation", f"expected {expected_act!r} (network.activation is {activation!r}), "
                                          f"got {act!r}")
        layers.append(LayerSpec(name, n_in, n_out, act))
    t.finish()
    return activation, layers


def _parse_weights_entry(t: Fields) -> tuple[str, str]:
    name = t.str("file")
    if Path(name).name != name or Path(name).suffix not in WEIGHT_SUFFIXES or name.startswith("."):
        raise t.error("file", f"{name!r}: expected a file name in the checkpoint folder ending in "
                              f"{' or '.join(WEIGHT_SUFFIXES)}")
    sha = t.str("sha256")
    if not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise t.error("sha256", "expected 64 lowercase hex digits")
    t.str("dtype", choices=("float32",))
    t.finish()
    return name, sha


def _check_chain(side: Path, spec: EnvSpec, norm: Optional[Normalization], layers: list[LayerSpec]) -> None:
    """Shapes must chain: observation names = normalisation = first layer's input, ..., logits = actions."""
    if norm is not None and norm.mean.shape[0] != spec.obs_size:
        raise InputError(side, "normalization.mean", f"has {norm.mean.shape[0]} elements, "
                                                     f"env.observation_names has {spec.obs_size}")
    if layers[0].n_in != spec.obs_size:
        raise InputError(side, "network.layers[0].in", f"{layers[0].n_in} inputs, but the observation has "
                                                       f"{spec.obs_size} elements")
    for i in range(1, len(layers)):
        if layers[i].n_in != layers[i - 1].n_out:
            raise InputError(side, f"network.layers[{i}].in", f"{layers[i].n_in} inputs, but layer {i - 1} "
                                                              f"has {layers[i - 1].n_out} outputs")
    want = spec.n_actions * spec.n_managed
    if layers[-1].n_out != want:
        raise InputError(side, f"network.layers[{len(layers) - 1}].out",
                         f"{layers[-1].n_out} logits, but {spec.n_actions} actions x {spec.n_managed} "
                         f"managed app(s) = {want}")


def _check_arrays(path: Path, arrays: dict[str, np.ndarray], layers: list[LayerSpec]) -> None:
    expected = {}
    for layer in layers:
        expected[f"{layer.name}.weight"] = (layer.n_out, layer.n_in)
        expected[f"{layer.name}.bias"] = (layer.n_out,)
    for name in sorted(arrays):
        if name not in expected:
            raise InputError(path, name, "unknown array (not in policy.json's layer list)")
    for name, shape in expected.items():
        if name not in arrays:
            raise InputError(path, name, "missing array")
        if arrays[name].shape != shape:
            raise InputError(path, name, f"shape {arrays[name].shape}, policy.json's layer list says {shape}")
