"""Weights files of a policy checkpoint: ``.safetensors`` or ``.npz``, read without pickle.

Both formats are read and written with NumPy alone, so the device needs neither torch nor
the ``safetensors`` package. ``.npz`` is read with ``np.load(allow_pickle=False)``: an
object array (a pickle payload) is refused before anything is unpickled. ``.safetensors``
is parsed from its documented layout (8-byte little-endian header length, a JSON header,
raw little-endian data); only float32 (``F32``) tensors are accepted.

Every problem is an :class:`rlrm.errors.InputError` naming the file and the array.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
from pathlib import Path
from typing import Mapping, Union

import numpy as np

from rlrm.atomic import atomic_write_bytes  # noqa: F401 - re-exported for rlrm.policy
from rlrm.errors import InputError
from rlrm.validate import read_bytes, short_repr

#: the weights file suffixes a checkpoint may use
WEIGHT_SUFFIXES = (".safetensors", ".npz")
#: refuse safetensors headers larger than this (the format's own limit is 100 MB)
MAX_HEADER_BYTES = 16 * 1024 * 1024
#: biggest file :func:`read_file_bytes` reads (a policy's weights are kilobytes; a model.zip megabytes)
MAX_FILE_BYTES = 512 * 1024 * 1024
#: refuse tensors of more dimensions than this (a policy's are 1-D and 2-D)
MAX_NDIM = 8

PathLike = Union[str, Path]


# ---------------------------------------------------------------------- plain files
def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------- encoding
def encode_weights(arrays: Mapping[str, np.ndarray], suffix: str) -> bytes:
    """The bytes of a weights file holding ``arrays`` (all cast to little-endian float32).

    :param arrays: name -> array
    :param suffix: ``.safetensors`` or ``.npz``
    """
    clean = {name: np.ascontiguousarray(np.asarray(a, dtype="<f4")) for name, a in arrays.items()}
    if suffix == ".safetensors":
        return _encode_safetensors(clean)
    if suffix == ".npz":
        buf = io.BytesIO()
        np.savez(buf, **clean)
        return buf.getvalue()
    raise ValueError(f"weights suffix must be one of {WEIGHT_SUFFIXES}, got {suffix!r}")


def _encode_safetensors(arrays: Mapping[str, np.ndarray]) -> bytes:
    header: dict = {"__metadata__": {"format": "rlrm-policy"}}
    chunks, offset = [], 0
    for name in sorted(arrays):
        a = arrays[name]
        raw = a.tobytes(order="C")
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # align the data to 8 bytes, as safetensors does
    return len(text).to_bytes(8, "little") + text + b"".join(chunks)


# ---------------------------------------------------------------------- decoding
def decode_weights(data: bytes, source: PathLike) -> dict[str, np.ndarray]:
    """Parse a weights file's bytes into ``{name: float32 array}``; never unpickles.

    :param data: the file's content
    :param source: the file's path (chooses the format by suffix; named in errors)
    """
    suffix = Path(source).suffix
    if suffix == ".safetensors":
        return _decode_safetensors(data, source)
    if suffix == ".npz":
        return _decode_npz(data, source)
    raise InputError(source, "<file>", f"unknown weights format {suffix!r}: expected one of "
                                       f"{', '.join(WEIGHT_SUFFIXES)}")


def _decode_npz(data: bytes, source: PathLike) -> dict[str, np.ndarray]:
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as err:  # noqa: BLE001 - zipfile, zlib and numpy raise many kinds for a damaged archive
        raise InputError(source, "<npz>", f"not a valid .npz archive: {_reason(err)}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise InputError(source, "<npz>", "not an .npz archive (a single .npy array)")
    out = {}
    with archive:
        for member in archive.zip.namelist():
            if not member.endswith(".npy"):
                raise InputError(source, member, "unexpected member in the archive (only .npy arrays are allowed)")
        for name in archive.files:
            _check_npy_header(archive, name, source)
            try:
                arr = archive[name]
            except ValueError as err:  # object arrays: "Object arrays cannot be loaded when allow_pickle=False"
                if "allow_pickle" in str(err) or "pickle" in str(err).lower():
                    raise InputError(source, name, "holds a pickled object array; refused "
                                                   "(weights must be plain float32 arrays)") from None
                raise InputError(source, name, f"unreadable array: {err}") from None
            except Exception as err:  # noqa: BLE001 - unsupported compression or zip version, encryption, bad CRC, ...
                raise InputError(source, name, f"unreadable array: {_reason(err)}") from None
            out[name] = _check_float32(arr, source, name)
    return out


#: the largest array member of a ``.npz`` policy read (uncompressed); a controller MLP is far smaller
NPZ_MEMBER_MAX = 256 * 2**20


def _check_npy_header(archive: "np.lib.npyio.NpzFile", name: str, source: PathLike) -> None:
    """Refuse a member whose header claims more data than it holds (numpy would allocate the
    claimed size first) or that is implausibly large, before any array is allocated."""
    member = name if name in archive.zip.namelist() else f"{name}.npy"
    size = archive.zip.getinfo(member).file_size
    if size > NPZ_MEMBER_MAX:
        raise InputError(source, name, f"{size} bytes uncompressed; a policy array is at most {NPZ_MEMBER_MAX}")
    try:
        with archive.zip.open(member) as fh:
            version = np.lib.format.read_magic(fh)
            readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in readers:
                raise ValueError(f".npy format version {version[0]}.{version[1]} (float32 arrays are 1.0 or 2.0)")
            shape, _, dtype = readers[version](fh)  # the header only: nothing allocated yet
    except Exception as err:  # noqa: BLE001 - a damaged header: numpy raises ValueError, zipfile others
        raise InputError(source, name, f"unreadable array header: {_reason(err)}") from None
    claimed = int(np.prod([int(d) for d in shape], dtype=object)) * dtype.itemsize if not dtype.hasobject else 0
    if claimed > size:
        raise InputError(source, name, f"header claims shape {tuple(shape)} ({claimed} bytes), the member holds {size}")


def _reason(err: BaseException) -> str:
    """An exception as a few words for an error message."""
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


_ST_DTYPES = {"F32": "<f4"}


def _decode_safetensors(data: bytes, source: PathLike) -> dict[str, np.ndarray]:
    if len(data) < 8:
        raise InputError(source, "<header>", "file too short for a safetensors header")
    n = int.from_bytes(data[:8], "little")
    if n > MAX_HEADER_BYTES or 8 + n > len(data):
        raise InputError(source, "<header>", f"header length {n} does not fit the file ({len(data)} bytes)")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise InputError(source, "<header>", f"not valid JSON: {err}") from None
    except RecursionError:
        raise InputError(source, "<header>", "JSON nested too deeply") from None
    if not isinstance(header, dict):
        raise InputError(source, "<header>", "expected a JSON object")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise InputError(source, "__metadata__", "expected a table of strings")
    body = memoryview(data)[8 + n:]
    spans = []
    out = {}
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise InputError(source, name, "expected {dtype, shape, data_offsets}")
        dtype = entry["dtype"]
        if not isinstance(dtype, str) or dtype not in _ST_DTYPES:
            raise InputError(source, f"{name}.dtype", f"{short_repr(dtype)} refused: weights must be float32 (F32)")
        shape, offsets = entry["shape"], entry["data_offsets"]
        if not (isinstance(shape, list) and len(shape) <= MAX_NDIM
                and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
            raise InputError(source, f"{name}.shape", f"expected a list of at most {MAX_NDIM} sizes, "
                                                      f"got {short_repr(shape)}")
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
                and 0 <= offsets[0] <= offsets[1] <= len(body)):
            raise InputError(source, f"{name}.data_offsets",
                             f"{short_repr(offsets)} outside the data ({len(body)} bytes)")
        itemsize = np.dtype(_ST_DTYPES[dtype]).itemsize
        if offsets[1] - offsets[0] != itemsize * math.prod(shape):  # exact: no int64 overflow
            raise InputError(source, f"{name}.data_offsets", f"{offsets[1] - offsets[0]} bytes do not hold "
                                                             f"a {dtype} array of shape {short_repr(shape)}")
        spans.append((offsets[0], offsets[1], name))
        arr = np.frombuffer(body[offsets[0]:offsets[1]], dtype=_ST_DTYPES[dtype]).reshape(shape).copy()
        out[name] = _check_float32(arr, source, name)
    spans.sort()
    end = 0
    for start, stop, name in spans:
        if start != end:
            raise InputError(source, f"{name}.data_offsets", "tensors overlap or leave a gap in the data")
        end = stop
    if end != len(body):
        raise InputError(source, "<data>", f"{len(body) - end} trailing bytes after the last tensor")
    return out


def _check_float32(arr: np.ndarray, source: PathLike, name: str) -> np.ndarray:
    if arr.dtype.hasobject:  # pragma: no cover - np.load refuses these before we get here
        raise InputError(source, name, "object array refused")
    if arr.dtype != np.float32:
        raise InputError(source, name, f"dtype {arr.dtype} refused: weights must be float32")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise InputError(source, name, f"{bad} value(s) are NaN or infinite")
    return np.ascontiguousarray(arr, dtype=np.float32)


def read_file_bytes(path: PathLike, what: str = "a weights file", max_bytes: int = MAX_FILE_BYTES,
                    follow_symlinks: bool = True) -> bytes:
    """The bytes of ``path``, a regular file of at most ``max_bytes`` (default: a policy's limit,
    :data:`MAX_FILE_BYTES`), read as :func:`rlrm.validate.read_bytes` reads every input file
    (``follow_symlinks=False``: a symbolic link is refused too)."""
    return read_bytes(path, what, max_bytes, follow_symlinks=follow_symlinks)
