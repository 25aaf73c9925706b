"""A board's own trace (stored beside its profile) is the one simulated, also under a shipped name."""

from __future__ import annotations

import shutil

from rlrm.paths import ENVS_DIR
from rlrm.platform import load_platform
from rlrm.sim.trace import load_trace, trace_beside, trace_for, trace_path

NAME, LIB = "jetson-xavier-nx", "dynamic-ofa-6"


def _copy_profile(tmp_path, with_trace: bool):
    envs = tmp_path / "elsewhere" / "envs"
    (envs / "platforms").mkdir(parents=True)
    shutil.copy(ENVS_DIR / "platforms" / f"{NAME}.toml", envs / "platforms" / f"{NAME}.toml")
    if with_trace:
        (envs / "traces" / NAME).mkdir(parents=True)
        shutil.copy(ENVS_DIR / "traces" / NAME / f"{LIB}.json", envs / "traces" / NAME / f"{LIB}.json")
    return envs, load_platform(envs / "platforms" / f"{NAME}.toml")


def test_trace_beside_the_profile_wins_over_the_shipped_one(tmp_path) -> None:
    envs, plat = _copy_profile(tmp_path, with_trace=True)
    own = envs / "traces" / NAME / f"{LIB}.json"
    assert trace_path(NAME, LIB) != own.resolve()  # the shipped one exists under the same name
    assert trace_for(plat, LIB) == own.resolve()
    load_trace(trace_for(plat, LIB), platform=plat)


def test_without_its_own_trace_the_shipped_one_is_used(tmp_path) -> None:
    envs, plat = _copy_profile(tmp_path, with_trace=False)
    assert trace_beside(plat, LIB) == (envs / "traces" / NAME / f"{LIB}.json").resolve()
    assert trace_for(plat, LIB) == trace_path(NAME, LIB)


def test_shipped_profile_uses_the_shipped_trace() -> None:
    plat = load_platform(NAME)
    assert trace_for(plat, LIB).resolve() == trace_path(NAME, LIB).resolve()
