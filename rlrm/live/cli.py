"""``rlrm run``: the on-device controller loop on this machine (the live backend)."""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import statistics
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any, Optional

import numpy as np

from rlrm.cli_args import seed as seed_type
from rlrm.policy.base import Policy
from rlrm.env.dynamic_dnn import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.evaluate import SUMMARY_KEYS, checkpoint_env_kwargs, format_table, resolve_policy
from rlrm.live.board import LiveBoard, LiveConfig
from rlrm.live.controller import FastDecider, MaskCache
from rlrm.policy.adapter import dynamics_prefix
from rlrm.live.inference import parse_duration
from rlrm.live.power_mode import PowerModeSwitch, power_mode_warning
from rlrm.live.restore import report_unrestored
from rlrm.live.status import StatusLine, StopOnSignal
from rlrm.platform import load_platform
from rlrm.rollout import Callback, Decide, StepRecord, rollout
from rlrm.rollout.tensorboard import (EPISODE_KEYS, NullWriter, TensorBoardCallback, clear_run_dir, finite, open_writer,
                                      write_hparams)


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` subcommand.

    :param sub: the top-level subparsers
    """
    p = sub.add_parser("run", help="run a policy on this machine: real inferences, real background load, TensorBoard")
    p.add_argument("--platform", default="jetson-xavier-nx", help="board profile: name or TOML path")
    p.add_argument("--policy", required=True, help="a checkpoint path (checkpoints/NAME) or a baseline name (schedutil, "
                                                   "schedutil+dofa, performance, fixed:subnet=L,unit=U,freq=F, ...)")
    p.add_argument("--model", default="demo", help="demo, ofa:PATH or a model directory, run with the torch that imports here "
                                                   "(the vendor's on a board); or onnx:DIR, an export of rlrm dnn export-onnx, "
                                                   "run with ONNX Runtime (default: demo)")
    p.add_argument("--input", default="synthetic", help="synthetic (default) or a directory of images")
    p.add_argument("--scenario", default="steady", help="scenario: name or TOML path (targets, background load)")
    p.add_argument("--duration", default="60s", help="how long: 60s, 2m or seconds (default 60s)")
    p.add_argument("--period", default=None, help="control period (default: the scenario's), e.g. 0.5 or 200ms")
    p.add_argument("--logdir", default="runs", help="TensorBoard run directory goes under here (default runs/)")
    p.add_argument("--run-name", default=None, help="name of the TensorBoard run (default: run_<policy>_<time>)")
    p.add_argument("--sysfs-root", default=None, help="sysfs root (a fake tree for tests; default $RLRM_SYSFS_ROOT or /)")
    p.add_argument("--observe-only", action="store_true", help="never write frequencies")
    p.add_argument("--no-background", action="store_true", help="do not run the scenario's background load")
    p.add_argument("--seed", type=seed_type, default=0, help="seed of the scenario's background schedule")
    p.add_argument("--json", default=None, help="also write the summary (and per-step decisions' time) as JSON")
    p.add_argument("--wide", action="store_true", help="every metric as a column, however wide the table")
    p.add_argument("--set-power-mode", action="store_true",
                   help="on a Jetson: switch nvpmodel to the scenario's mode for the run (needs root), and back at exit "
                        "(default: only warn when the mode differs)")
    p.set_defaults(func=run)


def _sanitize(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_.") or "policy"


def _raise_interrupt(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    """Run ``rlrm run``.

    :param args: the parsed arguments
    """
    duration = parse_duration(args.duration, "--duration")
    period = parse_duration(args.period, "--period") if args.period is not None else None
    result = run_live(args.policy, args.platform, args.scenario, duration, period_s=period, model=args.model,
                      inputs=args.input, logdir=args.logdir, run_name=args.run_name, sysfs_root=args.sysfs_root,
                      observe_only=True if args.observe_only else None, background=not args.no_background,
                      seed=args.seed, set_power_mode=args.set_power_mode)
    s = result["summary"]
    print(f"{result['platform']} / {result['scenario']} live: {s['steps']} steps of {result['period_s']:g} s, "
          f"model {args.model}, input {args.input}")
    if result["energy_estimated"]:
        print("(energy estimated from the profile's power model)")
    print(format_table([{"policy": result["policy"], **s}], wide=args.wide))
    print(f"decision_us_median: {result['decision_us_median']:.1f}")
    print(f"TensorBoard: {result['run_dir']}")
    if result.get("overruns"):
        print(f"rlrm: {result['overruns']} of {s['steps']} steps overran the {result['period_s']:g} s period "
              f"({result['elapsed_s']:.1f} s for {result['requested_s']:g} s requested)", file=sys.stderr)
    if result.get("interrupted"):
        print(f"rlrm: interrupted ({result['interrupted']}) after {s['steps']} of {result['steps']} steps: "
              "summary and TensorBoard tags written, board restored", file=sys.stderr)
    if s.get("sensor_fault_steps"):
        print(f"power sensors failed on {s['sensor_fault_steps']} of {s['steps']} steps: their power is the "
              f"power model's estimate (step/sensor_fault in TensorBoard)")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
    code = report_unrestored(result["restore_problems"], result["statefile"])
    return code or (130 if result.get("interrupted") else 0)


def _decision(policy: Policy, env: DynamicDNNEnv) -> Decide:
    """How ``rlrm run`` decides, validated and decoded as ``env.step`` will (all of it timed):
    for a checkpoint of one managed application a cached-mask, buffer-reusing decision
    (:class:`rlrm.live.controller.FastDecider`), else the policy's ``act``."""
    inner = getattr(policy, "policy", None)
    fast = inner is not None and getattr(inner, "n_managed", 0) == 1 and len(env.managed) == 1 and \
        not getattr(policy, "splits_apps", False)
    if fast:
        decider = FastDecider(inner)
        masks = MaskCache(env)
        # a policy trained before the dynamics' elements reads the prefix it knows (as CheckpointPolicy)
        n = len(inner.observation_names) if dynamics_prefix(inner, env) else None

        def decide(obs: np.ndarray, info: dict) -> Any:
            action = decider.decide(obs if n is None else obs[:n], masks.get())
            env.points_for(action)
            return action
    else:
        def decide(obs: np.ndarray, info: dict) -> Any:
            action = policy.act(env, obs, info)
            env.points_for(action)
            return action
    return decide


class _EnergyEstimated(Callback):
    """Whether every step's power came from the power model (no sensor read at all)."""

    def __init__(self) -> None:
        self.all_steps = True

    def on_step(self, record: StepRecord) -> bool:
        self.all_steps = self.all_steps and bool(record.info.get("energy_estimated", True))
        return True


def run_live(policy_name: str, platform: str, scenario: str, duration_s: float, period_s: Optional[float] = None,
             model: str = "demo", inputs: str = "synthetic", logdir: str = "runs", run_name: Optional[str] = None,
             sysfs_root: Optional[str] = None, observe_only: Optional[bool] = None, background: bool = True,
             seed: int = 0, handlers: bool = True, set_power_mode: bool = False) -> dict:
    """Run a policy on the live backend for ``duration_s`` and log it like ``rlrm compare``.

    :param policy_name: checkpoint path or baseline name
    :param platform: board profile name or path
    :param scenario: scenario name or path
    :param duration_s: how long to run (steps = ceil(duration / period))
    :param period_s: control period (default: the scenario's)
    :param model: ``demo``, ``ofa:PATH`` or a model directory
    :param inputs: ``synthetic`` or a directory of images
    :param logdir: parent of the TensorBoard run directory
    :param run_name: the run directory's name
    :param sysfs_root: sysfs root for the actuator and sensors
    :param observe_only: never write frequencies (None: decide from the files)
    :param background: generate the scenario's CPU background load
    :param seed: seed of the background schedule
    :param handlers: restore the board on SIGINT/SIGTERM (and turn SIGTERM into an interrupt)
    :param set_power_mode: switch nvpmodel to the scenario's mode for the run (put back at exit)
    :return: ``{"policy", "platform", "scenario", "period_s", "summary", "decision_us_median",
        "energy_estimated", "run_dir", "restore_problems", "statefile"}`` (the last two: what the
        kernel refused to put back, and the state file kept for ``rlrm restore``); the summary's
        ``sensor_fault_steps`` counts the steps whose power came from the power model because a
        sensor failed
    """
    policy = resolve_policy(policy_name)
    if policy_name in ("oracle", "oracle-greedy"):
        raise InputError("--policy", "policy", "the oracle needs the simulator's hidden state; it cannot run live")
    cfg = LiveConfig(model=model, inputs=inputs, sysfs_root=sysfs_root, observe_only=observe_only,
                     background=background, handlers=handlers)
    board = load_platform(platform)
    env_kwargs = checkpoint_env_kwargs(policy, board)
    probe = DynamicDNNEnv(platform=board, scenario=scenario, period_s=period_s, **env_kwargs)
    policy.reset(probe, seed=seed)  # a checkpoint for another environment is refused before the board is opened
    mode_switch = PowerModeSwitch(board, probe.scenario, sysfs_root) if set_power_mode else None
    mode_warning = None if set_power_mode else power_mode_warning(board, probe.scenario, sysfs_root)
    if mode_warning:
        print(mode_warning, file=sys.stderr)
    period = float(probe.sim.period_s)
    steps = max(1, int(math.ceil(duration_s / period - 1e-9)))
    name = run_name or f"run_{_sanitize(Path(policy_name.rstrip('/')).name)}_{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir = Path(logdir) / name
    clear_run_dir(run_dir, overwrite=False, hint="use another --run-name")

    old_term = signal.getsignal(signal.SIGTERM) if handlers else None
    if handlers:
        signal.signal(signal.SIGTERM, _raise_interrupt)  # the actuator restores first, then chains here
    env = None
    writer = None
    try:
        if mode_switch is not None:
            switched = mode_switch.apply()
            if switched:
                print(switched, file=sys.stderr)
        env = DynamicDNNEnv(platform=board, scenario=scenario, backend="live", period_s=period_s,
                            episode_steps=steps, live=cfg, **env_kwargs)
        live_board = env.sim
        assert isinstance(live_board, LiveBoard)
        live_board.open()
        writer = open_writer(run_dir, required=False)
        logged = not isinstance(writer, NullWriter)
        if not logged:
            print("rlrm: note: no torch here, so no TensorBoard log (the summary below is complete)", file=sys.stderr)
        # a live run may be long: keep no step series; its one episode is the whole run
        tb = TensorBoardCallback(writer, keep_episode=None, episode_keys=EPISODE_KEYS + ("sensor_fault_steps",))
        estimated = _EnergyEstimated()  # every step's power is the model's (no sensor read at all)?
        status = StatusLine(period, steps)
        stopper = StopOnSignal(enabled=handlers)  # first Ctrl-C/SIGTERM: finish this step, log, then restore
        try:
            done = rollout(policy, env, 1, seed, callbacks=[tb, estimated, status, stopper],
                           decide=_decision(policy, env))
        finally:
            stopper.on_rollout_end({})
        summary = dict(done.summary)
        write_hparams(writer, {"policy": policy_name, "platform": env.platform.name, "scenario": env.scenario.name,
                               "seeds": 1, "seed": seed, "episode_steps": steps, "backend": "live", "model": model},
                      {f"hparam/{k}": finite(summary.get(k)) for k in SUMMARY_KEYS})
        decisions = done.decisions_us
        result = {"policy": getattr(policy, "name", policy_name), "platform": env.platform.name,
                  "scenario": env.scenario.name, "period_s": period, "steps": steps, "summary": summary,
                  "decision_us_median": statistics.median(decisions) if decisions else math.nan,
                  "energy_estimated": estimated.all_steps, "run_dir": str(run_dir) if logged else "off (no torch)",
                  "requested_s": duration_s, "elapsed_s": status.elapsed_s(), "overruns": status.overruns,
                  "interrupted": signal.Signals(stopper.signum).name if stopper.stopped else None}
        closing, env = env, None
        closing.close()  # background workers stopped, board restored: what it could not do goes in the result
        kept = live_board.kept_statefile
        return {**result, "restore_problems": list(live_board.restore_problems),
                "statefile": str(kept) if kept else None}
    finally:
        if writer is not None:
            writer.close()
        if env is not None:
            env.close()  # background workers stopped, board restored
        if mode_switch is not None:
            problem = mode_switch.restore()
            if problem:
                print(problem, file=sys.stderr)
        if handlers:
            signal.signal(signal.SIGTERM, old_term if old_term is not None else signal.SIG_DFL)
