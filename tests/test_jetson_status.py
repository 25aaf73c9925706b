"""``rlrm hw status`` on Jetson facts (model, nvpmodel, jetson_clocks, GPU load, EMC), ``--json``,
``--watch``, and ``rlrm run``'s power-mode warning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rlrm.cli import main
from rlrm.hw import jetson
from rlrm.hw.cpufreq import discover_policies
from rlrm.hw.devfreq import find_gpu
from rlrm.hw.sysfs import Sysfs
from rlrm.live.power_mode import expected_mode, power_mode_warning
from rlrm.platform import load_platform
from rlrm.sim.scenario import load_scenario

from tests.hw_support import board_dir, odroid, state_dir, xavier  # noqa: F401


def _status(root: Path) -> dict:
    fs = Sysfs(root)
    return jetson.jetson_status(fs, discover_policies(fs), find_gpu(fs))


def test_fake_xavier_facts(xavier: Path) -> None:  # noqa: F811
    j = _status(xavier)
    assert j["model"] == "NVIDIA Jetson Xavier NX Developer Kit"
    assert j["l4t"].startswith("R35")
    assert j["nvpmodel"] == {"id": 2, "name": "MODE_15W_6CORE"}
    assert j["jetson_clocks"] is False
    assert j["gpu_load_pct"] == 0.0
    assert j["emc_hz"] == 1600000000


def test_jetson_clocks_and_gpu_load_follow_the_files(xavier: Path) -> None:  # noqa: F811
    fs = Sysfs(xavier)
    for p in discover_policies(fs):
        top = p.available_khz[-1]
        (xavier / p.file("scaling_max_freq")).write_text(f"{top}\n")
        (xavier / p.file("scaling_min_freq")).write_text(f"{top}\n")
    gpu = find_gpu(fs)
    top_hz = gpu.available_hz[-1]
    (xavier / gpu.file("max_freq")).write_text(f"{top_hz}\n")
    (xavier / gpu.file("min_freq")).write_text(f"{top_hz}\n")
    (xavier / "sys/devices/17000000.gv11b/load").write_text("537\n")
    j = _status(xavier)
    assert j["jetson_clocks"] is True
    assert j["gpu_load_pct"] == pytest.approx(53.7)


def test_absent_files_are_none(odroid: Path) -> None:  # noqa: F811
    j = _status(odroid)
    assert j["nvpmodel"] is None and j["emc_hz"] is None and j["l4t"] is None


def test_status_text_json_and_watch(xavier: Path, capsys: pytest.CaptureFixture) -> None:  # noqa: F811
    assert main(["hw", "status", "--sysfs-root", str(xavier)]) == 0
    out = capsys.readouterr().out
    assert "board: NVIDIA Jetson Xavier NX Developer Kit" in out
    assert "nvpmodel: mode 2 (MODE_15W_6CORE)" in out and "jetson_clocks: not active" in out
    assert "GPU load: 0.0 %" in out and "EMC: 1600 MHz" in out
    assert main(["hw", "status", "--sysfs-root", str(xavier), "--json"]) == 0
    state = json.loads(capsys.readouterr().out)
    assert state["jetson"]["nvpmodel"]["id"] == 2 and len(state["clusters"]) == 3
    assert state["gpu"]["cur_hz"] > 0 and state["power_w"][0]["name"] == "VDD_IN"
    assert main(["hw", "status", "--sysfs-root", str(xavier), "--watch", "0.01", "--count", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all("EMC 1600 MHz" in x and "nvpmodel MODE_15W_6CORE" in x for x in lines)
    assert main(["hw", "status", "--sysfs-root", str(xavier), "--watch", "0.01", "--count", "2", "--json"]) == 0
    assert [json.loads(x)["jetson"]["emc_hz"] for x in capsys.readouterr().out.strip().splitlines()] == [1600000000] * 2
    assert main(["hw", "status", "--sysfs-root", str(xavier), "--watch", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_power_mode_warning(xavier: Path) -> None:  # noqa: F811
    board = load_platform("jetson-xavier-nx")
    steady = load_scenario("steady")
    assert expected_mode(board, steady).name == board.default_power_mode
    assert power_mode_warning(board, steady, xavier) is None
    (xavier / "var/lib/nvpmodel/status").write_text("pmode:0004 fmode:quiet\n")
    warning = power_mode_warning(board, steady, xavier)
    assert warning is not None and "\n" not in warning and "MODE_10W_4CORE" in warning and "15W_6CORE" in warning
    (xavier / "var/lib/nvpmodel/status").unlink()
    assert power_mode_warning(board, steady, xavier) is None  # unknown: no warning


def test_rlrm_run_warns_once_when_the_mode_differs(xavier: Path, tmp_path: Path,  # noqa: F811
                                                   capsys: pytest.CaptureFixture) -> None:
    (xavier / "var/lib/nvpmodel/status").write_text("pmode:0004 fmode:quiet\n")
    code = main(["run", "--platform", "jetson-xavier-nx", "--policy", "schedutil", "--scenario", "steady",
                 "--duration", "0.2", "--period", "0.1", "--no-background", "--logdir", str(tmp_path / "runs"),
                 "--sysfs-root", str(xavier), "--model", "demo"])
    err = capsys.readouterr().err
    assert code == 0
    assert len([x for x in err.splitlines() if "nvpmodel mode is 4" in x]) == 1


def _fake_nvpmodel(tmp_path: Path, root: Path) -> tuple[Path, Path]:
    log = tmp_path / "nvpmodel.log"
    script = tmp_path / "nvpmodel"
    script.write_text("#!/bin/sh\n[ \"$1\" = -m ] || exit 2\n"
                      f"printf 'pmode:%04d fmode:quiet\\n' \"$2\" > '{root}/var/lib/nvpmodel/status'\n"
                      f"echo \"$2\" >> '{log}'\n")
    script.chmod(0o755)
    return script, log


def test_set_power_mode_switches_for_the_run_and_back(xavier: Path, tmp_path: Path,  # noqa: F811
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture) -> None:
    script, log = _fake_nvpmodel(tmp_path, xavier)
    monkeypatch.setenv("RLRM_NVPMODEL", str(script))
    (xavier / "var/lib/nvpmodel/status").write_text("pmode:0004 fmode:quiet\n")
    code = main(["run", "--platform", "jetson-xavier-nx", "--policy", "schedutil", "--scenario", "steady",
                 "--duration", "0.2", "--period", "0.1", "--no-background", "--logdir", str(tmp_path / "runs"),
                 "--sysfs-root", str(xavier), "--set-power-mode"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert log.read_text().split() == ["2", "4"]  # the scenario's mode, then the one it was in
    assert "nvpmodel mode 4 -> 2" in err and "nvpmodel mode is" not in err
    assert (xavier / "var/lib/nvpmodel/status").read_text().startswith("pmode:0004")


def test_set_power_mode_without_nvpmodel_is_one_line(xavier: Path, tmp_path: Path,  # noqa: F811
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("RLRM_NVPMODEL", str(tmp_path / "no-such-nvpmodel"))
    (xavier / "var/lib/nvpmodel/status").write_text("pmode:0004 fmode:quiet\n")
    code = main(["run", "--platform", "jetson-xavier-nx", "--policy", "schedutil", "--scenario", "steady",
                 "--duration", "0.2", "--period", "0.1", "--no-background", "--logdir", str(tmp_path / "runs"),
                 "--sysfs-root", str(xavier), "--set-power-mode"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "nvpmodel" in err[0]
