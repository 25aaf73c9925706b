"""rlrm.policy.load: validation of checkpoints (one-line errors), no pickle, the Policy interface."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

from rlrm.cli import main
from rlrm.env import DynamicDNNEnv
from rlrm.errors import InputError
from rlrm.evaluate import resolve_policy, run_episodes
from rlrm.policy import CheckpointPolicy, NumpyPolicy, load
from rlrm.policy.testing import cached_checkpoint, cached_run_dir
from rlrm.policy.weights import decode_weights, encode_weights

PLATFORM = "jetson-xavier-nx"






@pytest.fixture(scope="module")
def steady_ck(runs: Path) -> Path:
    return cached_checkpoint(runs, platform=PLATFORM, scenario="steady")


@pytest.fixture(scope="module")
def npz_ck(runs: Path) -> Path:
    return cached_checkpoint(runs, "npz", platform=PLATFORM, scenario="steady")


@pytest.fixture(scope="module")
def two_ck(runs: Path) -> Path:
    return cached_checkpoint(runs, "npz", platform=PLATFORM, scenario="two-models")


@pytest.fixture
def ck(steady_ck: Path, tmp_path: Path) -> Path:
    """A private copy of the steady checkpoint to damage."""
    return Path(shutil.copytree(steady_ck, tmp_path / "ck"))


@pytest.fixture
def npz(npz_ck: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(npz_ck, tmp_path / "npz"))


def edit_sidecar(ck: Path, change: Callable[[dict], Any]) -> None:
    side = json.loads((ck / "policy.json").read_text())
    change(side)
    (ck / "policy.json").write_text(json.dumps(side))


def write_weights(ck: Path, blob: bytes) -> None:
    """Replace the weights file and make the sidecar's sha256 agree (so later checks run)."""
    side = json.loads((ck / "policy.json").read_text())
    (ck / side["weights"]["file"]).write_bytes(blob)
    side["weights"]["sha256"] = hashlib.sha256(blob).hexdigest()
    (ck / "policy.json").write_text(json.dumps(side))


def arrays_of(ck: Path) -> dict:
    name = json.loads((ck / "policy.json").read_text())["weights"]["file"]
    return decode_weights((ck / name).read_bytes(), ck / name)


def refused(ck: Path, file: str, field: str, *, problem: str = "", **kwargs: Any) -> InputError:
    with pytest.raises(InputError) as info:
        load(ck, **kwargs)
    err = info.value
    assert "\n" not in str(err)
    assert Path(err.source).name == file, str(err)
    assert err.field == field, str(err)
    assert problem in err.problem, str(err)
    return err


# ---------------------------------------------------------------------- loading
def test_load_gives_the_sidecar_attributes(steady_ck: Path) -> None:
    p = load(steady_ck)
    assert isinstance(p, NumpyPolicy)
    assert p.platform == PLATFORM and p.scenario == "steady"
    env = DynamicDNNEnv(platform=PLATFORM, scenario="steady")
    assert p.observation_names == env.observation_names
    assert np.array_equal(p.action_table, env.action_table) and p.action_table.dtype == np.int64
    assert p.options == env.options and p.n_managed == 1 and p.n_actions == 990
    assert p.unit_freqs_khz["gpu"] == list(env.platform.units["gpu"].freqs_khz)
    assert p.activation == "tanh" and "online" in p.masks_rule
    # the folder, the sidecar and the weights file all name the same checkpoint
    assert load(steady_ck / "policy.json").sha256 == load(steady_ck / "policy.safetensors").sha256 == p.sha256


def test_missing_files(ck: Path, runs: Path, tmp_path: Path) -> None:
    (ck / "policy.safetensors").unlink()
    refused(ck, "policy.safetensors", "<file>", problem="no such file")
    (ck / "policy.json").unlink()
    refused(ck, "policy.json", "<file>", problem="no such file")
    run = cached_run_dir(runs, platform=PLATFORM, scenario="steady")
    refused(run, "policy.json", "<file>", problem="rlrm export")
    refused(tmp_path / "nothing-here.json", "nothing-here.json", "<file>")


def test_format_and_version(ck: Path) -> None:
    edit_sidecar(ck, lambda s: s.update(format_version=2))
    refused(ck, "policy.json", "format_version", problem="not supported")
    edit_sidecar(ck, lambda s: s.update(format_version=1, format="something-else"))
    refused(ck, "policy.json", "format")
    (ck / "policy.json").write_text("{not json")
    refused(ck, "policy.json", "<json>")


def test_unknown_keys(ck: Path) -> None:
    edit_sidecar(ck, lambda s: s.update(extra=1))
    refused(ck, "policy.json", "extra", problem="unknown key")
    edit_sidecar(ck, lambda s: (s.pop("extra"), s["network"]["layers"][1].update(dropout=0.1)))
    refused(ck, "policy.json", "network.layers[1].dropout", problem="unknown key")
    edit_sidecar(ck, lambda s: (s["network"]["layers"][1].pop("dropout"), s["env"].update(seed=3)))
    refused(ck, "policy.json", "env.seed", problem="unknown key")


def test_layers_must_chain(ck: Path) -> None:
    edit_sidecar(ck, lambda s: s["network"]["layers"][1].update({"in": 32}))
    refused(ck, "policy.json", "network.layers[1].in", problem="layer 0 has 64 outputs")


def test_observation_size_must_match_normalization_and_first_layer(ck: Path) -> None:
    edit_sidecar(ck, lambda s: s["env"]["observation_names"].append("extra"))
    refused(ck, "policy.json", "normalization.mean", problem="29")
    edit_sidecar(ck, lambda s: s.update(normalization=None))
    refused(ck, "policy.json", "network.layers[0].in", problem="29 elements")
    edit_sidecar(ck, lambda s: s["env"]["observation_names"].pop())
    load(ck)  # consistent again (without normalisation)


def test_logits_must_cover_table_times_managed_apps(ck: Path) -> None:
    edit_sidecar(ck, lambda s: s["env"].update(n_managed=2))
    refused(ck, "policy.json", "network.layers[2].out", problem="990 actions x 2")
    edit_sidecar(ck, lambda s: (s["env"].update(n_managed=1), s["env"]["action_table"].pop()))
    refused(ck, "policy.json", "network.layers[2].out", problem="989 actions")


def test_action_table_rows_are_checked(ck: Path) -> None:
    edit_sidecar(ck, lambda s: s["env"]["action_table"].__setitem__(7, [0, 6, 20]))  # gpu has 15 frequencies
    refused(ck, "policy.json", "env.action_table[7]", problem="freq_index 20")


def test_activation_must_be_known(ck: Path) -> None:
    edit_sidecar(ck, lambda s: s["network"].update(activation="gelu"))
    refused(ck, "policy.json", "network.activation", problem="'gelu'")


def test_sha256_mismatch(ck: Path) -> None:
    blob = bytearray((ck / "policy.safetensors").read_bytes())
    blob[-1] ^= 0x01
    (ck / "policy.safetensors").write_bytes(bytes(blob))
    refused(ck, "policy.json", "weights.sha256", problem="modified or corrupted")


def test_nan_weights(ck: Path) -> None:
    arrays = arrays_of(ck)
    arrays["pi.1.weight"][3, 4] = np.nan
    write_weights(ck, encode_weights(arrays, ".safetensors"))
    refused(ck, "policy.safetensors", "pi.1.weight", problem="NaN or infinite")
    arrays["pi.1.weight"][3, 4] = np.inf
    write_weights(ck, encode_weights(arrays, ".safetensors"))
    refused(ck, "policy.safetensors", "pi.1.weight", problem="NaN or infinite")


def test_arrays_must_match_the_layer_list(ck: Path) -> None:
    arrays = arrays_of(ck)
    write_weights(ck, encode_weights({**arrays, "value.weight": np.zeros((1, 64))}, ".safetensors"))
    refused(ck, "policy.safetensors", "value.weight", problem="unknown array")
    write_weights(ck, encode_weights({k: v for k, v in arrays.items() if k != "pi.0.bias"}, ".safetensors"))
    refused(ck, "policy.safetensors", "pi.0.bias", problem="missing")
    write_weights(ck, encode_weights({**arrays, "pi.0.weight": arrays["pi.0.weight"][:, :-1]}, ".safetensors"))
    refused(ck, "policy.safetensors", "pi.0.weight", problem="(64, 28)")


def test_only_float32(npz: Path) -> None:
    arrays = {k: v.astype(np.float64) if k == "action.weight" else v for k, v in arrays_of(npz).items()}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_weights(npz, buf.getvalue())
    refused(npz, "policy.npz", "action.weight", problem="float64")


def test_safetensors_structure_is_checked(ck: Path) -> None:
    blob = (ck / "policy.safetensors").read_bytes()
    write_weights(ck, blob + b"\0" * 8)
    refused(ck, "policy.safetensors", "<data>", problem="trailing")
    write_weights(ck, (10**9).to_bytes(8, "little") + blob[8:])
    refused(ck, "policy.safetensors", "<header>")
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n])
    header["action.bias"]["dtype"] = "F64"
    text = json.dumps(header).encode()
    write_weights(ck, len(text).to_bytes(8, "little") + text + blob[8 + n:])
    refused(ck, "policy.safetensors", "action.bias.dtype", problem="float32")


def test_weights_file_must_be_inside_the_checkpoint(ck: Path) -> None:
    edit_sidecar(ck, lambda s: s["weights"].update(file="../elsewhere/policy.npz"))
    refused(ck, "policy.json", "weights.file")
    edit_sidecar(ck, lambda s: s["weights"].update(file="policy.pt"))
    refused(ck, "policy.json", "weights.file")


class _Payload:
    """Unpickling this creates the marker file (what an attacker's payload would do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple:
        return (open, (self.marker, "w"))


def test_pickle_payload_in_npz_is_not_executed(npz: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    arrays = arrays_of(npz)
    evil = {**arrays, "action.bias": np.array([_Payload(marker)], dtype=object)}
    buf = io.BytesIO()
    np.savez(buf, **evil)  # np.save pickles object arrays
    blob = buf.getvalue()

    # the payload is real: loading it the unsafe way would run it
    probe = tmp_path / "probe.npz"
    probe.write_bytes(blob)
    with np.load(probe, allow_pickle=True) as z:
        z["action.bias"]
    assert marker.exists()
    marker.unlink()

    # with a matching sha256 (the attacker rewrote the sidecar too) it is refused, not run
    write_weights(npz, blob)
    refused(npz, "policy.npz", "action.bias", problem="pickled object array")
    assert not marker.exists()

    # a bare pickle named policy.npz
    write_weights(npz, pickle.dumps(_Payload(marker)))
    refused(npz, "policy.npz", "<npz>")
    assert not marker.exists()

    # with the original sidecar, the sha256 check stops it before parsing
    edit_sidecar(npz, lambda s: s["weights"].update(sha256="0" * 64))
    refused(npz, "policy.json", "weights.sha256")
    assert not marker.exists()


# ---------------------------------------------------------------------- platform
def test_expected_platform(steady_ck: Path) -> None:
    assert load(steady_ck, expected_platform=PLATFORM).platform == PLATFORM
    refused(steady_ck, "policy.json", "env.platform", problem="odroid-xu3", expected_platform="odroid-xu3")


def test_env_policy_refuses_another_board_or_layout(steady_ck: Path) -> None:
    pol = load(steady_ck).as_env_policy()
    with pytest.raises(InputError, match=r"policy\.json: env\.platform: .*'odroid-xu3'"):
        pol.reset(DynamicDNNEnv(platform="odroid-xu3", scenario="steady"))
    renamed = DynamicDNNEnv(platform=PLATFORM, scenario="steady")
    renamed.observation_names = renamed.observation_names[:-1] + ["main.something_else"]
    with pytest.raises(InputError, match=r"policy\.json: env\.observation_names: "):
        pol.reset(renamed)
    # (a one-app policy on a two-app environment decides per app: tests/test_policy_multi_app.py)
    env = DynamicDNNEnv(platform=PLATFORM, scenario="steady")
    env.action_table = env.action_table[:-1]
    with pytest.raises(InputError, match=r"policy\.json: env\.action_table: .*989 actions"):
        pol.reset(env)
    other = DynamicDNNEnv(platform="odroid-xu3", scenario="steady")
    other.reset(seed=0)
    with pytest.raises(InputError):  # act() without reset() checks too
        pol.act(other, other._observation(), {})


# ---------------------------------------------------------------------- predict
def test_predict_shapes_and_masks(steady_ck: Path, two_ck: Path) -> None:
    p = load(steady_ck)
    env = DynamicDNNEnv(platform=PLATFORM, scenario="steady")
    obs, _ = env.reset(seed=0)
    a, state = p.predict(obs, action_masks=env.action_masks())
    assert state is None and isinstance(a, np.ndarray) and a.shape == () and a.dtype == np.int64
    assert env.action_masks()[a]
    assert p.predict(obs, state=("h",), episode_start=np.ones(1, bool))[1] == ("h",)  # handed back, as SB3
    batch = np.stack([obs] * 4)
    assert p.predict(batch)[0].shape == (4,)
    only = np.zeros(990, bool)
    only[417] = True
    assert p.predict(obs, action_masks=only)[0] == 417
    assert p.predict(obs, action_masks=np.zeros(990, bool))[0] == 0  # all masked: uniform, first index (as torch)
    rng = np.random.default_rng(0)
    two = np.zeros(990, bool)
    two[[5, 600]] = True
    draws = {int(p.predict(obs, action_masks=two, deterministic=False, rng=rng)[0]) for _ in range(200)}
    assert draws == {5, 600}
    probs = p.probabilities(obs, two)
    assert probs.shape == (1, 990) and np.isclose(probs.sum(), 1.0) and np.count_nonzero(probs) == 2

    q = load(two_ck)
    env2 = DynamicDNNEnv(platform=PLATFORM, scenario="two-models")
    obs2, _ = env2.reset(seed=0)
    a2, _ = q.predict(obs2, action_masks=env2.action_masks())
    assert a2.shape == (2,) and a2.dtype == np.int64
    assert q.predict(np.stack([obs2] * 3), action_masks=env2.action_masks())[0].shape == (3, 2)
    m = np.zeros((2, 990), bool)
    m[0, 11], m[1, 22] = True, True
    assert q.predict(obs2, action_masks=m.reshape(-1))[0].tolist() == [11, 22]  # per-sub-action masks


def test_predict_refuses_wrong_sizes_and_non_finite(steady_ck: Path) -> None:
    """One line naming the field; never an answer on an observation or mask it cannot read."""
    p = load(steady_ck)
    env = DynamicDNNEnv(platform=PLATFORM, scenario="steady")
    obs, _ = env.reset(seed=0)
    batch = np.stack([obs] * 4)

    def refused(match: str, *args: object, **kwargs: object) -> None:
        with pytest.raises(ValueError, match=match) as err:
            p.predict(*args, **kwargs)
        assert "\n" not in str(err.value)

    refused(rf"^observation: shape \({p.obs_size - 1},\)", obs[:-1])
    refused(rf"^observation: shape \({p.obs_size + 1},\)", np.append(obs, 0.0))
    refused(r"^action_masks: shape \(4, 10\)", batch, action_masks=np.ones((4, 10), bool))
    refused(r"^action_masks: shape \(90,\).* 990 actions", obs, action_masks=np.ones(90, bool))  # 90- vs 990-action
    refused(r"^action_masks: shape \(1980,\)", obs, action_masks=np.ones(1980, bool))
    refused(r"^action_masks: shape \(3960,\)", batch, action_masks=np.ones(3960, bool))  # flat: ambiguous
    refused(r"^state: .*action_masks=", obs, env.action_masks())  # the old positional mask
    for bad in (np.nan, np.inf, -np.inf):
        x = obs.copy()
        x[5] = bad
        refused(rf"^observation: element 5 \({p.observation_names[5]}\) is {bad}", x,
                action_masks=env.action_masks())
        refused(r"^observation: element 5 ", np.stack([obs, x]))
    refused(r"^observation: dtype", np.asarray(["a"] * p.obs_size))


def test_env_policy_runs_in_evaluate(steady_ck: Path, two_ck: Path, capsys: pytest.CaptureFixture) -> None:
    pol = resolve_policy(str(steady_ck))
    assert isinstance(pol, CheckpointPolicy) and pol.name == f"ppo:{steady_ck.name}"
    env = DynamicDNNEnv(platform=PLATFORM, scenario="steady", episode_steps=30)
    summary, episodes = run_episodes(pol, env, episodes=2, seed=0)
    assert len(episodes) == 2 and np.isfinite(summary["reward_mean"])
    env2 = DynamicDNNEnv(platform=PLATFORM, scenario="two-models", episode_steps=20)
    run_episodes(resolve_policy(str(two_ck)), env2, episodes=1, seed=0)
    assert main(["evaluate", "--policy", str(steady_ck), "--scenario", "steady", "--episodes", "1",
                 "--episode-steps", "20", "--no-oracle"]) == 0
    assert f"ppo:{steady_ck.name}" in capsys.readouterr().out
    assert main(["evaluate", "--policy", str(steady_ck), "--platform", "odroid-xu3", "--episodes", "1",
                 "--episode-steps", "5", "--no-oracle"]) == 2
    err = capsys.readouterr().err
    assert "env.platform" in err and err.strip().count("\n") == 0
