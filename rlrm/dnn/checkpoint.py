"""Weights-only checkpoints: read, check against a model, write.

Reading never unpickles arbitrary objects: ``.safetensors`` files are read with safetensors,
anything else with ``torch.load(weights_only=True)`` (tensors and plain containers only),
which also reads once-for-all's published ``.pth`` checkpoints (``{"state_dict": ...}``).
Key spellings of older once-for-all releases (``.mobile_inverted_conv.``, ``.bn.`` vs
``.bn.bn.``, ``module.`` prefixes) are mapped as once-for-all's own ``load_state_dict``
maps them. Any mismatch is a one-line :class:`~rlrm.errors.InputError` naming the key.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import torch
import torch.nn as nn

from rlrm.errors import InputError

PathLike = Union[str, "os.PathLike[str]"]
_SAFETENSORS_SUFFIX = ".safetensors"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".strip()


def read_tensors(path: PathLike) -> dict[str, torch.Tensor]:
    """All tensors of a weights file, keys as stored (a ``state_dict`` wrapper unwrapped)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(p, "<file>", "no such weights file")
    if p.suffix == _SAFETENSORS_SUFFIX:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            data: Any = load_file(str(p), device="cpu")
        except (SafetensorError, OSError, ValueError, RuntimeError) as err:
            raise InputError(p, "<file>", f"not a readable safetensors file ({_first_line(err)})") from None
    else:
        try:
            data = torch.load(str(p), map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any failure means: not a weights-only file
            raise InputError(
                p, "<file>",
                f"not a readable weights-only checkpoint ({_first_line(err)}); only tensors are loaded, never pickled objects",
            ) from None
    if isinstance(data, Mapping) and "state_dict" in data and isinstance(data["state_dict"], Mapping):
        data = data["state_dict"]
    if not isinstance(data, Mapping):
        raise InputError(p, "<root>", f"expected a mapping of names to tensors, got {type(data).__name__}")
    out: dict[str, torch.Tensor] = {}
    for key, value in data.items():
        if not isinstance(value, torch.Tensor):
            raise InputError(p, str(key), f"not a tensor ({type(value).__name__})")
        out[str(key)] = value
    return out


def _rename(key: str, expected: Mapping[str, Any]) -> str:
    """once-for-all's ``OFAMobileNetV3.load_state_dict`` key mapping."""
    if key.startswith("module."):
        key = key[len("module."):]
    key = key.replace(".mobile_inverted_conv.", ".conv.")
    if key in expected:
        return key
    for old, new in (
        (".bn.bn.", ".bn."),
        (".conv.conv.weight", ".conv.weight"),
        (".linear.linear.", ".linear."),
        (".linear.", ".linear.linear."),
        ("bn.", "bn.bn."),
        ("conv.weight", "conv.conv.weight"),
    ):
        if old in key and key.replace(old, new) in expected:
            return key.replace(old, new)
    return key


def match_state_dict(
    tensors: Mapping[str, torch.Tensor], model: nn.Module, source: PathLike = "<memory>", what: str = ""
) -> dict[str, torch.Tensor]:
    """Map ``tensors`` onto ``model.state_dict()`` keys; every key present, every shape equal,
    every value finite, or InputError naming the first key that is not."""
    expected = model.state_dict()
    label = what or type(model).__name__
    mapped: dict[str, torch.Tensor] = {}
    for key, value in tensors.items():
        new = _rename(key, expected)
        if new not in expected:
            raise InputError(source, key, f"unexpected key: {label} has no such tensor ({len(tensors)} tensors in file, {len(expected)} expected)")
        mapped[new] = value
    missing = [k for k in expected if k not in mapped]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise InputError(source, missing[0], f"missing from the weights file{more} (does the file belong to {label}?)")
    for key, ref in expected.items():
        got = mapped[key]
        if tuple(got.shape) != tuple(ref.shape):
            raise InputError(
                source, key,
                f"shape {list(got.shape)} in the file but {label} expects {list(ref.shape)} (wrong width, classes or search space?)",
            )
        if got.is_floating_point() and not bool(torch.isfinite(got).all()):
            raise InputError(source, key, "holds NaN or infinite values (corrupt file?)")
        if got.dtype != ref.dtype:
            if got.is_floating_point() != ref.is_floating_point():
                raise InputError(source, key, f"dtype {got.dtype} but {label} expects {ref.dtype}")
            mapped[key] = got.to(ref.dtype)
    return mapped


def load_weights(model: nn.Module, path: PathLike, what: str = "") -> nn.Module:
    """Load a weights file into ``model`` (strict: exactly its keys and shapes).

    :param model: the network to fill
    :param path: ``.safetensors`` or a weights-only torch checkpoint
    :param what: the model's name for error messages (default: its class name)
    """
    tensors = read_tensors(path)
    state = match_state_dict(tensors, model, path, what)
    model.load_state_dict(state, strict=True)
    return model


def save_weights(
    model_or_state: Union[nn.Module, Mapping[str, torch.Tensor]],
    path: PathLike,
    metadata: Optional[Mapping[str, str]] = None,
) -> None:
    """Write a state dict as safetensors (shared or non-contiguous tensors are copied)."""
    from safetensors.torch import save_file

    state = model_or_state.state_dict() if isinstance(model_or_state, nn.Module) else model_or_state
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=dict(metadata) if metadata else None)
