"""The board dynamics (rlrm.sim.dynamics and the simulator's use of them) against hand-worked
cases; the shipped scenarios keep the original model; the shipped policy reads the prefix of a
dynamics scenario's observation."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from rlrm.env import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.platform import load_platform, parse_platform, platform_to_dict
from rlrm.policy import load
from rlrm.sim import BoardSimulator, OperatingPoint, load_scenario
from rlrm.sim.dynamics import frame_queue, rc_temperature, throttle_index
from rlrm.sim.metrics import MetricsAccumulator
from rlrm.sim.scenario import parse_scenario
from rlrm.train.config import load_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.8-3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
NX = "jetson-xavier-nx"
SHIPPED_SCENARIOS = ("steady", "second-app", "bursty", "changing-target", "power-cap", "mixed", "two-models")
NEW_SCENARIOS = ("camera-15fps", "camera-30fps", "encode-burst", "fanless-heat", "energy-minute", "second-model",
                 "battery-30s")


def gpu_point(sim: BoardSimulator, subnet: int = 5, freq: int = -1) -> OperatingPoint:
    opt = sim.options.index(("gpu", 0))
    n = sim.board.units[sim.board.option_unit[opt]].n_freqs
    return OperatingPoint(subnet, opt, freq % n)


def scenario(extra: str, apps: str = '[[apps]]\nname = "main"\n', targets: str = "latency_ms = 100.0") -> object:
    text = (f'schema = "rlrm-scenario/1"\nname = "t"\ndescription = "t"\n{extra}\n{apps}\n'
            f'[[targets]]\nat_s = 0\n{targets}\n')
    return parse_scenario(tomllib.loads(text), "t.toml")


# ------------------------------------------------------------------ pure functions, by hand
def test_rc_temperature_hand_worked() -> None:
    # T_a = 25, P R = 20 K, tau = R C = 10 s: after 10 s, 45 - 20 / e
    assert rc_temperature(25.0, 10.0, 2.0, 5.0, 25.0, 10.0) == pytest.approx(45.0 - 20.0 / math.e)
    # at the steady state it stays; with no power it decays towards ambient
    assert rc_temperature(45.0, 10.0, 2.0, 5.0, 25.0, 3.0) == pytest.approx(45.0)
    assert rc_temperature(45.0, 0.0, 2.0, 5.0, 25.0, 10.0) == pytest.approx(25.0 + 20.0 / math.e)


def test_throttle_step_wise_with_hysteresis() -> None:
    assert throttle_index(14, 96.0, 96.0, 3.0, 15) == 13  # at the trip: one step down
    assert throttle_index(0, 120.0, 96.0, 3.0, 15) == 0  # never below the lowest
    assert throttle_index(10, 94.0, 96.0, 3.0, 15) == 10  # in the hysteresis band: stays
    assert throttle_index(10, 92.9, 96.0, 3.0, 15) == 11  # below trip - hysteresis: one up
    assert throttle_index(14, 50.0, 96.0, 3.0, 15) == 14  # never above the highest


def test_frame_queue_hand_worked() -> None:
    assert frame_queue(0.0, 15.0, 20.0, 3) == (15.0, 0.0, 0.0, 0.0)  # keeps up: no wait
    # 15 + 0 frames, room for 10: 5 left, 2 dropped, 3 wait; a served frame found 1.5 ahead
    assert frame_queue(0.0, 15.0, 10.0, 3) == (10.0, 3.0, 2.0, 1.5)
    # a backlog drains when capacity allows
    assert frame_queue(3.0, 15.0, 20.0, 3) == (18.0, 0.0, 0.0, 1.5)
    # nothing served (a suspended app): everything over the limit dropped
    assert frame_queue(3.0, 15.0, 0.0, 3) == (0.0, 3.0, 15.0, 0.0)


# ------------------------------------------------------------------ shipped figures unchanged
@pytest.mark.parametrize("name", SHIPPED_SCENARIOS)
def test_shipped_scenarios_use_the_original_model(name: str) -> None:
    sim = BoardSimulator(load_platform(NX), load_scenario(name), seed=0)
    assert not sim.board.dynamic
    r = sim.step([gpu_point(sim)] * len(sim.scenario.controlled_apps))
    assert r.temperature_c is None and r.energy_window_left_j is None
    assert all(a is None or (a.dropped is None and a.queue is None) for a in r.apps)


def test_dynamic_path_reproduces_the_original_model_when_nothing_binds() -> None:
    """A window budget no run can spend switches the dynamic path on and changes nothing else."""
    base = load_scenario("bursty")
    huge = dataclasses.replace(base, targets=tuple(dataclasses.replace(t, energy_window_j=1e9) for t in base.targets))
    platform = load_platform(NX)
    a, b = BoardSimulator(platform, base, seed=3), BoardSimulator(platform, huge, seed=3)
    assert b.board.dynamic and not a.board.dynamic
    rng = np.random.default_rng(0)
    for _ in range(60):
        p = gpu_point(a, int(rng.integers(6)), int(rng.integers(15)))
        ra, rb = a.step([p]), b.step([p])
        assert rb.power_w == pytest.approx(ra.power_w, rel=1e-12)
        assert rb.freq_khz == ra.freq_khz
        for x, y in zip(ra.apps, rb.apps):
            assert y.inferences == pytest.approx(x.inferences, rel=1e-12)
            assert y.latency_ms == pytest.approx(x.latency_ms, rel=1e-12)
            assert y.deadline_miss == pytest.approx(x.deadline_miss, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", NEW_SCENARIOS)
def test_new_scenarios_load_and_run(name: str) -> None:
    sim = BoardSimulator(load_platform(NX), load_scenario(name), seed=0)
    assert sim.board.dynamic
    for _ in range(5):
        r = sim.step([gpu_point(sim)])
    assert math.isfinite(r.power_w) and r.power_w > 0


# ------------------------------------------------------------------ the simulator's dynamics
def test_thermal_follows_the_rc_model_and_throttles_at_the_trip() -> None:
    platform = load_platform(NX)
    zone = platform.units["gpu"].thermal
    t = zone.trip_c - 0.05  # just below the GPU's trip point (93.5 C in the profile)
    sc = scenario(f'[dynamics]\nthermal = true\ncooling = "fanless"\nambient_c = 45.0\nstart_c = {t}\n')
    sim = BoardSimulator(platform, sc, seed=0)
    g = sim.unit_names.index("gpu")
    r = sim.step([gpu_point(sim)])
    t = rc_temperature(t, r.unit_power_w[g], zone.r_fanless_k_per_w, zone.c_j_per_k, 45.0, 1.0)
    assert r.temperature_c[g] == pytest.approx(t)
    assert t >= zone.trip_c  # full GPU load from just below the trip crosses it
    assert sim.max_freq_index(g) == 13  # the kernel took one step off the maximum
    r = sim.step([gpu_point(sim)])
    assert r.freq_index[g] == 13  # and the next step runs under the cap
    assert sim.max_freq_index(g) == 12


def test_fan_keeps_the_same_load_below_the_trip() -> None:
    sim = BoardSimulator(load_platform(NX), scenario("[dynamics]\nthermal = true\n"), seed=0)
    for _ in range(300):
        r = sim.step([gpu_point(sim)])
    trip = min(u.thermal.trip_c for u in load_platform(NX).units.values() if u.thermal is not None)
    assert max(r.temperature_c) < trip and sim.max_freq_index(sim.unit_names.index("gpu")) == 14


def test_frame_queue_in_the_simulator() -> None:
    sc = scenario("[dynamics]\n", apps='[[apps]]\nname = "main"\nfps = 30.0\nqueue = 1\n', targets="latency_ms = 1000.0")
    sim = BoardSimulator(load_platform(NX), sc, seed=0)
    r = sim.step([gpu_point(sim)])  # the largest subnet at f_max: ~61 ms, ~16 inferences for 30 frames
    a = r.apps[0]
    assert a.inferences == pytest.approx(1000.0 / a.latency_median_ms)
    assert a.queue == 1.0 and a.dropped == pytest.approx(30.0 - a.inferences - 1.0)
    assert a.deadline_miss == pytest.approx(a.dropped / (a.dropped + a.inferences))  # the kept ones met 1 s
    assert r.utilisation[sim.unit_names.index("gpu")] == pytest.approx(1.0)
    # at 5 fps the GPU idles most of the period (governors see less than 100 %)
    sc5 = scenario("[dynamics]\n", apps='[[apps]]\nname = "main"\nfps = 5.0\nqueue = 3\n')
    sim5 = BoardSimulator(load_platform(NX), sc5, seed=0)
    a5 = sim5.step([gpu_point(sim5)])
    assert a5.apps[0].inferences == pytest.approx(5.0) and a5.apps[0].dropped == 0.0
    assert a5.utilisation[sim5.unit_names.index("gpu")] == pytest.approx(5.0 * a5.apps[0].latency_median_ms / 1000.0)


def test_energy_window_suspends_then_resets() -> None:
    sc = scenario("[dynamics]\nwindow_s = 10.0\n", apps='[[apps]]\nname = "main"\nfps = 10.0\nqueue = 2\n',
                  targets="latency_ms = 200.0\nenergy_window_j = 30.0")
    sim = BoardSimulator(load_platform(NX), sc, seed=0)
    seen = []
    for _ in range(12):
        r = sim.step([gpu_point(sim)])
        seen.append((r.apps[0].inferences, r.energy_window_left_j))
    # ~7.5 W: 30 J are spent in the 4th second, then nothing runs until t = 10 s
    spent = next(i for i, (_, left) in enumerate(seen) if left <= 0)
    assert 2 <= spent <= 5
    assert all(n == 0.0 for n, _ in seen[spent + 1:10])
    assert seen[10][0] > 0 and seen[10][1] > 0  # a new window


def test_switch_dvfs_and_host_costs() -> None:
    platform = load_platform(NX)
    costly = dataclasses.replace(platform, subnet_switch_ms=100.0, gpu_host_ms=20.0,
                                 units={n: dataclasses.replace(u, dvfs_energy_uj=1e6) for n, u in platform.units.items()})
    sc = scenario("[dynamics]\ncosts = true\n")
    sim = BoardSimulator(costly, sc, seed=0)
    g = sim.unit_names.index("gpu")
    a = sim.step([gpu_point(sim, 5)])
    b = sim.step([gpu_point(sim, 4)])  # a switch: 100 ms of the 1 s period lost
    c = sim.step([gpu_point(sim, 4)])
    assert b.apps[0].inferences == pytest.approx(0.9 * c.apps[0].inferences)
    assert a.apps[0].inferences > 0
    # a frequency change costs the unit 1 J over the 1 s period
    d = sim.step([gpu_point(sim, 4, 10)])
    e = sim.step([gpu_point(sim, 4, 10)])
    assert d.unit_power_w[g] - e.unit_power_w[g] == pytest.approx(1.0, rel=1e-6)
    # host CPU time: busy CPU background stretches the GPU inference
    loaded = scenario("[dynamics]\ncosts = true\n[[background]]\nkind = \"constant\"\nunit = \"cpu\"\ncores = 6\nlevel = 1.0\n")
    quiet_sim, busy_sim = BoardSimulator(costly, sc, seed=0), BoardSimulator(costly, loaded, seed=0)
    q, l = quiet_sim.step([gpu_point(quiet_sim)]), busy_sim.step([gpu_point(busy_sim)])
    assert l.apps[0].latency_median_ms > q.apps[0].latency_median_ms + 2.0
    assert q.utilisation[sim.unit_names.index("carmel")] > 0  # the host work loads the CPU


# ------------------------------------------------------------------ spec, observation, config
def test_profile_round_trip_keeps_the_new_fields() -> None:
    p = load_platform(NX)
    back = parse_platform(platform_to_dict(p), "x.toml")
    assert back.units["gpu"].thermal == p.units["gpu"].thermal
    assert (back.subnet_switch_ms, back.gpu_host_ms, back.units["gpu"].dvfs_energy_uj) == \
        (p.subnet_switch_ms, p.gpu_host_ms, p.units["gpu"].dvfs_energy_uj)


def test_bad_dynamics_field_is_one_line() -> None:
    with pytest.raises(InputError) as err:
        scenario('[dynamics]\ncooling = "water"\n')
    assert "dynamics.cooling" in str(err.value)


def test_observation_layout_is_the_boards_and_neutral_where_not_modelled() -> None:
    policy = load(ROOT / "checkpoints" / "jetson-xavier-nx-ppo")
    plain = DynamicDNNEnv(NX, "steady", units=["gpu"])
    budget = DynamicDNNEnv(NX, "energy-minute", units=["gpu"])
    env = DynamicDNNEnv(NX, "fanless-heat", units=["gpu"])
    tail = ["carmel.headroom", "gpu.headroom", "main.queue", "budget.left", "budget.time_left"]
    assert plain.observation_names == env.observation_names == budget.observation_names
    assert plain.observation_names[-5:] == tail
    assert plain.reset(seed=0)[0][-5:].tolist() == [1.0, 1.0, 0.0, 1.0, 1.0]  # nothing modelled: neutral
    assert budget.reset(seed=0)[0][-2:].tolist() == [1.0, 1.0]  # a full window ahead
    # the shipped policy reads the elements it was trained with (a prefix, if it predates them;
    # its own history of them, if it was trained with one)
    env = DynamicDNNEnv(NX, "fanless-heat", **policy.env_kwargs)
    n = len(policy.observation_names)
    assert env.observation_names[:n] == list(policy.observation_names)
    agent = policy.as_env_policy()
    obs, info = env.reset(seed=0)
    agent.reset(env)
    for _ in range(5):
        action = agent.act(env, obs, info)
        assert action == int(policy.predict(obs[:n], action_masks=env.action_masks(), deterministic=True)[0])
        obs, _, _, _, info = env.step(action)
    assert 0.0 <= obs[len(plain.observation_names) - 3] <= 1.0  # main.queue


def test_test_scenarios_must_not_overlap_training(tmp_path) -> None:
    cfg = load_config("ppo", "rlrm/DynamicDNN-v0")
    assert not set(cfg["train_scenarios"]) & set(cfg["test_scenarios"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("default:\n  train_scenarios: [steady, bursty]\n  test_scenarios: [mixed, bursty]\n")
    with pytest.raises(InputError) as err:
        load_config(bad, "rlrm/DynamicDNN-v0")
    assert "test_scenarios" in str(err.value) and "bursty" in str(err.value)


def test_reset_lifts_throttling_and_preview_leaves_state() -> None:
    sc = scenario('[dynamics]\nthermal = true\ncooling = "fanless"\nambient_c = 45.0\nstart_c = 99.0\n')
    sim = BoardSimulator(load_platform(NX), sc, seed=0)
    g = sim.unit_names.index("gpu")
    before = list(sim.temperature_c)
    sim.preview([gpu_point(sim)])
    assert sim.temperature_c == before and sim.max_freq_index(g) == 14  # a preview changes nothing
    for _ in range(3):
        sim.step([gpu_point(sim)])
    assert sim.max_freq_index(g) == 11
    sim.reset(seed=0)
    assert sim.max_freq_index(g) == 14 and sim.temperature_c[g] == 99.0


def test_dropped_frames_count_in_the_miss_rate() -> None:
    sc = scenario("[dynamics]\n", apps='[[apps]]\nname = "main"\nfps = 30.0\nqueue = 1\n', targets="latency_ms = 1000.0")
    sim = BoardSimulator(load_platform(NX), sc, seed=0)
    acc = MetricsAccumulator()
    r = sim.step([gpu_point(sim)])
    acc.add(r)
    a = r.apps[0]
    assert acc.summary()["deadline_miss_rate"] == pytest.approx(a.dropped / (a.inferences + a.dropped))


# ------------------------------------------------------------------ snapshot / restore
ALL_DYNAMICS = ('[dynamics]\ncosts = true\nthermal = true\ncooling = "fanless"\nambient_c = 75.0\nstart_c = 98.0\n'
                'window_s = 7.0\n')


def _rollout(sim: BoardSimulator, rng: np.random.Generator, m: int) -> list:
    """``m`` steps, every other one the largest GPU point at its cap (to heat the zone), the
    others random points (frequencies within the caps), as comparable tuples."""
    out = []
    for i in range(m):
        opt = int(rng.integers(len(sim.options)))
        if i % 2 == 0 or not sim.option_allowed(opt):
            opt = sim.options.index(("gpu", 0))
        u = sim.board.option_unit[opt]
        fi = sim.max_freq_index(u) if i % 2 == 0 else int(rng.integers(sim.max_freq_index(u) + 1))
        r = sim.step([OperatingPoint(int(rng.integers(len(sim.top1(0)))), opt, fi)])
        out.append((r.power_w, r.energy_mj, tuple(r.freq_index), tuple(r.background),
                    tuple(r.temperature_c or ()), r.energy_window_left_j,
                    tuple((a.latency_ms, a.deadline_miss, a.inferences, a.dropped, a.queue)
                          for a in r.apps if a is not None),
                    tuple(sim.max_freq_index(i) for i in range(len(sim.unit_names)))))
    return out


@pytest.mark.parametrize("name", ["every-dynamic", "bursty"])
def test_snapshot_restore_replays_bit_for_bit(name: str) -> None:
    if name == "bursty":  # no dynamics: the original model
        sc = load_scenario(name)
    else:  # thermal with throttling, costs, a frame queue, an energy window, a Markov background
        sc = scenario(ALL_DYNAMICS, apps='[[apps]]\nname = "main"\nfps = 20.0\nqueue = 2\n',
                      targets="latency_ms = 120.0\nenergy_window_j = 30.0")
        sc = dataclasses.replace(sc, background=load_scenario("camera-15fps").background)
    sim = BoardSimulator(load_platform(NX), sc, seed=3)
    _rollout(sim, np.random.default_rng(1), 23)
    snap = sim.snapshot()
    first = _rollout(sim, np.random.default_rng(2), 40)
    sim.restore(snap)
    assert _rollout(sim, np.random.default_rng(2), 40) == first  # exact equality: every float bit for bit
    sim.restore(snap)  # a snapshot may be restored more than once, after previews and other steps
    sim.preview([gpu_point(sim)])
    _rollout(sim, np.random.default_rng(5), 9)
    sim.restore(snap)
    assert _rollout(sim, np.random.default_rng(2), 40) == first
    fresh = BoardSimulator(sim.platform, sc, seed=99)  # restore sets every field, not just the ones that moved
    fresh.restore(snap)
    assert _rollout(fresh, np.random.default_rng(2), 40) == first
    if name != "bursty":  # the run exercised every piece of state
        assert any(row[5] <= 0 for row in first)  # the window ran out (and restarted)
        assert len({row[7] for row in first}) > 1  # the throttling cap moved
        assert any(a[3] > 0 for row in first for a in row[6])  # frames dropped
        assert len({row[3] for row in first}) > 1  # the background changed


def test_snapshot_is_a_copy_of_the_live_state() -> None:
    sim = BoardSimulator(load_platform(NX), load_scenario("camera-15fps"), seed=0)
    snap = sim.snapshot()
    before = (snap.background_state, snap.backlog, snap.rng_state["state"]["state"], snap.temperature_c)
    for _ in range(30):
        sim.step([gpu_point(sim)])
    assert (snap.background_state, snap.backlog, snap.rng_state["state"]["state"], snap.temperature_c) == before
    sim.restore(snap)
    assert sim.step_index == 0 and sim.time_s == 0.0 and sim.backlog == [0.0]
