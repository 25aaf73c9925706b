"""Malformed agent configs (``agents/*.yaml``): a usable config or a one-line InputError naming the file and field."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlrm.cli import main
from rlrm.env import ENV_ID, DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.paths import AGENTS_DIR
from rlrm.platform import load_platform
from rlrm.train.config import EXTRA_KEYS, MAX_ROLLOUT, PPO_KEYS, SB3_N_STEPS, load_config, load_run_config
from tests.fuzz_support import JUNK, assert_one_line, draw_mutation, note_outcome

BOARD = load_platform("jetson-xavier-nx")
BASES = {name: yaml.safe_load((AGENTS_DIR / f"{name}.yaml").read_text()) for name in ("ppo", "ppo-two-models")}
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _dotted(path: tuple) -> str:
    """``("default", "policy_kwargs", "net_arch", "pi", 0)`` -> ``default.policy_kwargs.net_arch.pi[0]``."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def _near(field: str, path: tuple) -> bool:
    """An error about the change at ``path`` names it, a node below it (a bad member of a value
    put there) or above it (the list a member was deleted from), within the same entry and key;
    or the rollout (n_steps x n_envs) when one of those changed."""
    if ("n_steps" in path or "n_envs" in path) and field.endswith((".n_steps", ".n_envs")):
        return True
    changed = _dotted(path[:2])
    return field.startswith(changed) or changed.startswith(field + "[")


def _load(path: Path) -> dict:
    return load_config(path, ENV_ID, platform=BOARD)


def _assert_usable(cfg: dict) -> None:
    """What the trainer does with a config before training: its environments build, and
    stable-baselines3's own assertions on the rollout hold."""
    env_kwargs = {k: cfg.get(k) for k in ("reward_weights", "episode_steps", "units")}
    train = cfg.get("train_scenarios") or ["steady"]
    DynamicDNNEnv(platform=BOARD, scenario=train, randomization=cfg.get("randomization"), **env_kwargs)
    DynamicDNNEnv(platform=BOARD, scenario=cfg.get("eval_scenarios") or train, **env_kwargs)
    assert cfg.get("batch_size", 64) > 1
    assert 1 < cfg.get("n_steps", SB3_N_STEPS) * cfg["n_envs"] <= MAX_ROLLOUT
    assert cfg["vec_env"] in ("dummy", "subproc") and cfg["policy"] == "MlpPolicy"
    for key, kind in {**PPO_KEYS, **EXTRA_KEYS}.items():
        if key in cfg:
            assert isinstance(cfg[key], kind) and not (kind is int and isinstance(cfg[key], bool)), key
            if kind is float:
                assert math.isfinite(cfg[key]) and cfg[key] >= 0, key


def _check(path: Path) -> Any:
    """Load ``path``: a usable config, or an InputError that is one line and names ``path``."""
    try:
        cfg = _load(path)
    except InputError as err:
        assert_one_line(err, str(path))
        note_outcome("InputError")
        return err
    _assert_usable(cfg)
    note_outcome("usable")
    return cfg


# ---------------------------------------------------------------------- property tests
@FUZZ
@given(data=st.data())
def test_fuzzed_agent_configs_are_usable_or_name_the_field(tmp_path: Path, data: st.DataObject) -> None:
    base = BASES[data.draw(st.sampled_from(sorted(BASES)), label="config")]
    bad, path = draw_mutation(data, base)
    file = tmp_path / "fuzz.yaml"
    file.write_text(yaml.safe_dump(bad, allow_unicode=False))
    out = _check(file)
    if isinstance(out, InputError):
        assert _near(out.field, path), (out.field, path)


_KEYS = st.sampled_from(sorted({**PPO_KEYS, **EXTRA_KEYS})) | st.text(max_size=6)
_VALUES = JUNK | st.sampled_from(["dummy", "subproc", "MlpPolicy", "tanh", "gelu", "steady", "gpu", "npu", 1.0e-4,
                                   [0.5, 2.0], [2.0, 0.5], ["steady", "bursty"], ["gpu"], ["npu"], [64, 64]]) \
    | st.dictionaries(st.sampled_from(["net_arch", "activation_fn", "latency_scale", "freq_dropout", "latency",
                                       "energy", "pi", "vf"]), JUNK | st.just([0.9, 1.1]), max_size=3)
_SECTIONS = st.sampled_from(["default", ENV_ID, "other/Env-v1"]) | st.text(max_size=4)


@FUZZ
@given(doc=st.dictionaries(_SECTIONS, st.none() | st.dictionaries(_KEYS, _VALUES, max_size=6), max_size=3))
def test_generated_agent_configs_are_usable_or_name_the_field(tmp_path: Path, doc: dict) -> None:
    """Whole configs drawn from the known keys and awkward values, not only one change to a real one."""
    file = tmp_path / "gen.yaml"
    file.write_text(yaml.safe_dump(doc))
    out = _check(file)
    if isinstance(out, InputError) and out.field not in ("<top>", ENV_ID):
        sections = {InputError(file, str(s), "").field for s in doc}  # as errors print them (escaped)
        assert any(out.field == s or out.field.startswith(s + ".") for s in sections), out.field


_YAML_CHARS = ":-{}[]&*!|>'\"#%@`,? \n\tabcdefault0123456789.eE+~"
#: a billion-laughs document: 9**5 strings by reference, far more if anything copied or printed it whole
BOMB = ("default: {units: [&a [x,x,x,x,x,x,x,x,x], " + ", ".join(
    f"&{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip("abcd", "bcde")) + "]}").encode()
_ADVERSARIAL = [
    b"", b"~", b"[]", b"42", b"'just a string'", b"--- \n--- \n", b"default: {}\n---\nb: 2\n",
    b"\xef\xbb\xbfdefault: {n_envs: 2}",  # a UTF-8 byte-order mark
    b"\xff\xfe\x00d", b"default: {gamma: 0.5}\x00", b"default:\n\t- tab",
    b"default: " + b"[" * 5000, b"default: " + b"{a: " * 3000,
    b"default: {n_envs: 1" + b"0" * 5000 + b"}",
    b"default: {gamma: 0.5, gamma: 0.6}", b"default: {gamma: 0.5}\ndefault: {gamma: 0.6}",
    b"x: &x {gamma: 0.5}\ndefault: {<<: *x, n_envs: 2}",
    b"default: !!python/object/apply:os.system [echo hi]", b"default: {policy: !!binary aGVsbG8=}",
    b"default: &d {policy_kwargs: *d}", b"default: {units: &u [*u]}",
    BOMB,
    b"default: {\"a\\nb\": 1}", b"default: {learning_rate: .nan}", b"default: {clip_range: .inf}",
    b"default: {eval_freq: 2024-01-01}", b"default: {? [1, 2] : 3}", b"default: {1: 2}", b"default: {null: 2}",
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.sampled_from(_ADVERSARIAL) | st.binary(max_size=120)
       | st.text(alphabet=_YAML_CHARS, max_size=80).map(lambda t: t.encode()))
def test_yaml_garbage_is_a_one_line_error(tmp_path: Path, blob: bytes) -> None:
    file = tmp_path / "garbage.yaml"
    file.write_bytes(blob)
    _check(file)


#: a run's config.yaml as rlrm train writes it (what --resume reads)
RUN_SNAPSHOT = {"platform": "jetson-xavier-nx", "scenario": "mix", "train_scenarios": ["steady", "bursty"],
                "eval_scenarios": ["mixed"], "seed": 3, "timesteps": 1000, "env_id": ENV_ID, "command": "rlrm train",
                "started": "2024-01-01T00:00:00", "versions": {"rlrm": "0.1.0"},
                "hyperparameters": load_config("ppo", ENV_ID)}


@FUZZ
@given(data=st.data())
def test_fuzzed_run_configs_resume_or_name_the_field(tmp_path: Path, data: st.DataObject) -> None:
    bad, path = draw_mutation(data, RUN_SNAPSHOT)
    file = tmp_path / "config.yaml"
    file.write_text(yaml.safe_dump(bad, sort_keys=False))
    try:
        saved = load_run_config(file)
    except InputError as err:
        assert_one_line(err, str(file))
        assert _near(err.field, path), (err, path)
        note_outcome("InputError")
        return
    note_outcome("resumable")
    assert isinstance(saved["platform"], str) and isinstance(saved["seed"], int)
    _assert_usable(saved["hyperparameters"])


def test_resume_with_a_damaged_run_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.zip").write_bytes(b"")
    (run / "COMPLETE").write_text("128")
    (run / "config.yaml").write_text(yaml.safe_dump({**RUN_SNAPSHOT, "seed": "three"}))
    before = sorted(p.name for p in run.iterdir())
    assert main(["train", "--resume", str(run), "--timesteps", "256", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and f"{run / 'config.yaml'}: seed: " in err, err
    assert sorted(p.name for p in run.iterdir()) == before


# ---------------------------------------------------------------------- named fields
@pytest.mark.parametrize("text,field", [
    ("default: {randomization: {latency_scale: [2, 1]}}", "default.randomization.latency_scale"),
    ("default: {randomization: {colour: 1}}", "default.randomization.colour"),
    ("default: {reward_weights: {latency: -1}}", "default.reward_weights.latency"),
    ("default: {reward_weights: {latency: .nan}}", "default.reward_weights.latency"),
    ("rlrm/DynamicDNN-v0: {units: [gpu, npu]}", "rlrm/DynamicDNN-v0.units[1]"),
    ("rlrm/DynamicDNN-v0: {units: gpu}", "rlrm/DynamicDNN-v0.units"),
    ("default: {batch_size: 1}", "default.batch_size"),
    ("default: {n_steps: 1, n_envs: 1}", "default.n_steps"),
    ("default: {n_envs: 100000}", "default.n_envs"),
    ("default: {gamma: 1.5}", "default.gamma"),
    ("default: {learning_rate: 0.0}", "default.learning_rate"),
    ("default: {learning_rate: 1e-4}", "default.learning_rate"),
    ("default: {train_scenarios: [steady, no-such-scenario]}", "default.train_scenarios[1]"),
    ("default: {policy_kwargs: {net_arch: {pi: [1000000], vf: [64]}}}", "default.policy_kwargs.net_arch"),
    ("default: {episode_steps: 0}", "default.episode_steps"),
    ("default: {}\nother/Env-v1: {gamma: 7.0}", "other/Env-v1.gamma"),  # every entry is checked
    ("default: {\"a\\nb\": 1}", "default.a\\nb"),
    ("default: {gamma: 0.5, gamma: 0.6}", "<yaml>"),
    ("default: {n_envs: 1" + "0" * 5000 + "}", "<yaml>"),
    ("default: " + "[" * 5000, "<yaml>"),
], ids=lambda v: v[:40])
def test_bad_config_names_the_field(tmp_path: Path, text: str, field: str) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    err = _check(file)
    assert isinstance(err, InputError) and err.field == field, err
    assert len(err.problem) < 600  # no 5000-digit number, alias bomb or whole table in the message


def test_alias_bomb_gives_a_short_error(tmp_path: Path) -> None:
    file = tmp_path / "bomb.yaml"
    file.write_bytes(BOMB)
    err = _check(file)
    assert isinstance(err, InputError) and err.field == "default.units" and len(err.problem) < 200


def test_unreadable_configs(tmp_path: Path) -> None:
    assert _check(tmp_path).field == "<file>"  # a directory
    assert _check(tmp_path / "missing.yaml").field == "<file>"
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00")
    assert _check(tmp_path / "bin.yaml").field == "<yaml>"


def test_shipped_configs_are_usable() -> None:
    for name in BASES:
        _assert_usable(_load(AGENTS_DIR / f"{name}.yaml"))


# ---------------------------------------------------------------------- the CLI
def test_train_with_a_bad_config_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"default": {"n_envs": 2, "randomization": {"latency_scale": [0.5, "x"]}}}))
    logdir = tmp_path / "runs"
    code = main(["train", "--config", str(bad), "--timesteps", "10", "--logdir", str(logdir), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") == 1 and f"{bad}: default.randomization.latency_scale:" in err, err
    assert not logdir.exists()  # nothing written: no run folder


def test_train_with_units_the_board_lacks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "units.yaml"
    bad.write_text(f"default: {{n_envs: 2}}\n{ENV_ID}: {{units: [carmel]}}\n")
    code = main(["train", "--platform", "odroid-xu3", "--config", str(bad), "--timesteps", "10",
                 "--logdir", str(tmp_path / "runs"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and f"{bad}: {ENV_ID}.units[0]:" in err, err
