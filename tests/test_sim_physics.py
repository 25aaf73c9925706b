"""The simulator's physics, in direction and in number."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rlrm.paths import PROJECT_ROOT
from rlrm.platform import load_platform
from rlrm.sim import BoardSimulator, OperatingPoint, load_scenario, parse_scenario


def quiet_scenario(**target) -> dict:
    return {
        "schema": "rlrm-scenario/1", "name": "quiet", "description": "no background", "period_s": 1.0,
        "episode_steps": 10, "apps": [{"name": "main", "library": "dynamic-ofa-6"}],
        "targets": [{"at_s": 0, **(target or {"latency_ms": 1000.0})}],
    }


def make_sim(board: str = "jetson-xavier-nx", scenario: dict | None = None, seed: int = 0) -> BoardSimulator:
    return BoardSimulator(load_platform(board), parse_scenario(scenario or quiet_scenario(), "quiet.toml"), seed=seed)


def run_point(sim: BoardSimulator, subnet: int, unit: str, cores: int, freq_index: int) -> dict:
    op = OperatingPoint(subnet, sim.options.index((unit, cores)), freq_index)
    return sim.preview([op])


def test_higher_frequency_lowers_latency_raises_power() -> None:
    sim = make_sim()
    for unit, cores in (("gpu", 0), ("carmel", 2), ("carmel", 6)):
        u = sim.platform.unit(unit)
        top = sim.max_freq_index(sim.unit_names.index(unit))
        res = [run_point(sim, 3, unit, cores, i) for i in range(top + 1)]
        lat = [r["apps"][0]["latency_median_ms"] for r in res]
        pw = [r["power_w"] for r in res]
        assert all(b < a for a, b in zip(lat, lat[1:])), unit
        assert all(b > a for a, b in zip(pw, pw[1:])), unit
        assert u.n_freqs >= top + 1


def test_smaller_subnet_lowers_latency() -> None:
    for board, unit, cores in (("jetson-xavier-nx", "gpu", 0), ("jetson-xavier-nx", "carmel", 4),
                               ("odroid-xu3", "a15", 4), ("odroid-xu3", "a7", 1), ("odroid-xu3", "gpu", 0)):
        sim = make_sim(board)
        fi = sim.max_freq_index(sim.unit_names.index(unit))
        lat = [run_point(sim, s, unit, cores, fi)["apps"][0]["latency_median_ms"] for s in range(6)]
        assert all(b > a for a, b in zip(lat, lat[1:])), (board, unit, lat)


def test_more_cores_lower_latency() -> None:
    sim = make_sim()
    fi = sim.max_freq_index(sim.unit_names.index("carmel"))
    lat = [run_point(sim, 2, "carmel", n, fi)["apps"][0]["latency_median_ms"] for n in range(1, 7)]
    assert all(b < a for a, b in zip(lat, lat[1:]))


def test_gpu_power_scales_with_subnet_single_cpu_core_does_not() -> None:
    """The seeds' poster: one busy CPU core's power does not depend on the subnetwork
    (the core is busy either way), the GPU's does."""
    for board, cpu in (("odroid-xu3", "a15"), ("jetson-xavier-nx", "carmel")):
        sim = make_sim(board)
        g = sim.max_freq_index(sim.unit_names.index("gpu"))
        c = sim.max_freq_index(sim.unit_names.index(cpu))
        gpu_p = [run_point(sim, s, "gpu", 0, g)["power_w"] for s in range(6)]
        cpu_p = [run_point(sim, s, cpu, 1, c)["power_w"] for s in range(6)]
        assert gpu_p[-1] > gpu_p[0] * 1.1, gpu_p
        assert max(cpu_p) - min(cpu_p) < 1e-9, cpu_p
        # and both scale with frequency
        assert run_point(sim, 0, cpu, 1, 0)["power_w"] < cpu_p[0]


def test_gpu_latency_matches_measured_dynamic_ofa() -> None:
    """Simulated GPU latency of the six levels at f_max, no background: within 10 % of the
    Dynamic-OFA demo's measured latency (shared/reference dynamic_ofa_subnets.json)."""
    measured = [41.16, 45.42, 49.44, 51.08, 56.75, 61.73]
    sim = make_sim()
    fi = sim.platform.unit("gpu").n_freqs - 1
    for s, m in enumerate(measured):
        lat = run_point(sim, s, "gpu", 0, fi)["apps"][0]["latency_ms"]
        assert abs(lat / m - 1) < 0.10, (s, lat, m)


def test_energy_is_integral_of_power() -> None:
    sim = BoardSimulator(load_platform("jetson-xavier-nx"), load_scenario("bursty"), seed=3)
    rng = np.random.default_rng(0)
    energy = power_integral = 0.0
    for _ in range(100):
        opt = int(rng.integers(len(sim.options)))
        u = sim.unit_names.index(sim.options[opt][0])
        op = OperatingPoint(int(rng.integers(6)), opt, int(rng.integers(sim.max_freq_index(u) + 1)))
        if not sim.option_allowed(opt):
            continue
        r = sim.step([op])
        energy += r["energy_mj"]
        power_integral += r["power_w"] * sim.period_s * 1000.0
        # board power = base + sum of units, every unit counted (idle ones too)
        assert math.isclose(r["power_w"], sim.platform.base_power_w + sum(r["unit_power_w"]))
        assert all(p > 0 for p in r["unit_power_w"])
    assert math.isclose(energy, power_integral, rel_tol=1e-12)


def test_contention_stretches_latency() -> None:
    base = quiet_scenario()
    loaded = quiet_scenario()
    loaded["background"] = [{"kind": "constant", "unit": "gpu", "level": 0.5},
                            {"kind": "constant", "unit": "cpu", "cores": 6, "level": 1.0}]
    a, b = make_sim(scenario=base), make_sim(scenario=loaded)
    fi = 14
    assert run_point(b, 3, "gpu", 0, fi)["apps"][0]["latency_median_ms"] == pytest.approx(
        1.5 * run_point(a, 3, "gpu", 0, fi)["apps"][0]["latency_median_ms"])
    # 6 DNN threads + 6 busy background threads on 6 cores: fair share halves throughput
    ca = run_point(a, 3, "carmel", 6, 10)["apps"][0]["latency_median_ms"]
    cb = run_point(b, 3, "carmel", 6, 10)["apps"][0]["latency_median_ms"]
    assert cb / ca == pytest.approx(2.0 * 1.1)


def test_two_apps_contend() -> None:
    sc = quiet_scenario()
    sc["apps"].append({"name": "second", "library": "dynamic-ofa-6", "start_s": 2})
    sim = make_sim(scenario=sc)
    op = OperatingPoint(3, sim.options.index(("gpu", 0)), 14)
    first = sim.step([op, op])
    assert first["apps"][1] is None  # not started yet
    sim.step([op, op])
    both = sim.step([op, op])
    assert both["apps"][1] is not None
    assert both["apps"][0]["latency_median_ms"] > 1.9 * first["apps"][0]["latency_median_ms"]


def test_targets_and_power_modes_follow_schedule() -> None:
    sim = BoardSimulator(load_platform("jetson-xavier-nx"), load_scenario("power-cap"), seed=0)
    op = OperatingPoint(0, sim.options.index(("gpu", 0)), 14)
    seen = []
    for _ in range(100):
        r = sim.step([op])
        seen.append((r["power_mode"], round(r["targets"].power_w, 3), r["freq_khz"][sim.unit_names.index("gpu")]))
    assert seen[0][0] == "15W_6CORE" and seen[69][0] == "15W_6CORE" and seen[70][0] == "10W_4CORE"
    assert seen[70][1] < seen[0][1]
    assert seen[70][2] == 803250  # the 10 W mode caps the GPU at 803.25 MHz
    assert not sim.option_allowed(sim.options.index(("carmel", 6)))


def test_deterministic_for_a_seed() -> None:
    def run(seed: int) -> list:
        sim = BoardSimulator(load_platform("odroid-xu3"), load_scenario("bursty"), seed=seed)
        op = OperatingPoint(2, sim.options.index(("gpu", 0)), 6)
        return [json.dumps(sim.step([op]), default=str) for _ in range(80)]

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_reset_with_seed_reproduces() -> None:
    sim = BoardSimulator(load_platform("jetson-xavier-nx"), load_scenario("bursty"), seed=1)
    op = OperatingPoint(2, sim.options.index(("gpu", 0)), 10)
    a = [sim.step([op])["apps"][0]["latency_ms"] for _ in range(30)]
    sim.reset(seed=1)
    b = [sim.step([op])["apps"][0]["latency_ms"] for _ in range(30)]
    assert a == b


def test_preview_equals_step() -> None:
    sim = BoardSimulator(load_platform("jetson-xavier-nx"), load_scenario("bursty"), seed=5)
    for k in range(20):
        op = OperatingPoint(k % 6, sim.options.index(("gpu", 0)), k % 15)
        p = sim.preview([op])
        assert json.dumps(p, default=str) == json.dumps(sim.step([op]), default=str)


@pytest.mark.parametrize("board", ["jetson-xavier-nx", "odroid-xu3"])
def test_every_shipped_scenario_runs_on_every_board(board) -> None:
    from rlrm.sim import available_scenarios

    names = available_scenarios()
    assert {"steady", "second-app", "bursty", "changing-target", "power-cap", "two-models"} <= set(names)
    for name in names:
        sc = load_scenario(name)
        sim = BoardSimulator(load_platform(board), sc, seed=0)
        op = OperatingPoint(1, sim.options.index(("gpu", 0)), 3)
        for _ in range(sc.episode_steps):
            r = sim.step([op] * len(sc.controlled_apps))
            assert math.isfinite(r["power_w"]) and r["power_w"] > 0


def test_traces_say_where_numbers_came_from() -> None:
    for board, kind in (("jetson-xavier-nx", "derived"), ("odroid-xu3", "estimated")):
        data = json.loads((PROJECT_ROOT / "envs" / "traces" / board / "dynamic-ofa-6.json").read_text())
        assert data["provenance"]["kind"] == kind
        assert data["provenance"]["method"] and data["provenance"]["sources"]


def test_profile_kept_elsewhere_finds_its_traces_and_cpu_only_boards_run_gpu_scenarios(tmp_path) -> None:
    """A board without a GPU (like a profiled host) runs the shipped scenarios on its largest
    CPU unit; a profile outside envs/ finds the traces beside it."""
    import shutil

    from rlrm.platform import parse_platform, platform_to_dict, save_platform
    from rlrm.sim.trace import load_trace, save_trace, trace_to_dict, parse_trace

    odroid = load_platform("odroid-xu3")
    d = platform_to_dict(odroid)
    d["name"] = "cpu-only"
    del d["units"]["gpu"]
    d["sensors"] = [s for s in d["sensors"] if s["measures"] != ["gpu"]]
    board = save_platform(parse_platform(d, "x"), tmp_path / "envs" / "platforms" / "cpu-only.toml")
    t = trace_to_dict(load_trace("odroid-xu3", "dynamic-ofa-6"))
    t["platform"] = "cpu-only"
    t["entries"] = [e for e in t["entries"] if e["unit"] != "gpu"]
    save_trace(parse_trace(t, "t"), tmp_path / "envs" / "traces" / "cpu-only" / "dynamic-ofa-6.json")
    sim = BoardSimulator(load_platform(board), load_scenario("second-app"), seed=0)
    assert sim.unit_names[sim.resolve_unit("gpu", "unit")] == "a15"
    r = sim.step([OperatingPoint(0, sim.options.index(("a15", 4)), 18)])
    assert r["apps"][0]["unit"] == "a15"
    shutil.rmtree(tmp_path / "envs")


def test_reward_without_power_data_has_no_energy_term() -> None:
    from rlrm.env.reward import RewardWeights, step_reward

    sim = make_sim()
    r = run_point(sim, 3, "gpu", 0, 14)
    reward, terms = step_reward(r, RewardWeights(), (74.2, 79.03), epi_ref=0.0)
    assert terms["energy"] == 0.0 and math.isfinite(reward)
