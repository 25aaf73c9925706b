"""Soak: SIGKILL ``rlrm hw pin`` at a random moment (half the runs while it starts or pins, half
while it holds), then ``rlrm restore``; the board must come back
byte for byte, and no lock may outlive the killed process (the next pin must get the board).

    python experiments/soak_kill_restore.py [--runs 25] [--seed 0]

Prints how many of the runs left the fake board byte-identical and how many times the next
owner was refused (the expected figures: every run, and never).
"""

from __future__ import annotations

import argparse
import os
import random
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: ``rlrm`` with the kernel's write rules emulated on the fake tree (setspeed follows the governor...)
RLRM = ["-c", "import sys, rlrm.hw.sysfs as s; from rlrm.hw import fake; s.kernel_write = fake.kernel_write; "
              "from rlrm.cli import main; sys.exit(main(sys.argv[1:]))"]
sys.path.insert(0, str(REPO))

from rlrm.hw import fake  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=25)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="rlrm-soak-kill-"))
    root = fake.make_fake_xavier_nx(work / "board")
    state = work / "state"
    env = {**os.environ, "PYTHONPATH": str(REPO), "RLRM_STATE_DIR": str(state)}
    before = fake.snapshot_tree(root)
    identical = refused = 0
    for i in range(args.runs):
        cpus = [f"{c}={rng.choice(fake.XAVIER_NX_CPU_KHZ)}" for c in rng.sample(range(3), rng.randint(1, 3))]
        cmd = [sys.executable, *RLRM, "hw", "pin", "--sysfs-root", str(root),
               "--statefile", str(work / f"s{i}.json"), "--method", rng.choice(["pin", "userspace"])]
        for c in cpus:
            cmd += ["--cpu", c]
        cmd += ["--gpu", str(rng.choice(fake.XAVIER_NX_GPU_HZ) // 1000)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        if i % 2:  # at any moment: while it starts, snapshots, pins, or holds
            time.sleep(rng.uniform(0, 1.5))
        else:  # once it holds its pins
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            if ready:
                proc.stdout.readline()
            time.sleep(rng.uniform(0, 0.2))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate()
        if (work / f"s{i}.json").exists():
            done = subprocess.run([sys.executable, *RLRM, "restore", str(work / f"s{i}.json"),
                                   "--sysfs-root", str(root)], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                refused += "in use by" in done.stderr
                print(f"run {i}: restore failed: {done.stderr.strip()}")
        same = fake.snapshot_tree(root) == before
        identical += same
        if not same:
            print(f"run {i}: board differs after restore ({' '.join(cmd[4:])})")
    leftovers = sorted(p.name for p in state.iterdir()) if state.exists() else []
    print(f"{identical}/{args.runs} SIGKILLed pins left the board byte-identical after `rlrm restore`; "
          f"next owner refused {refused} time(s); files left in the state folder: {leftovers or 'none'}")
    return 0 if identical == args.runs and refused == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
