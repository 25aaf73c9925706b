"""Does the board's nvpmodel mode match the one the scenario runs in?

``rlrm run`` reads the current mode once at start (:func:`rlrm.hw.jetson.nvpmodel_mode`) and
warns in one line when it differs: the profile's caps and power model then describe another
mode. It does not change the mode.
"""

from __future__ import annotations

from typing import Any, Optional

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
