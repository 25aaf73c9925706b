"""Baselines: Linux governors (with the subnetwork pinned, the largest, or managed as
Dynamic-OFA does), fixed operating points and masked random actions.

A governor baseline runs the DNN on the unit the scenario names (all online cores of a CPU
unit) and lets a kernel governor (:mod:`rlrm.governors`) pick that unit's frequency;
a GPU unit runs the board's GPU governor (the profile's ``governor``: ``nvhost_podgov`` on
Jetson, ``simple_ondemand`` on Mali). Inside each control period the governor samples at its
own rate (schedutil at its rate limit, ondemand / conservative at ``sampling_rate``, devfreq
at ``polling_ms``; :func:`rlrm.governors.run_period`). The backend reports one
utilisation per unit and period, so each sub-interval sees the last period's work at the
sub-interval's frequency (work-conserving: ``min(1, u * f_last / f)``; a saturated unit stays
busy, see :func:`rlrm.governors.subinterval_load`). The first period,
before anything is measured, runs at the frequency the unit starts at (its maximum); from
the second on the governor follows the scenario's measured load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from rlrm import governors
from rlrm.policy.base import Policy
from rlrm.errors import InputError
from rlrm.sim.fixed import parse_fixed
from rlrm.sim.simulator import OperatingPoint
from rlrm.validate import check_number

#: governors that run on a GPU unit as they are (the others hand the GPU to its own governor)
STATIC_ON_EVERY_UNIT = ("performance", "powersave")

if TYPE_CHECKING:  # the board side loads policies without gymnasium
    from rlrm.env.dynamic_dnn import DynamicDNNEnv


class DofaManager:
    """Dynamic-OFA's reactive runtime manager (its ``runtime_demo``), with both thresholds.

    After each control period the mean latency of the last ``window`` inferences is compared
    with the deadline: above it, one level down; below ``(1 - headroom) x deadline``, one
    level up (there is room for a larger subnetwork); accuracy below the floor also steps up.
    The window restarts after each switch, so a level is judged on its own inferences.
    ``headroom`` is ours (the demo's up-threshold is not published as a number): 0.2 keeps
    a subnetwork whose latency is 20 % under the deadline from stepping up into one that
    would miss it, on the traces' ~1.2-1.4x latency ratio between neighbouring levels.

    :param n_levels: levels of the subnetwork library
    :param window: inferences averaged (20 in the demo), >= 1
    :param headroom: fraction of the deadline the mean latency must be under to step up, in [0, 1]
    """

    def __init__(self, n_levels: int, window: int = 20, headroom: float = 0.2) -> None:
        self.n_levels = n_levels
        self.window = int(check_number(window, "dofa", "window", minimum=1, integer=True))
        self.headroom = float(check_number(headroom, "dofa", "headroom", minimum=0.0, maximum=1.0))
        self.reset()

    def reset(self) -> None:
        self.level = self.n_levels - 1
        self._lat: list[tuple[float, float]] = []  # (latency, inferences)

    def update(self, latency_ms: float, inferences: float, accuracy: float, deadline_ms: float, floor: float) -> int:
        """Feed one control period's inferences; return the level for the next period."""
        if inferences > 0:
            self._lat.append((latency_ms, inferences))
        total = sum(n for _, n in self._lat)
        while len(self._lat) > 1 and total - self._lat[0][1] >= self.window:
            total -= self._lat.pop(0)[1]
        if accuracy < floor and self.level < self.n_levels - 1:
            self._switch(+1)
        elif total >= self.window:
            mean = sum(lat * n for lat, n in self._lat) / total
            if mean > deadline_ms and self.level > 0:
                self._switch(-1)
            elif mean < (1.0 - self.headroom) * deadline_ms and self.level < self.n_levels - 1:
                self._switch(+1)
        return self.level

    def _switch(self, step: int) -> None:
        self.level += step
        self._lat.clear()


class GovernorPolicy(Policy):
    """A Linux governor on the scenario's unit, with a pinned subnetwork or Dynamic-OFA's manager.

    Names: ``G`` (largest subnetwork), ``G@L`` (subnetwork level ``L``), ``G+dofa``
    (:class:`DofaManager` picks the level).

    :param governor: kernel governor name (``performance``, ``powersave``, ``ondemand``,
        ``conservative``, ``schedutil``)
    :param dofa: manage the subnetwork with :class:`DofaManager`
    :param level: pin the subnetwork at this level (None: the largest, or Dynamic-OFA's)
    :param gpu_governor: governor of GPU units; default: the profile's GPU governor
        (``simple_ondemand`` when it names none) for the load-based CPU governors, the same
        one for performance / powersave
    :param window: :class:`DofaManager` window
    :param headroom: :class:`DofaManager` headroom
    :param tunables: CPU governor tunables
    """

    def __init__(self, governor: str, dofa: bool = False, level: Optional[int] = None,
                 gpu_governor: Optional[str] = None, window: int = 20, headroom: float = 0.2,
                 **tunables: Any) -> None:
        if dofa and level is not None:
            raise InputError("--policy", "policy", f"{governor}: pin a level (@L) or use +dofa, not both")
        self.governor_name = governor
        self.dofa = dofa
        self.level = level
        self.gpu_governor_name = gpu_governor
        self.dofa_args = {"window": window, "headroom": headroom}
        DofaManager(1, **self.dofa_args)  # check them now
        self.tunables = tunables
        self.name = governor + ("+dofa" if dofa else "") + (f"@{level}" if level is not None else "")

    def governor_for(self, unit: Any) -> str:
        """The governor that runs on ``unit`` (a :class:`rlrm.platform.ComputeUnit`)."""
        if unit.kind != "gpu" or self.governor_name in STATIC_ON_EVERY_UNIT:
            return self.governor_name
        return self.gpu_governor_name or unit.governor or "simple_ondemand"

    def reset(self, env: DynamicDNNEnv, seed: Optional[int] = None) -> None:
        sim = env.sim
        self.unit_index = sim.resolve_unit(sim.scenario.unit, "unit")
        self.unit = sim.platform.units[sim.unit_names[self.unit_index]]
        if self.unit.name not in env.units:
            raise InputError(sim.scenario.path or sim.scenario.name, "unit",
                             f"the baselines run on {self.unit.name}, which the environment's units exclude")
        name = self.governor_for(self.unit)
        self.gov = governors.make(name, list(self.unit.freqs_khz),
                                  **(self.tunables if name == self.governor_name else {}))
        self.samples = governors.samples_per_period(self.gov, sim.period_s)
        self.freq_khz = self.unit.f_max_khz
        self.util: Optional[float] = None  # nothing measured before the first period
        top = env.n_subnets - 1
        if self.level is not None and not 0 <= self.level <= top:
            raise InputError("--policy", "policy", f"{self.name}: level {self.level} is outside 0..{top}")
        self.managers = [DofaManager(env.n_subnets, **self.dofa_args) for _ in env.managed]
        self.levels = [top if self.level is None else self.level for _ in env.managed]
        self.managed = list(env.managed)

    def next_frequency(self) -> int:
        """The frequency for the coming period: the governor sampled through the last one."""
        if self.util is None:
            return self.freq_khz
        return governors.run_period(self.gov, self.util, self.freq_khz, self.samples)[-1]

    def act(self, env: DynamicDNNEnv, obs: np.ndarray, info: dict) -> Any:
        sim = env.sim
        f = self.next_frequency()
        fi = min(self.unit.freqs_khz.index(f), sim.max_freq_index(self.unit_index))
        cores = sim.online_cores(self.unit_index) if self.unit.kind == "cpu" else 0
        option = env.options.index((self.unit.name, cores))
        actions = [env.encode(OperatingPoint(level, option, fi)) for level in self.levels]
        return actions[0] if len(actions) == 1 else np.asarray(actions)

    def observe(self, info: dict) -> None:
        result = info["result"]
        self.util = result["utilisation"][self.unit_index]
        self.freq_khz = result["freq_khz"][self.unit_index]
        if not self.dofa:
            return
        t = result["targets"]
        for k, i in enumerate(self.managed):
            app = result["apps"][i]
            if app is not None:
                self.levels[k] = self.managers[k].update(app["latency_ms"], app["inferences"], app["accuracy"],
                                                         t.latency_ms, t.accuracy)


class FixedPolicy(Policy):
    """A fixed operating point, ``fixed:subnet=L,unit=U,freq=F[,cores=N]``.

    :param spec: the operating point as text
    """

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.name = spec if spec.startswith("fixed:") else f"fixed:{spec}"

    def reset(self, env: DynamicDNNEnv, seed: Optional[int] = None) -> None:
        self.point = parse_fixed(self.spec, env.sim)
        try:
            self.action = env.encode(self.point)
        except ValueError:
            raise InputError("--policy", "unit", f"{self.spec}: the environment's units are {', '.join(env.units)}") from None

    def act(self, env: DynamicDNNEnv, obs: np.ndarray, info: dict) -> Any:
        a = self.action
        return a if len(env.managed) == 1 else np.full(len(env.managed), a)


class RandomPolicy(Policy):
    """Uniformly random among the actions the mask allows (seeded)."""

    name = "random"

    def reset(self, env: DynamicDNNEnv, seed: Optional[int] = None) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, env: DynamicDNNEnv, obs: np.ndarray, info: dict) -> Any:
        mask = env.action_masks().reshape(len(env.managed), -1)
        picks = [int(self.rng.choice(np.flatnonzero(m))) for m in mask]
        return picks[0] if len(picks) == 1 else np.asarray(picks)
