"""Malformed policy checkpoints (``policy.json`` sidecars and weights files): a policy that runs,
or a one-line InputError naming the file and the field, and nothing written to the board."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pytest
import rlrm.hw.sysfs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlrm.cli import main
from rlrm.env import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.evaluate import checkpoint_env_kwargs, resolve_policy
from rlrm.hw import fake
from rlrm.paths import CHECKPOINTS_DIR
from rlrm.platform import load_platform
from rlrm.policy import load
from rlrm.policy.weights import decode_weights, encode_weights
from tests.fuzz_support import assert_one_line, draw_mutation, note_outcome, paths
from tests.hw_support import board_dir, state_dir, xavier  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = CHECKPOINTS_DIR / "jetson-xavier-nx-ppo"
BOARD = load_platform("jetson-xavier-nx")
BASE = json.loads((SHIPPED / "policy.json").read_text())
BLOB = (SHIPPED / "policy.safetensors").read_bytes()
#: the sidecar's top-level keys: every error about the sidecar names a field under one of them
ROOTS = set(BASE) | {"zz_unknown", "<json>", "<top>", "<file>"}
#: the nodes to corrupt; of the 90-row action table only a few rows, so the other fields get their share
NODES = [p for p in paths(BASE) if not (p[:2] == ("env", "action_table") and len(p) > 2 and p[2] not in (0, 1, 89))]
FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def ck(tmp_path: Path) -> Path:
    """A private copy of the shipped Xavier NX checkpoint to damage."""
    return Path(shutil.copytree(SHIPPED, tmp_path / "ck"))


def _write(ck: Path, sidecar: Any = None, blob: Optional[bytes] = None, text: Optional[str] = None) -> None:
    """Write the sidecar (a dict, or raw ``text``) and, with ``blob``, the weights with a matching sha256."""
    side = json.loads(json.dumps(BASE if sidecar is None else sidecar))
    if blob is not None:
        (ck / "policy.safetensors").write_bytes(blob)
        side["weights"]["sha256"] = hashlib.sha256(blob).hexdigest()
    (ck / "policy.json").write_text(text if text is not None else json.dumps(side))


def _run_one_step(ck: Path) -> None:
    """What ``rlrm evaluate --policy ck`` does, for one step: load, build the environment the
    checkpoint asks for, check the policy against it, decide, step. The decision must be allowed."""
    policy = resolve_policy(str(ck))
    env = DynamicDNNEnv(platform=BOARD, scenario="steady", **checkpoint_env_kwargs(policy, BOARD))
    obs, info = env.reset(seed=0)
    policy.reset(env)
    # a policy trained before the dynamics' observation elements reads the prefix it knows
    logits = policy.policy.logits(obs[:policy.policy.obs_size])
    assert np.all(np.isfinite(logits))
    action = policy.act(env, obs, info)
    assert env.action_masks()[action], action  # finite logits: never a masked action
    env.step(action)


def _check(ck: Path) -> Optional[InputError]:
    """Run the checkpoint: fine, or an InputError that is one line and names a file of the checkpoint."""
    try:
        _run_one_step(ck)
    except InputError as err:
        assert Path(err.source).parent == ck, err  # policy.json, or the weights file it names
        assert_one_line(err, err.source)
        if err.source == str(ck / "policy.json"):
            assert re.split(r"[.\[]", err.field)[0] in ROOTS, err
        note_outcome(f"InputError {Path(err.source).name}")
        return err
    note_outcome("runs")
    return None


# ---------------------------------------------------------------------- property tests
@FUZZ
@given(data=st.data())
def test_fuzzed_sidecars_run_or_name_the_field(ck: Path, data: st.DataObject) -> None:
    bad, path = draw_mutation(data, BASE, node_paths=NODES)
    _write(ck, bad)
    err = _check(ck)
    if err is not None and err.source == str(ck / "policy.json") and path[0] in ("format", "format_version",
                                                                              "weights", "versions", "source"):
        assert err.field.split(".")[0] == path[0], (err, path)  # fields nothing else refers to


_RAW = st.sampled_from([
    "", "null", "[]", "42", '"policy"', "{", '{"format": "rlrm-policy"', "{}" * 2, "\ufeff{}",
    "[" * 100_000, '{"a":' * 50_000, "1" * 5000, '{"format": NaN}', "Infinity",
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_RAW | st.text(alphabet='{}[]",:0123456789.eE-+ ntrufalsNaIiy\\', max_size=60))
def test_sidecar_syntax_garbage_is_a_one_line_error(ck: Path, text: str) -> None:
    _write(ck, text=text)
    err = _check(ck)
    assert err is not None and err.source == str(ck / "policy.json")


_NONFINITE = {"NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity", "1e400": "1e400", "-1e999": "-1e999"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(["mean", "var", "clip_obs", "epsilon", "count"]), index=st.integers(0, 22),
       literal=st.sampled_from(sorted(_NONFINITE)))
def test_nan_and_inf_in_the_normalization_name_the_element(ck: Path, key: str, index: int, literal: str) -> None:
    side = json.loads(json.dumps(BASE))
    field = f"normalization.{key}"
    if isinstance(side["normalization"][key], list):
        side["normalization"][key][index] = "@@"
        field += f"[{index}]"
    else:
        side["normalization"][key] = "@@"
    _write(ck, text=json.dumps(side).replace('"@@"', _NONFINITE[literal]))
    err = _check(ck)
    assert err is not None and err.field == field, err


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layer=st.sampled_from([0, 1]), width=st.integers(1, 10**12).filter(lambda w: w != 128))
def test_layer_sizes_that_disagree_with_the_weights(ck: Path, layer: int, width: int) -> None:
    """The sidecar's chain is consistent, the weights file is not: the weights file names the array."""
    side = json.loads(json.dumps(BASE))
    side["network"]["layers"][layer]["out"] = width
    side["network"]["layers"][layer + 1]["in"] = width
    _write(ck, side)
    err = _check(ck)
    assert err is not None and err.source == str(ck / "policy.safetensors") and err.field == f"pi.{layer}.weight", err


_SIZES = st.integers(2, 10**12).filter(lambda n: n not in (23, 90)) | st.sampled_from([2**31, 2**63, 10**400])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(what=st.sampled_from(["n_managed", "layer_in", "layer_out", "names", "table_rows", "freqs"]), size=_SIZES)
def test_huge_sizes_are_refused_without_allocating(ck: Path, what: str, size: int) -> None:
    side = json.loads(json.dumps(BASE))
    env, layers = side["env"], side["network"]["layers"]
    n = min(size, 20_000)  # lists: long enough to disagree with everything, short enough to write
    if what == "n_managed":
        env["n_managed"] = size
    elif what == "layer_in":
        layers[0]["in"] = size
    elif what == "layer_out":
        layers[-1]["out"] = size
    elif what == "names":
        env["observation_names"] += [f"extra{i}" for i in range(n)]
    elif what == "table_rows":
        env["action_table"] += [[0, 6, i % 14] for i in range(n)]
    else:
        env["unit_freqs_khz"]["gpu"] = list(range(1, n + 2))
    _write(ck, side)
    err = _check(ck)
    assert err is not None and err.source == str(ck / "policy.json"), err


def _rename_unit(side: dict, old: str, new: str) -> None:
    env = side["env"]
    env["unit_freqs_khz"] = {new if u == old else u: f for u, f in env["unit_freqs_khz"].items()}
    env["options"] = [[new if u == old else u, c] for u, c in env["options"]]
    env["env_kwargs"]["units"] = [new if u == old else u for u in env["env_kwargs"]["units"]]


ACTION_TABLE_CASES: list[tuple[str, Callable[[dict], Any], str]] = [
    ("option out of range", lambda s: s["env"]["action_table"][5].__setitem__(1, 7), "env.action_table[5]"),
    ("freq out of the unit's table", lambda s: s["env"]["action_table"][0].__setitem__(2, 15), "env.action_table[0]"),
    ("option on an unknown unit", lambda s: s["env"]["options"].__setitem__(2, ["npu", 3]), "env.options[2]"),
    ("unit renamed everywhere", lambda s: _rename_unit(s, "gpu", "npu"), "env.env_kwargs.units[0]"),
    ("a unit the policy does not use renamed", lambda s: _rename_unit(s, "carmel", "a57"), "env.options"),
    ("cores the board's option lacks", lambda s: s["env"]["options"].__setitem__(0, ["carmel", 7]), "env.options"),
    ("a frequency the board lacks", lambda s: s["env"]["unit_freqs_khz"]["gpu"].__setitem__(3, 420001),
     "env.unit_freqs_khz.gpu"),
    ("a frequency table one longer", lambda s: s["env"]["unit_freqs_khz"]["gpu"].append(2_000_000),
     "env.unit_freqs_khz.gpu"),
    ("a unit the board lacks", lambda s: s["env"]["unit_freqs_khz"].update(npu=[1000]), "env.unit_freqs_khz.npu"),
    ("units not a list", lambda s: s["env"]["env_kwargs"].update(units="gpu"), "env.env_kwargs.units"),
    ("units a table", lambda s: s["env"]["env_kwargs"].update(units={"gpu": 1}), "env.env_kwargs.units"),
    ("another board", lambda s: s["env"].update(platform="odroid-xu3"), "env.platform"),
]


@pytest.mark.parametrize("change,field", [c[1:] for c in ACTION_TABLE_CASES], ids=[c[0] for c in ACTION_TABLE_CASES])
def test_action_table_and_units_the_board_does_not_have(ck: Path, change: Callable[[dict], Any], field: str) -> None:
    side = json.loads(json.dumps(BASE))
    change(side)
    _write(ck, side)
    err = _check(ck)
    assert err is not None and err.source == str(ck / "policy.json") and err.field == field, err


def test_another_boards_checkpoint_with_expected_platform() -> None:
    for name in ("odroid-xu3-ppo", "odroid-xu3-ppo-2apps"):
        with pytest.raises(InputError) as info:
            load(CHECKPOINTS_DIR / name, expected_platform="jetson-xavier-nx")
        assert_one_line(info.value, str(CHECKPOINTS_DIR / name / "policy.json"))
        assert info.value.field == "env.platform"


def test_shipped_checkpoint_runs(ck: Path) -> None:
    assert _check(ck) is None


# ---------------------------------------------------------------------- the weights file's bytes
def _header_len() -> int:
    return 8 + int.from_bytes(BLOB[:8], "little")


_DAMAGE = st.one_of(
    st.tuples(st.just("truncate"), st.integers(0, len(BLOB) - 1), st.just(0)),
    st.tuples(st.just("flip"), st.integers(0, _header_len() - 1), st.integers(0, 7)),  # in the length or JSON header
    st.tuples(st.just("flip"), st.integers(0, len(BLOB) - 1), st.integers(0, 7)),  # anywhere
    st.tuples(st.just("length"), st.integers(0, 2**64 - 1), st.just(0)),  # the 8-byte header length
    st.tuples(st.just("cut"), st.integers(0, len(BLOB) - 1), st.integers(1, 64)),
    st.tuples(st.just("append"), st.integers(1, 64), st.integers(0, 255)),
)


def _damage(blob: bytes, how: tuple) -> bytes:
    op, a, b = how
    out = bytearray(blob)
    if op == "truncate":
        return bytes(out[:a])
    if op == "flip":
        out[a] ^= 1 << b
    elif op == "length":
        out[:8] = a.to_bytes(8, "little")
    elif op == "cut":
        del out[a:a + b]
    else:
        out += bytes([b]) * a
    return bytes(out)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=_DAMAGE)
def test_damaged_safetensors_run_or_name_the_file(ck: Path, how: tuple) -> None:
    """The sha256 is updated to match, so the decoder itself meets the damage."""
    _write(ck, blob=_damage(BLOB, how))
    err = _check(ck)
    if err is not None:
        assert err.source == str(ck / "policy.safetensors"), err


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(how=_DAMAGE)
def test_damaged_npz_is_a_one_line_error(tmp_path: Path, how: tuple) -> None:
    """The .npz reader (zipfile, zlib, numpy) meets damage too; flips are aimed at the archive's whole length."""
    blob = encode_weights(decode_weights(BLOB, "x.safetensors"), ".npz")
    op, a, b = how
    how = (op, a % len(blob), b) if op in ("truncate", "flip", "cut") else how
    path = tmp_path / "policy.npz"
    try:
        decode_weights(_damage(blob, how), path)
    except InputError as err:
        assert_one_line(err, str(path))


def test_changed_weights_without_a_new_sha256(ck: Path) -> None:
    (ck / "policy.safetensors").write_bytes(_damage(BLOB, ("flip", len(BLOB) - 1, 0)))
    err = _check(ck)
    assert err is not None and err.source == str(ck / "policy.json") and err.field == "weights.sha256"


# ---------------------------------------------------------------------- the CLI
def _bad_sidecar(ck: Path) -> tuple[str, str]:
    """Damage one field of the checkpoint; return the text the one-line error must hold."""
    side = json.loads(json.dumps(BASE))
    side["normalization"]["var"][4] = -1.0
    _write(ck, side)
    return str(ck / "policy.json"), "normalization.var[4]"


def _one_line_error(err: str, file: str, field: str) -> None:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rlrm: error: ") and f"{file}: {field}: " in lines[0], err


@pytest.mark.parametrize("change", [
    lambda ck: _bad_sidecar(ck),
    lambda ck: (_write(ck, text='{"format": "rlrm-policy", "format_version": 1, "env": ' + "[" * 10_000),
                (str(ck / "policy.json"), "<json>"))[1],
    lambda ck: (_write(ck, dict(BASE, env={**BASE["env"], "env_kwargs": {"units": ["npu"]}})),
                (str(ck / "policy.json"), "env.env_kwargs.units[0]"))[1],
    lambda ck: (_write(ck, blob=BLOB[:-5]), (str(ck / "policy.safetensors"), "pi.1.weight.data_offsets"))[1],
], ids=["negative variance", "deep json", "unknown unit", "truncated weights"])
def test_evaluate_with_a_bad_checkpoint_exits_2(ck: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                change: Callable[[Path], tuple[str, str]]) -> None:
    file, field = change(ck)
    code = main(["evaluate", "--policy", str(ck), "--platform", "jetson-xavier-nx", "--scenario", "steady",
                 "--episodes", "1", "--json", str(tmp_path / "out.json")])
    _one_line_error(capsys.readouterr().err, file, field)
    assert code == 2 and not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("change", [
    lambda ck: _bad_sidecar(ck),
    lambda ck: (_write(ck, dict(BASE, env={**BASE["env"], "unit_freqs_khz": {
        **BASE["env"]["unit_freqs_khz"], "gpu": BASE["env"]["unit_freqs_khz"]["gpu"][:-1] + [1_200_000]}})),
                (str(ck / "policy.json"), "env.unit_freqs_khz.gpu"))[1],
    lambda ck: (_write(ck, dict(BASE, env={**BASE["env"], "platform": "odroid-xu3"})),
                (str(ck / "policy.json"), "env.platform"))[1],
], ids=["negative variance", "another frequency table", "another board"])
def test_run_with_a_bad_checkpoint_leaves_the_board_alone(ck: Path, tmp_path: Path, xavier: Path,  # noqa: F811
                                                         state_dir: Path, capsys: pytest.CaptureFixture,  # noqa: F811
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         change: Callable[[Path], tuple[str, str]]) -> None:
    file, field = change(ck)
    before = fake.snapshot_tree(xavier)
    writes: list[str] = []
    real = rlrm.hw.sysfs.kernel_write
    monkeypatch.setattr(rlrm.hw.sysfs, "kernel_write", lambda p, d: (writes.append(p), real(p, d)))
    code = main(["run", "--policy", str(ck), "--platform", "jetson-xavier-nx", "--scenario", "steady",
                 "--duration", "1s", "--no-background", "--logdir", str(tmp_path / "runs"),
                 "--sysfs-root", str(xavier)])
    _one_line_error(capsys.readouterr().err, file, field)
    assert code == 2
    assert writes == []  # not even written and restored
    assert fake.snapshot_tree(xavier) == before  # byte for byte
    assert list(state_dir.iterdir()) == []  # no statefile: the board was never opened
    assert not (tmp_path / "runs").exists()


def test_run_subprocess_prints_one_line_and_no_traceback(ck: Path, tmp_path: Path, xavier: Path,  # noqa: F811
                                                         state_dir: Path) -> None:  # noqa: F811
    file, field = _bad_sidecar(ck)
    before = fake.snapshot_tree(xavier)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RLRM_STATE_DIR": str(state_dir)}
    proc = subprocess.run([sys.executable, "-m", "rlrm", "run", "--policy", str(ck), "--scenario", "steady",
                           "--duration", "1s", "--no-background", "--logdir", str(tmp_path / "runs"),
                           "--sysfs-root", str(xavier)], env=env, cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    _one_line_error(proc.stderr, file, field)
    assert proc.stdout == ""
    assert fake.snapshot_tree(xavier) == before and list(state_dir.iterdir()) == []


def test_compare_live_with_a_bad_checkpoint_leaves_the_board_alone(ck: Path, tmp_path: Path,  # noqa: F811
                                                                   xavier: Path, state_dir: Path,  # noqa: F811
                                                                   capsys: pytest.CaptureFixture,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _write(ck, dict(BASE, env={**BASE["env"], "unit_freqs_khz": {
        **BASE["env"]["unit_freqs_khz"], "gpu": BASE["env"]["unit_freqs_khz"]["gpu"][:-1] + [1_200_000]}}))
    before = fake.snapshot_tree(xavier)
    writes: list[str] = []
    real = rlrm.hw.sysfs.kernel_write
    monkeypatch.setattr(rlrm.hw.sysfs, "kernel_write", lambda p, d: (writes.append(p), real(p, d)))
    code = main(["compare", "--backend", "live", "--platform", "jetson-xavier-nx", "--scenario", "steady",
                 "--policies", f"schedutil+dofa,ppo:{ck}", "--seeds", "1", "--episode-steps", "2",
                 "--period", "0.1", "--sysfs-root", str(xavier), "--logdir", str(tmp_path / "cmp")])
    _one_line_error(capsys.readouterr().err, str(ck / "policy.json"), "env.unit_freqs_khz.gpu")
    assert code == 2 and writes == [] and fake.snapshot_tree(xavier) == before
    assert list(state_dir.iterdir()) == []  # the board was never opened, not even for the first policy


@pytest.mark.parametrize("shape,stored", [((20000, 20000), 64), ((2**40,), 0), ((64, 64), 64)])
def test_npz_header_claiming_more_than_it_holds_is_refused_before_allocating(shape: tuple, stored: int) -> None:
    """numpy would allocate the claimed size before reading; the header is checked first."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("pi.0.weight.npy", header.getvalue() + b"\0" * stored)
    with pytest.raises(InputError) as err:
        decode_weights(buf.getvalue(), "policy.npz")
    assert err.value.field == "pi.0.weight" and "header claims shape" in err.value.problem


def test_a_weights_file_that_is_a_symlink_is_refused_without_telling_its_target_digest(tmp_path: Path) -> None:
    """A checkpoint whose weights file points elsewhere (``/etc/shadow`` on a board) is refused in
    one line before its content is hashed or printed."""
    from rlrm.paths import CHECKPOINTS_DIR
    from rlrm.policy import load

    ck = tmp_path / "ck"
    shutil.copytree(CHECKPOINTS_DIR / "jetson-xavier-nx-ppo", ck)
    weights = next(p for p in ck.iterdir() if p.name.startswith("policy.") and p.suffix != ".json")
    secret = tmp_path / "secret"
    secret.write_bytes(weights.read_bytes())  # the same bytes: the digest would even match
    weights.unlink()
    weights.symlink_to(secret)
    with pytest.raises(InputError) as err:
        load(ck)
    msg = str(err.value)
    assert "symbolic link" in msg and "\n" not in msg
    assert hashlib.sha256(secret.read_bytes()).hexdigest() not in msg


def test_a_modified_weights_file_is_refused_without_printing_its_digest(tmp_path: Path) -> None:
    from rlrm.paths import CHECKPOINTS_DIR
    from rlrm.policy import load

    ck = tmp_path / "ck"
    shutil.copytree(CHECKPOINTS_DIR / "jetson-xavier-nx-ppo", ck)
    weights = next(p for p in ck.iterdir() if p.name.startswith("policy.") and p.suffix != ".json")
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(InputError) as err:
        load(ck)
    assert "does not match the sidecar's sha256" in str(err.value)
    assert hashlib.sha256(bytes(data)).hexdigest() not in str(err.value)
