"""Board profiles: shipped ones load; malformed ones give a one-line error naming file and field."""

from __future__ import annotations

import copy

import pytest

from rlrm.cli import main
from rlrm.errors import InputError
from rlrm.platform import available_platforms, load_platform, parse_platform, platform_to_dict, save_platform
from tests.conftest import write_toml


def test_shipped_profiles_load() -> None:
    assert {"jetson-xavier-nx", "odroid-xu3"} <= set(available_platforms())
    x = load_platform("jetson-xavier-nx")
    assert x.unit("carmel").cores == 6 and x.unit("carmel").f_max_khz == 1907200
    assert len(x.unit("carmel").freqs_khz) == 25 and len(x.unit("gpu").freqs_khz) == 15
    assert x.power_mode().name == "15W_6CORE" and len(x.power_modes) == 9
    o = load_platform("odroid-xu3")
    assert o.unit("a15").f_max_khz == 2000000 and o.unit("a7").f_max_khz == 1400000
    assert o.unit("gpu").volts_mv[-1] == 1150.0


def test_profile_by_path(tmp_path, xavier_dict) -> None:
    path = write_toml(tmp_path / "myboard.toml", xavier_dict)
    assert load_platform(str(path)).name == "jetson-xavier-nx"


def test_round_trip(tmp_path) -> None:
    x = load_platform("jetson-xavier-nx")
    out = save_platform(x, tmp_path / "x.toml")
    y = load_platform(out)
    assert platform_to_dict(x) == platform_to_dict(y)


def test_power_rises_with_frequency_and_activity() -> None:
    gpu = load_platform("jetson-xavier-nx").unit("gpu")
    p = [gpu.power_w(i, 1.0, 0.9) for i in range(gpu.n_freqs)]
    assert all(b > a for a, b in zip(p, p[1:]))
    assert gpu.power_w(5, 1.0, 0.9) > gpu.power_w(5, 1.0, 0.5) > gpu.power_w(5, 0.0, 0.5)


def _mutations():
    def drop(key):
        def f(d):
            del d[key]
            return key
        return f

    def m_unknown(d):
        d["board"]["colour"] = "red"
        return "board.colour"

    def m_not_increasing(d):
        d["units"]["gpu"]["freqs_khz"][3] = d["units"]["gpu"]["freqs_khz"][2]
        return "units.gpu.freqs_khz[3]"

    def m_negative_power(d):
        d["units"]["carmel"]["power"]["static_w"] = -1.0
        return "units.carmel.power.static_w"

    def m_missing_ceff(d):
        del d["units"]["gpu"]["power"]["ceff"]
        return "units.gpu.power.ceff"

    def m_volts_len(d):
        d["units"]["gpu"]["volts_mv"].pop()
        return "units.gpu.volts_mv"

    def m_bad_type(d):
        d["units"]["carmel"]["cores"] = "six"
        return "units.carmel.cores"

    def m_mode_unit(d):
        d["power_modes"][0]["online_cores"] = {"bigcluster": 2}
        return "power_modes[0].online_cores.bigcluster"

    def m_default_mode(d):
        d["board"]["default_power_mode"] = "MAXN"
        return "board.default_power_mode"

    def m_nan(d):
        d["board"]["base_power_w"] = float("nan")
        return "board.base_power_w"

    return [drop("name"), drop("units"), m_unknown, m_not_increasing, m_negative_power, m_missing_ceff,
            m_volts_len, m_bad_type, m_mode_unit, m_default_mode, m_nan]


@pytest.mark.parametrize("mutate", _mutations())
def test_malformed_profile_names_field(tmp_path, xavier_dict, mutate, capsys) -> None:
    d = copy.deepcopy(xavier_dict)
    field = mutate(d)
    with pytest.raises(InputError) as err:
        parse_platform(d, "board.toml")
    assert err.value.field == field, str(err.value)
    assert str(err.value).startswith("board.toml: ") and "\n" not in str(err.value)
    # and through the CLI: exit code 2, one line, no traceback
    import tomli_w

    path = tmp_path / "bad.toml"
    try:
        path.write_bytes(tomli_w.dumps(d).encode())
    except (TypeError, ValueError):
        pytest.skip("not representable in TOML")
    assert main(["platforms", str(path)]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.err.count("\n") == 1
    assert str(path) in captured.err and field in captured.err


def test_unparsable_and_missing_files(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    assert main(["platforms", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    assert main(["platforms", str(tmp_path / "nope.toml")]) == 2
    assert main(["platforms", "no-such-board"]) == 2
    assert "known: " in capsys.readouterr().err


def test_platforms_lists_profiles(capsys) -> None:
    assert main(["platforms"]) == 0
    out = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in out]
    assert "jetson-xavier-nx" in names and "odroid-xu3" in names
