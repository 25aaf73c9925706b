"""A run killed mid-way leaves the board byte-for-byte as before: SIGTERM, SIGINT, SIGKILL + rlrm restore."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlrm.hw import fake
from tests.hw_support import board_dir, CPU, XAVIER_GPU, odroid, state_dir, text, xavier  # noqa: F401

REPO = Path(__file__).resolve().parents[1]

#: A controller-like child with the kernel's write rules emulated: pins, then waits to be killed.
CHILD = """
import sys, time
import rlrm.hw.sysfs
from rlrm.hw import fake
rlrm.hw.sysfs.kernel_write = fake.kernel_write
from rlrm.hw.actuator import HardwareActuator
root, statefile, method = sys.argv[1:4]
with HardwareActuator(root, statefile=statefile, cpu_method=method, use_torch=False) as hw:
    for i, p in enumerate(hw.clusters):
        hw.set_cpu_frequency(i, p.available_khz[1])
    hw.set_gpu_frequency(hw.gpu.available_hz[-1] // 1000)
    print("ready", flush=True)
    time.sleep(60)
"""


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(), cwd=REPO)


def _wait_ready(proc: subprocess.Popen, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            line = proc.stdout.readline()
            if line:
                return line
        if proc.poll() is not None:
            break
    proc.kill()
    raise AssertionError(f"child did not get ready: {proc.communicate()[1]}")


@pytest.mark.parametrize("board,method", [("xavier", "pin"), ("odroid", "userspace")])
def test_sigterm_mid_run_leaves_tree_byte_for_byte(request: pytest.FixtureRequest, tmp_path: Path,
                                                   board: str, method: str) -> None:
    root = request.getfixturevalue(board)
    before = fake.snapshot_tree(root)
    statefile = tmp_path / "state.json"
    proc = _start(["-c", CHILD, str(root), str(statefile), method])
    assert _wait_ready(proc).strip() == "ready"
    assert fake.snapshot_tree(root) != before and statefile.exists()  # it did write
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGTERM, err  # died of the signal, as it would without rlrm
    assert fake.snapshot_tree(root) == before
    assert not statefile.exists()


def test_sigint_mid_run_restores_and_exits_as_interrupted(xavier: Path, tmp_path: Path) -> None:
    before = fake.snapshot_tree(xavier)
    statefile = tmp_path / "state.json"
    proc = _start(["-m", "rlrm", "hw", "pin", "--sysfs-root", str(xavier), "--statefile", str(statefile),
                   "--cpu", "0=652800", "--gpu", "510000"])
    assert "holding policy0 652.8 MHz, GPU 510 MHz" in _wait_ready(proc)
    assert text(xavier, f"{XAVIER_GPU}/max_freq") == "510000000\n"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and "interrupted" in err
    assert fake.snapshot_tree(xavier) == before and not statefile.exists()


def test_sigterm_to_rlrm_hw_pin(odroid: Path, tmp_path: Path) -> None:
    before = fake.snapshot_tree(odroid)
    statefile = tmp_path / "state.json"
    proc = _start(["-m", "rlrm", "hw", "pin", "--sysfs-root", str(odroid), "--statefile", str(statefile),
                   "--cpu", "policy4=1800000", "--cpu", "0=600000"])
    _wait_ready(proc)
    proc.terminate()
    proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGTERM
    assert fake.snapshot_tree(odroid) == before


@pytest.mark.parametrize("give_root", [True, False])
def test_sigkill_then_rlrm_restore(xavier: Path, tmp_path: Path, give_root: bool) -> None:
    before = fake.snapshot_tree(xavier)
    statefile = tmp_path / "state.json"
    proc = _start(["-m", "rlrm", "hw", "pin", "--sysfs-root", str(xavier), "--statefile", str(statefile),
                   "--cpu", "1=1907200", "--cpu", "2=115200", "--gpu", "1109250"])
    _wait_ready(proc)
    proc.kill()
    proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGKILL
    assert text(xavier, f"{CPU}/policy2/scaling_min_freq") == "1907200\n" and statefile.exists()
    args = ["-m", "rlrm", "restore", str(statefile)] + (["--sysfs-root", str(xavier)] if give_root else [])
    env = _env() if give_root else {**_env(), "RLRM_SYSFS_ROOT": str(xavier)}  # never the file's own root
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=20)
    assert done.returncode == 0, done.stderr
    assert "restored 3 setting(s)" in done.stdout  # policy0 was never pinned: not touched
    assert fake.snapshot_tree(xavier) == before and not statefile.exists()
