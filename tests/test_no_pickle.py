"""Issue 19, item 3: ``rlrm export RUN`` and ``rlrm train --resume RUN`` never unpickle model.zip.

A crafted ``model.zip`` whose ``data`` entries carry a pickle payload (what stable-baselines3's
loader runs with ``cloudpickle.loads``) must not run it; ``--trust-pickle`` is the explicit opt-in.
Also: bounded reads of weights files (``/dev/zero``, a FIFO, a huge file)."""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import yaml

from rlrm.cli import main
from rlrm.errors import InputError
from rlrm.policy.export import export_run
from rlrm.policy.testing import make_run_dir
from rlrm.policy.weights import read_file_bytes


class _Payload:
    """Unpickling this creates ``marker``: proof that code in the file ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _poison(model_zip: Path, marker: Path, keys: tuple = ("policy_class", "lr_schedule", "observation_space",
                                                           "action_space", "policy_kwargs", "clip_range")) -> None:
    """Put the payload in every ``:serialized:`` entry named in ``keys`` (readable parts kept)."""
    blob = base64.b64encode(pickle.dumps(_Payload(marker))).decode()
    with zipfile.ZipFile(model_zip) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    data = json.loads(entries["data"])
    for key in keys:
        assert ":serialized:" in data[key], key
        data[key][":serialized:"] = blob
    entries["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(model_zip, "w") as zf:
        for n, b in entries.items():
            zf.writestr(n, b)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("nopickle") / "run", scenario="steady", train_steps=0,
                        normalize=False, net_arch=(16,))


def _copy(run: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(run, dest)
    return dest


def test_export_never_runs_a_pickle_payload(tiny_run: Path, tmp_path: Path) -> None:
    run = _copy(tiny_run, tmp_path / "run")
    marker = tmp_path / "marker"
    _poison(run / "model.zip", marker)
    policy = export_run(run, tmp_path / "out", check_samples=16)
    assert not marker.exists()
    assert policy.layers[-1].n_out == 990


def test_the_payload_is_real_trust_pickle_runs_it(tiny_run: Path, tmp_path: Path) -> None:
    """The same file through sb3's loader (the old code path, now opt-in) runs the payload."""
    run = _copy(tiny_run, tmp_path / "run")
    marker = tmp_path / "marker"
    _poison(run / "model.zip", marker, keys=("clip_range",))
    try:
        export_run(run, tmp_path / "out", check_samples=0, trust_pickle=True)
    except (InputError, TypeError, AttributeError, AssertionError):
        pass  # the payload returned None where sb3 expected a schedule: it ran all the same
    assert marker.read_text() == "pwned"


def test_a_pickle_inside_policy_pth_is_refused_in_one_line(tiny_run: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    run = _copy(tiny_run, tmp_path / "run")
    marker = tmp_path / "marker"
    with zipfile.ZipFile(run / "model.zip") as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    buf = io.BytesIO()
    import torch

    torch.save({"w": _Payload(marker)}, buf)
    entries["policy.pth"] = buf.getvalue()
    with zipfile.ZipFile(run / "model.zip", "w") as zf:
        for n, b in entries.items():
            zf.writestr(n, b)
    assert main(["export", str(run), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "policy.pth" in err and "weights-only" in err
    assert not marker.exists()


def test_a_zip_bomb_entry_is_refused_before_reading(tiny_run: Path, tmp_path: Path) -> None:
    run = _copy(tiny_run, tmp_path / "run")
    with zipfile.ZipFile(run / "model.zip", "a", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("extra.bin", "w", force_zip64=True) as fh:
            chunk = bytes(1 << 20)
            for _ in range(300):
                fh.write(chunk)
    with pytest.raises(InputError, match="extra.bin.*refused before reading"):
        export_run(run, tmp_path / "out")


def test_resume_never_runs_a_pickle_payload(tmp_path: Path) -> None:
    cfg = {"rlrm/DynamicDNN-v0": {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "n_envs": 1,
                                  "vec_env": "dummy", "eval_freq": 1000, "n_eval_episodes": 1,
                                  "checkpoint_freq": 1000, "episode_steps": 32,
                                  "policy_kwargs": {"net_arch": {"pi": [16], "vf": [16]}}}}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", "--scenario", "steady", "--config", str(tmp_path / "tiny.yaml"), "--timesteps", "64",
                 "--logdir", str(tmp_path), "--name", "run", "--no-progress"]) == 0
    run = tmp_path / "run"
    marker = tmp_path / "marker"
    _poison(run / "model.zip", marker)
    assert main(["train", "--resume", str(run), "--timesteps", "128", "--no-progress"]) == 0
    assert not marker.exists()
    from rlrm.policy.sb3_zip import counters

    assert counters(run / "model.zip")["num_timesteps"] == 128


# -- bounded reads --------------------------------------------------------------------------------
def test_weights_from_dev_zero_is_refused_without_reading(tmp_path: Path) -> None:
    link = tmp_path / "policy.safetensors"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputError, match="not a regular file"):
        read_file_bytes(link)


def test_weights_from_a_fifo_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "policy.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_file_bytes(fifo)


def test_weights_file_too_big_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "policy.npz"
    with open(big, "wb") as fh:
        fh.truncate(2000)  # sparse: no disk used
    with pytest.raises(InputError, match="more than the 1000 allowed"):
        read_file_bytes(big, max_bytes=1000)
