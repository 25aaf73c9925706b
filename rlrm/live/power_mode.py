"""Does the board's nvpmodel mode match the one the scenario runs in?

``rlrm run`` reads the current mode once at start (:func:`rlrm.hw.jetson.nvpmodel_mode`) and
warns in one line when it differs: the profile's caps and power model then describe another
mode. It does not change the mode.
"""

from __future__ import annotations

from typing import Any, Optional

from rlrm.errors import InputError
from rlrm.hw import jetson
from rlrm.hw.sysfs import PathLike, Sysfs


def expected_mode(board: Any, scenario: Any) -> Optional[Any]:
    """The profile's :class:`~rlrm.platform.profile.PowerMode` in force at the scenario's start
    (its schedule's entry at 0 s, else the board's default); ``None`` if the board lacks it."""
    name = board.default_power_mode
    for at_s, mode in getattr(scenario, "power_modes", ()):
        if at_s <= 0:
            name = mode
    return board.power_modes.get(name)


def power_mode_warning(board: Any, scenario: Any, sysfs_root: Optional[PathLike] = None) -> Optional[str]:
    """One line when the current nvpmodel mode is known and is not the scenario's; else ``None``."""
    current = jetson.nvpmodel_mode(Sysfs(sysfs_root))
    want = expected_mode(board, scenario)
    if current is None or want is None or int(current["id"]) == int(want.id):
        return None
    now = f"{current['id']}" + (f" ({current['name']})" if current["name"] else "")
    return (f"rlrm: warning: nvpmodel mode is {now}, the scenario {scenario.name!r} runs in {want.id} ({want.name}) "
            f"on {board.name}: the profile's caps and power model describe that mode (`sudo nvpmodel -m {want.id}`)")


#: environment variable naming the nvpmodel command (default ``nvpmodel`` on the PATH)
NVPMODEL_ENV = "RLRM_NVPMODEL"


def run_nvpmodel(mode_id: int) -> None:
    """``nvpmodel -m MODE_ID`` (``$RLRM_NVPMODEL`` instead of ``nvpmodel`` when set).

    :raise InputError: one line when the command is missing or fails
    """
    import os
    import shutil
    import subprocess

    cmd = os.environ.get(NVPMODEL_ENV) or "nvpmodel"
    if shutil.which(cmd) is None:
        raise InputError("--set-power-mode", "nvpmodel", f"no {cmd!r} command here (not a Jetson, or not on the PATH)")
    try:
        done = subprocess.run([cmd, "-m", str(int(mode_id))], stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise InputError("--set-power-mode", "nvpmodel", f"{cmd} -m {mode_id}: {err}") from None
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        raise InputError("--set-power-mode", "nvpmodel", f"{cmd} -m {mode_id} exited {done.returncode}"
                                                         + (f": {why[-1]}" if why else "") + " (needs root)")


class PowerModeSwitch:
    """``rlrm run --set-power-mode``: put the board in the scenario's nvpmodel mode for the run
    and back in the mode it was in afterwards (a SIGKILL leaves it switched: run
    ``sudo nvpmodel -m <id>``, printed at the start).

    :param board: the board profile
    :param scenario: the scenario (its mode at 0 s)
    :param sysfs_root: where ``/var/lib/nvpmodel/status`` is read
    """

    def __init__(self, board: Any, scenario: Any, sysfs_root: Optional[PathLike] = None) -> None:
        self.board = board
        self.scenario = scenario
        self.sysfs_root = sysfs_root
        self.previous: Optional[int] = None

    def apply(self) -> Optional[str]:
        """Switch if needed; returns the line to print (``None``: nothing to do)."""
        want = expected_mode(self.board, self.scenario)
        if want is None:
            raise InputError("--set-power-mode", "power_mode", f"{self.board.name} has no power mode for "
                                                               f"scenario {self.scenario.name!r}")
        current = jetson.nvpmodel_mode(Sysfs(self.sysfs_root))
        if current is None:
            raise InputError("--set-power-mode", "nvpmodel", "the current mode is unknown (no "
                                                             f"{jetson.NVPMODEL_STATUS} under the sysfs root)")
        if int(current["id"]) == int(want.id):
            return None
        run_nvpmodel(int(want.id))
        self.previous = int(current["id"])
        return (f"rlrm: nvpmodel mode {current['id']} -> {want.id} ({want.name}) for this run; put back at exit "
                f"(if rlrm is killed: sudo nvpmodel -m {current['id']})")

    def restore(self) -> Optional[str]:
        """Put the previous mode back; returns a one-line problem, or ``None``."""
        if self.previous is None:
            return None
        try:
            run_nvpmodel(self.previous)
        except InputError as err:
            return f"rlrm: could not put nvpmodel mode {self.previous} back: {err} (run sudo nvpmodel -m {self.previous})"
        self.previous = None
        return None
