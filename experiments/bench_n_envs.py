"""Training throughput of MaskablePPO for several vectorisations (the default n_envs).

Run: ``python experiments/bench_n_envs.py [--steps 16384]``. Prints steps per second of
``model.learn`` for DummyVecEnv and SubprocVecEnv with 1, 2, 4, 8 and 16 environments
(the same rollout size, 1024 steps, and the config's network), then ``best: <vec> x <n>``.
"""

from __future__ import annotations

import argparse
import time

import torch

from rlrm.env import DynamicDNNEnv


def rate(n_envs: int, kind: str, steps: int) -> float:
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecNormalize

    cls = DummyVecEnv if kind == "dummy" else SubprocVecEnv
    venv = VecNormalize(make_vec_env(DynamicDNNEnv, n_envs=n_envs, seed=0, vec_env_cls=cls,
                                     env_kwargs={"scenario": ["steady", "bursty", "power-cap"]}), norm_reward=False)
    model = MaskablePPO("MlpPolicy", venv, n_steps=max(8, 1024 // n_envs), batch_size=256, seed=0, device="cpu",
                        policy_kwargs={"net_arch": {"pi": [128, 128], "vf": [128, 128]}})
    model.learn(1024)  # warm-up
    t0 = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    venv.close()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=16384)
    args = ap.parse_args()
    torch.set_num_threads(1)
    results = {}
    for kind in ("dummy", "subproc"):
        for n in (1, 2, 4, 8, 16):
            if kind == "subproc" and n == 1:
                continue
            results[(kind, n)] = rate(n, kind, args.steps)
            print(f"{kind:>8} x {n:<2}: {results[(kind, n)]:7.0f} steps/s", flush=True)
    best = max(results, key=results.get)
    print(f"best: {best[0]} x {best[1]}")


if __name__ == "__main__":
    main()
