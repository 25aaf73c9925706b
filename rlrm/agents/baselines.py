"""Baselines: Linux governors (with a fixed or a Dynamic-OFA-managed subnetwork), fixed
operating points and masked random actions.

A governor baseline runs the DNN on the unit the scenario names (all online cores of a CPU
unit) and lets a kernel governor (:mod:`rlrm.agents.governors`) pick that unit's frequency.
The governor is sampled at its own kernel cadence within each control period: with the
step's work held constant (work-conserving), the load it sees at frequency ``f`` is
``min(1, u * f_last / f)``, where ``u`` is the unit's busy fraction in the last step at
``f_last``; schedutil gets the frequency-invariant ``u * f_last / f_max``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from rlrm.agents import governors
from rlrm.agents.base import Policy
from rlrm.errors import InputError
from rlrm.sim.fixed import parse_fixed
from rlrm.sim.simulator import OperatingPoint

if TYPE_CHECKING:  # the board side loads policies without gymnasium
    from rlrm.env.dynamic_dnn import DynamicDNNEnv

#: upper bound on governor samples per control period (cost bound; the kernel's 10-20 ms
#: sampling means 50-100 samples per second)
MAX_SAMPLES_PER_STEP = 100


class DofaManager:
    """Dynamic-OFA's reactive runtime manager (its ``runtime_demo``).

    One level down when the mean latency of the last ``window`` inferences exceeds the
    deadline; one level up when accuracy is below the floor. The window restarts after
    each switch.

    :param n_levels: levels of the subnetwork library
    :param window: inferences averaged (20 in the demo)
    """

    def __init__(self, n_levels: int, window: int = 20) -> None:
        self.n_levels = n_levels
        self.window = window
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
            self.level += 1
            self._lat.clear()
        elif total >= self.window and self.level > 0:
            mean = sum(lat * n for lat, n in self._lat) / total
            if mean > deadline_ms:
                self.level -= 1
                self._lat.clear()
        return self.level


class GovernorPolicy(Policy):
    """A Linux governor on the scenario's unit, with the largest subnetwork or Dynamic-OFA.

    :param governor: kernel governor name (``performance``, ``powersave``, ``ondemand``,
        ``conservative``, ``schedutil``; ``simple_ondemand`` for a GPU)
    :param dofa: manage the subnetwork with :class:`DofaManager` instead of fixing the largest
    :param gpu_governor: governor of GPU units; default ``simple_ondemand`` for the load-based
        CPU governors and the same policy for performance/powersave
    :param tunables: governor tunables
    """

    def __init__(self, governor: str, dofa: bool = False, gpu_governor: Optional[str] = None, **tunables: Any) -> None:
        self.governor_name = governor
        self.dofa = dofa
        if gpu_governor is None:
            gpu_governor = governor if governor in ("performance", "powersave") else "simple_ondemand"
        self.gpu_governor_name = gpu_governor
        self.tunables = tunables
        self.name = governor + ("+dofa" if dofa else "")

    def reset(self, env: DynamicDNNEnv, seed: Optional[int] = None) -> None:
        sim = env.sim
        self.unit_index = sim.resolve_unit(sim.scenario.unit, "unit")
        self.unit = sim.platform.units[sim.unit_names[self.unit_index]]
        if self.unit.name not in env.units:
            raise InputError(sim.scenario.path or sim.scenario.name, "unit",
                             f"the baselines run on {self.unit.name}, which the environment's units exclude")
        name = self.gpu_governor_name if self.unit.kind == "gpu" else self.governor_name
        self.gov = governors.make(name, list(self.unit.freqs_khz),
                                  **({} if self.unit.kind == "gpu" else self.tunables))
        self.gov.reset()
        period = self.gov.period_s
        self.samples = 1 if not period else int(min(MAX_SAMPLES_PER_STEP, max(1, round(sim.period_s / period))))
        self.invariant = name == "schedutil"
        self.freq_khz = self.unit.f_max_khz
        self.util = 0.0
        self.managers = [DofaManager(env.n_subnets) for _ in env.managed]
        self.levels = [env.n_subnets - 1 for _ in env.managed]
        self.managed = list(env.managed)

    def _next_frequency(self, env: DynamicDNNEnv) -> int:
        f_last = self.freq_khz
        work = self.util * f_last
        f = f_last
        for _ in range(self.samples):
            if self.invariant:
                load = min(1.0, work / self.unit.f_max_khz)
            else:
                load = min(1.0, work / f)
            f = self.gov.next_frequency(load, f)
        return f

    def act(self, env: DynamicDNNEnv, obs: np.ndarray, info: dict) -> Any:
        sim = env.sim
        f = self._next_frequency(env)
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
