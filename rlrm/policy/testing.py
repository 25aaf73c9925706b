"""Make small training-run folders in the ``rlrm train`` format, for tests.

``make_run_dir`` writes what ``runs/<run>/`` holds after training: ``model.zip``
(``MaskablePPO.save``), ``obs_norm.npz`` (the ``VecNormalize`` statistics), ``env.json``
(:func:`rlrm.policy.spec.env_spec_of`), ``COMPLETE`` and ``config.yaml``, using a few hundred training
steps so it is cheap. Trainer tests can build a run the same way and check that
``rlrm export`` accepts it. Needs torch, stable-baselines3 and sb3-contrib.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional, Sequence, Union

import numpy as np

import rlrm
from rlrm.env import ENV_ID, DynamicDNNEnv
from rlrm.policy.export import export_run
from rlrm.policy.spec import Normalization, env_spec_of, write_env_json, write_obs_norm

PathLike = Union[str, Path]


def make_run_dir(path: PathLike, platform: str = "jetson-xavier-nx", scenario: str = "steady",
                 train_steps: int = 256, normalize: bool = True, net_arch: Sequence[int] = (64, 64),
                 activation: str = "tanh", seed: int = 0, weight_noise: float = 0.0,
                 env_kwargs: Optional[Mapping[str, Any]] = None) -> Path:
    """Train a tiny MaskablePPO and write a run folder.

    :param path: the run folder to create (parents too)
    :param platform: board profile
    :param scenario: scenario (``two-models`` gives a ``MultiDiscrete`` action space)
    :param train_steps: environment steps of training (0: the initialised network)
    :param normalize: train under ``VecNormalize`` and write ``obs_norm.npz``
    :param net_arch: hidden sizes of the actor (and the critic)
    :param activation: ``tanh`` or ``relu`` (or any ``torch.nn`` class name, to test refusals)
    :param seed: seeds the model, the environment and ``weight_noise``
    :param weight_noise: standard deviation of Gaussian noise added to every actor parameter
        after training (larger, more varied logits than a few hundred steps give)
    :param env_kwargs: other ``DynamicDNNEnv`` arguments (JSON values)
    :return: the run folder
    """
    import torch as th
    import yaml
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    run = Path(path)
    run.mkdir(parents=True, exist_ok=True)
    kwargs = dict(env_kwargs or {})

    def make_env() -> DynamicDNNEnv:
        return DynamicDNNEnv(platform=platform, scenario=scenario, **kwargs)

    venv: Any = DummyVecEnv([make_env])
    if normalize:
        venv = VecNormalize(venv, norm_obs=True, norm_reward=True, clip_obs=10.0)
    act_fn = {"tanh": th.nn.Tanh, "relu": th.nn.ReLU}.get(activation) or getattr(th.nn, activation)
    policy_kwargs = dict(net_arch=dict(pi=list(net_arch), vf=list(net_arch)), activation_fn=act_fn)
    hyper = dict(n_steps=64, batch_size=64, n_epochs=2, learning_rate=3e-4, gamma=0.99)
    model = MaskablePPO("MlpPolicy", venv, policy_kwargs=policy_kwargs, seed=seed, device="cpu", **hyper)
    if train_steps > 0:
        model.learn(total_timesteps=train_steps)
    if weight_noise > 0:
        gen = th.Generator().manual_seed(seed)
        with th.no_grad():
            for module in (model.policy.mlp_extractor.policy_net, model.policy.action_net):
                for p in module.parameters():
                    p.add_(th.randn(p.shape, generator=gen) * weight_noise)
    model.save(run / "model.zip")
    if normalize:
        write_obs_norm(run / "obs_norm.npz", Normalization.from_vec_normalize(venv))
    env = venv.envs[0] if not normalize else venv.venv.envs[0]
    write_env_json(run / "env.json", env_spec_of(env, kwargs, env_id=ENV_ID))
    config = {
        "algo": "MaskablePPO", "policy": "MlpPolicy", "env_id": ENV_ID, "platform": platform,
        "scenario": scenario, "seed": seed, "total_timesteps": train_steps, "normalize": normalize,
        "policy_kwargs": {"net_arch": {"pi": list(net_arch), "vf": list(net_arch)}, "activation_fn": activation},
        "hyperparameters": hyper, "weight_noise": weight_noise,
        "versions": {"rlrm": rlrm.__version__, "torch": str(th.__version__), "numpy": np.__version__},
    }
    (run / "COMPLETE").write_text(f"{model.num_timesteps}\n")  # as rlrm train marks a finished run
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return run


def cached_run_dir(base: PathLike, **kwargs: Any) -> Path:
    """:func:`make_run_dir` under ``base``, reusing a folder made with the same arguments.

    Lets several test modules share runs made once per pytest session
    (``cached_run_dir(tmp_path_factory.getbasetemp() / "runs", scenario="steady")``).
    """
    key = hashlib.sha256(json.dumps(kwargs, sort_keys=True, default=str).encode()).hexdigest()[:12]
    run = Path(base) / f"run-{kwargs.get('scenario', 'steady')}-{key}"
    if not (run / "config.yaml").exists():  # config.yaml is written last
        make_run_dir(run, **kwargs)
    return run


def sample_observations(platform: str, scenario: str, n_env: int, n_random: int,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Observations and action masks for parity tests.

    ``n_env`` come from running the environment with random valid actions (the env's own
    masks); ``n_random`` are random points of the observation Box (half in [0, 1], half in
    [0, 10]) with random masks (70 % valid, at least one valid action per managed app; a few
    all-invalid and a few all-valid rows).

    :return: ``(obs (n, d) float32, masks (n, k * n_actions) bool)``
    """
    rng = np.random.default_rng(seed)
    env = DynamicDNNEnv(platform=platform, scenario=scenario)
    obs_list, mask_list = [], []
    obs, _ = env.reset(seed=seed)
    k, n_act = len(env.managed), len(env.action_table)
    for _ in range(n_env):
        mask = env.action_masks()
        obs_list.append(obs)
        mask_list.append(mask)
        acts = [int(rng.choice(np.flatnonzero(m))) for m in mask.reshape(k, n_act)]
        obs, _, term, trunc, _ = env.step(acts[0] if k == 1 else np.asarray(acts))
        if term or trunc:
            obs, _ = env.reset(seed=int(rng.integers(2**31)))
    d = env.observation_space.shape[0]
    rand = rng.uniform(0.0, 1.0, size=(n_random, d))
    rand[n_random // 2:] *= 10.0
    masks = rng.random((n_random, k, n_act)) < 0.7
    masks[np.arange(n_random)[:, None], np.arange(k)[None, :], rng.integers(n_act, size=(n_random, k))] = True
    masks = masks.reshape(n_random, k * n_act)
    if n_random >= 20:
        masks[:5] = False
        masks[5:10] = True
    return (np.concatenate([np.asarray(obs_list, np.float32).reshape(-1, d), rand.astype(np.float32)]),
            np.concatenate([np.asarray(mask_list, bool).reshape(-1, k * n_act), masks]))


def cached_checkpoint(base: PathLike, weights_format: str = "safetensors", **run_kwargs: Any) -> Path:
    """Export :func:`cached_run_dir` ``(base, **run_kwargs)`` once to a checkpoint folder under ``base``."""
    run = cached_run_dir(base, **run_kwargs)
    out = run.with_name(f"ck-{run.name[len('run-'):]}-{weights_format}")
    if not (out / "policy.json").exists():
        export_run(run, out, weights_format=weights_format, force=True)
    return out


@contextlib.contextmanager
def torch_threads(n: int = 1) -> Iterator[None]:
    """Run torch with ``n`` intra-op threads inside the block (restored after).

    On a small, busy machine torch's default thread pool spins against other processes and
    makes tiny networks 100x slower; tests that train or predict use one thread.
    """
    import torch as th

    before = th.get_num_threads()
    th.set_num_threads(n)
    try:
        yield
    finally:
        th.set_num_threads(before)
