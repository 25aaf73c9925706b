"""A board profiled without a power sensor (issue 17, item 1): ``rlrm profile`` gives it an
estimated power model (from the CPU's TDP and core count, marked ``estimated``) and every
shipped one-app scenario evaluates on it with finite energy and no traceback."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import pytest

from rlrm.cli import main
from rlrm.dnn.hostinfo import estimate_tdp_w, rapl_power_limit_w
from rlrm.dnn.profile import HostProfiler, Measurement, build_model, estimated_power_model, write_profile
from rlrm.dnn.library import load_library
from rlrm.env.reward import budget_excess
from rlrm.paths import SCENARIOS_DIR


def _one_app_scenarios() -> list[str]:
    out = []
    for path in sorted(Path(SCENARIOS_DIR).glob("*.toml")):
        if len(tomllib.loads(path.read_text()).get("apps", [])) == 1:
            out.append(path.stem)
    return out


@pytest.fixture(scope="module")
def sensorless_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``$RLRM_HOME`` with a ``host`` board profiled on a machine with no sensor and no cpufreq
    (an empty fake root); the latencies are synthetic so the test stays fast."""
    home = tmp_path_factory.mktemp("home")
    lib = load_library("dynamic-ofa-6")
    prof = HostProfiler(build_model(lib), "host", threads=[1], root=home / "noroot", cuda=False)
    assert prof.power is None  # no sensor under the empty root
    results = {}
    for level in range(len(lib.levels)):
        for cores in (1,):
            lat = 20.0 * (level + 1) / cores
            results[(level, "cpu", cores)] = [(prof.cpu_freqs()[0][-1], Measurement(lat, lat * 1.1, 0.9, None))]
    write_profile(prof, results, home / "envs")
    return home


def test_sensorless_profile_has_an_estimated_nonzero_power_model(sensorless_home: Path) -> None:
    text = (sensorless_home / "envs" / "platforms" / "host.toml").read_text()
    power = tomllib.loads(text)["units"]["cpu"]["power"]
    assert power["ceff"] > 0 and power["static_w"] > 0
    assert power["source"].startswith("estimated:") and "TDP" in power["source"]


@pytest.mark.parametrize("scenario", _one_app_scenarios())
def test_every_one_app_scenario_evaluates_with_finite_energy(sensorless_home: Path, scenario: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLRM_HOME", str(sensorless_home))
    out = tmp_path / "r.json"
    rc = main(["evaluate", "--platform", "host", "--scenario", scenario, "--policy", "schedutil",
               "--episodes", "1", "--episode-steps", "20", "--no-oracle", "--json", str(out)])
    assert rc == 0
    energy = json.loads(out.read_text())["energy_per_inference_mj"]
    assert math.isfinite(energy) and energy > 0


def test_one_app_scenarios_exist() -> None:
    assert len(_one_app_scenarios()) >= 4


def test_reward_never_divides_by_a_zero_budget() -> None:
    assert budget_excess(5.0, 0.0) == 0.0
    assert budget_excess(5.0, math.inf) == 0.0
    assert budget_excess(5.0, -1.0) == 0.0
    assert budget_excess(6.0, 4.0) == pytest.approx(0.5)
    assert budget_excess(3.0, 4.0) == 0.0


def test_tdp_estimate_from_rapl_and_from_core_count(tmp_path: Path) -> None:
    zone = tmp_path / "sys/class/powercap/intel-rapl:0"
    zone.mkdir(parents=True)
    (zone / "constraint_0_power_limit_uw").write_text("65000000\n")
    assert rapl_power_limit_w(tmp_path)[0] == pytest.approx(65.0)
    watts, source = estimate_tdp_w(8, tmp_path)
    assert watts == pytest.approx(65.0) and "RAPL" in source
    watts, source = estimate_tdp_w(4, tmp_path / "none", machine="aarch64")
    assert watts == pytest.approx(6.0) and "4 cores" in source


def test_estimated_model_draws_the_full_load_power_at_full_load() -> None:
    from rlrm.platform.profile import ComputeUnit

    model = estimated_power_model(16.0, 2, 2_000_000, "test")
    unit = ComputeUnit(name="cpu", kind="cpu", cores=2, core_type="x", freqs_khz=(1_000_000, 2_000_000),
                       volts_mv=(1000.0, 1000.0), freq_source="t", volt_source="t", dvfs_latency_us=0.0, power=model)
    assert unit.power_w(1, 2.0, 1.0) == pytest.approx(16.0)
    assert unit.power_w(0, 2.0, 1.0) < unit.power_w(1, 2.0, 1.0)
