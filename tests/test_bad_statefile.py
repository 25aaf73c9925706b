"""Fuzzed state files through ``rlrm restore``: the one file whose content rlrm writes back to
the board. Either it is valid and every value it names is put back, or it is refused in one
line naming the file and the field, with exit code 2 and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rlrm.hw.sysfs
from rlrm.cli import main
from rlrm.hw import fake
from rlrm.hw.state import StateGuard, load_statefile
from rlrm.hw.sysfs import Sysfs, write_limits
from tests.fuzz_support import draw_mutation, note_outcome
from tests.hw_support import CPU, XAVIER_GPU

P0 = f"{CPU}/policy0"
#: values that could do harm if a restore wrote them anywhere it liked
HOSTILE = st.sampled_from(["sys/power/state", "sys/devices/system/cpu/cpu1/online", "/sys/power/state",
                           "sys/../etc/passwd", f"{P0}/../../cpu1/online", "mem", "0", "performance\nreboot",
                           "<unsupported>", "userspace", "1", "9" * 30, ""])


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    """A fake Xavier NX, a valid state file's content for it, and the tree as it was."""
    root = fake.make_fake_xavier_nx(tmp_path_factory.mktemp("xavier"))
    before = fake.snapshot_tree(root)
    statefile = tmp_path_factory.mktemp("state") / "s.json"
    g = StateGuard(Sysfs(root), statefile, handlers=False)
    g.plan_limits(f"{P0}/scaling_min_freq", f"{P0}/scaling_max_freq")
    g.plan_value(f"{P0}/scaling_governor")
    g.plan_setspeed(f"{P0}/scaling_setspeed")
    g.plan_limits(f"{XAVIER_GPU}/min_freq", f"{XAVIER_GPU}/max_freq")
    write_limits(Sysfs(root), g, f"{P0}/scaling_min_freq", f"{P0}/scaling_max_freq", 652800, 652800)
    data = json.loads(statefile.read_text())
    assert g.restore() == [] and fake.snapshot_tree(root) == before
    return root, data, before


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_statefile_restores_or_writes_nothing(board: tuple[Path, dict, dict], tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                                                     data: st.DataObject) -> None:
    root, good, before = board
    bad, path = draw_mutation(data, good, junk=st.one_of(HOSTILE, st.integers(-5, 10**12), st.none(), st.text(max_size=6)))
    statefile = tmp_path / "fuzz.json"
    statefile.write_text(json.dumps(bad))
    writes: list[str] = []
    real_write = rlrm.hw.sysfs.kernel_write
    monkeypatch.setattr(rlrm.hw.sysfs, "kernel_write", lambda p, b: (writes.append(p), real_write(p, b))[1])
    try:
        load_statefile(statefile)
        valid = True
    except rlrm.errors.InputError:
        valid = False
    capsys.readouterr()
    code = main(["restore", str(statefile), "--force", "--sysfs-root", str(root)])
    err = capsys.readouterr().err
    monkeypatch.undo()
    if valid:
        note_outcome("valid")
        # it may only have touched the files rlrm writes; put the tree back for the next example
        assert all(Path(p).name in ("scaling_min_freq", "scaling_max_freq", "scaling_governor", "scaling_setspeed",
                                    "min_freq", "max_freq", "enable", "governor") for p in writes), writes
        for rel, content in before.items():
            target = root / rel
            if isinstance(content, bytes) and target.read_bytes() != content:
                target.write_bytes(content)
    else:
        note_outcome("refused")
        assert code == 2 and writes == [], (code, writes)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"rlrm: error: {statefile}: "), err
        assert statefile.exists()  # kept: a refused state file is evidence, not garbage
    assert fake.snapshot_tree(root) == before
