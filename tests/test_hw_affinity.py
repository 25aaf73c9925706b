"""Core count and placement: sched_setaffinity and torch's threads, restored afterwards."""

from __future__ import annotations

import os
import sys
import types

import pytest

from rlrm.hw.affinity import CoreController


class FakeTorch(types.ModuleType):
    def __init__(self) -> None:
        super().__init__("torch")
        self.threads = 8

    def get_num_threads(self) -> int:
        return self.threads

    def set_num_threads(self, n: int) -> None:
        self.threads = n


@pytest.fixture
def affinity(monkeypatch: pytest.MonkeyPatch) -> dict:
    """A process allowed on CPUs 0-7, without touching the real one."""
    state = {"cpus": set(range(8))}
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(state["cpus"]))
    monkeypatch.setattr(os, "sched_setaffinity", lambda pid, cpus: state.update(cpus=set(cpus)))
    return state


def test_sets_affinity_and_torch_threads_then_restores(affinity: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    torch = FakeTorch()
    monkeypatch.setitem(sys.modules, "torch", torch)
    cores = CoreController(online=range(8))
    assert cores.set_cores(2) == [0, 1]
    assert affinity["cpus"] == {0, 1} and torch.threads == 2
    assert cores.set_cores(3, cpus=[4, 5, 6, 7]) == [4, 5, 6]  # the Odroid's big cluster
    assert affinity["cpus"] == {4, 5, 6} and torch.threads == 3
    cores.restore()
    assert affinity["cpus"] == set(range(8)) and torch.threads == 8


def test_only_online_and_allowed_cpus_are_used(affinity: dict) -> None:
    cores = CoreController(online=[0, 1, 2, 3], use_torch=False)  # e.g. a 4-core nvpmodel mode
    with pytest.raises(ValueError, match="only 0 of CPUs"):
        cores.set_cores(1, cpus=[4, 5])
    with pytest.raises(ValueError, match="only 4"):
        cores.set_cores(5)
    with pytest.raises(ValueError, match="positive"):
        cores.set_cores(0)


def test_works_without_torch(affinity: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # "import torch" raises ImportError
    cores = CoreController()
    assert cores.set_cores(1) == [0]
    cores.restore()
    assert affinity["cpus"] == set(range(8))


def test_real_affinity_of_this_process() -> None:
    before = os.sched_getaffinity(0)
    cores = CoreController(use_torch=False)
    chosen = cores.set_cores(1)
    assert os.sched_getaffinity(0) == set(chosen)
    cores.restore()
    assert os.sched_getaffinity(0) == before


def test_threads_that_already_run_are_moved_too() -> None:
    import threading

    before = os.sched_getaffinity(0)
    started, stop = threading.Event(), threading.Event()
    worker = threading.Thread(target=lambda: (started.set(), stop.wait(10)))
    worker.start()
    started.wait(5)
    try:
        cores = CoreController(use_torch=False)
        chosen = cores.set_cores(1)
        assert os.sched_getaffinity(worker.native_id) == set(chosen)
        cores.restore()
        assert os.sched_getaffinity(worker.native_id) == before
    finally:
        stop.set()
        worker.join()
