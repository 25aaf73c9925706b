"""Shared fixtures."""

from __future__ import annotations

import copy
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python < 3.11: tests/board runs under 3.8 and 3.10 too
    import tomli as tomllib  # type: ignore[no-redef]

import pytest

from rlrm.paths import PLATFORMS_DIR, SCENARIOS_DIR


@pytest.fixture
def xavier_dict() -> dict:
    with open(PLATFORMS_DIR / "jetson-xavier-nx.toml", "rb") as fh:
        return tomllib.load(fh)


@pytest.fixture
def steady_dict() -> dict:
    with open(SCENARIOS_DIR / "steady.toml", "rb") as fh:
        return tomllib.load(fh)


def write_toml(path: Path, data: dict) -> Path:
    import tomli_w

    path.write_bytes(tomli_w.dumps(data).encode())
    return path


def deep(d: dict) -> dict:
    return copy.deepcopy(d)


@pytest.fixture(scope="session", autouse=True)
def _private_rlrm_home(tmp_path_factory):
    """Every test (and the rlrm subprocesses it starts) sees an empty ``$RLRM_HOME``, never the
    user's own data folder."""
    import os

    before = os.environ.get("RLRM_HOME")
    os.environ["RLRM_HOME"] = str(tmp_path_factory.mktemp("rlrm-home"))
    yield
    if before is None:
        os.environ.pop("RLRM_HOME", None)
    else:
        os.environ["RLRM_HOME"] = before


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """One intra-op torch thread for the whole run: the networks here are small, and on a
    busy 2-core machine torch's thread pool makes them many times slower."""
    try:
        import torch
    except ImportError:  # the NumPy-only tests run without torch too
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the policy tests cache their small training runs and checkpoints."""
    return tmp_path_factory.getbasetemp() / "policy-runs"
