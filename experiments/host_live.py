"""On this machine, for real: the demo model under real background load, three controllers.

1. ``rlrm profile --model demo`` measures the demo's levels here (host profile + trace, under
   ``experiments/results/host-live/envs``);
2. a PPO policy is trained on that profile with a tiny budget (``ppo-host.yaml``,
   30,000 steps) on ``host-periodic.toml`` (one busy background process on and off every 10 s)
   and exported to ``experiments/results/host-live/host-ppo``;
3. ``rlrm run`` runs it live for ``--duration``, then the largest fixed subnetwork and the
   reactive Dynamic-OFA manager (``schedutil+dofa``), with real inferences and real
   background workers; the table goes to ``experiments/results/host-live.md``.

Run: ``PYTHONPATH=$PWD python3 experiments/host_live.py [--duration 60s] [--skip-train]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "experiments" / "results" / "host-live"
PROFILE = HERE / "envs" / "platforms" / "host.toml"
SCENARIO = HERE / "host-periodic.toml"
POLICY = HERE / "host-ppo"
OUT = ROOT / "experiments" / "results" / "host-live.md"
POLICIES = [("ppo (host-ppo)", str(POLICY)), ("largest fixed subnetwork", "fixed:subnet=4,unit=cpu,freq=max"),
            ("Dynamic-OFA reactive (schedutil+dofa)", "schedutil+dofa")]


def rlrm(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    print("$ rlrm " + " ".join(args), flush=True)
    subprocess.run([sys.executable, "-m", "rlrm", *args], check=True, env=env, cwd=str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", default="60s")
    ap.add_argument("--skip-train", action="store_true", help="reuse the profile and policy already there")
    args = ap.parse_args()
    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"rlrm-host-live-{os.getpid()}"
    if not args.skip_train:
        rlrm("profile", "--model", "demo", "--envs", str(HERE / "envs"), "--quiet")
        rlrm("train", "--platform", str(PROFILE), "--scenario", str(SCENARIO), "--config", str(HERE / "ppo-host.yaml"),
             "--timesteps", "30000", "--seed", "0", "--logdir", str(tmp), "--name", "host", "--no-progress")
        rlrm("export", str(tmp / "host"), "-o", str(POLICY))
    rows = []
    for label, policy in POLICIES:
        out = tmp / f"{len(rows)}.json"
        rlrm("run", "--platform", str(PROFILE), "--scenario", str(SCENARIO), "--policy", policy, "--model", "demo",
             "--input", "synthetic", "--duration", args.duration, "--logdir", str(tmp / "runs"),
             "--run-name", f"r{len(rows)}", "--json", str(out))
        rows.append((label, policy, json.loads(out.read_text())))
    lines = [
        "# On this machine, for real: the demo model under real background load",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `python experiments/host_live.py "
        f"--duration {args.duration}` on {platform.node()} ({os.cpu_count()} CPUs, no GPU, no cpufreq: "
        "frequencies observe-only, core counts and subnetworks applied).",
        "",
        "Host profile from `rlrm profile --model demo`; policy trained on it in simulation (PPO, 30,000 steps, "
        "`host-live/ppo-host.yaml`) on `host-live/host-periodic.toml`: the demo model back to back on the CPU, "
        "control period 0.5 s, deadline 1.1 x the largest subnetwork's profiled latency, one background process "
        "busy 90 % for 10 s and idle for 10 s (real worker processes here). Each row is one live run of "
        f"{args.duration} with real inferences (synthetic inputs). There is no power sensor here, so no energy "
        "figures (the host profile's power model is zero).",
        "",
        "| controller | policy | inferences | deadline-miss rate | top-1 % (library) | latency mean ms | latency p95 ms | controller us/step (median) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for label, policy, r in rows:
        s = r["summary"]
        lines.append(f"| {label} | `{policy.replace(str(ROOT) + '/', '')}` | {s['inferences']:.0f} | "
                     f"{s['deadline_miss_rate']:.4f} | {s['accuracy_mean']:.2f} | {s['latency_mean_ms']:.2f} | "
                     f"{s['latency_p95_ms']:.2f} | {r['decision_us_median']:.0f} |")
    trace = json.loads((HERE / "envs" / "traces" / "host" / "demo.json").read_text())
    top = max(e["subnet"] for e in trace["entries"])
    ref = min(e["latency_ms"] for e in trace["entries"] if e["subnet"] == top and e["cores"] == os.cpu_count()) \
        if any(e["subnet"] == top and e["cores"] == os.cpu_count() for e in trace["entries"]) else float("nan")
    lines += ["", f"Deadline {1.1 * ref:.1f} ms: 1.1 x the largest level's profiled {ref:.2f} ms "
              f"(`host-live/envs/traces/host/demo.json`, {os.cpu_count()} cores). Top-1 is the demo library's accuracy of the level that ran (its test split), weighted by "
              "inferences.", ""]
    OUT.write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
