"""CPU contention: the analytical fallback model, the measured table (interpolation, validation,
use by the simulator and by ``lut``) and the profile's measurement of it."""

from __future__ import annotations

import dataclasses
import os

import pytest

from rlrm.agents.lut import contention as lut_contention
from rlrm.errors import InputError
from rlrm.platform import load_platform
from rlrm.platform.contention import MEM_INTERFERENCE, ContentionTable, analytical_stretch, cpu_stretch
from rlrm.platform.profile import parse_platform, platform_to_dict
from rlrm.sim import BoardSimulator, OperatingPoint, parse_scenario

TABLE = ContentionTable(background=(0.0, 0.5, 1.0), cores=(1, 2), stretch=((1.0, 1.02, 1.04), (1.0, 1.6, 3.5)),
                        level=2, source="hand-written for the test")


@pytest.mark.parametrize("cores, other, online, expected", [
    (1, 1.0, 2, 1.0 * (1 + MEM_INTERFERENCE * 1 / 2)),    # the balancer puts the worker on the free core
    (2, 1.0, 2, 2.0 * (1 + MEM_INTERFERENCE * 1 / 2)),    # one of 2 threads shares its core: the team waits
    (2, 0.5, 2, 1.5 * (1 + MEM_INTERFERENCE * 0.5 / 2)),  # half a core on one of the threads' cores
    (1, 1.0, 1, 2.0 * (1 + MEM_INTERFERENCE)),            # one core, one worker: fair share
    (6, 6.0, 6, 2.0 * (1 + MEM_INTERFERENCE)),            # every core shared: fair share
    (2, 3.0, 4, 2.0 * (1 + MEM_INTERFERENCE * 3 / 4)),    # 2 of 3 fill the free cores, 1 shares a thread's core
    (2, 1.5, 4, 1.0 * (1 + MEM_INTERFERENCE * 1.5 / 4)),  # room on the free cores: no sharing
    (2, 3.0, 2, 2.5 * (1 + MEM_INTERFERENCE)),            # 5 threads on 2 cores: fair share (1.5 each) is worse
    (1, 5.0, 4, 1.5 * (1 + MEM_INTERFERENCE)),            # one thread: fair share over all cores
])
def test_analytical_model_by_hand(cores: int, other: float, online: int, expected: float) -> None:
    assert analytical_stretch(cores, other, online) == pytest.approx(expected)


@pytest.mark.parametrize("online", [1, 2, 4, 6])
def test_single_thread_is_the_earlier_fair_share(online: int) -> None:
    for other in (0.0, 0.3, 1.0, 2.5, 7.0):
        old = max(1.0, (1 + other) / online) * (1.0 + MEM_INTERFERENCE * min(other, online) / online)
        assert analytical_stretch(1, other, online) == pytest.approx(old)


def test_table_interpolates_over_the_background() -> None:
    assert TABLE.lookup(2, 0.0, 2) == 1.0
    assert TABLE.lookup(2, 0.5, 2) == 1.6
    assert TABLE.lookup(2, 0.25, 2) == pytest.approx(1.3)
    assert TABLE.lookup(2, 0.75, 2) == pytest.approx(2.55)
    assert TABLE.lookup(1, 1.0, 2) == 1.04
    # beyond the last load: that point times the analytical model's growth
    assert TABLE.lookup(2, 1.5, 2) == pytest.approx(3.5 * analytical_stretch(2, 1.5, 2) / analytical_stretch(2, 1.0, 2))


def test_cpu_stretch_uses_the_table_only_where_it_holds() -> None:
    assert cpu_stretch(2, 0.25, 2, TABLE, 2) == pytest.approx(1.3)
    assert cpu_stretch(2, 0.25, 2, None, 2) == analytical_stretch(2, 0.25, 2)
    # a core count it does not cover, or fewer cores online than when measured: the model
    assert cpu_stretch(3, 0.25, 4, TABLE, 4) == analytical_stretch(3, 0.25, 4)
    assert cpu_stretch(1, 0.5, 1, TABLE, 2) == analytical_stretch(1, 0.5, 1)


def test_lut_reads_the_table_too() -> None:
    assert lut_contention("cpu", 2, 2, 0.125, TABLE, 2) == pytest.approx(1.3)  # 0.25 busy cores of 2
    assert lut_contention("cpu", 2, 2, 0.125) == pytest.approx(1.125)  # its own fair share: (2 + 0.25) / 2


def with_table(table: dict, unit: str = "carmel") -> dict:
    d = platform_to_dict(load_platform("jetson-xavier-nx"))
    d["units"][unit]["contention"] = table
    return d


GOOD = {"source": "measured", "level": 3, "background": [0.0, 3.0, 6.0], "cores": [2, 6],
        "stretch": [[1.0, 1.2, 1.5], [1.0, 1.7, 2.9]]}


def test_table_round_trips_through_the_profile() -> None:
    p = parse_platform(with_table(GOOD), "x.toml")
    t = p.units["carmel"].contention
    assert t.cores == (2, 6) and t.stretch[1] == (1.0, 1.7, 2.9) and t.level == 3
    again = parse_platform(platform_to_dict(p), "y.toml")
    assert again.units["carmel"].contention == t
    assert load_platform("jetson-xavier-nx").units["carmel"].contention is None  # shipped: the model


@pytest.mark.parametrize("change, field", [
    ({"stretch": [[1.0, 1.2], [1.0, 1.7, 2.9]]}, "units.carmel.contention.stretch[0]"),
    ({"stretch": [[1.0, 1.2, 1.5]]}, "units.carmel.contention.stretch"),
    ({"background": [0.5, 3.0, 6.0]}, "units.carmel.contention.background[0]"),
    ({"background": [0.0, 6.0, 3.0]}, "units.carmel.contention.background[2]"),
    ({"cores": [2, 8]}, "units.carmel.contention.cores[1]"),
    ({"stretch": [[1.1, 1.2, 1.5], [1.0, 1.7, 2.9]]}, "units.carmel.contention.stretch[0][0]"),
    ({"stretch": [[1.0, "x", 1.5], [1.0, 1.7, 2.9]]}, "units.carmel.contention.stretch[0][1]"),
    ({"stretch": [[1.0, 1.2, 1e9], [1.0, 1.7, 2.9]]}, "units.carmel.contention.stretch[0][2]"),
    ({"source": None}, "units.carmel.contention.source"),
])
def test_malformed_table_is_refused_with_file_and_field(change: dict, field: str) -> None:
    table = {**GOOD, **change}
    if table["source"] is None:
        del table["source"]
    with pytest.raises(InputError) as err:
        parse_platform(with_table(table), "bad.toml")
    assert err.value.source == "bad.toml" and err.value.field == field, str(err.value)
    assert "\n" not in str(err.value)


def test_a_gpu_has_no_contention_table() -> None:
    with pytest.raises(InputError) as err:
        parse_platform(with_table({**GOOD, "cores": [1], "stretch": [[1.0, 1.2, 1.5]]}, unit="gpu"), "bad.toml")
    assert err.value.field == "units.gpu.contention"


def scenario(level: float) -> dict:
    sc = {"schema": "rlrm-scenario/1", "name": "t", "description": "", "period_s": 1.0, "episode_steps": 10,
          "apps": [{"name": "main", "library": "dynamic-ofa-6"}], "targets": [{"at_s": 0, "latency_ms": 1000.0}]}
    if level:
        sc["background"] = [{"kind": "constant", "unit": "cpu", "cores": 6, "level": level}]
    return sc


def median_ms(platform, level: float, cores: int) -> float:  # noqa: ANN001
    sim = BoardSimulator(platform, parse_scenario(scenario(level), "t.toml"), seed=0)
    return sim.preview([OperatingPoint(3, sim.options.index(("carmel", cores)), 10)])["apps"][0]["latency_median_ms"]


def test_simulator_stretches_by_the_measured_table() -> None:
    shipped = load_platform("jetson-xavier-nx")
    table = parse_platform(with_table(GOOD), "x.toml").units["carmel"].contention
    measured = dataclasses.replace(shipped, units={**shipped.units,
                                                   "carmel": dataclasses.replace(shipped.units["carmel"], contention=table)})
    # 6 cores at 0.5 x 6 = 3 busy cores of background: the table's 1.7; 2 cores: 1.2; 4 cores: the model
    assert median_ms(measured, 0.5, 6) / median_ms(measured, 0.0, 6) == pytest.approx(1.7)
    assert median_ms(measured, 0.5, 2) / median_ms(measured, 0.0, 2) == pytest.approx(1.2)
    assert median_ms(measured, 0.5, 4) / median_ms(measured, 0.0, 4) == pytest.approx(analytical_stretch(4, 3.0, 6))
    assert median_ms(shipped, 0.5, 6) / median_ms(shipped, 0.0, 6) == pytest.approx(analytical_stretch(6, 3.0, 6))


class FakeLoad:
    """Stands in for the background worker: remembers the load set."""

    def __init__(self) -> None:
        self.load = 0.0
        self.started = False

    def start(self) -> None:
        self.started = True

    def set_load(self, value: float) -> float:
        self.load = value
        return value

    def stop(self) -> None:
        pass


def test_profile_measures_the_ratio_of_means(monkeypatch: pytest.MonkeyPatch) -> None:
    from rlrm.dnn import profile_contention as pc

    bg = FakeLoad()
    threads = {"n": 1}
    slow = {1: {0.0: 5.0, 0.5: 5.0, 1.0: 5.5}, 2: {0.0: 4.0, 0.5: 6.0, 1.0: 14.0}}
    # latencies as the machine would give them (no clock: the test must not depend on timing)
    monkeypatch.setattr(pc, "timed_for", lambda run, seconds: [slow[threads["n"]][bg.load]] * 3)
    monkeypatch.setattr(pc, "set_process_affinity", lambda cpus: None)
    allowed = sorted(os.sched_getaffinity(0))
    table = pc.measure_contention(lambda: None, 2, [1, 2], allowed, 1.0,
                                  set_threads=lambda n: threads.update(n=n), background=bg)
    assert bg.started and bg.load == 0.0
    assert table.cores == (1, 2) and table.background == (0.0, 0.5, 1.0) and table.level == 2
    assert table.stretch == ((1.0, 1.0, 1.1), (1.0, 1.5, 3.5))
    assert table.source.startswith("measured by rlrm profile")


# ---------------------------------------------------------------- tables measured at several levels
LEVELS = ContentionTable(background=(0.0, 1.0), cores=(1, 2), stretch=((1.0, 1.0), (1.0, 3.0)), level=2,
                         source="hand-written", more=((0, ((1.0, 1.0), (1.0, 2.0))), (4, ((1.0, 1.2), (1.0, 4.0)))))


@pytest.mark.parametrize("level, expected", [
    (None, 3.0),  # the reference level
    (2, 3.0), (0, 2.0), (4, 4.0),
    (1, 2.5),     # halfway between level 0 (2.0) and level 2 (3.0)
    (3, 3.5),
    (9, 4.0),     # beyond the measured levels: the nearest one
])
def test_table_interpolates_over_levels_by_hand(level, expected) -> None:  # noqa: ANN001
    assert LEVELS.lookup(2, 1.0, 2, level) == pytest.approx(expected)
    assert cpu_stretch(2, 1.0, 2, LEVELS, 2, level) == pytest.approx(expected)


def test_level_and_background_interpolate_together() -> None:
    # level 1 at half a core: level 0 gives 1.5, level 2 gives 2.0 -> 1.75
    assert LEVELS.lookup(2, 0.5, 2, 1) == pytest.approx(1.75)
    assert LEVELS.lookup(1, 1.0, 2, 3) == pytest.approx(1.1)
    assert lut_contention("cpu", 2, 2, 0.5, LEVELS, 2, 1) == pytest.approx(2.5)  # 1 busy core of 2


def test_table_with_levels_round_trips_through_the_profile() -> None:
    d = {**GOOD, "levels": [{"level": 5, "stretch": [[1.0, 1.3, 1.8], [1.0, 1.9, 3.3]]},
                            {"level": 0, "stretch": [[1.0, 1.1, 1.2], [1.0, 1.4, 2.0]]}]}
    t = parse_platform(with_table(d), "x.toml").units["carmel"].contention
    assert t.levels == (0, 3, 5) and t.rows_at(0)[1] == (1.0, 1.4, 2.0) and t.rows_at(3) == t.stretch
    assert t.lookup(6, 3.0, 6, 4) == pytest.approx((1.7 + 1.9) / 2)
    again = parse_platform(platform_to_dict(parse_platform(with_table(d), "x.toml")), "y.toml")
    assert again.units["carmel"].contention == t


@pytest.mark.parametrize("levels, field", [
    ([{"level": 3, "stretch": [[1.0, 1.2, 1.5], [1.0, 1.7, 2.9]]}], "units.carmel.contention.levels[0].level"),
    ([{"level": 1, "stretch": [[1.0, 1.2], [1.0, 1.7, 2.9]]}], "units.carmel.contention.levels[0].stretch[0]"),
    ([{"level": 1, "stretch": [[1.0, 1.2, 1.5]]}], "units.carmel.contention.levels[0].stretch"),
    ([{"level": 1, "stretch": [[1.0, 1.2, 1.5], [2.0, 1.7, 2.9]]}], "units.carmel.contention.levels[0].stretch[1][0]"),
    ([{"level": 1, "stretch": [[1.0, 1.2, 1.5], [1.0, 1.7, 1e6]]}], "units.carmel.contention.levels[0].stretch[1][2]"),
    ([{"level": 1}], "units.carmel.contention.levels[0].stretch"),
    ([{"level": 1, "stretch": [[1.0, 1.2, 1.5], [1.0, 1.7, 2.9]]},
      {"level": 1, "stretch": [[1.0, 1.2, 1.5], [1.0, 1.7, 2.9]]}], "units.carmel.contention.levels[1].level"),
])
def test_malformed_level_rows_are_refused_with_file_and_field(levels: list, field: str) -> None:
    with pytest.raises(InputError) as err:
        parse_platform(with_table({**GOOD, "levels": levels}), "bad.toml")
    assert err.value.source == "bad.toml" and err.value.field == field, str(err.value)


def test_simulator_stretches_each_subnetwork_by_its_level() -> None:
    shipped = load_platform("jetson-xavier-nx")
    d = {**GOOD, "levels": [{"level": 1, "stretch": [[1.0, 1.1, 1.2], [1.0, 1.3, 2.0]]}]}
    table = parse_platform(with_table(d), "x.toml").units["carmel"].contention
    measured = dataclasses.replace(shipped, units={**shipped.units,
                                                   "carmel": dataclasses.replace(shipped.units["carmel"], contention=table)})

    def ratio(subnet: int) -> float:
        out = []
        for level in (0.5, 0.0):
            sim = BoardSimulator(measured, parse_scenario(scenario(level), "t.toml"), seed=0)
            point = OperatingPoint(subnet, sim.options.index(("carmel", 6)), 10)
            out.append(sim.preview([point])["apps"][0]["latency_median_ms"])
        return out[0] / out[1]

    assert ratio(1) == pytest.approx(1.3)          # measured at level 1
    assert ratio(3) == pytest.approx(1.7)          # the reference level
    assert ratio(2) == pytest.approx(1.5)          # halfway between them
    assert ratio(5) == pytest.approx(1.7)          # above the highest measured level: the highest


def test_profile_measures_each_level_with_one_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    from rlrm.dnn import profile_contention as pc

    bg = FakeLoad()
    state = {"n": 1, "level": None}
    slow = {0: {1: {0.0: 4.0, 0.5: 4.0, 1.0: 4.0}, 2: {0.0: 4.0, 0.5: 5.0, 1.0: 12.0}},
            2: {1: {0.0: 5.0, 0.5: 5.0, 1.0: 5.5}, 2: {0.0: 4.0, 0.5: 6.0, 1.0: 14.0}},
            4: {1: {0.0: 8.0, 0.5: 8.0, 1.0: 8.0}, 2: {0.0: 6.0, 0.5: 9.0, 1.0: 24.0}}}
    monkeypatch.setattr(pc, "timed_for", lambda run, seconds: [slow[run()][state["n"]][bg.load]] * 3)
    monkeypatch.setattr(pc, "set_process_affinity", lambda cpus: None)
    prepared = []
    runs = {lv: (lambda lv=lv: lv) for lv in (4, 0, 2)}
    table = pc.measure_contention_levels(runs, [1, 2], sorted(os.sched_getaffinity(0)), 1.0,
                                         prepare=prepared.append, set_threads=lambda n: state.update(n=n),
                                         background=bg)
    assert prepared == [0, 2, 4] and bg.started and bg.load == 0.0
    assert table.level == 2 and table.levels == (0, 2, 4)
    assert table.stretch == ((1.0, 1.0, 1.1), (1.0, 1.5, 3.5))
    assert table.rows_at(0) == ((1.0, 1.0, 1.0), (1.0, 1.25, 3.0))
    assert table.rows_at(4) == ((1.0, 1.0, 1.0), (1.0, 1.5, 4.0))
    assert "levels 0, 2, 4" in table.source


def test_noisy_ratios_get_more_rounds_quiet_ones_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    from rlrm.dnn import profile_contention as pc

    bg = FakeLoad()
    state = {"n": 1, "calls": 0}

    def timed(run, seconds):  # noqa: ANN001, ANN202
        state["calls"] += 1
        if state["n"] == 1 or bg.load == 0.0:
            return [5.0] * 3
        return [10.0 if state["calls"] % 4 else 25.0] * 3  # 2 threads next to a load: swings between rounds

    monkeypatch.setattr(pc, "timed_for", timed)
    monkeypatch.setattr(pc, "set_process_affinity", lambda cpus: None)
    table = pc.measure_contention(lambda: None, 2, [1, 2], [0, 1], 1.0, set_threads=lambda n: state.update(n=n),
                                  background=bg, max_rounds=7)
    assert "taken: 3 with 1 thread, 7 with 2 threads" in table.source
    assert table.stretch[0] == (1.0, 1.0, 1.0)
    assert pc.ratio_sem([2.0, 2.0, 2.0]) == 0.0 and pc.ratio_sem([2.0]) == float("inf")


def test_sampler_averages_each_rounds_own_ratio(monkeypatch: pytest.MonkeyPatch) -> None:
    """A round's ratio is its load's mean over its own no-load mean, so a machine twice as slow
    in the second round does not weigh that round double (pooled means would give 32/12)."""
    from rlrm.dnn import profile_contention as pc

    bg = FakeLoad()
    state = {"round": 0}
    speed = [{0.0: 4.0, 1.0: 8.0}, {0.0: 8.0, 1.0: 24.0}]
    monkeypatch.setattr(pc, "timed_for", lambda run, seconds: [speed[state["round"]][bg.load]] * 2)
    monkeypatch.setattr(pc, "set_process_affinity", lambda cpus: None)
    sampler = pc.ContentionSampler([2], [0, 1], backgrounds=(1.0,), set_threads=lambda n: None)
    for r in range(2):
        state["round"] = r
        sampler.sample(3, lambda: None, 0.5, background=bg)
    assert sampler.rounds(3, 2) == 2 and sampler.rounds(3, 1) == 0
    assert sampler.worst_sem(3, 2) == pytest.approx(0.5 / 2.5)
    table = sampler.table(3, "two rounds")
    assert table.stretch == ((1.0, 2.5),) and table.level == 3
    assert "two rounds (taken: 2 with 2 threads)" in table.source and "0.5 s timed" in table.source
