"""Read stable-baselines3's ``model.zip`` without unpickling anything.

``MaskablePPO.load`` runs ``cloudpickle.loads`` on every entry of the zip's ``data`` JSON that
is marked ``":serialized:"`` (spaces, schedules, ``policy_kwargs``, the policy class...): a
crafted ``model.zip`` runs code the moment it is loaded. This module reads only:

- ``data`` as plain JSON, using the human-readable attributes SB3 writes beside each pickled
  blob (a space's ``_shape`` / ``n`` / ``nvec``, ``policy_kwargs``' ``net_arch`` and the
  *name* of ``activation_fn``, the policy class's *name*) and the plain numbers
  (``num_timesteps``...); the ``":serialized:"`` blobs are never decoded;
- ``policy.pth`` (and ``policy.optimizer.pth``) with ``torch.load(weights_only=True)``, which
  refuses anything but tensors and plain containers.

Every entry is size-checked before it is read (no zip bomb). A model this cannot describe is
refused in one line, saying why; ``trust_pickle=True`` (``--trust-pickle``) falls back to
SB3's own loader for a file the user vouches for.
"""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Optional, Union

from rlrm.errors import InputError

PathLike = Union[str, Path]
#: Biggest ``model.zip`` entry read (uncompressed), and biggest sum of them.
MAX_ENTRY_BYTES = 256 << 20
MAX_TOTAL_BYTES = 512 << 20
MAX_DATA_BYTES = 16 << 20
#: Plain numbers of ``data`` a resumed run takes back (counters of its progress).
COUNTERS = ("num_timesteps", "_total_timesteps", "_num_timesteps_at_start", "_episode_num", "_n_updates")
_ACTIVATIONS = ("Tanh", "ReLU", "ELU", "LeakyReLU", "SiLU", "GELU", "Sigmoid", "Softplus", "Mish", "Hardtanh")


@dataclass
class Sb3Zip:
    """What a ``model.zip`` holds, read without pickle.

    :param data: the ``data`` JSON (``":serialized:"`` blobs left undecoded)
    :param params: ``{"policy": state_dict, "policy.optimizer": state_dict, ...}``
    """

    path: Path
    data: dict
    params: dict = field(default_factory=dict)

    def readable(self, key: str) -> dict:
        """The readable attributes SB3 wrote beside a pickled ``key`` (or the plain value if a dict)."""
        item = self.data.get(key)
        return item if isinstance(item, dict) else {}

    def error(self, key: str, problem: str) -> InputError:
        return InputError(self.path, key, f"{problem} (rlrm reads model.zip without unpickling; "
                                          "--trust-pickle loads it with stable-baselines3's pickle-based loader "
                                          "if you trust this file)")


def read_sb3_zip(path: PathLike) -> Sb3Zip:
    """Read ``data`` and every ``*.pth`` entry of an SB3 ``model.zip`` (no pickle); InputError when
    the file is not one, is too big, or holds anything but tensors in its ``.pth`` entries."""
    import torch

    path = Path(path)
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise InputError(path, "<file>", "no such file") from None
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise InputError(path, "<zip>", f"not a readable zip file: {err}") from None
    with zf:
        infos = {i.filename: i for i in zf.infolist()}
        if "data" not in infos:
            raise InputError(path, "data", "missing: not a stable-baselines3 model.zip")
        total = 0
        for info in infos.values():
            if info.file_size > MAX_ENTRY_BYTES:
                raise InputError(path, info.filename, f"{info.file_size} bytes uncompressed, more than "
                                                      f"{MAX_ENTRY_BYTES} (refused before reading)")
            total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise InputError(path, "<zip>", f"{total} bytes uncompressed, more than {MAX_TOTAL_BYTES}")
        if infos["data"].file_size > MAX_DATA_BYTES:
            raise InputError(path, "data", f"{infos['data'].file_size} bytes, more than {MAX_DATA_BYTES}")
        try:
            data = json.loads(_read(zf, infos["data"]).decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as err:
            raise InputError(path, "data", f"not valid JSON: {str(err)[:80]}") from None
        if not isinstance(data, dict):
            raise InputError(path, "data", "expected a JSON object")
        params = {}
        for name, info in infos.items():
            if not name.endswith(".pth") or name == "pytorch_variables.pth":
                continue
            try:
                params[name[:-len(".pth")]] = torch.load(io.BytesIO(_read(zf, info)), map_location="cpu",
                                                         weights_only=True)
            except Exception as err:  # noqa: BLE001 - torch raises UnpicklingError, RuntimeError, ...
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise InputError(path, name, f"not a weights-only torch file: {first[:160]}") from None
    if "policy" not in params:
        raise InputError(path, "policy.pth", "missing: not a stable-baselines3 model.zip")
    return Sb3Zip(path, data, params)


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    with zf.open(info) as fh:
        blob = fh.read(info.file_size + 1)
    if len(blob) > info.file_size:
        raise InputError(zf.filename or "model.zip", info.filename, "longer than its header says")
    return blob


# -- what the model is, from the readable parts -----------------------------------------------
def policy_class_name(z: Sb3Zip) -> str:
    """The policy class's name (``MaskableActorCriticPolicy``), from its readable attributes."""
    item = z.readable("policy_class")
    m = re.match(r"<function ([A-Za-z_][A-Za-z0-9_]*)\.__init__ at", str(item.get("__init__", "")))
    if m is not None:
        return m.group(1)
    raise z.error("policy_class", "cannot tell the policy class from its readable attributes")


def activation_class(z: Sb3Zip) -> Any:
    """The ``torch.nn`` activation class named in ``policy_kwargs`` (Tanh when none is saved)."""
    import torch.nn as nn

    pk = z.readable("policy_kwargs")
    value = pk.get("activation_fn", "<class 'torch.nn.modules.activation.Tanh'>")
    m = re.fullmatch(r"<class 'torch\.nn\.modules\.activation\.([A-Za-z]+)'>", str(value))
    if m is None or m.group(1) not in _ACTIVATIONS:
        raise z.error("policy_kwargs.activation_fn", f"{str(value)[:80]!r} is not a torch.nn activation rlrm knows")
    return getattr(nn, m.group(1))


def net_arch(z: Sb3Zip) -> Any:
    """``policy_kwargs.net_arch`` (plain JSON), or the sizes read off the weights."""
    pk = z.readable("policy_kwargs")
    arch = pk.get("net_arch")
    if isinstance(arch, str) and len(arch) < 1000:
        try:
            arch = ast.literal_eval(arch)  # literals only: never runs code
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            arch = None
    if isinstance(arch, (list, dict)):
        return arch
    state = z.params["policy"]

    def sizes(prefix: str) -> list[int]:
        out, i = [], 0
        while f"{prefix}.{i}.weight" in state:
            out.append(int(state[f"{prefix}.{i}.weight"].shape[0]))
            i += 2
        return out

    return {"pi": sizes("mlp_extractor.policy_net"), "vf": sizes("mlp_extractor.value_net")}


def spaces_of(z: Sb3Zip) -> tuple[Any, Any]:
    """The observation space (a 1-D Box) and action space (Discrete / MultiDiscrete), rebuilt from
    the readable ``_shape`` / ``n`` / ``nvec`` attributes."""
    import numpy as np
    from gymnasium import spaces

    obs = z.readable("observation_space")
    if "Box" not in str(obs.get(":type:", "")):
        raise z.error("observation_space", f"expected a Box, got {str(obs.get(':type:'))[:60]!r}")
    shape = obs.get("_shape")
    m = re.fullmatch(r"[\[(]([0-9]{1,6}),?[\])]", str(shape).replace(" ", ""))
    if m is None or int(m.group(1)) == 0:
        raise z.error("observation_space._shape", f"expected [n] for a 1-D Box, got {str(shape)[:40]!r}")
    obs_space = spaces.Box(-np.inf, np.inf, (int(m.group(1)),), np.float32)
    act = z.readable("action_space")
    kind = str(act.get(":type:", ""))
    if "MultiDiscrete" in kind:
        nvec = [int(n) for n in re.findall(r"[0-9]+", str(act.get("nvec", "")))]
        if not nvec or not all(0 < n <= 100_000 for n in nvec) or len(nvec) > 1000:
            raise z.error("action_space.nvec", f"cannot read {str(act.get('nvec'))[:40]!r}")
        return obs_space, spaces.MultiDiscrete(nvec)
    if "Discrete" in kind:
        n = str(act.get("n", ""))
        if not re.fullmatch(r"[0-9]{1,6}", n) or int(n) <= 0:
            raise z.error("action_space.n", f"cannot read {n[:40]!r}")
        return obs_space, spaces.Discrete(int(n))
    raise z.error("action_space", f"expected Discrete or MultiDiscrete, got {kind[:60]!r}")


def load_policy(path: PathLike, trust_pickle: bool = False) -> Any:
    """An object with ``.policy``: the MaskableActorCriticPolicy of ``model.zip``, rebuilt from its
    readable parts and its weights (no pickle). ``trust_pickle`` uses ``MaskablePPO.load``."""
    if trust_pickle:
        return _pickle_load(path)
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy

    z = read_sb3_zip(path)
    name = policy_class_name(z)
    if name != "MaskableActorCriticPolicy":
        raise z.error("policy_class", f"{name} is not the MaskableActorCriticPolicy rlrm trains")
    obs_space, act_space = spaces_of(z)
    try:
        policy = MaskableActorCriticPolicy(obs_space, act_space, lambda _: 0.0, net_arch=net_arch(z),
                                           activation_fn=activation_class(z))
        policy.load_state_dict(z.params["policy"], strict=True)
    except (RuntimeError, ValueError, TypeError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(z.path, "policy.pth", f"does not fit the policy described in data: {first[:200]}") from None
    policy.set_training_mode(False)
    return SimpleNamespace(policy=policy, num_timesteps=z.data.get("num_timesteps"))


def resume_into(model: Any, path: PathLike, trust_pickle: bool = False, env: Any = None,
                **load_kwargs: Any) -> Any:
    """``model`` (a freshly built MaskablePPO with the run's config) with the weights, optimizer
    state and progress counters of ``path`` put in, without pickle; returns the model to use.

    ``trust_pickle`` returns ``MaskablePPO.load(path, env=env, **load_kwargs)`` instead.
    """
    if trust_pickle:
        return _pickle_load(path, env=env, **load_kwargs)
    z = read_sb3_zip(path)
    name = policy_class_name(z)
    if name != type(model.policy).__name__:
        raise z.error("policy_class", f"{name}, but the run's config builds {type(model.policy).__name__}")
    try:
        model.set_parameters(z.params, exact_match=True, device="cpu")
    except (RuntimeError, ValueError, TypeError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(z.path, "policy.pth", f"does not fit the run's config: {first[:200]}") from None
    for key in COUNTERS:
        value = z.data.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62:
            setattr(model, key, value)
    return model


def _pickle_load(path: PathLike, **kwargs: Any) -> Any:
    import zipfile as _zip

    from sb3_contrib import MaskablePPO

    try:
        return MaskablePPO.load(path, device="cpu", **kwargs)
    except (_zip.BadZipFile, KeyError, ValueError, RuntimeError, OSError, EOFError, AttributeError,
            TypeError, ModuleNotFoundError) as err:
        raise InputError(path, "<model>", f"cannot load with sb3-contrib MaskablePPO: "
                                          f"{type(err).__name__}: {err}") from None


def counters(path: PathLike) -> Optional[dict]:
    """The progress counters of a ``model.zip`` (plain JSON numbers only)."""
    z = read_sb3_zip(path)
    return {k: z.data[k] for k in COUNTERS if isinstance(z.data.get(k), int)}
