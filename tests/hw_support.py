"""Fixtures shared by the tests/test_hw_*.py files (imported explicitly by each)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

import rlrm.hw.sysfs
from rlrm.hw import fake


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private folder for state files, so tests never see each other's (or /tmp's)."""
    d = tmp_path / "state"
    d.mkdir()
    monkeypatch.setenv("RLRM_STATE_DIR", str(d))
    monkeypatch.delenv("RLRM_SYSFS_ROOT", raising=False)
    return d


@pytest.fixture
def board_dir(tmp_path: Path) -> Iterator[Path]:
    """Where fake trees go: tmpfs (/dev/shm) when there is one, else ``tmp_path``.

    A fake board is ~140 small files; on a disk with slow metadata (this project's build
    machines) creating and deleting them costs tenths of a second per test, on tmpfs
    milliseconds.
    """
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        d = Path(tempfile.mkdtemp(prefix="rlrm-hw-test-", dir=shm))
        yield d
        shutil.rmtree(d, ignore_errors=True)
    else:
        yield tmp_path


@pytest.fixture
def xavier(board_dir: Path, state_dir: Path) -> Path:
    return fake.make_fake_xavier_nx(board_dir / "xavier")


@pytest.fixture
def odroid(board_dir: Path, state_dir: Path) -> Path:
    return fake.make_fake_odroid_xu3(board_dir / "odroid")


@pytest.fixture
def strict(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes obey the kernel's checks (EINVAL for min > max, setspeed without userspace, ...)."""
    monkeypatch.setattr(rlrm.hw.sysfs, "kernel_write", fake.kernel_write)


def text(root: Path, rel: str) -> str:
    return (root / rel).read_text()


def inject(monkeypatch: pytest.MonkeyPatch, suffix: str, err: int, after: int = 0) -> list[str]:
    """Make writes to files ending in ``suffix`` fail with ``err`` (after ``after`` successes).

    Returns the list of every path written (successful or not), in order.
    """
    import os

    written: list[str] = []
    real = fake.kernel_write
    count = {"n": 0}

    def failing(path: str, data: bytes) -> None:
        written.append(path)
        if path.endswith(suffix):
            count["n"] += 1
            if count["n"] > after:
                raise OSError(err, os.strerror(err), path)
        real(path, data)

    monkeypatch.setattr(rlrm.hw.sysfs, "kernel_write", failing)
    return written


CPU = "sys/devices/system/cpu/cpufreq"
XAVIER_GPU = "sys/devices/17000000.gv11b/devfreq/17000000.gv11b"
ODROID_GPU = "sys/devices/platform/soc/11800000.gpu/devfreq/11800000.gpu"
