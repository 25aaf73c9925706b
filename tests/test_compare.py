"""``rlrm compare``: identical TensorBoard tags per policy, episode values equal to
``rlrm evaluate``, summary files, figures, and one-line errors."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from rlrm.cli import main
from rlrm.compare.runner import NONFINITE, PolicySpec, common_env_kwargs, split_policies
from rlrm.errors import InputError
from rlrm.evaluate import SUMMARY_KEYS, evaluate
from rlrm.paths import CHECKPOINTS_DIR

PLATFORM, SCENARIO, SEEDS, STEPS = "jetson-xavier-nx", "second-app", 2, 20
CKPT = str(CHECKPOINTS_DIR / "jetson-xavier-nx-ppo")
POLICIES = {"ppo_jetson-xavier-nx-ppo": CKPT, "schedutil+dofa": "schedutil+dofa", "oracle": "oracle",
            "random": "random"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("compare") / "cmp"
    code = main(["compare", "--platform", PLATFORM, "--scenario", SCENARIO,
                 "--policies", f"ppo:{CKPT},schedutil+dofa,oracle,random", "--seeds", str(SEEDS),
                 "--episode-steps", str(STEPS), "--logdir", str(out)])
    assert code == 0
    return out


@pytest.fixture(scope="module")
def accumulators(logdir: Path) -> dict:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accs = {}
    for name in POLICIES:
        acc = EventAccumulator(str(logdir / name))
        acc.Reload()
        accs[name] = acc
    return accs


def test_one_run_per_policy(logdir: Path) -> None:
    runs = sorted(p.name for p in logdir.iterdir() if p.is_dir())
    assert runs == sorted(POLICIES)
    for name in runs:
        assert list((logdir / name).glob("events.out.tfevents.*"))


def test_identical_tags_and_step_counts(accumulators: dict) -> None:
    tags = {name: sorted(acc.Tags()["scalars"]) for name, acc in accumulators.items()}
    first = next(iter(tags.values()))
    assert all(t == first for t in tags.values())
    for key in ("latency_ms", "energy_mj", "power_w", "accuracy", "subnet", "unit", "target_latency_ms",
                "freq_khz/carmel", "freq_khz/gpu"):
        assert f"step/{key}" in first
    for key in SUMMARY_KEYS:
        if key != "normalized_score":
            assert f"episode/{key}" in first
        assert f"hparam/{key}" in first
    for acc in accumulators.values():
        for tag in first:
            events = acc.Scalars(tag)
            if tag.startswith("step/"):
                assert [e.step for e in events] == list(range(SEEDS * STEPS))
            elif tag.startswith("episode/"):
                assert [e.step for e in events] == list(range(SEEDS))
            else:
                assert len(events) == 1
            assert all(math.isfinite(e.value) for e in events)
        assert set(acc.PluginTagToContent("hparams")) >= {"_hparams_/experiment", "_hparams_/session_start_info"}


def _close(a: float, b: float) -> bool:
    # event files hold float32 scalars: relative 1e-6 is well above their rounding
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)


def _tb(value: float) -> float:
    return value if value is not None and math.isfinite(value) else NONFINITE


def test_episode_values_equal_evaluate(accumulators: dict, logdir: Path) -> None:
    summary = {row["policy"]: row for row in json.loads((logdir / "summary.json").read_text())["policies"]}
    for name, source in POLICIES.items():
        ref = evaluate(source, PLATFORM, SCENARIO, SEEDS, 0, env_kwargs={"episode_steps": STEPS, "units": ["gpu"]})
        acc = accumulators[name]
        for key in SUMMARY_KEYS:
            if key == "normalized_score":
                continue
            logged = [e.value for e in acc.Scalars(f"episode/{key}")]
            want = [_tb(ep[key]) for ep in ref["per_episode"]]
            assert all(_close(a, b) for a, b in zip(logged, want)), (name, key, logged, want)
        for key in SUMMARY_KEYS:
            assert _close(acc.Scalars(f"hparam/{key}")[0].value, _tb(ref[key])), (name, key)
            assert _close(summary[name][key], ref[key]), (name, key)


def test_step_unit_and_frequency(accumulators: dict) -> None:
    acc = accumulators["ppo_jetson-xavier-nx-ppo"]
    assert {e.value for e in acc.Scalars("step/unit")} == {1.0}  # gpu is the 2nd unit of the Xavier NX
    gpu = [e.value for e in acc.Scalars("step/freq_khz/gpu")]
    assert min(gpu) > 0


def test_summary_files(logdir: Path) -> None:
    with open(logdir / "summary.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["policy"] for r in rows] == list(POLICIES)
    assert set(SUMMARY_KEYS) <= set(rows[0])
    assert {"pareto_dominated", "energy_vs_matched", "matched_by"} <= set(rows[0])
    score = {r["policy"]: float(r["normalized_score"]) for r in rows}
    assert score["oracle"] == 1.0 and score["random"] == 0.0
    assert 0.0 < score["ppo_jetson-xavier-nx-ppo"] <= 1.0
    doc = json.loads((logdir / "summary.json").read_text())
    assert doc["static_frontier"] and all(p["policy"].startswith("fixed:") for p in doc["static_frontier"])
    for row in doc["policies"]:
        vm = row["energy_vs_matched"]
        assert vm == "unmatched" or isinstance(vm, float)
        assert isinstance(row["pareto_dominated"], bool)
    md = (logdir / "summary.md").read_text().splitlines()
    body = [line for line in md if line.startswith("| ") and not line.startswith("| policy") and "---" not in line]
    assert [line.split("|")[1].strip() for line in body] == list(POLICIES)


def test_figures_are_png(logdir: Path) -> None:
    import matplotlib.image as mpimg

    for name in ("tradeoff.png", "timeseries.png", "bars.png", "pareto.png"):
        data = (logdir / name).read_bytes()
        assert data[:8] == PNG_MAGIC
        img = mpimg.imread(logdir / name)
        assert img.shape[0] > 100 and img.shape[1] > 100


def test_refuses_to_mix_with_old_events(logdir: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["compare", "--policies", "oracle", "--scenario", SCENARIO, "--seeds", "1",
                 "--episode-steps", "2", "--logdir", str(logdir)])
    assert code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("extra", [["--backend", "live", "--policies", "oracle"], ["--policies", "nosuchgovernor"],
                                   ["--policies", "ppo:checkpoints/does-not-exist"]])
def test_bad_input_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, extra: list) -> None:
    argv = ["compare", "--policies", "schedutil", "--seeds", "1", "--episode-steps", "2",
            "--logdir", str(tmp_path / "x"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rlrm: error:")
    if extra[0] == "--backend":
        assert "oracle" in err[0] and "live" in err[0]


def test_split_keeps_fixed_policies_whole() -> None:
    assert split_policies("schedutil, fixed:subnet=1,unit=gpu,freq=max,oracle") == [
        "schedutil", "fixed:subnet=1,unit=gpu,freq=max", "oracle"]


def test_checkpoints_needing_different_envs_are_refused() -> None:
    class Spec:
        def __init__(self, units: list) -> None:
            self.env_kwargs = {"units": units}

    class Wrapped:
        def __init__(self, units: list) -> None:
            self.policy = type("P", (), {"spec": Spec(units)})()

    a = PolicySpec("ppo:a", "a", "ppo_a", policy=Wrapped(["gpu"]))  # type: ignore[arg-type]
    b = PolicySpec("ppo:b", "b", "ppo_b", policy=Wrapped(["cpu"]))  # type: ignore[arg-type]
    assert common_env_kwargs([a]) == {"units": ["gpu"]}
    with pytest.raises(InputError):
        common_env_kwargs([a, b])


def test_nonfinite_values_become_the_sentinel() -> None:
    from rlrm.compare.runner import finite

    assert finite(float("inf")) == finite(float("nan")) == finite(None) == NONFINITE == -1.0
    assert finite(3) == 3.0


def test_seed_start_matches_evaluate(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "cmp"
    assert main(["compare", "--scenario", "steady", "--policies", "ondemand", "--seeds", "1", "--seed", "3",
                 "--episode-steps", "5", "--logdir", str(out), "--no-oracle"]) == 0
    acc = EventAccumulator(str(out / "ondemand"))
    acc.Reload()
    ref = evaluate("ondemand", PLATFORM, "steady", 1, 3, env_kwargs={"episode_steps": 5}, oracle=False)
    assert _close(acc.Scalars("episode/reward_mean")[0].value, ref["per_episode"][0]["reward_mean"])
    assert [e.step for e in acc.Scalars("step/power_w")] == list(range(5))
    row = json.loads((out / "summary.json").read_text())["policies"][0]
    assert row["normalized_score"] is None  # nan without the oracle and random runs


def test_compare_marks_a_dominated_policy(tmp_path: Path) -> None:
    # the same subnetwork on the same unit, once at the highest GPU frequency and once at a
    # middle one that meets the deadline as well: equal top-1, no misses to speak of, more energy at max
    out = tmp_path / "dom"
    assert main(["compare", "--scenario", "steady", "--policies",
                 "fixed:subnet=0,unit=gpu,freq=max,fixed:subnet=0,unit=gpu,freq=905250",
                 "--seeds", "1", "--episode-steps", "10", "--logdir", str(out), "--no-oracle", "--no-static"]) == 0
    rows = {r["source"]: r for r in json.loads((out / "summary.json").read_text())["policies"]}
    fast, mid = rows["fixed:subnet=0,unit=gpu,freq=max"], rows["fixed:subnet=0,unit=gpu,freq=905250"]
    assert fast["deadline_miss_rate"] <= mid["deadline_miss_rate"] < 1e-6  # both meet the deadline
    assert fast["energy_per_inference_mj"] > mid["energy_per_inference_mj"]
    assert fast["pareto_dominated"] and fast["dominated_by"] == [mid["policy"]]
    assert not mid["pareto_dominated"]
    assert mid["matched_by"] == fast["policy"] and 0.0 < mid["energy_vs_matched"] < 1.0
    assert "yes (" in (out / "summary.md").read_text()
