"""Live soak with faults: ``rlrm run`` for minutes on a fake Xavier NX while its power sensor
keeps vanishing, returning garbage and coming back.

What it runs: the shipped Xavier NX policy through :func:`rlrm.live.cli.run_live` (the code
behind ``rlrm run``: real demo-model inferences, real background worker processes following
the ``bursty`` scenario, the hardware actuator writing the fake board's cpufreq/devfreq files),
for ``--minutes`` at a ``--period`` control period. A fault thread, every ``--fault-every``
seconds, does one of: remove the INA3221 directory, write garbage into ``in_power0_input``
(text, a negative number, an absurd one, an empty file), or put the sensor back.

What it checks and prints: the run ends normally; steps on the estimate are counted and
flagged (``sensor_fault_steps``) and match the steps the sensor was broken for (within the
step in flight when a fault starts or ends); the fake board is restored byte for byte; no
worker process, state file or file descriptor is left; memory growth over the run. The last
line is ``soak_live_rss_growth_mb: X``.

Run: ``PYTHONPATH=$PWD python3 experiments/soak_live.py [--minutes 5] [--period 0.05]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from rlrm.hw import fake  # noqa: E402
from rlrm.live.board import LiveBoard  # noqa: E402
from rlrm.live.cli import run_live  # noqa: E402

IIO = "sys/bus/i2c/drivers/ina3221x/7-0040/iio:device0"
GARBAGE = ("garbage\n", "-5\n", "99999999999\n", "", "nan\n")


class Faults(threading.Thread):
    """Breaks and mends the fake board's power sensor at random, until stopped."""

    def __init__(self, root: Path, every_s: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.root, self.every_s = root, every_s
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.counts = {"vanish": 0, "garbage": 0, "mend": 0}
        self.good = (root / IIO / "in_power0_input").read_text()
        self.lock = threading.Lock()  # a fault never lands between the spy's look and the board's read

    def run(self) -> None:
        dev, parked = self.root / IIO, self.root / "parked-sensor"
        while not self.stop.wait(self.every_s):
            action = self.rng.choice(["vanish", "garbage", "mend", "mend"])
            with self.lock:
                self._do(action, dev, parked)
            self.counts[action] += 1
        with self.lock:
            self._do("mend", dev, parked)

    def _do(self, action: str, dev: Path, parked: Path) -> None:
        """Break (``vanish``, ``garbage``) or mend the sensor."""
        if action == "vanish":
            if dev.exists():
                shutil.move(str(dev), str(parked))
            return
        if not dev.exists():
            shutil.move(str(parked), str(dev))
        text = self.rng.choice(GARBAGE) if action == "garbage" else self.good
        (dev / "in_power0_input").write_text(text)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--period", type=float, default=0.05)
    ap.add_argument("--fault-every", type=float, default=2.0, help="seconds between fault actions")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the run's warnings are counted below, not printed

    work = Path(tempfile.mkdtemp(prefix="rlrm-soak-"))
    os.environ["RLRM_STATE_DIR"] = str(work / "state")
    (work / "state").mkdir()
    root = fake.make_fake_xavier_nx(work / "xavier")
    before_tree = fake.snapshot_tree(root)
    proc = psutil.Process()
    children0 = {p.pid for p in proc.children(recursive=True)}

    warnings: list[str] = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    live_log = logging.getLogger("rlrm.live")
    live_log.setLevel(logging.WARNING)
    live_log.propagate = False
    live_log.addHandler(Count(level=logging.WARNING))

    broken_steps = [0]  # steps whose sensor was broken when they read it (ground truth)
    original = LiveBoard._read_power

    def spy(self: LiveBoard, power_units: list) -> tuple:
        dev = root / IIO
        with faults.lock:
            text = (dev / "in_power0_input").read_text() if dev.exists() else None
            out = original(self, power_units)
        if text is None or text.strip() not in (faults.good.strip(),):
            broken_steps[0] += 1
        return out

    LiveBoard._read_power = spy  # type: ignore[method-assign]
    faults = Faults(root, args.fault_every, args.seed)
    # warm-up (model load, first allocations) before the memory baseline
    run_live(str(ROOT / "checkpoints" / "jetson-xavier-nx-ppo"), "jetson-xavier-nx", "bursty", 2.0,
             period_s=args.period, logdir=str(work / "runs"), run_name="warmup", sysfs_root=str(root))
    broken_steps[0] = 0
    rss0, fds0 = proc.memory_info().rss / 2**20, proc.num_fds()
    faults.start()
    t0 = time.monotonic()
    result = run_live(str(ROOT / "checkpoints" / "jetson-xavier-nx-ppo"), "jetson-xavier-nx", "bursty",
                      args.minutes * 60.0, period_s=args.period, logdir=str(work / "runs"), run_name="soak",
                      sysfs_root=str(root))
    wall = time.monotonic() - t0
    faults.stop.set()
    faults.join()
    LiveBoard._read_power = original  # type: ignore[method-assign]
    rss1, fds1 = proc.memory_info().rss / 2**20, proc.num_fds()
    time.sleep(0.5)
    left = {p.pid for p in proc.children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE} - children0
    s = result["summary"]
    flagged = s["sensor_fault_steps"]
    starts = sum(1 for w in warnings if "using the power model's estimate" in w)
    ends = sum(1 for w in warnings if "read again" in w)
    print(f"live soak: {s['steps']} steps of {args.period:g} s in {wall:.0f} s wall, {s['inferences']:.0f} inferences, "
          f"bursty background")
    print(f"faults injected: {faults.counts}")
    print(f"steps on the estimate (sensor_fault_steps): {flagged}; steps that read a broken sensor: {broken_steps[0]}; "
          f"fault warnings {starts}, recovery warnings {ends}")
    print(f"board restored byte for byte: {fake.snapshot_tree(root) == before_tree}; "
          f"state files left: {len(list((work / 'state').iterdir()))}; worker processes left: {len(left)}")
    print(f"open file descriptors {fds0} -> {fds1}; RSS {rss0:.1f} -> {rss1:.1f} MB "
          f"({(rss1 - rss0) * 1024 / max(1, s['steps']) * 1000:.0f} KB per 1000 steps)")
    ok = (flagged == broken_steps[0] and fake.snapshot_tree(root) == before_tree and not left
          and not list((work / "state").iterdir()) and fds1 <= fds0)
    shutil.rmtree(work, ignore_errors=True)
    print(f"soak_live_ok: {ok}")
    print(f"soak_live_rss_growth_mb: {rss1 - rss0:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
