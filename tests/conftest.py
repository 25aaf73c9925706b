"""Shared fixtures."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

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
