"""rlrm profile: measures a library here and writes a board profile and trace the simulator loads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from rlrm.cli import main
from rlrm.dnn.dynamic_ofa import DynamicOFA
from rlrm.dnn.hostinfo import nominal_freq_khz
from rlrm.dnn.library import SubnetLibrary, SubnetSpec
from rlrm.dnn.measure import ci_width, measure, median_ci
from rlrm.dnn.profile import HostProfiler, fit_compute_fraction, write_profile
from rlrm.hw.fake import XAVIER_NX_CPU_KHZ, make_fake_xavier_nx
from rlrm.dnn.supernet import OFAMobileNetV3
from rlrm.platform import load_platform
from rlrm.sim import BoardSimulator, OperatingPoint, load_trace, parse_scenario




def _tiny_model() -> DynamicOFA:
    torch.manual_seed(0)
    net = OFAMobileNetV3(width_mult=0.35, n_classes=10, dropout_rate=0)
    n = net.arch.n_blocks
    lib = SubnetLibrary("tiny", net.arch, [
        SubnetSpec(0, 16, (2,) * 5, (3,) * n, (3,) * n, top1=50.0),
        SubnetSpec(1, 24, (4,) * 5, (7,) * n, (6,) * n, top1=60.0),
    ])
    return DynamicOFA(net, lib).eval()


CPU_SCENARIO = {
    "schema": "rlrm-scenario/1", "name": "cpu-only", "description": "one app on the CPU",
    "period_s": 1.0, "episode_steps": 5, "unit": "cpu",
    "apps": [{"name": "main", "library": "tiny"}],
    "targets": [{"at_s": 0, "latency_x": 1.5, "accuracy_level": 0}],
}


def _simulate(envs: Path, name: str = "host") -> dict:
    plat = load_platform(envs / "platforms" / f"{name}.toml")
    trace = load_trace(envs / "traces" / name / "tiny.json", platform=plat)
    sim = BoardSimulator(plat, parse_scenario(CPU_SCENARIO, "cpu-only.toml"), traces={"tiny": trace}, seed=0)
    out = None
    for _ in range(3):
        out = sim.step([OperatingPoint(subnet=1, option=len(sim.options) - 1, freq_index=plat.unit("cpu").n_freqs - 1)])
    assert out is not None
    return out


def test_profile_here_loads_into_simulator(tmp_path) -> None:
    model = _tiny_model()
    prof = HostProfiler(model, "host", threads=[1], warmup=1, repeats=3, root=tmp_path / "noroot")
    results = prof.run(progress=False)
    plat_path, trace_path = write_profile(prof, results, tmp_path / "envs")
    assert plat_path == tmp_path / "envs" / "platforms" / "host.toml"
    plat = load_platform(plat_path)
    cpu = plat.unit("cpu")
    assert cpu.cores == 1 and cpu.n_freqs == 1  # the unit has the cores measured
    assert cpu.power.source.startswith("estimated:") and "missing" in cpu.power.source and "missing" in cpu.volt_source
    assert cpu.power.ceff > 0 and cpu.power.static_w > 0
    trace = load_trace(trace_path, platform=plat)
    assert trace.provenance["kind"] == "measured"
    assert [s.top1 for s in trace.subnets] == [50.0, 60.0]
    e0, e1 = trace.entry(0, "cpu", 1), trace.entry(1, "cpu", 1)
    for e in (e0, e1):  # true of any measurement, whatever else runs on the machine
        assert 0 < e.latency_ms <= e.latency_p90_ms and 0 < e.activity <= 1
    # level 1 is the bigger network (its cost, not a timing race: under CPU load a measured
    # level-1 median can come out below level 0's)
    assert trace.subnets[1].mflops > trace.subnets[0].mflops
    assert all(m.repeats == 3 for pts in results.values() for _, m in pts)
    assert "repeatability" in trace.provenance["method"]
    out = _simulate(tmp_path / "envs")
    assert out["inferences"] > 0


def _limits(root: Path) -> list[str]:
    base = root / "sys/devices/system/cpu/cpufreq"
    return [(base / f"policy{i}" / f).read_text().strip() for i in (0, 2, 4)
            for f in ("scaling_min_freq", "scaling_max_freq", "scaling_governor")]


def test_board_with_writable_cpufreq_and_sensors(tmp_path, monkeypatch) -> None:
    """A fake Jetson Xavier NX tree (rlrm.hw.fake): every cpufreq policy is pinned to each
    measured frequency through rlrm.hw's StateGuard and put back; VDD_IN power is recorded."""
    monkeypatch.setenv("RLRM_STATE_DIR", str(tmp_path / "state"))
    root = make_fake_xavier_nx(tmp_path / "board")
    before = _limits(root)
    prof = HostProfiler(_tiny_model(), "fakeboard", threads=[1], warmup=0, repeats=2, root=root, freq_steps=3)
    freqs = [XAVIER_NX_CPU_KHZ[0], XAVIER_NX_CPU_KHZ[12], XAVIER_NX_CPU_KHZ[-1]]
    assert prof.cpu_freqs()[0] == freqs and prof.cpu_freqs()[2]
    results = prof.run(progress=False)
    assert _limits(root) == before  # restored
    assert not list((tmp_path / "state").glob("rlrm-hw-state-*.json"))  # state file removed
    assert [f for f, _ in results[(0, "cpu", 1)]] == freqs
    write_profile(prof, results, tmp_path / "envs")
    plat = load_platform(tmp_path / "envs" / "platforms" / "fakeboard.toml")
    cpu = plat.unit("cpu")
    assert cpu.freqs_khz == tuple(freqs) and cpu.dvfs_latency_us == 300.0
    assert {s.name for s in plat.sensors} == {"VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"}
    trace = load_trace(tmp_path / "envs" / "traces" / "fakeboard" / "tiny.json", platform=plat)
    points = trace.entry(1, "cpu", 1).points
    assert [p[0] for p in points] == freqs
    assert all(p[3] == pytest.approx(4.772) for p in points)  # the fake VDD_IN rail
    assert _simulate(tmp_path / "envs", "fakeboard")["inferences"] > 0


def test_compute_fraction_fit() -> None:
    pts = [(1000, 10.0 * (0.7 * 2 + 0.3)), (2000, 10.0)]
    assert fit_compute_fraction(pts) == pytest.approx(0.7)
    assert fit_compute_fraction([(1000, 5.0), (2000, 5.0)]) == 0.0


def test_nominal_frequency_without_cpufreq(tmp_path) -> None:
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text("processor\t: 0\ncpu MHz\t\t: 2596.142\n")
    khz, source = nominal_freq_khz(tmp_path)
    assert khz == 2596142 and "not settable" in source


def test_cli_profile_demo_model(tmp_path, capsys) -> None:
    from rlrm.dnn.demo import DEMO_DIR

    if not (DEMO_DIR / "weights.safetensors").is_file():
        pytest.skip("demo checkpoint not present")
    rc = main(["profile", "--model", "demo", "--envs", str(tmp_path), "--threads", "1",
               "--warmup", "0", "--repeats", "2", "--ci-width", "0", "--quiet", "--name", "here",
               "--contention-s", "0.3", "--contention-level", "0"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "here.toml" in out and "demo.json" in out and "contention (level 0" in out
    plat = load_platform(tmp_path / "platforms" / "here.toml")
    load_trace(tmp_path / "traces" / "here" / "demo.json", platform=plat)
    table = plat.unit("cpu").contention  # measured, with the live backend's background worker
    assert table is not None and table.cores == (1,) and table.background == (0.0, 0.5, 1.0) and table.level == 0
    assert table.stretch[0][0] == 1.0 and all(x > 0 for x in table.stretch[0])
    assert table.source.startswith("measured by rlrm profile")


def test_cli_profile_bad_contention_options(capsys) -> None:
    assert main(["profile", "--model", "demo", "--contention-s", "-1"]) == 2
    assert "--contention-s" in capsys.readouterr().err
    assert main(["profile", "--model", "demo", "--contention-level", "99", "--threads", "1"]) == 2
    assert "--contention-level" in capsys.readouterr().err


def test_cli_profile_bad_threads(capsys) -> None:
    assert main(["profile", "--model", "demo", "--threads", "x"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_median_ci_order_statistics() -> None:
    values = list(range(1, 21))  # n = 20: ranks 5 and 16 (1-based)
    assert median_ci(values) == (5, 16)
    assert median_ci([3.0]) == (3.0, 3.0)
    assert ci_width([1.0] * 5) == float("inf")  # too few to bound
    assert ci_width([10.0] * 30) == 0.0
    assert ci_width(values) == pytest.approx((16 - 5) / 10.5)


def test_measure_repeats_until_width_or_limit() -> None:
    calls = []
    m = measure(lambda: calls.append(1), warmup=2, repeats=8, cores=1, target_ci=1e9)
    assert m.repeats == 8 and m.converged and len(calls) == 10
    m = measure(lambda: None, warmup=0, repeats=8, cores=1, target_ci=-1.0, max_repeats=30)
    assert m.repeats == 30 and not m.converged  # a width below 0 is never reached
    m = measure(lambda: None, warmup=0, repeats=5, cores=1)
    assert m.repeats == 5 and m.converged and m.ci_width == float("inf")


def test_cli_profile_sysfs_root_and_repeatability(tmp_path, capsys, monkeypatch) -> None:
    """--sysfs-root reads (and pins) the given tree, not the real /sys; the repeatability is printed."""
    from rlrm.dnn.demo import DEMO_DIR

    if not (DEMO_DIR / "weights.safetensors").is_file():
        pytest.skip("demo checkpoint not present")
    monkeypatch.setenv("RLRM_STATE_DIR", str(tmp_path / "state"))
    root = make_fake_xavier_nx(tmp_path / "board")
    rc = main(["profile", "--model", "demo", "--envs", str(tmp_path / "envs"), "--threads", "1", "--warmup", "0",
               "--repeats", "6", "--ci-width", "10", "--freq-steps", "2", "--quiet", "--name", "fakenx",
               "--sysfs-root", str(root), "--contention-s", "0"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "repeatability:" in out and "0 short of --ci-width 10" in out
    plat = load_platform(tmp_path / "envs" / "platforms" / "fakenx.toml")
    assert plat.unit("cpu").freqs_khz == (XAVIER_NX_CPU_KHZ[0], XAVIER_NX_CPU_KHZ[-1])  # the fake's table
    assert {s.name for s in plat.sensors} >= {"VDD_IN"}


def test_cli_profile_bad_ci_width(capsys) -> None:
    assert main(["profile", "--model", "demo", "--ci-width", "-1"]) == 2
    assert "--ci-width" in capsys.readouterr().err


def _m(times: list, activity: float = 0.5, power: float = None, converged: bool = True):  # noqa: ANN202
    import statistics

    from rlrm.dnn.measure import Measurement

    return Measurement(statistics.median(times), max(times), activity, power, len(times), ci_width(times), converged,
                       times=tuple(times))


def test_pool_takes_every_run_of_every_round() -> None:
    from rlrm.dnn.measure import pool

    slow, fast = _m([10.0] * 6 + [11.0] * 4, 0.4, 2.0), _m([8.0] * 10, 0.8, None)
    p = pool([slow, fast], target_ci=0.05)
    assert p.repeats == 20 and p.rounds == 2 and p.latency_ms == pytest.approx(9.0)  # median of the 20 runs
    assert p.activity == pytest.approx(0.6) and p.power_w == 2.0
    assert p.round_spread == pytest.approx((10.0 - 8.0) / 9.0)
    assert p.ci_width == pytest.approx(ci_width(list(slow.times) + list(fast.times)))
    assert p.converged == (p.ci_width <= 0.05)
    assert pool([slow]) is slow
    assert pool([_m([5.0] * 8), _m([5.0] * 8)], target_ci=0.01).converged  # identical rounds: width 0


def test_rounds_pool_each_measurement(tmp_path) -> None:
    prof = HostProfiler(_tiny_model(), "host", threads=[1], warmup=0, repeats=6, root=tmp_path / "noroot", rounds=3)
    results = prof.run(progress=False)
    for pts in results.values():
        (_, m), = pts
        assert m.rounds == 3 and m.repeats == 6 and len(m.times) == 6  # 2 runs per round, pooled
        assert m.round_spread >= 0
    rep = prof.last_repeatability
    assert rep["rounds"] == 3 and rep["round_spread_max"] >= rep["round_spread_median"] >= 0
    _, trace_path = write_profile(prof, results, tmp_path / "envs")
    from rlrm.sim import load_trace as _lt

    assert "3 rounds" in _lt(trace_path).provenance["method"]
    with pytest.raises(Exception) as err:
        HostProfiler(_tiny_model(), "host", threads=[1], rounds=0, root=tmp_path / "noroot")
    assert "rounds" in str(err.value)


def test_cli_profile_bad_rounds(capsys) -> None:
    assert main(["profile", "--model", "demo", "--rounds", "0", "--threads", "1"]) == 2
    err = capsys.readouterr().err
    assert "--rounds" in err and err.count("\n") == 1


class _Logged(HostProfiler):
    """A profiler that logs its adaptive measurements as ``m<level>`` in ``events``."""

    events: list = []

    def _measure_one(self, opt, level, warmup=None, repeats=None, share=1.0):  # noqa: ANN001, ANN201
        if repeats is None:
            self.events.append(f"m{level}")
        return super()._measure_one(opt, level, warmup, repeats, share)


def test_contention_rounds_are_spread_over_the_profile_rounds(tmp_path, monkeypatch) -> None:
    """With 3 or more rounds, one contention round per level follows each profile round (the
    ratio drifts between bursts a minute apart); the table is the mean of the rounds' ratios,
    each round's worker its own."""
    from rlrm.dnn import profile_contention as pc

    events: list = []
    ratio = {0: iter([1.4, 1.6, 1.5, 1.4, 1.6]), 1: iter([2.0, 2.0, 2.0, 2.0, 2.0])}

    def fake_sample(self, level, run, seconds, background=None, threads=None):  # noqa: ANN001, ANN202
        assert background is None  # each round starts its own worker and stops it
        assert seconds == pytest.approx(max(2 * 0.5 / 5, 2 * pc.SETTLE_S))
        events.append(f"c{level}")
        self.seconds[level] = seconds
        cells = self.ratios.setdefault(level, {n: {b: [] for b in self.loads[1:]} for n in self.threads})
        value = next(ratio[level])
        for n in self.threads:
            for b in self.loads[1:]:
                cells[n][b].append(value)

    monkeypatch.setattr(pc.ContentionSampler, "sample", fake_sample)
    _Logged.events = events
    prof = _Logged(_tiny_model(), "host", threads=[1], warmup=0, repeats=5, root=tmp_path / "noroot", rounds=5,
                   contention_s=0.5, contention_levels=[0, 1])
    prof.run(progress=False)
    rounds = ["m0", "m1", "c0", "c1"], ["m1", "m0", "c0", "c1"]  # alternating order
    assert events == [*rounds[0], *rounds[1], *rounds[0], *rounds[1], *rounds[0]]
    t = prof.contention
    assert t.levels == (0, 1) and t.rows_at(0) == ((1.0, 1.5, 1.5),) and t.rows_at(1) == ((1.0, 2.0, 2.0),)
    assert "spread over its time" in t.source and "taken: level 0: 5 with 1 thread; level 1: 5 with 1 thread" in t.source


def test_contention_burst_with_fewer_rounds(tmp_path, monkeypatch) -> None:
    """With fewer than 3 rounds, each level is measured in a burst between the rounds, with its
    own background worker: none stays through the rounds."""
    import rlrm.dnn.profile as profile_mod
    from rlrm.platform.contention import ContentionTable

    events: list = []

    def fake_measure(run, level, threads, allowed, seconds, background=None, **kw):  # noqa: ANN001, ANN202
        assert background is None  # measure_contention starts its own worker and stops it
        events.append(f"c{level}")
        return ContentionTable((0.0, 1.0), tuple(threads), tuple((1.0, 1.5) for _ in threads), level,
                               f"measured by rlrm profile on x: level {level}, taken: 3 with 1 thread)")

    monkeypatch.setattr(profile_mod, "measure_contention", fake_measure)
    _Logged.events = events
    prof = _Logged(_tiny_model(), "host", threads=[1], warmup=0, repeats=5, root=tmp_path / "noroot", rounds=2,
                   contention_s=0.1, contention_levels=[0, 1])
    assert prof.contention_schedule() == {1: [0, 1]}
    prof.run(progress=False)
    assert events == ["m0", "m1", "c0", "c1", "m1", "m0"]
    assert prof.contention.levels == (0, 1) and prof.contention.rows_at(0) == ((1.0, 1.5),)
