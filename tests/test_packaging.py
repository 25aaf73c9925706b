"""Package data, ``$RLRM_HOME`` user data, shipped policies by name, install extras."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from rlrm import paths
from rlrm.cli import main
from rlrm.extras import missing_extra_message
from rlrm.platform import available_platforms, load_platform
from rlrm.sim.scenario import available_scenarios, load_scenario

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RLRM_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_checkout_run_finds_the_top_level_folders() -> None:
    assert paths.PACKAGE_ROOT == ROOT
    assert (paths.PLATFORMS_DIR / "jetson-xavier-nx.toml").is_file()
    assert (paths.CHECKPOINTS_DIR / "demo" / "model.json").is_file()


def test_default_user_home_is_per_user(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RLRM_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert paths.user_home() == tmp_path / "xdg" / "rlrm"
    monkeypatch.setenv("RLRM_HOME", str(tmp_path / "mine"))
    assert paths.user_home() == tmp_path / "mine"


def test_user_board_and_scenario_resolve_by_name_after_the_shipped_ones(home: Path) -> None:
    (home / "envs" / "platforms").mkdir(parents=True)
    (home / "envs" / "scenarios").mkdir(parents=True)
    text = (paths.PLATFORMS_DIR / "jetson-xavier-nx.toml").read_text()
    (home / "envs" / "platforms" / "my-board.toml").write_text(text.replace('name = "jetson-xavier-nx"', 'name = "my-board"'))
    shutil.copy(paths.SCENARIOS_DIR / "steady.toml", home / "envs" / "scenarios" / "my-steady.toml")
    # a user file with a shipped name does not shadow the shipped one
    (home / "envs" / "platforms" / "odroid-xu3.toml").write_text("not toml [")

    assert available_platforms() == ["jetson-xavier-nx", "my-board", "odroid-xu3"]
    assert "my-steady" in available_scenarios() and "steady" in available_scenarios()
    assert paths.resolve_named("my-board", paths.PLATFORMS_DIR, ".toml") == home / "envs" / "platforms" / "my-board.toml"
    assert load_platform("odroid-xu3").name == "odroid-xu3"
    assert load_scenario("my-steady").name
    # a path is taken as given, never looked up
    assert paths.resolve_named("x/my-board.toml", paths.PLATFORMS_DIR, ".toml") == Path("x/my-board.toml")


def test_user_trace_is_found_for_a_user_board(home: Path) -> None:
    from rlrm.sim.trace import trace_path

    shipped = trace_path("jetson-xavier-nx", "dynamic-ofa-6")
    assert shipped.is_file() and home not in shipped.parents
    (home / "envs" / "traces" / "my-board").mkdir(parents=True)
    mine = home / "envs" / "traces" / "my-board" / "dynamic-ofa-6.json"
    mine.write_text("{}")
    assert trace_path("my-board", "dynamic-ofa-6") == mine


def test_unknown_name_error_names_the_known_ones(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--platform", "no-such-board", "--scenario", "steady", "--steps", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "jetson-xavier-nx" in err


def test_shipped_policy_resolves_by_name(home: Path) -> None:
    from rlrm.evaluate import resolve_policy

    policy = resolve_policy("jetson-xavier-nx-ppo")
    assert policy.policy.spec.platform == "jetson-xavier-nx"  # type: ignore[attr-defined]
    assert paths.resolve_checkpoint("jetson-xavier-nx-ppo", "policy.json") == paths.CHECKPOINTS_DIR / "jetson-xavier-nx-ppo"
    # a user checkpoint by name
    shutil.copytree(paths.CHECKPOINTS_DIR / "odroid-xu3-ppo", home / "checkpoints" / "mine")
    assert paths.resolve_checkpoint("mine", "policy.json") == home / "checkpoints" / "mine"
    assert paths.resolve_checkpoint("demo", "policy.json") is None  # the demo model is no policy
    assert resolve_policy("schedutil") is not None


def test_evaluate_a_shipped_policy_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", "--policy", "jetson-xavier-nx-ppo", "--platform", "jetson-xavier-nx",
                 "--scenario", "second-app", "--episodes", "1"]) == 0
    assert "ppo:jetson-xavier-nx-ppo" in capsys.readouterr().out


@pytest.mark.parametrize("module,extra", [("stable_baselines3.common", "train"), ("yaml", "train"),
                                          ("sklearn.datasets", "demo"), ("onnxruntime", "onnx")])
def test_missing_extra_is_named(module: str, extra: str) -> None:
    message = missing_extra_message(module, "train")
    assert message is not None and f"rlrm[{extra}]" in message and "\n" not in message


def test_missing_torch_points_at_the_vendor_build() -> None:
    message = missing_extra_message("torch.nn", "run")
    assert message is not None and "NVIDIA" in message and "onnx" in message


def test_unrelated_missing_module_is_a_bug_not_an_extra() -> None:
    assert missing_extra_message("no_such_module_here") is None


BLOCKER = """
import sys
BLOCKED = set(sys.argv[1].split(","))
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError("No module named " + repr(name), name=name)
        return None
sys.meta_path.insert(0, Block())
from rlrm.cli import main
sys.exit(main(sys.argv[2:]))
"""

#: what the default (board-runtime) install does not carry
WORKSTATION = "torch,stable_baselines3,sb3_contrib,tensorboard,matplotlib,sklearn,scipy,yaml,tqdm,rich,onnxruntime,onnx"


def _run_board_runtime(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess:
    script = tmp_path / "board.py"
    script.write_text(BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(script), WORKSTATION, *argv], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300)


def test_board_runtime_commands_without_the_workstation_stack(tmp_path: Path) -> None:
    done = _run_board_runtime(tmp_path, "evaluate", "--policy", "jetson-xavier-nx-ppo", "--platform",
                              "jetson-xavier-nx", "--scenario", "second-app", "--episodes", "1")
    assert done.returncode == 0, done.stderr
    assert "ppo:jetson-xavier-nx-ppo" in done.stdout
    done = _run_board_runtime(tmp_path, "train", "--platform", "jetson-xavier-nx", "--scenario", "steady")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "rlrm[train]" in done.stderr, done.stderr


#: what `pip wheel .` reads from the checkout
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "rlrm", "envs", "agents", "checkpoints")


def _build_wheel(out: Path) -> Path:
    """``pip wheel .`` of a copy of the checkout (the build writes build/ and *.egg-info beside
    its sources: not in the checkout other test runs share)."""
    src = out / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "_data"))
        else:
            shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(src)], check=True, cwd=out, timeout=600)
    wheels = sorted(out.glob("rlrm-*.whl"))
    assert len(wheels) == 1
    return wheels[0]


def test_wheel_works_outside_the_checkout(tmp_path: Path) -> None:
    """``pip wheel .``, install it into a fresh environment (system site packages for the heavy
    dependencies; rlrm itself from the wheel) and run from a folder that is not the checkout."""
    wheel = _build_wheel(tmp_path)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["RLRM_HOME"] = str(tmp_path / "home")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # --force-reinstall: a development install of rlrm in the system site packages must not count
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(wheel)],
                   check=True, timeout=600, env=env, cwd=elsewhere)
    rlrm = env_dir / "bin" / "rlrm"

    where = subprocess.run([str(python), "-c", "import rlrm.paths as p; print(p.PACKAGE_ROOT)"],
                           capture_output=True, text=True, env=env, cwd=elsewhere, check=True).stdout.strip()
    assert Path(where) == env_dir / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages" / "rlrm" / "_data"
    done = subprocess.run([str(rlrm), "platforms"], capture_output=True, text=True, env=env, cwd=elsewhere, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "jetson-xavier-nx" in done.stdout and "odroid-xu3" in done.stdout
    done = subprocess.run([str(rlrm), "evaluate", "--policy", "jetson-xavier-nx-ppo", "--platform", "jetson-xavier-nx",
                           "--scenario", "second-app", "--episodes", "1"],
                          capture_output=True, text=True, env=env, cwd=elsewhere, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "ppo:jetson-xavier-nx-ppo" in done.stdout



def test_profile_writes_to_the_user_folder_by_default(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``rlrm profile`` without ``--envs`` writes into ``$RLRM_HOME/envs``, where names resolve."""
    import rlrm.dnn.profile as profile_mod

    seen = {}

    class Stop(Exception):
        pass

    def fake_write(profiler, results, envs):  # noqa: ANN001
        seen["envs"] = Path(envs)
        raise Stop

    class FakeProfiler:
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            pass

        def run(self, progress: bool = True) -> list:
            return []

    monkeypatch.setattr(profile_mod, "write_profile", fake_write)
    monkeypatch.setattr(profile_mod, "HostProfiler", FakeProfiler)
    with pytest.raises(Stop):
        main(["profile", "--model", "demo", "--threads", "1", "--quiet"])
    assert seen["envs"] == home / "envs"
