"""``rlrm export``: turn a training run into a weights-only checkpoint the device runs with NumPy.

Reads ``runs/<run>/model.zip`` (sb3-contrib's ``MaskablePPO.save``), ``env.json`` and
``obs_norm.npz``; keeps the actor only (the Flatten features extractor, the
``mlp_extractor.policy_net`` Linear + activation layers and ``action_net``); writes
``policy.safetensors`` (or ``policy.npz``) and the ``policy.json`` sidecar, each atomically
(weights first: the sidecar, which holds their SHA-256, appears last). Then it loads the
checkpoint back with the NumPy loader and compares its logits with torch's.

This module needs torch and sb3-contrib (a workstation step); loading does not.
"""

from __future__ import annotations

import datetime as _dt
import platform as _platform
import zipfile
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

import rlrm
from rlrm.errors import InputError
from rlrm.policy.checkpoint import FORMAT, FORMAT_VERSION, SIDECAR_NAME, load
from rlrm.policy.network import LayerSpec
from rlrm.policy.numpy_policy import NumpyPolicy
from rlrm.policy.sb3_zip import load_policy
from rlrm.policy.spec import EnvSpec, dumps_json, read_env_json, read_obs_norm
from rlrm.policy.weights import WEIGHT_SUFFIXES, atomic_write_bytes, encode_weights, read_file_bytes, sha256_bytes

PathLike = Union[str, Path]

#: weights formats ``rlrm export --format`` writes
FORMATS = {"safetensors": ".safetensors", "npz": ".npz"}
#: maximum |logit difference| between torch and NumPy the post-export check accepts
LOGIT_TOLERANCE = 1e-4


def export_run(run_dir: PathLike, out_dir: PathLike, weights_format: str = "safetensors",
               force: bool = False, check_samples: int = 256, trust_pickle: bool = False) -> NumpyPolicy:
    """Export the actor of a training run to ``out_dir``.

    :param run_dir: the run folder (``model.zip``, ``env.json``, optional ``obs_norm.npz``), or
        one of its checkpoints (``RUN/checkpoints/step_N``; ``env.json`` is the run's). A folder
        ``rlrm train`` wrote must hold its ``COMPLETE`` marker: without it the model and its
        normalisation may not be a pair (a killed run), and the export is refused.
    :param out_dir: the checkpoint folder to write (``checkpoints/NAME``)
    :param weights_format: ``safetensors`` or ``npz``
    :param force: overwrite an existing checkpoint folder's files
    :param check_samples: random observations on which the written checkpoint's logits are
        compared with torch's (0 skips the check)
    :param trust_pickle: load ``model.zip`` with sb3's pickle-based loader instead of
        :mod:`rlrm.policy.sb3_zip` (which never unpickles): only for a file you trust
    :return: the written checkpoint, loaded back with the NumPy loader
    """
    run, out = Path(run_dir), Path(out_dir)
    if weights_format not in FORMATS:
        raise InputError("--format", "format", f"{weights_format!r} is not one of {', '.join(FORMATS)}")
    if not run.is_dir():
        raise InputError(run, "<run>", "no such run folder" if not run.exists() else "not a folder")
    run_root = _check_complete(run)
    model_path = run / "model.zip"
    model_bytes = read_file_bytes(model_path, "a model.zip")
    spec = read_env_json(run_root / "env.json")
    norm_path = run / "obs_norm.npz"
    normalization = read_obs_norm(norm_path) if norm_path.exists() else None
    if normalization is not None and normalization.mean.shape[0] != spec.obs_size:
        raise InputError(norm_path, "mean", f"has {normalization.mean.shape[0]} elements, env.json's "
                                            f"observation_names has {spec.obs_size}")

    model = _load_model(model_path, trust_pickle)
    activation, layers, arrays = extract_actor(model, spec, model_path)

    suffix = FORMATS[weights_format]
    _prepare_out_dir(out, force)
    weights_name = f"policy{suffix}"
    blob = encode_weights(arrays, suffix)
    sidecar = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "env": spec.to_json(),
        "normalization": None if normalization is None else normalization.to_json(),
        "network": {"activation": activation, "layers": [l.to_json() for l in layers]},
        "weights": {"file": weights_name, "sha256": sha256_bytes(blob), "dtype": "float32"},
        "versions": _versions(model_path),
        "source": _source(run, model_bytes),
    }
    atomic_write_bytes(out / weights_name, blob)
    atomic_write_bytes(out / SIDECAR_NAME, dumps_json(sidecar).encode())
    for other in WEIGHT_SUFFIXES:  # a stale weights file of the other format would only confuse
        stale = out / f"policy{other}"
        if other != suffix and stale.exists():
            stale.unlink()
    policy = load(out)
    if check_samples:
        check_against_torch(policy, model, check_samples)
    return policy


def _check_complete(run: Path) -> Path:
    """Refuse a snapshot ``rlrm train`` did not finish writing; return the run folder (where
    ``env.json`` is): ``run`` itself, or the run of a ``checkpoints/step_N`` folder."""
    is_checkpoint = run.parent.name == "checkpoints" and run.name.startswith("step_")
    root = run.parent.parent if is_checkpoint else run
    written_by_train = is_checkpoint or (run / "config.yaml").exists()
    if written_by_train and not (run / "COMPLETE").exists():
        hint = ("this checkpoint was not finished" if is_checkpoint else
                f"the run did not finish writing its final model (killed?): `rlrm train --resume {run}` "
                f"completes it, or export its last checkpoint ({run / 'checkpoints'}/step_N)")
        raise InputError(run, "COMPLETE", f"marker missing: {hint}")
    return root


def _prepare_out_dir(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(out, "-o", "exists and is not a folder")
    if out.exists() and any(out.iterdir()) and not force:
        raise InputError(out, "-o", "the checkpoint folder exists and is not empty (use --force to overwrite)")
    out.mkdir(parents=True, exist_ok=True)


def _load_model(model_path: Path, trust_pickle: bool = False) -> Any:
    """An object with ``.policy``, read without unpickling (see :mod:`rlrm.policy.sb3_zip`)."""
    return load_policy(model_path, trust_pickle=trust_pickle)


def _activation_name(module: Any) -> Optional[str]:
    import torch.nn as nn

    if isinstance(module, nn.Tanh):
        return "tanh"
    if isinstance(module, nn.ReLU):
        return "relu"
    return None


def extract_actor(model: Any, spec: EnvSpec, source: PathLike = "model.zip") -> tuple[str, list[LayerSpec],
                                                                                     dict[str, np.ndarray]]:
    """The actor of a MaskablePPO model as a layer list and float32 arrays, after checking
    that it is the MLP the NumPy forward pass implements and that it fits ``spec``.

    :param model: a loaded ``MaskablePPO``
    :param spec: the run's environment description
    :param source: named in errors
    :return: activation name, layer list, ``{"pi.<i>.weight": ..., "action.bias": ...}``
    """
    import torch.nn as nn
    from gymnasium import spaces
    from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
    from stable_baselines3.common.torch_layers import FlattenExtractor

    policy = model.policy
    if not isinstance(policy, MaskableActorCriticPolicy):
        raise InputError(source, "policy_class", f"{type(policy).__name__} is not a MaskableActorCriticPolicy")
    extractor = policy.pi_features_extractor
    if not isinstance(extractor, FlattenExtractor):
        raise InputError(source, "policy.features_extractor", f"{type(extractor).__name__}: only the Flatten "
                                                              "extractor (MlpPolicy) can be exported")
    obs_space = policy.observation_space
    if not isinstance(obs_space, spaces.Box) or len(obs_space.shape) != 1:
        raise InputError(source, "observation_space", f"{obs_space}: expected a 1-D Box")
    if obs_space.shape[0] != spec.obs_size:
        raise InputError(source, "observation_space", f"{obs_space.shape[0]} elements, env.json's "
                                                      f"observation_names has {spec.obs_size}")
    act_space = policy.action_space
    if isinstance(act_space, spaces.Discrete):
        dims = [int(act_space.n)]
    elif isinstance(act_space, spaces.MultiDiscrete) and act_space.nvec.ndim == 1:
        dims = [int(n) for n in act_space.nvec]
    else:
        raise InputError(source, "action_space", f"{act_space}: expected Discrete or MultiDiscrete")
    if dims != [spec.n_actions] * spec.n_managed:
        raise InputError(source, "action_space", f"{act_space} does not match env.json: {spec.n_actions} actions "
                                                 f"x {spec.n_managed} managed app(s)")

    modules = list(policy.mlp_extractor.policy_net)
    linears, acts = modules[0::2], modules[1::2]
    if len(linears) != len(acts) or not all(isinstance(m, nn.Linear) for m in linears):
        raise InputError(source, "policy.mlp_extractor.policy_net",
                         "expected alternating Linear and activation layers: "
                         + ", ".join(type(m).__name__ for m in modules))
    names = {_activation_name(m) for m in acts} | {_activation_name(policy.activation_fn())}
    if None in names or len(names) != 1:
        found = sorted({type(m).__name__ for m in acts} | {policy.activation_fn.__name__})
        raise InputError(source, "policy.activation_fn", f"{', '.join(found)}: the NumPy policy implements "
                                                         "Tanh or ReLU (one for all layers)")
    activation = names.pop()
    action_net = policy.action_net
    if not isinstance(action_net, nn.Linear):
        raise InputError(source, "policy.action_net", f"{type(action_net).__name__} is not a Linear layer")

    layers, arrays = [], {}
    for i, lin in enumerate([*linears, action_net]):
        last = i == len(linears)
        name = "action" if last else f"pi.{i}"
        torch_name = "action_net" if last else f"mlp_extractor.policy_net.{2 * i}"
        if lin.bias is None:
            raise InputError(source, f"policy.{torch_name}.bias", "a Linear layer without bias is not supported")
        for part, tensor in (("weight", lin.weight), ("bias", lin.bias)):
            arr = tensor.detach().cpu().numpy().astype(np.float32)
            if not np.all(np.isfinite(arr)):
                raise InputError(source, f"policy.{torch_name}.{part}", "holds NaN or infinite values")
            arrays[f"{name}.{part}"] = arr
        layers.append(LayerSpec(name, int(lin.in_features), int(lin.out_features), "none" if last else activation))
    return activation, layers, arrays


def torch_logits(model: Any, obs_normalized: np.ndarray) -> np.ndarray:
    """The unmasked logits sb3-contrib computes for normalised observations ``(n, d)``."""
    import torch as th

    policy = model.policy
    with th.no_grad():
        x = th.as_tensor(np.asarray(obs_normalized, dtype=np.float32))
        features = policy.extract_features(x, policy.pi_features_extractor)
        return policy.action_net(policy.mlp_extractor.forward_actor(features)).numpy()


def check_against_torch(policy: NumpyPolicy, model: Any, samples: int = 256, seed: int = 0) -> float:
    """Compare the NumPy logits with torch's on random observations; refuse a mismatch.

    :return: the largest absolute logit difference
    """
    rng = np.random.default_rng(seed)
    obs = rng.uniform(0.0, 10.0, size=(samples, policy.obs_size))
    obs[: samples // 2] = rng.uniform(0.0, 1.0, size=(samples // 2, policy.obs_size))
    normed = policy.normalize(obs)
    diff = float(np.max(np.abs(policy.logits(normed, normalized=True) - torch_logits(model, normed))))
    scale = 1.0 + float(np.max(np.abs(torch_logits(model, normed))))
    if not diff <= LOGIT_TOLERANCE * scale:
        raise InputError(policy.path or "checkpoint", "weights", f"the NumPy logits differ from torch's by {diff:g} "
                                                                 "(export is broken; please report)")
    return diff


def _versions(model_path: Path) -> dict:
    import gymnasium
    import sb3_contrib
    import stable_baselines3
    import torch

    versions: dict[str, Any] = {
        "rlrm": rlrm.__version__, "numpy": np.__version__, "torch": torch.__version__,
        "stable_baselines3": stable_baselines3.__version__, "sb3_contrib": sb3_contrib.__version__,
        "gymnasium": gymnasium.__version__, "python": _platform.python_version(),
    }
    trained = _system_info(model_path)
    if trained:
        versions["trained_with"] = trained
    return versions


def _system_info(model_path: Path) -> dict:
    """The ``system_info.txt`` sb3 writes into model.zip (``- Key: value`` lines), as a dict."""
    try:
        with zipfile.ZipFile(model_path) as zf:
            text = zf.read("system_info.txt").decode("utf-8", "replace")
    except (KeyError, zipfile.BadZipFile, OSError):
        return {}
    out = {}
    for line in text.splitlines():
        key, sep, value = line.lstrip("- ").partition(":")
        if sep and key.strip():
            out[key.strip()] = value.strip()
    return out


def _source(run: Path, model_bytes: bytes) -> dict:
    src = {"run": str(run), "model_sha256": sha256_bytes(model_bytes)}
    for name in ("env.json", "obs_norm.npz", "config.yaml"):
        p = run / name
        if p.is_file():
            src[name.replace(".", "_") + "_sha256"] = sha256_bytes(p.read_bytes())
    src["exported_at"] = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    return src
