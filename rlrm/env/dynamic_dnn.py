"""``rlrm/DynamicDNN-v0``: choose subnetwork, compute unit and frequency for dynamic DNNs."""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence, Union

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rlrm.env.reward import RewardWeights, step_reward
from rlrm.errors import InputError
from rlrm.validate import is_finite_number, short_repr
from rlrm.platform import Platform, load_platform
from rlrm.sim import Backend, OperatingPoint, Scenario, StepResult, load_scenario, make_backend

OBS_HIGH = 10.0
#: most previous steps an observation may carry (``history``)
MAX_HISTORY = 8
#: the measured elements ``history`` repeats from previous steps: these names, and the names
#: ending with these suffixes
HISTORY_NAMES = ("power", "energy", "budget.left")
HISTORY_SUFFIXES = (".util", ".background", ".latency", ".miss", ".headroom", ".queue")


class DynamicDNNEnv(gym.Env):
    """
    ## Description

    A board (a :mod:`rlrm.platform` profile) runs one or more Dynamic-OFA applications next
    to background workloads (a :mod:`rlrm.sim` scenario). Every control period the agent
    picks, for each managed application, the subnetwork, the compute unit (a CPU cluster with
    a core count, or the GPU) and that unit's DVFS frequency, to meet latency, power and
    energy targets at the best accuracy. The ``sim`` backend is the trace-driven simulator.

    ## Action Space

    With one managed application: ``Discrete(N)``; with ``k``: ``MultiDiscrete([N] * k)``.
    Index ``a`` is row ``a`` of :attr:`action_table`, a ``(subnet, option, freq_index)``
    triple, where ``option`` indexes :attr:`options` (``(unit, cores)``, cores 0 for a GPU)
    and ``freq_index`` that unit's frequency table. Only frequencies a unit has appear, so
    :meth:`action_masks` (as sb3-contrib's ``MaskablePPO`` reads it) rules out exactly what
    is invalid now: core counts above what the power mode leaves online and frequencies
    above its cap. A masked action that is taken anyway is clamped to the nearest valid one
    and flagged in ``info["invalid_action"]``. When two applications choose different
    frequencies for one unit, the unit runs at the higher.

    ## Observation Space

    ``Box(0, 10, (n,), float32)``; :attr:`observation_names` names every element, in order:

    | element | meaning |
    | --- | --- |
    | ``target_latency`` | deadline / reference latency (largest subnet, scenario unit, f_max); 10 if none |
    | ``target_power`` | power budget / board full-load power; 10 if none |
    | ``target_energy`` | energy budget per inference / reference energy; 10 if none |
    | ``target_accuracy`` | accuracy floor, top-1 / 100 |
    | ``<unit>.util`` | last step's busy fraction of the unit (all work) |
    | ``<unit>.freq`` | last step's frequency / f_max |
    | ``<unit>.background`` | last step's background load on the unit (fraction of online cores / GPU time) |
    | ``<unit>.cap`` | the power mode's frequency cap / f_max |
    | ``<unit>.online`` | fraction of the unit's cores online |
    | ``power`` | last board power / full-load power |
    | ``energy`` | last energy per inference / reference energy |
    | ``<app>.active`` | 1 if the application is running |
    | ``<app>.latency`` | its last mean latency / reference latency |
    | ``<app>.miss`` | its last deadline-miss fraction |
    | ``<app>.accuracy`` | its last top-1 / 100 |
    | ``<app>.prev_subnet`` | previous subnetwork / (levels - 1) |
    | ``<app>.prev_option`` | previous compute option / (options - 1) |
    | ``<app>.prev_freq`` | previous frequency / f_max of that unit |
    | ``<unit>.headroom`` | per unit with a thermal zone in the profile: (trip - temperature) / (trip - ambient); 1 without ``dynamics.thermal`` in simulation; live: from the measured temperature in every scenario |
    | ``<app>.queue`` | frames waiting / queue length; 0 for an app without a frame queue (live: the frames counted waiting at the end of the period) |
    | ``budget.left``, ``budget.time_left`` | the energy window's budget and time left, fractions; 1 and 1 without an ``energy_window_j`` target (live: spent = the measured energy) |

    With ``history=k``, the measured elements (every ``util``, ``background``, ``power``,
    ``energy``, ``latency``, ``miss``, ``headroom``, ``queue`` and ``budget.left``) of the k
    previous steps follow, named ``<element>@-1`` .. ``<element>@-k`` (at the start of an
    episode the missing past repeats the first observation): trends the agent can read.

    Ratios are clipped to [0, 10]. The dynamics' three kinds (the board state of the scenarios'
    dynamics) come after every other element, in every scenario of a board, neutral where the
    scenario does not model them: one policy reads every scenario. A policy trained before they
    existed reads the prefix it knows (:class:`rlrm.policy.adapter.CheckpointPolicy`). With
    ``dynamics.thermal`` the ``<unit>.cap`` element includes the kernel's thermal throttling
    (in simulation; live it stays the power mode's cap, and the frequencies read back show
    the kernel's throttling). Which elements the live backend measured and which it modelled
    is in each step's info (``info["measurement"]["sources"]``).

    ## Rewards

    See :mod:`rlrm.env.reward`: per managed application, accuracy (mapped from the library's
    top-1 range to [0.5, 1]) times the share of inferences that met the deadline, minus
    penalties growing with the size of each violation (deadline misses and latency overshoot,
    accuracy below the floor, power over budget, energy per inference over budget), minus an
    energy term (energy per inference / reference). Weights: :class:`RewardWeights`.

    ## Starting State

    Time 0 of the scenario, every unit at its highest allowed frequency, no previous action
    (its observation elements are 1). The background processes start from their first state.

    ## Episode End

    There is no terminal state (``terminated`` is always False); the episode is truncated
    after ``episode_steps`` control periods.

    ## Info

    Every step: ``latency_ms``, ``latency_p_miss`` (= ``deadline_miss``), ``energy_mj``,
    ``energy_per_inference_mj``, ``power_w``, ``accuracy``, ``inferences``, ``subnet``,
    ``unit``, ``cores``, ``freq_khz`` (first managed app), ``target_latency_ms``,
    ``power_budget_w``, ``energy_budget_mj``, ``accuracy_floor``, ``reward_terms``,
    ``invalid_action``, ``power_mode`` and ``result`` (the backend's full :class:`rlrm.sim.StepResult`).

    ## Arguments

    ```python
    import gymnasium as gym, rlrm
    env = gym.make("rlrm/DynamicDNN-v0", platform="jetson-xavier-nx", scenario="steady",
                   backend="sim", reward_weights=None, period_s=None, episode_steps=None)
    ```

    :param platform: board profile name or TOML path, or a loaded :class:`Platform`
    :param scenario: scenario name or TOML path, or a loaded :class:`Scenario`
    :param backend: ``sim`` (the trace-driven simulator) or ``live`` (this machine: real
        inferences and background load, :class:`rlrm.live.LiveBoard`; same spaces as ``sim``
        for the same platform and scenario; registered as ``rlrm/DynamicDNNLive-v0``,
        nondeterministic), any name :func:`rlrm.sim.register_backend` added, or a
        :class:`rlrm.sim.Backend` already built (its platform and scenario are then the
        environment's). Call :meth:`close` to stop its workers and restore the board.
    :param reward_weights: a dict or :class:`RewardWeights` overriding the default weights
    :param period_s: control period in seconds (default: the scenario's)
    :param episode_steps: episode length in control steps (default: the scenario's)
    :param traces: optional ``{library: Trace}`` replacing the shipped traces
    :param randomization: domain randomisation drawn at every reset: ``latency_scale``,
        ``power_scale``, ``background_scale`` as ``[low, high]`` ranges of factors, and
        ``freq_dropout``, the probability that each frequency below a unit's highest is
        unavailable for the episode (masked out, as on a board whose table lacks it)

    :param units: the compute units the agent may use (names, or ``cpu`` / ``gpu`` for every
        unit of that kind); default all. Restricting them shrinks the action table (e.g. to the
        GPU where no CPU option can meet a scenario's deadline).

    :param live: for ``backend="live"``: a :class:`rlrm.live.LiveConfig` or its fields as a
        dict (``model``, ``inputs``, ``sysfs_root``, ``observe_only``, ...)
    :param history: previous steps whose measured elements the observation repeats (0..8,
        default 0); a trained policy's checkpoint records it

    ``scenario`` may also be a list: each reset draws one of them (a scenario mix); they
    must manage the same number of applications.

    ## Version History

    * v0: initial version; the ``live`` backend added without changing the spaces; the
      dynamics' elements appended (in every scenario since the shipped policies were retrained
      on the dynamics: neutral where a scenario does not model them)
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        platform: Union[str, Platform] = "jetson-xavier-nx",
        scenario: Union[str, Scenario] = "steady",
        backend: Union[str, Backend] = "sim",
        reward_weights: Optional[Union[Mapping[str, float], RewardWeights]] = None,
        period_s: Optional[float] = None,
        episode_steps: Optional[int] = None,
        traces: Optional[dict] = None,
        randomization: Optional[Mapping[str, Any]] = None,
        units: Optional[Sequence[str]] = None,
        live: Optional[Any] = None,
        history: Optional[int] = None,
    ) -> None:
        super().__init__()
        if history is not None and (isinstance(history, bool) or not isinstance(history, int)
                                    or not 0 <= history <= MAX_HISTORY):
            raise InputError("history", "history", f"must be an integer in 0..{MAX_HISTORY}, got {short_repr(history)}")
        #: previous steps whose measured elements are appended to the observation (``history``)
        self.history = int(history or 0)
        if isinstance(backend, Backend):
            # a backend built by the caller: it fixes the platform and the scenario
            platform, scenario = backend.platform, backend.scenario
        self.platform = platform if isinstance(platform, Platform) else load_platform(platform)
        listed = list(scenario) if isinstance(scenario, (list, tuple)) else [scenario]
        if not listed:
            raise InputError("scenario", "scenario", "an empty scenario list")
        self.scenarios = [s if isinstance(s, Scenario) else load_scenario(s) for s in listed]
        self.scenario = self.scenarios[0]
        self.randomization = parse_randomization(randomization)
        if period_s is not None and not (isinstance(period_s, (int, float)) and 0 < period_s <= 3600):
            raise InputError("period_s", "period_s", f"must be in (0, 3600] seconds, got {period_s!r}")
        if episode_steps is not None and not (isinstance(episode_steps, int) and episode_steps >= 1):
            raise InputError("episode_steps", "episode_steps", f"must be an integer >= 1, got {episode_steps!r}")
        self.weights = RewardWeights.from_mapping(reward_weights)
        self._sims: list[Backend] = self._make_backends(backend, traces, period_s, randomization, live)
        #: the backend name (``sim``, ``live``)
        self.backend = self._sims[0].name
        #: the backend of the current scenario (:class:`rlrm.sim.Backend`)
        self.sim: Backend = self._sims[0]
        self._episode_steps_arg = episode_steps
        self.episode_steps = int(episode_steps or self.scenario.episode_steps)
        self.options = list(self.sim.options)
        self.managed = [i for i, a in enumerate(self.sim.apps) if a.controlled]
        for sim in self._sims[1:]:
            if sim.options != self.options or len(sim.scenario.controlled_apps) != len(self.managed):
                raise InputError(sim.scenario.path or sim.scenario.name, "apps",
                                 f"cannot mix with {self.scenario.name!r}: different managed apps or compute options")
        self.units = select_units(self.platform, units)
        self._build_action_table()
        self._build_observation()
        self._unavailable = np.zeros(len(self.action_table), dtype=bool)
        self._select(0)
        self._t = 0
        self._last: Optional[StepResult] = None
        self._prev: list = [None] * len(self.managed)
        self._past: list[np.ndarray] = []

    def _make_backends(self, backend: Union[str, Backend], traces: Optional[dict], period_s: Optional[float],
                       randomization: Optional[Mapping[str, Any]], live: Optional[Any]) -> list[Backend]:
        """One backend per scenario of the mix (the live board runs one scenario, unrandomised)."""
        if isinstance(backend, Backend):
            return [backend]
        if backend == "sim":
            return [make_backend("sim", self.platform, sc, traces=traces, period_s=period_s) for sc in self.scenarios]
        if backend == "live" and (len(self.scenarios) > 1 or randomization):
            raise InputError("backend", "live", "the live backend runs one scenario, without randomisation")
        kwargs = {"config": live} if backend == "live" else {}
        return [make_backend(str(backend), self.platform, self.scenarios[0], traces=traces, period_s=period_s, **kwargs)]

    def _select(self, index: int) -> None:
        """Make scenario ``index`` of the mix the current one."""
        self.sim = self._sims[index]
        self.scenario = self.sim.scenario
        self.managed = [i for i, a in enumerate(self.sim.apps) if a.controlled]
        self.episode_steps = int(self._episode_steps_arg or self.scenario.episode_steps)
        ref = self.sim.reference_point()
        self.ref_latency_ms = ref["latency_ms"]
        self.ref_energy_mj = ref["energy_mj"]
        self.full_power_w = self.sim.full_load_power_w(self.platform.power_mode())
        top1 = self.sim.top1(self.managed[0])
        self.top1_range = (min(top1), max(top1))

    def _randomize(self) -> None:
        r = self.randomization
        rng = self.np_random
        if len(self._sims) > 1:
            self._select(int(rng.integers(len(self._sims))))
        if not r:
            return
        draw = {k: float(rng.uniform(*r[k])) if k in r else 1.0
                for k in ("latency_scale", "power_scale", "background_scale")}
        self.sim.perturb(**draw)
        p = r.get("freq_dropout", 0.0)
        self._unavailable[:] = False
        if p > 0:
            t = self.action_table
            for name, unit in self.platform.units.items():
                gone = rng.random(unit.n_freqs) < p
                gone[-1] = False  # a unit always keeps its highest frequency
                rows = np.isin(t[:, 1], [i for i, o in enumerate(self.options) if o[0] == name])
                self._unavailable |= rows & gone[np.minimum(t[:, 2], unit.n_freqs - 1)]

    # ------------------------------------------------------------------ spaces
    def _build_action_table(self) -> None:
        n_sub = min(len(self.sim.top1(i)) for i in self.managed)
        rows = []
        for s in range(n_sub):
            for o, (unit, _cores) in enumerate(self.options):
                if unit not in self.units:
                    continue
                for f in range(self.platform.units[unit].n_freqs):
                    rows.append((s, o, f))
        #: ``(subnet, option, freq_index)`` per action index
        self.action_table = np.asarray(rows, dtype=np.int64)
        self._opt_unit = np.asarray([self.sim.unit_names.index(u) for u, _ in self.options])
        self._opt_cores = np.asarray([c for _, c in self.options])
        n = len(rows)
        k = len(self.managed)
        self.action_space = spaces.Discrete(n) if k == 1 else spaces.MultiDiscrete([n] * k)
        self.n_subnets = n_sub

    def _build_observation(self) -> None:
        names = ["target_latency", "target_power", "target_energy", "target_accuracy"]
        for u in self.sim.unit_names:
            names += [f"{u}.util", f"{u}.freq", f"{u}.background", f"{u}.cap", f"{u}.online"]
        names += ["power", "energy"]
        for i in self.managed:
            a = self.sim.apps[i].name
            names += [f"{a}.active", f"{a}.latency", f"{a}.miss", f"{a}.accuracy",
                      f"{a}.prev_subnet", f"{a}.prev_option", f"{a}.prev_freq"]
        names += self._dynamics_names()
        #: positions of the measured elements repeated from previous steps (``history``)
        self._history_index = np.asarray([i for i, n in enumerate(names) if n in HISTORY_NAMES or n.endswith(HISTORY_SUFFIXES)], dtype=np.int64)
        self._n_now = len(names)
        names += [f"{names[i]}@-{k}" for k in range(1, self.history + 1) for i in self._history_index]
        #: the name of every observation element, in order
        self.observation_names = names
        self.observation_space = spaces.Box(0.0, OBS_HIGH, (len(names),), dtype=np.float32)

    # ------------------------------------------------------------------ masks
    def _dynamics_names(self) -> list[str]:
        """Observation elements of the board state the scenarios' dynamics add, appended after
        every other element. The layout depends on the board and the managed applications only,
        not on the scenario, so one policy reads every scenario of a board: a headroom per unit
        whose profile has a thermal zone, a queue per managed application, the energy window's
        budget; each is neutral where the current scenario does not model it (see
        :meth:`_dynamics_observation`)."""
        names = []
        #: units whose profile has a thermal zone
        self._thermal_units = [u for u, name in enumerate(self.sim.unit_names)
                               if getattr(self.platform.units[name], "thermal", None) is not None]
        names += [f"{self.sim.unit_names[u]}.headroom" for u in self._thermal_units]
        #: every managed app (positions in ``managed``): frames waiting, 0 without a frame queue
        self._queue_apps = list(range(len(self.managed)))
        names += [f"{self.sim.apps[self.managed[k]].name}.queue" for k in self._queue_apps]
        names += ["budget.left", "budget.time_left"]
        return names

    def _dynamics_observation(self) -> list[float]:
        """Values of :meth:`_dynamics_names`: per modelled unit, the headroom to its trip point as
        a fraction of trip - ambient (1: at ambient, 0: at or above the trip; 1 where the backend
        has no temperature: the simulator where the scenario does not model heating; the live
        backend measures it in every scenario); per queued app, frames waiting / queue length; the energy
        window's budget left and time left, as fractions (1 without a window budget)."""
        sim = self.sim
        board = sim.board
        out = []
        for u in self._thermal_units:
            temp = sim.temperature_c[u]  # modelled (sim), measured (live); None: neither
            if temp is None:
                out.append(1.0)
            else:
                trip = self.platform.units[sim.unit_names[u]].thermal.trip_c
                span = max(1e-6, trip - board.ambient_c)
                out.append(min(OBS_HIGH, max(0.0, (trip - temp) / span)))
        for k in self._queue_apps:
            app = sim.apps[self.managed[k]]
            out.append(sim.backlog[self.managed[k]] / app.queue if app.queue > 0 and app.fps > 0 else 0.0)
        budget = sim.targets.energy_window_j
        if math.isfinite(budget):
            window = board.window_s
            out += [max(0.0, sim.window_left_j()) / budget, 1.0 - (sim.time_s % window) / window]
        else:
            out += [1.0, 1.0]
        return out

    @property
    def actions_dropped(self) -> bool:
        """True when domain randomisation made some actions unavailable this episode (``freq_dropout``):
        the masks then depend on more than the power mode."""
        return bool(self._unavailable.any())

    def action_masks(self) -> np.ndarray:
        """Valid actions now: one boolean per action (concatenated per managed app)."""
        sim = self.sim
        online = np.asarray([sim.online_cores(u) for u in range(len(sim.unit_names))])
        cap = np.asarray([sim.max_freq_index(u) for u in range(len(sim.unit_names))])
        t = self.action_table
        units = self._opt_unit[t[:, 1]]
        ok = (self._opt_cores[t[:, 1]] <= online[units]) & (t[:, 2] <= cap[units]) & ~self._unavailable
        return np.tile(ok, len(self.managed))

    def decode(self, action: int) -> OperatingPoint:
        """The operating point of an action index (clamped to what is valid now)."""
        s, o, f = (int(x) for x in self.action_table[int(action)])
        return self._clamp(OperatingPoint(s, o, f))[0]

    def encode(self, point: OperatingPoint) -> int:
        """The action index of an operating point."""
        hits = np.flatnonzero((self.action_table[:, 0] == point.subnet) & (self.action_table[:, 1] == point.option)
                              & (self.action_table[:, 2] == point.freq_index))
        if hits.size == 0:
            raise ValueError(f"no action for {point}")
        return int(hits[0])

    def _clamp(self, p: OperatingPoint) -> tuple[OperatingPoint, bool]:
        sim = self.sim
        u = int(self._opt_unit[p.option])
        option, fi, bad = p.option, p.freq_index, False
        online = sim.online_cores(u)
        if self._opt_cores[option] > online:
            bad = True
            same = [i for i, (name, c) in enumerate(self.options) if name == self.options[option][0] and c <= online]
            option = max(same, key=lambda i: self._opt_cores[i])
            if not np.any(self.action_table[:, 1] == option):  # fewer cores than the table offers
                option = min((i for i in range(len(self.options)) if np.any(self.action_table[:, 1] == i)
                              and self.options[i][0] == self.options[p.option][0]), key=lambda i: self._opt_cores[i])
        cap = sim.max_freq_index(u)
        if fi > cap:
            bad, fi = True, cap
        if self._unavailable.any():
            row = self.encode(OperatingPoint(p.subnet, option, fi))
            while self._unavailable[row] and fi < cap:  # the next available frequency up
                bad, fi, row = True, fi + 1, row + 1
        return OperatingPoint(p.subnet, option, fi), bad

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._randomize()
        self.sim.reset(seed=int(self.np_random.integers(2**62)))
        self._t = 0
        self._last = None
        self._prev = [None] * len(self.managed)
        self._past = []
        return self._emit(), {"power_mode": self.sim.power_mode.name, "scenario": self.scenario.name,
                                     "target_latency_ms": self.sim.targets.latency_ms}

    def points_for(self, action: Any) -> tuple[list, bool]:
        """Operating points (one per managed app) of an action, and whether one was invalid."""
        acts = [int(action)] if len(self.managed) == 1 else [int(a) for a in np.asarray(action).reshape(-1)]
        points, invalid = [], False
        for a in acts:
            if not 0 <= a < len(self.action_table):
                raise ValueError(f"action {a} outside 0..{len(self.action_table) - 1}")
            s, o, f = (int(x) for x in self.action_table[a])
            p, bad = self._clamp(OperatingPoint(s, o, f))
            points.append(p)
            invalid |= bad
        return points, invalid

    @property
    def unavailable(self) -> np.ndarray:
        """Per action row, whether domain randomisation took its frequency away this episode."""
        return self._unavailable

    def reward_of(self, result: StepResult) -> tuple[float, dict]:
        """The reward a step result earns (what the oracle maximises)."""
        return step_reward(result, self.weights, self.top1_range, self.ref_energy_mj)

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        points, invalid = self.points_for(action)
        result = self.sim.step(points)
        reward, terms = self.reward_of(result)
        self._last = result
        self._prev = points
        self._t += 1
        truncated = self._t >= self.episode_steps
        return self._emit(), float(reward), False, truncated, self._info(result, terms, invalid)

    def close(self) -> None:
        """Release the live backend (background workers stopped, board restored); no-op in sim."""
        for sim in self._sims:
            sim.close()
        super().close()

    # ------------------------------------------------------------------ helpers
    def _info(self, result: StepResult, terms: dict, invalid: bool) -> dict:
        apps = result.apps
        first = next((apps[i] for i in self.managed if apps[i] is not None), None)
        t = result.targets
        info = {
            "energy_mj": result.energy_mj, "power_w": result.power_w,
            "energy_per_inference_mj": result.energy_per_inference_mj, "inferences": result.inferences,
            "target_latency_ms": t.latency_ms, "power_budget_w": t.power_w, "energy_budget_mj": t.energy_mj,
            "accuracy_floor": t.accuracy, "reward_terms": terms, "invalid_action": invalid,
            "power_mode": result.power_mode, "result": result,
        }
        if result.energy_estimated is not None:  # the live backend's
            info["energy_estimated"] = result.energy_estimated
        if result.sensor_fault is not None:
            info["sensor_fault"] = result.sensor_fault
        if result.thermal_fault is not None:
            info["thermal_fault"] = result.thermal_fault
        measurement = getattr(self.sim, "last_measurement", None)
        if measurement:  # the live backend's: measured or modelled per element, power samples, gap
            info["measurement"] = measurement
        if first is not None:
            info.update(latency_ms=first.latency_ms, deadline_miss=first.deadline_miss,
                        accuracy=first.accuracy, subnet=first.subnet, unit=first.unit,
                        cores=first.cores, freq_khz=first.freq_khz)
        return info

    def _observation(self) -> np.ndarray:
        sim = self.sim
        t = sim.targets
        cap = OBS_HIGH

        def ratio(x: float, ref: float) -> float:
            if not math.isfinite(x):
                return cap
            return 0.0 if ref <= 0 else min(cap, max(0.0, x / ref))

        obs = [ratio(t.latency_ms, self.ref_latency_ms), ratio(t.power_w, self.full_power_w),
               ratio(t.energy_mj, self.ref_energy_mj), t.accuracy / 100.0]
        last = self._last
        for u, name in enumerate(sim.unit_names):
            unit = self.platform.units[name]
            if last is None:
                util, freq, bg = 0.0, 1.0, 0.0
            else:
                util, freq, bg = last.utilisation[u], last.freq_khz[u] / unit.f_max_khz, last.background[u]
            obs += [util, freq, bg, unit.freqs_khz[sim.max_freq_index(u)] / unit.f_max_khz,
                    sim.online_cores(u) / unit.cores]
        if last is None:
            obs += [0.0, 0.0]
        else:
            obs += [ratio(last.power_w, self.full_power_w), ratio(last.energy_per_inference_mj, self.ref_energy_mj)]
        for k, i in enumerate(self.managed):
            app = None if last is None else last.apps[i]
            prev = self._prev[k]
            obs.append(1.0 if sim.active[i] else 0.0)
            if app is None:
                obs += [0.0, 0.0, 0.0]
            else:
                obs += [ratio(app.latency_ms, self.ref_latency_ms), app.deadline_miss, app.accuracy / 100.0]
            if prev is None:
                obs += [1.0, 1.0, 1.0]
            else:
                unit = self.platform.units[self.options[prev.option][0]]
                obs += [prev.subnet / max(1, self.n_subnets - 1), prev.option / max(1, len(self.options) - 1),
                        unit.freqs_khz[prev.freq_index] / unit.f_max_khz]
        if len(obs) < self._n_now:
            obs += self._dynamics_observation()
        now = np.asarray(obs, dtype=np.float32)
        if not self.history:
            return now
        oldest = self._past[0] if self._past else now  # the episode's first observation
        past = [self._past[-k] if k <= len(self._past) else oldest for k in range(1, self.history + 1)]
        return np.concatenate([now] + [p[self._history_index] for p in past])

    def _emit(self) -> np.ndarray:
        """The observation after a reset or a step; remembers its current part for ``history``
        (at the start of an episode the missing past repeats the first observation)."""
        obs = self._observation()
        if self.history:
            self._past = (self._past + [obs[: self._n_now].copy()])[-self.history:]
        return obs


_RANGES = ("latency_scale", "power_scale", "background_scale")


def select_units(platform: Platform, units: Optional[Sequence[str]], source: str = "units",
                 field: str = "units") -> list[str]:
    """The names of the units an agent may use, in the board's order (see ``DynamicDNNEnv(units=...)``).

    :param platform: the board
    :param units: unit names, or ``cpu`` / ``gpu`` for every unit of that kind; None: all
    :param source: the file (or argument) ``units`` came from, for errors
    :param field: its dotted name there
    :raise InputError: not a non-empty list of names, or a name the board lacks
    """
    names = list(platform.units)
    if units is None:
        return names
    if not isinstance(units, (list, tuple)) or not units or not all(isinstance(u, str) for u in units):
        raise InputError(source, field, f"expected a list of unit names, cpu or gpu, got {short_repr(units)}")
    chosen: list[str] = []
    for i, u in enumerate(units):
        match = [n for n in names if n == u or platform.units[n].kind == u]
        if not match:
            raise InputError(source, f"{field}[{i}]",
                             f"{short_repr(u)} is not a unit of {platform.name} ({', '.join(names)})")
        chosen += [m for m in match if m not in chosen]
    return [n for n in names if n in chosen]


def parse_randomization(r: Optional[Mapping[str, Any]], source: str = "randomization", field: str = "") -> dict:
    """Validate a domain-randomisation spec (see :class:`DynamicDNNEnv`).

    :param r: ``{latency_scale: [lo, hi], ..., freq_dropout: p}``, or None / empty for none
    :param source: the file (or argument) it came from, for errors
    :param field: its dotted name there ("": errors name the key alone)
    """
    if not r:
        return {}
    if not isinstance(r, Mapping):
        raise InputError(source, field or "randomization", f"expected a table, got {short_repr(r)}")
    out: dict = {}
    for key, value in dict(r).items():
        name = f"{field}.{key}" if field else str(key)
        if key in _RANGES:
            ok = (isinstance(value, (list, tuple)) and len(value) == 2
                  and all(is_finite_number(v) for v in value)
                  and 0 < value[0] <= value[1])
            if not ok:
                raise InputError(source, name, f"expected [low, high] with 0 < low <= high, got {short_repr(value)}")
            out[key] = (float(value[0]), float(value[1]))
        elif key == "freq_dropout":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
                raise InputError(source, name, f"expected a probability in [0, 1), got {short_repr(value)}")
            out[key] = float(value)
        else:
            raise InputError(source, name, f"unknown randomisation (known: {', '.join(_RANGES)}, freq_dropout)")
    return out
