"""One interface for every backend: plan an operating point -> execute it for one period ->
a :class:`~rlrm.sim.result.StepResult`.

:class:`Backend` is the interface (the abstract :meth:`Backend.execute`) with what every
backend shares beside it, as stable-baselines3's ``VecEnv``: the scenario clock (time, the
power-mode and target schedule, the background workloads' state drawn ahead of each step),
the queries the environment and the baselines ask (cores online, frequency caps), and
:meth:`Backend.plan`. The board itself is a :class:`~rlrm.sim.model.BoardModel` the backend
holds (:attr:`Backend.board`), not inherits.

Implementations: ``sim`` (:class:`rlrm.sim.BoardSimulator`, the trace model) and ``live``
(:class:`rlrm.live.LiveBoard`, this machine). :func:`make_backend` builds one by name from
:data:`BACKENDS` (entry points as ``module:Class`` strings, so that this layer names the live
backend without importing it).
"""

from __future__ import annotations

import abc
import importlib
from dataclasses import dataclass
from typing import Any, Iterator, Optional, Sequence

import numpy as np

from rlrm.errors import InputError
from rlrm.governors.schedutil import map_util_freq
from rlrm.platform.profile import ComputeUnit, Platform, PowerMode
from rlrm.sim.model import BoardModel, StepTally
from rlrm.sim.result import OperatingPoint, StepResult
from rlrm.sim.scenario import Scenario, sample_background

#: backend name -> ``module:Class`` of its implementation (see :func:`register_backend`)
BACKENDS: dict[str, str] = {
    "sim": "rlrm.sim.simulator:BoardSimulator",
    "live": "rlrm.live.board:LiveBoard",
}


@dataclass
class Plan:
    """What a step will run, before it runs.

    :param points: one operating point per scenario application (fixed ones included)
    :param active: whether each application runs this step
    :param freq_index: per unit, the frequency it will run at: the highest an active
        application asked for (capped by the power mode), else schedutil's choice for its
        background load
    :param online: per unit, its cores online (1 for a GPU)
    """

    points: list
    active: list
    freq_index: list
    online: list


@dataclass(frozen=True)
class Snapshot:
    """The mutable state of a :class:`Backend` at one point (:meth:`Backend.snapshot`); every
    field an immutable copy, so that one snapshot may be restored any number of times."""

    step_index: int
    time_s: float
    #: the generator's ``bit_generator.state`` (background Markov chains, latency noise)
    rng_state: dict
    background_state: tuple
    last_freq_index: tuple
    pending_background: tuple
    pending_background_activity: tuple
    pending_noise: tuple
    targets: Any
    active: tuple
    power_mode: Any
    freq_caps: tuple
    online: tuple
    caps: tuple
    temperature_c: tuple
    thermal_cap: tuple
    backlog: tuple
    window_energy_j: float
    last_subnet: tuple
    #: domain-randomisation factors (latency, power, background)
    scales: tuple


class Backend(abc.ABC):
    """A board that runs one scenario, one control period per :meth:`step`.

    :param board: the board model (shared with any other backend of the same board)
    :param seed: seed of the generator (background Markov chains, latency noise)

    State read by the environment and the baselines (public, updated by :meth:`reset` and
    every :meth:`step`): :attr:`step_index`, :attr:`time_s`, :attr:`power_mode`,
    :attr:`targets`, :attr:`active` and :attr:`pending_background` (per unit, the background
    load the coming step will see: CPU busy core-equivalents, GPU time share).
    """

    #: the name :func:`make_backend` knows it by
    name = ""

    def __init__(self, board: BoardModel, seed: Optional[int] = None) -> None:
        self.board = board
        # the board's tables, under the names the environment and baselines read
        self.platform: Platform = board.platform
        self.scenario: Scenario = board.scenario
        self.period_s = board.period_s
        self.traces = board.traces
        self.unit_names = board.unit_names
        self.options = board.options
        self.apps = board.apps
        self.rng = np.random.default_rng(seed)
        self.power_mode: Optional[PowerMode] = None
        self._freq_caps: list[int] = []  # per unit, the highest frequency index the power mode allows
        self._online: list[int] = []  # per unit, the cores the power mode leaves online (1 for a GPU)
        self._caps: list[int] = []  # per unit, the lower of the power mode's and the thermal cap
        #: whether steps leave state behind for the next (:meth:`commit`): the board's dynamics
        self.stateful = bool(getattr(board, "dynamic", False))
        #: domain-randomisation factors (1.0: the profile and traces as they are)
        self.latency_scale = 1.0
        self.power_scale = 1.0
        self.background_scale = 1.0

    # ------------------------------------------------------------------ the interface
    @abc.abstractmethod
    def execute(self, plan: Plan) -> StepResult:
        """Run ``plan`` for one control period (or model it) and return what happened; does not
        advance the clock (:meth:`step` does)."""

    def plan(self, points: Sequence[Optional[OperatingPoint]]) -> Plan:
        """Resolve the managed applications' points and each unit's frequency for the next step.

        :param points: one :class:`OperatingPoint` per controlled application, in scenario
            order (uncontrolled applications use their fixed point)
        """
        board = self.board
        pts = board.resolve_points(points)
        active = self.active
        n_units = len(board.units)
        online = [self.online_cores(i) for i in range(n_units)]
        freq_idx = [-1] * n_units
        opt_unit = board.option_unit
        for a_i, p in enumerate(pts):
            if active[a_i]:
                u = opt_unit[p.option]
                fi = min(p.freq_index, self.max_freq_index(u))
                if fi > freq_idx[u]:
                    freq_idx[u] = fi
        bg = self.pending_background
        for u in range(n_units):
            if freq_idx[u] < 0:  # units without an app: schedutil's rule on their background load
                freq_idx[u] = self.schedutil_index(u, bg[u] / online[u])
        return Plan(pts, active, freq_idx, online)

    def step(self, points: Sequence[Optional[OperatingPoint]]) -> StepResult:
        """Advance one control period.

        :param points: one :class:`OperatingPoint` per controlled application, in scenario
            order (uncontrolled applications use their fixed point; entries may be None for
            them)
        :return: the step's metrics (see ``envs/README.md``)
        """
        result = self.execute(self.plan(points))
        if self.stateful:
            self.commit(result)
        self.last_freq_index = result.freq_index
        self.step_index += 1
        self.time_s = self.step_index * self.period_s
        self.draw_pending()
        return result

    def commit(self, result: StepResult) -> None:
        """Carry the state the step just executed leaves behind into the next (temperatures,
        throttling caps, frame queues, the energy window); called by :meth:`step` only (when
        :attr:`stateful`), so that :meth:`execute` may be previewed."""

    def close(self) -> None:
        """Release what the backend holds (nothing in simulation)."""

    # ------------------------------------------------------------------ snapshots
    def snapshot(self) -> "Snapshot":
        """Everything :meth:`step` mutates, copied (small lists and the generator's state, not
        the board's tables): :meth:`restore` brings the backend back to exactly this point, so
        that stepping on from it gives bit-for-bit the same results (the lookahead oracle's
        rewind). Meaningful for simulation only: restoring the live backend rewinds its clock,
        not the board."""
        return Snapshot(
            self.step_index, self.time_s, self.rng.bit_generator.state,
            tuple(tuple(s) for s in self.background_state), tuple(self.last_freq_index),
            tuple(self.pending_background), tuple(self.pending_background_activity), tuple(self.pending_noise),
            self.targets, tuple(self.active), self.power_mode,
            tuple(self._freq_caps), tuple(self._online), tuple(self._caps),
            tuple(self.temperature_c), tuple(self.thermal_cap), tuple(self.backlog), self.window_energy_j,
            tuple(self.last_subnet), (self.latency_scale, self.power_scale, self.background_scale))

    def restore(self, snap: "Snapshot") -> None:
        """Back to the state of :meth:`snapshot` (the snapshot stays valid: it may be restored again)."""
        self.step_index, self.time_s = snap.step_index, snap.time_s
        self.rng.bit_generator.state = snap.rng_state
        self.background_state = [list(s) for s in snap.background_state]
        self.last_freq_index = list(snap.last_freq_index)
        self.pending_background = list(snap.pending_background)
        self.pending_background_activity = list(snap.pending_background_activity)
        self.pending_noise = list(snap.pending_noise)
        self.targets, self.active, self.power_mode = snap.targets, list(snap.active), snap.power_mode
        self._freq_caps, self._online, self._caps = list(snap.freq_caps), list(snap.online), list(snap.caps)
        self.temperature_c, self.thermal_cap = list(snap.temperature_c), list(snap.thermal_cap)
        self.backlog, self.window_energy_j = list(snap.backlog), snap.window_energy_j
        self.last_subnet = list(snap.last_subnet)
        self.latency_scale, self.power_scale, self.background_scale = snap.scales

    # ------------------------------------------------------------------ clock
    def perturb(self, latency_scale: float = 1.0, power_scale: float = 1.0, background_scale: float = 1.0) -> None:
        """Scale every latency, every unit's power and every background load (domain
        randomisation); takes effect from the next :meth:`reset`."""
        self.latency_scale = float(latency_scale)
        self.power_scale = float(power_scale)
        self.background_scale = float(background_scale)

    def reset(self, seed: Optional[int] = None) -> None:
        """Back to time 0. A seed re-seeds the generator (same seed: same run)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.step_index = 0
        self.time_s = 0.0
        self.background_state = [[0] for _ in self.board.background]
        self.last_freq_index = [u.n_freqs - 1 for u in self.board.units]
        self.reset_dynamics()
        self.draw_pending()

    def reset_dynamics(self) -> None:
        """The dynamic state at time 0 (see :mod:`rlrm.sim.dynamics`): every modelled zone at the
        scenario's start temperature and unthrottled, empty frame queues, a full energy window,
        no subnetwork loaded yet."""
        board = self.board
        #: per unit, the modelled temperature (None where not modelled)
        self.temperature_c = [board.start_c if t is not None else None for t in board.thermal]
        #: per unit, the highest frequency index thermal throttling allows
        self.thermal_cap = [u.n_freqs - 1 for u in board.units]
        if self._freq_caps:  # a reset after a run: lift the last run's throttling
            self.set_thermal_caps(self.thermal_cap)
        #: per application, frames waiting in its queue
        self.backlog = [0.0] * len(board.apps)
        #: energy the board spent in the current energy-budget window, J
        self.window_energy_j = 0.0
        #: per application, the subnetwork it ran last step (None: none yet)
        self.last_subnet: list = [None] * len(board.apps)

    def draw_pending(self) -> None:
        """Draw what the next step will see regardless of the action (hidden state)."""
        t = self.time_s
        rng = self.rng
        units = self.board.units
        bg_cores = [0.0] * len(units)  # CPU: busy core-equivalents; GPU: time share
        bg_act = [0.0] * len(units)  # sum of busy * activity
        for (u, spec), state in zip(self.board.background, self.background_state):
            level = min(1.0, sample_background(spec, t, state, rng, self.period_s) * self.background_scale)
            load = level * spec.cores if units[u].kind == "cpu" else level
            bg_cores[u] += load
            bg_act[u] += load * spec.activity
        self.pending_background = bg_cores
        self.pending_background_activity = bg_act
        self.pending_noise = rng.standard_normal(len(self.apps)).tolist()
        mode, self.targets, self.active = self.board.schedule_at(t)
        if mode is not self.power_mode:  # caps and cores online change with the mode only
            self.power_mode = mode
            self._freq_caps = [max(i for i, f in enumerate(u.freqs_khz) if f <= mode.freq_cap_khz(u)) for u in units]
            self._online = [mode.cores_online(u) if u.kind == "cpu" else 1 for u in units]
            self._caps = [min(a, b) for a, b in zip(self._freq_caps, self.thermal_cap)]

    # ------------------------------------------------------------------ queries
    def online_cores(self, unit_index: int) -> int:
        """Cores of a unit the power mode leaves online (1 for a GPU)."""
        return self._online[unit_index]

    def max_freq_index(self, unit_index: int) -> int:
        """Highest frequency index the power mode (and, where modelled, thermal throttling)
        allows on a unit."""
        return self._caps[unit_index]

    def set_thermal_caps(self, caps: list) -> None:
        """Per unit, the highest frequency index thermal throttling allows from the next step."""
        self.thermal_cap = caps
        self._caps = [min(a, b) for a, b in zip(self._freq_caps, caps)]

    def window_left_j(self) -> float:
        """The energy budget left in the current window, J (inf: no window budget)."""
        budget = self.targets.energy_window_j
        return budget - self.window_energy_j if budget < float("inf") else budget

    def option_allowed(self, option: int) -> bool:
        """Whether a compute option fits the cores online now."""
        return self.board.option_cores[option] <= self.online_cores(self.board.option_unit[option])

    def background_load(self) -> list[float]:
        """Background load per unit for the coming step (CPU: fraction of online cores)."""
        units = self.board.units
        return [min(1.0, load / self.online_cores(i)) if units[i].kind == "cpu" else min(1.0, load)
                for i, load in enumerate(self.pending_background)]

    def fixed_point(self, app_index: int) -> Optional[OperatingPoint]:
        """The fixed operating point of an uncontrolled application (None if controlled)."""
        return self.board.fixed[app_index]

    def resolve_unit(self, name: str, field: str) -> int:
        """See :meth:`BoardModel.resolve_unit`."""
        return self.board.resolve_unit(name, field)

    def reference_point(self) -> dict[str, float]:
        """See :meth:`BoardModel.reference_point`."""
        return self.board.reference_point()

    def full_load_power_w(self, mode: Any) -> float:
        """See :meth:`BoardModel.full_load_power_w`."""
        return self.board.full_load_power_w(mode)

    def top1(self, app_index: int) -> list[float]:
        """Top-1 (%) of every subnetwork level of an application's library."""
        return self.board.top1[app_index]

    def schedutil_index(self, u: int, util: float) -> int:
        """The frequency index schedutil (:func:`rlrm.governors.map_util_freq`, the kernel's
        integer arithmetic) picks for a unit at utilisation ``util``, capped by the power mode
        (what the kernel does with load on a unit no application uses)."""
        unit = self.board.units[u]
        return min(unit.freqs_khz.index(map_util_freq(unit.freqs_khz, util)), self.max_freq_index(u))

    # ------------------------------------------------------------------ for implementations
    def tally(self) -> StepTally:
        """An empty tally of one step's applications."""
        return StepTally(self.board)

    def running(self, plan: Plan, tally: StepTally) -> Iterator[tuple[int, OperatingPoint, int, ComputeUnit]]:
        """The applications ``plan`` runs, as ``(app index, point, unit index, unit)``, in scenario
        order; the inactive ones are tallied as such on the way."""
        board = self.board
        active = plan.active
        for a_i, p in enumerate(plan.points):
            if not active[a_i]:
                tally.inactive()
                continue
            u = board.option_unit[p.option]
            yield a_i, p, u, board.units[u]

    def result(self, plan: Plan, tally: StepTally, power_units: list, util: list, power_w: float,
               background: list, freq_khz: Optional[list] = None, energy_mj: Optional[float] = None,
               **live: Any) -> StepResult:
        """The step's :class:`StepResult` from a filled tally (``live``: the live-only fields).

        :param freq_khz: per unit, the frequency read back (None: the planned ones)
        :param energy_mj: the energy measured over the period (None: ``power_w`` x the period)
        """
        units = self.board.units
        freq_idx = plan.freq_index
        if energy_mj is None:
            energy_mj = power_w * self.period_s * 1000.0
        if freq_khz is None:
            freq_khz = [units[u].freqs_khz[freq_idx[u]] for u in range(len(units))]
        total_inf = tally.inferences
        return StepResult(
            self.step_index, self.time_s, tally.apps, power_w, energy_mj, total_inf,
            energy_mj / total_inf if total_inf > 0 else float("inf"),
            power_units, util, freq_idx, freq_khz,
            background, self.targets, self.power_mode.name, **live)


def register_backend(name: str, entry_point: str) -> None:
    """Make a backend known to :func:`make_backend` (and to ``DynamicDNNEnv(backend=name)``).

    :param name: its name
    :param entry_point: ``module:Class``, the class taking ``(platform, scenario, traces=,
        period_s=, **kwargs)``
    """
    BACKENDS[name] = entry_point


def make_backend(name: str, platform: Platform, scenario: Scenario, **kwargs: Any) -> Backend:
    """Build backend ``name`` for a board and a scenario.

    :param kwargs: passed to the backend's class (``traces``, ``period_s``, ``seed`` for
        ``sim``; ``config`` for ``live``)
    :raise InputError: an unknown name
    """
    entry = BACKENDS.get(name)
    if entry is None:
        raise InputError("backend", "backend", f"{name!r} is not a backend ({' or '.join(BACKENDS)})")
    module, _, cls = entry.partition(":")
    return getattr(importlib.import_module(module), cls)(platform, scenario, **kwargs)
