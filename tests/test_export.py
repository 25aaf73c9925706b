"""rlrm export: a training run folder -> weights-only checkpoint + policy.json sidecar."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rlrm.cli import main
from rlrm.errors import InputError
from rlrm.policy import FORMAT, FORMAT_VERSION, load
from rlrm.policy.export import export_run
from rlrm.policy.spec import read_obs_norm
from rlrm.policy.testing import cached_checkpoint, cached_run_dir, make_run_dir
from rlrm.policy.weights import decode_weights

PLATFORM = "jetson-xavier-nx"






@pytest.fixture(scope="module")
def steady_run(runs: Path) -> Path:
    return cached_run_dir(runs, platform=PLATFORM, scenario="steady")


@pytest.fixture(scope="module")
def steady_ck(runs: Path) -> Path:
    return cached_checkpoint(runs, platform=PLATFORM, scenario="steady")


def copy_run(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest)
    return dest


def test_export_writes_weights_and_sidecar(steady_run: Path, steady_ck: Path) -> None:
    files = sorted(p.name for p in steady_ck.iterdir())
    assert files == ["policy.json", "policy.safetensors"]  # no temporary files left behind
    side = json.loads((steady_ck / "policy.json").read_text())
    assert side["format"] == FORMAT and side["format_version"] == FORMAT_VERSION
    assert side["env"]["platform"] == PLATFORM and side["env"]["scenario"] == "steady"
    assert side["env"]["env_id"] == "rlrm/DynamicDNN-v0" and side["env"]["n_managed"] == 1
    env_json = json.loads((steady_run / "env.json").read_text())
    assert side["env"] == env_json
    assert side["network"]["activation"] == "tanh"
    assert [(l["name"], l["in"], l["out"]) for l in side["network"]["layers"]] == [
        ("pi.0", 28, 64), ("pi.1", 64, 64), ("action", 64, 990)]
    data = (steady_ck / "policy.safetensors").read_bytes()
    assert side["weights"] == {"file": "policy.safetensors", "sha256": hashlib.sha256(data).hexdigest(),
                               "dtype": "float32"}
    for key in ("rlrm", "torch", "stable_baselines3", "sb3_contrib", "numpy"):
        assert isinstance(side["versions"][key], str)
    assert side["versions"]["trained_with"]["Stable-Baselines3"]
    assert side["source"]["run"] == str(steady_run)
    assert side["source"]["model_sha256"] == hashlib.sha256((steady_run / "model.zip").read_bytes()).hexdigest()
    norm = read_obs_norm(steady_run / "obs_norm.npz")
    assert side["normalization"]["mean"] == norm.mean.tolist()  # float64 exactly, through JSON
    assert side["normalization"]["var"] == norm.var.tolist()


def test_weights_are_the_actor_only(steady_run: Path, steady_ck: Path) -> None:
    from sb3_contrib import MaskablePPO

    arrays = decode_weights((steady_ck / "policy.safetensors").read_bytes(), steady_ck / "policy.safetensors")
    assert sorted(arrays) == ["action.bias", "action.weight", "pi.0.bias", "pi.0.weight", "pi.1.bias", "pi.1.weight"]
    assert all(a.dtype == np.float32 for a in arrays.values())
    sd = MaskablePPO.load(steady_run / "model.zip", device="cpu").policy.state_dict()
    assert np.array_equal(arrays["pi.1.weight"], sd["mlp_extractor.policy_net.2.weight"].numpy())
    assert np.array_equal(arrays["action.bias"], sd["action_net.bias"].numpy())


def test_safetensors_interoperates_with_the_safetensors_package(steady_ck: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file, save_file

    ours = decode_weights((steady_ck / "policy.safetensors").read_bytes(), "policy.safetensors")
    theirs = load_file(str(steady_ck / "policy.safetensors"))
    assert sorted(ours) == sorted(theirs)
    assert all(np.array_equal(ours[k], theirs[k]) for k in ours)
    save_file(theirs, str(tmp_path / "x.safetensors"))
    back = decode_weights((tmp_path / "x.safetensors").read_bytes(), tmp_path / "x.safetensors")
    assert all(np.array_equal(back[k], theirs[k]) for k in theirs)


def test_normalize_matches_vec_normalize(steady_run: Path, steady_ck: Path) -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from rlrm.env import DynamicDNNEnv

    norm = read_obs_norm(steady_run / "obs_norm.npz")
    venv = VecNormalize(DummyVecEnv([lambda: DynamicDNNEnv(platform=PLATFORM, scenario="steady")]),
                        clip_obs=norm.clip_obs, epsilon=norm.epsilon)
    venv.obs_rms.mean, venv.obs_rms.var = norm.mean.copy(), norm.var.copy()
    obs = np.random.default_rng(0).uniform(0, 10, size=(500, 28)).astype(np.float32)
    policy = load(steady_ck)
    assert np.array_equal(policy.normalize(obs), venv.normalize_obs(obs))


def test_npz_export_and_multidiscrete(runs: Path) -> None:
    ck = cached_checkpoint(runs, "npz", platform=PLATFORM, scenario="two-models")
    assert sorted(p.name for p in ck.iterdir()) == ["policy.json", "policy.npz"]
    with np.load(ck / "policy.npz", allow_pickle=False) as z:
        assert all(z[k].dtype == np.float32 for k in z.files)
    policy = load(ck)
    assert policy.n_managed == 2 and policy.layers[-1].n_out == 2 * 990


def test_export_without_normalization(runs: Path) -> None:
    ck = cached_checkpoint(runs, platform=PLATFORM, scenario="steady", normalize=False, train_steps=0)
    policy = load(ck)
    assert policy.normalization is None
    obs = np.full(28, 3.0, dtype=np.float32)
    assert np.array_equal(policy.normalize(obs), obs)


def test_existing_folder_needs_force(steady_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "ck"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="--force"):
        export_run(steady_run, out, check_samples=0)
    export_run(steady_run, out, weights_format="npz", check_samples=0, force=True)
    export_run(steady_run, out, weights_format="safetensors", check_samples=0, force=True)
    assert not (out / "policy.npz").exists()  # the other format's stale weights are removed
    assert load(out).weights_file == "policy.safetensors"


def test_missing_run_files_are_one_line_errors(steady_run: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        export_run(tmp_path / "nope", tmp_path / "out")
    assert str(err.value).startswith(str(tmp_path / "nope"))
    run = copy_run(steady_run, tmp_path / "run")
    (run / "model.zip").unlink()
    with pytest.raises(InputError, match=r"model\.zip: <file>: no such file"):
        export_run(run, tmp_path / "out")
    run2 = copy_run(steady_run, tmp_path / "run2")
    (run2 / "env.json").unlink()
    with pytest.raises(InputError, match=r"env\.json: <file>: no such file"):
        export_run(run2, tmp_path / "out")


def test_unfinished_run_is_refused(steady_run: Path, tmp_path: Path) -> None:
    run = copy_run(steady_run, tmp_path / "run")
    (run / "COMPLETE").unlink()  # killed while writing its final model.zip / obs_norm.npz
    with pytest.raises(InputError, match=r"run: COMPLETE: marker missing: .*rlrm train --resume"):
        export_run(run, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_env_json_is_validated(steady_run: Path, tmp_path: Path) -> None:
    run = copy_run(steady_run, tmp_path / "run")
    env = json.loads((run / "env.json").read_text())
    env["colour"] = "blue"
    (run / "env.json").write_text(json.dumps(env))
    with pytest.raises(InputError, match=r"env\.json: colour: unknown key"):
        export_run(run, tmp_path / "out")
    del env["colour"]
    env["action_table"][3] = [0, 99, 0]
    (run / "env.json").write_text(json.dumps(env))
    with pytest.raises(InputError, match=r"env\.json: action_table\[3\]: option 99"):
        export_run(run, tmp_path / "out")


def test_model_and_env_json_must_agree(steady_run: Path, tmp_path: Path) -> None:
    run = copy_run(steady_run, tmp_path / "run")
    env = json.loads((run / "env.json").read_text())
    env["observation_names"].append("extra")
    (run / "env.json").write_text(json.dumps(env))
    with pytest.raises(InputError, match=r"obs_norm\.npz: mean: has 28 elements"):
        export_run(run, tmp_path / "out")
    (run / "obs_norm.npz").unlink()
    with pytest.raises(InputError, match=r"model\.zip: observation_space: 28 elements"):
        export_run(run, tmp_path / "out")
    env["observation_names"].pop()
    env["n_managed"] = 2
    (run / "env.json").write_text(json.dumps(env))
    with pytest.raises(InputError, match=r"model\.zip: action_space"):
        export_run(run, tmp_path / "out")


def test_unsupported_activation_is_refused(tmp_path: Path) -> None:
    run = make_run_dir(tmp_path / "run", scenario="steady", activation="ELU", train_steps=0, normalize=False,
                       net_arch=(16,))
    with pytest.raises(InputError, match=r"model\.zip: policy\.activation_fn: ELU"):
        export_run(run, tmp_path / "out")


def test_nan_in_model_is_refused(steady_run: Path, tmp_path: Path) -> None:
    import torch as th
    from sb3_contrib import MaskablePPO

    run = copy_run(steady_run, tmp_path / "run")
    model = MaskablePPO.load(run / "model.zip", device="cpu")
    with th.no_grad():
        model.policy.action_net.weight[3, 5] = float("nan")
    model.save(run / "model.zip")
    with pytest.raises(InputError, match=r"model\.zip: policy\.action_net\.weight: holds NaN"):
        export_run(run, tmp_path / "out")


def test_cli_export_and_info(steady_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "checkpoints" / "steady"
    assert main(["export", str(steady_run), "-o", str(out), "--format", "npz"]) == 0
    assert "Discrete(990)" in capsys.readouterr().out
    assert main(["policy", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "platform=jetson-xavier-nx" in text and "28 -> 64 -> 64 -> 990 (tanh)" in text
    assert main(["policy", "info", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == FORMAT
    assert main(["policy", "info", str(out), "--platform", "odroid-xu3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "policy.json: env.platform:" in err
    assert main(["export", str(tmp_path / "missing"), "-o", str(out)]) == 2
    assert "Traceback" not in capsys.readouterr().err
