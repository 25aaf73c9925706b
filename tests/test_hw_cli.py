"""rlrm hw status, rlrm hw pin and rlrm restore: output and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlrm.cli import main
from rlrm.hw import fake
from rlrm.hw.actuator import HardwareActuator
from tests.hw_support import board_dir, CPU, odroid, state_dir, xavier  # noqa: F401


def test_status_on_xavier(xavier: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["hw", "status", "--sysfs-root", str(xavier)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"sysfs root: {xavier}"
    assert "CPUs online: 0-5" in out
    assert ("cluster 2 policy4: CPUs 4-5 schedutil now 1420.8 MHz, limits 115.2-1907.2, "
            "25 OPPs 115.2-1907.2 MHz") in out
    assert all(len(line) <= 100 or "devfreq node" in line for line in out)
    assert any(line.startswith("GPU 17000000.gv11b") and "15 OPPs 114.75-1109.25 MHz" in line
               and "nvhost_podgov" in line for line in out)
    assert "power VDD_IN (ina3221-iio): 4.772 W" in out
    assert "temperature CPU-therm: 38.5 C" in out
    assert out[-1] == "control: CPU frequency can be set; GPU frequency can be set"


def test_status_from_environment_root_and_missing_sensor(odroid: Path, capsys: pytest.CaptureFixture,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RLRM_SYSFS_ROOT", str(odroid))
    assert main(["hw", "status"]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("cluster 1 policy4: CPUs 4-7 ") and "19 OPPs 200-2000 MHz" in line
               for line in out.splitlines())
    assert "power A15 (ina231): missing (" in out and "enable is 0" in out


def test_status_with_garbage_is_one_line_error(xavier: Path, capsys: pytest.CaptureFixture) -> None:
    (xavier / f"{CPU}/policy2/related_cpus").write_text("two and three\n")
    assert main(["hw", "status", "--sysfs-root", str(xavier)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"rlrm: error: {xavier}/{CPU}/policy2/related_cpus: CPUs of the policy: "
                   "not a CPU list: 'two and three'")


def test_pin_refuses_a_frequency_not_in_the_table(xavier: Path, capsys: pytest.CaptureFixture) -> None:
    before = fake.snapshot_tree(xavier)
    assert main(["hw", "pin", "--sysfs-root", str(xavier), "--cpu", "0=1000000", "--seconds", "0"]) == 2
    err = capsys.readouterr().err
    assert "1000000 is not an operating point; available frequencies (MHz): 115.2, 192," in err
    assert err.count("\n") == 1
    assert fake.snapshot_tree(xavier) == before


@pytest.mark.parametrize("freq", ["1190400", "1190.4MHz", "1.19GHz", "1190400kHz"])
def test_pin_accepts_khz_mhz_and_ghz(xavier: Path, capsys: pytest.CaptureFixture, freq: str) -> None:
    assert main(["hw", "pin", "--sysfs-root", str(xavier), "--cpu", f"0={freq}", "--seconds", "0"]) == 0
    assert "holding policy0 1190.4 MHz" in capsys.readouterr().out


def test_pin_for_a_while_then_restore(odroid: Path, capsys: pytest.CaptureFixture) -> None:
    before = fake.snapshot_tree(odroid)
    assert main(["hw", "pin", "--sysfs-root", str(odroid), "--gpu", "600000", "--seconds", "0"]) == 0
    assert "holding GPU 600 MHz" in capsys.readouterr().out
    assert fake.snapshot_tree(odroid) == before


def test_restore_missing_or_malformed_statefile(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["restore", str(tmp_path / "nope.json")]) == 2
    assert capsys.readouterr().err.strip() == f"rlrm: error: {tmp_path / 'nope.json'}: state file: no such file"
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "rlrm-hw-state/1"}')
    assert main(["restore", str(bad)]) == 2
    assert "root: missing required field" in capsys.readouterr().err


def test_restore_refuses_while_the_writer_runs(xavier: Path, capsys: pytest.CaptureFixture) -> None:
    before = fake.snapshot_tree(xavier)
    with HardwareActuator(xavier, use_torch=False, handlers=False) as hw:
        hw.set_cpu_frequency(0, 652800)
        assert main(["restore", str(hw.statefile)]) == 1  # the process that wrote it still runs
        assert "still running" in capsys.readouterr().err
        assert Path(hw.statefile).exists()
    assert fake.snapshot_tree(xavier) == before


def test_pin_takes_the_profiles_unit_name(xavier: Path, capsys: pytest.CaptureFixture) -> None:
    before = fake.snapshot_tree(xavier)
    assert main(["hw", "pin", "--sysfs-root", str(xavier), "--cpu", "carmel=1.19GHz", "--seconds", "0",
                 "--platform", "jetson-xavier-nx"]) == 0
    out = capsys.readouterr().out
    assert "holding policy0 1190.4 MHz, policy2 1190.4 MHz, policy4 1190.4 MHz" in out
    assert fake.snapshot_tree(xavier) == before
    assert main(["hw", "pin", "--sysfs-root", str(xavier), "--cpu", "a99=1.19GHz", "--seconds", "0"]) == 2
    assert "no cluster 'a99' here" in capsys.readouterr().err


def test_status_names_clusters_and_gpu_by_the_profiles_units(xavier: Path, odroid: Path,  # noqa: F811
                                                             capsys: pytest.CaptureFixture) -> None:
    """``--platform``: every cluster and the GPU carry the unit name ``hw pin --cpu`` and the
    profile use (carmel / a7 / a15 / gpu / mali)."""
    assert main(["hw", "status", "--sysfs-root", str(xavier), "--platform", "jetson-xavier-nx"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out if " policy" in line and "cluster" in line] == ["carmel"] * 3
    assert any(line.startswith("gpu 17000000.gv11b:") for line in out)
    assert main(["hw", "status", "--sysfs-root", str(odroid), "--platform", "odroid-xu3"]) == 0
    out = capsys.readouterr().out.splitlines()
    named = {line.split()[0] for line in out if "cluster" in line}
    assert len(named) == 2 and "cluster" not in named
    assert main(["hw", "status", "--sysfs-root", str(xavier), "--platform", "no-such-board"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
