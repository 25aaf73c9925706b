"""Command-line conventions (issue 17, items 6-7): defaults in --help, help on every option,
one-line usage errors, listing commands, umask-respecting files, clear checkpoint errors."""

from __future__ import annotations

import argparse
import os
import stat
from pathlib import Path

import pytest

from rlrm.atomic import atomic_write_bytes, current_umask, make_staging_dir
from rlrm.cli import build_parser, main
from rlrm.units import choose_khz, mhz, parse_khz


def _parsers(parser: argparse.ArgumentParser, name: str = "rlrm"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_option_has_help() -> None:
    missing = [f"{name} {a.option_strings or a.dest}" for name, p in _parsers(build_parser()) for a in p._actions
               if not a.help and not isinstance(a, (argparse._SubParsersAction, argparse._HelpAction))]
    assert missing == []


def test_help_shows_defaults(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default: steady)" in out and "(default: 5)" in out and "(default: 0)" in out


@pytest.mark.parametrize("argv", [["evaluate", "--policy", "schedutil", "--seed", "-1"],
                                  ["compare", "--policies", "schedutil", "--logdir", "x", "--seed", "-1"],
                                  ["evaluate", "--policy", "schedutil", "--episodes", "0"]])
def test_bad_numbers_are_refused_in_one_line(argv: list, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err


def test_missing_checkpoint_path_says_no_such_checkpoint(capsys: pytest.CaptureFixture) -> None:
    assert main(["evaluate", "--policy", "checkpoints/nonexist", "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert "no such checkpoint" in err and err.count("\n") == 1


def test_scenarios_and_policies_list_what_exists(capsys: pytest.CaptureFixture) -> None:
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out
    assert "steady" in out and "power-cap" in out
    assert main(["policies"]) == 0
    out = capsys.readouterr().out
    assert "schedutil+dofa" in out and "jetson-xavier-nx-ppo" in out
    assert max(len(line) for line in out.splitlines()) <= 100


def test_written_files_follow_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        assert current_umask() == 0o022
        f = atomic_write_bytes(tmp_path / "a.json", b"{}")
        assert stat.S_IMODE(f.stat().st_mode) == 0o644
        d = make_staging_dir(tmp_path / "ck")
        assert stat.S_IMODE(d.stat().st_mode) == 0o755
        os.umask(0o077)
        f = atomic_write_bytes(tmp_path / "b.json", b"{}")
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_frequency_inputs_and_output() -> None:
    table = [115200, 1190400, 1907200]
    for text in ("1190400", "1190400kHz", "1190.4MHz", "1.19GHz", "1.1904 GHz"):
        assert choose_khz(text, table) == 1190400
    assert parse_khz("1.5GHz") == (1_500_000.0, True)
    with pytest.raises(ValueError, match=r"available frequencies \(MHz\): 115.2, 1190.4, 1907.2"):
        choose_khz("1.5GHz", table)
    with pytest.raises(ValueError, match="must be an integer"):
        parse_khz("1190.4")
    with pytest.raises(ValueError):
        parse_khz("fast")
    assert mhz(1190400) == "1190.4" and mhz(2000000) == "2000"


def test_simulate_prints_mhz_and_whole_inferences(capsys: pytest.CaptureFixture) -> None:
    assert main(["simulate", "--platform", "jetson-xavier-nx", "--scenario", "steady", "--steps", "3",
                 "--policy", "fixed:subnet=5,unit=gpu,freq=1109.25MHz"]) == 0
    out = capsys.readouterr().out
    assert "at 1109.25 MHz" in out and "kHz" not in out
    inferences = next(line.split()[1] for line in out.splitlines() if line.strip().startswith("inferences"))
    assert inferences.isdigit()
