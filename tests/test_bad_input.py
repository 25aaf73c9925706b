"""Malformed profiles, scenarios and traces: always a one-line InputError, never a traceback."""

from __future__ import annotations

import copy
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlrm.cli import main
from rlrm.errors import InputError
from rlrm.paths import TRACES_DIR
from rlrm.platform import load_platform, parse_platform
from rlrm.sim import BoardSimulator, parse_scenario, parse_trace
from tests.conftest import write_toml
from tests.fuzz_support import assert_one_line, draw_mutation, note_outcome


def _fuzz(parse, base: dict, data, source: str) -> None:  # noqa: ANN001
    """Parse one corruption of ``base``: it is accepted, or refused in one line naming ``source`` and a field."""
    bad, _ = draw_mutation(data, base)
    try:
        parse(bad)
        note_outcome("accepted")
    except InputError as err:
        assert_one_line(err, source)
        note_outcome("refused")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_profiles_never_crash(xavier_dict, data) -> None:
    _fuzz(lambda d: parse_platform(d, "fuzz.toml"), xavier_dict, data, "fuzz.toml")


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fuzzed_scenarios_never_crash(data) -> None:
    import tomllib

    from rlrm.paths import SCENARIOS_DIR

    name = data.draw(st.sampled_from(["steady", "second-app", "bursty", "power-cap", "two-models"]))
    with open(SCENARIOS_DIR / f"{name}.toml", "rb") as fh:
        base = tomllib.load(fh)
    platform = load_platform("jetson-xavier-nx")

    def parse(d: dict) -> None:
        sc = parse_scenario(d, "fuzz.toml")
        BoardSimulator(platform, sc, seed=0)  # unit names etc. are checked against the board

    _fuzz(parse, base, data, "fuzz.toml")


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_fuzzed_traces_never_crash(data) -> None:
    base = json.loads((TRACES_DIR / "odroid-xu3" / "dynamic-ofa-6.json").read_text())
    base["entries"] = base["entries"][:8]
    platform = load_platform("odroid-xu3")
    _fuzz(lambda d: parse_trace(d, "fuzz.json", platform), base, data, "fuzz.json")


def test_trace_rules(tmp_path) -> None:
    base = json.loads((TRACES_DIR / "jetson-xavier-nx" / "dynamic-ofa-6.json").read_text())
    platform = load_platform("jetson-xavier-nx")
    cases = [
        (lambda d: d["entries"][0].update(latency_p90_ms=1.0), "entries[0].latency_p90_ms"),
        (lambda d: d["entries"][0].update(unit="npu"), "entries[0].unit"),
        (lambda d: d["entries"][1].update(cores=7), "entries[1].cores"),
        (lambda d: d["entries"][0].update(compute_fraction=1.5), "entries[0].compute_fraction"),
        (lambda d: d["entries"][0].update(points=[{"freq_khz": 5, "latency_ms": 3.0}]), "entries[0].points[0].freq_khz"),
        (lambda d: d.update(platform="odroid-xu3"), "platform"),
        (lambda d: d["subnets"][2].update(level=7), "subnets[2].level"),
    ]
    for mutate, field in cases:
        d = copy.deepcopy(base)
        mutate(d)
        with pytest.raises(InputError) as err:
            parse_trace(d, "t.json", platform)
        assert err.value.field == field


def test_scenario_with_unknown_unit_is_one_line_cli_error(tmp_path, steady_dict, capsys) -> None:
    d = copy.deepcopy(steady_dict)
    d["background"][0]["unit"] = "npu"
    path = write_toml(tmp_path / "s.toml", d)
    assert main(["simulate", "--scenario", str(path), "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "background[0].unit" in err and str(path) in err


def test_measured_points_interpolate(tmp_path) -> None:
    """A measured trace with per-frequency points drops in without code changes."""
    from rlrm.sim.trace import TraceEntry

    e = TraceEntry(0, "gpu", 0, 40.0, 44.0, 0.5, 0.8, points=((500000, 80.0, 88.0, None), (1000000, 40.0, 44.0, 3.0)))
    assert e.latency_at(1000000, 1000000) == pytest.approx(40.0)
    assert e.latency_at(500000, 1000000) == pytest.approx(80.0)
    assert 40.0 < e.latency_at(750000, 1000000) < 80.0
    assert math.isclose(e.sigma, math.log(1.1) / 1.2815515655446004)
