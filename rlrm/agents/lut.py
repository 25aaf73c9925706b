"""``lut``: a table-driven runtime manager, what a careful engineer writes without RL.

Every control period, for each managed application:

1. **Slowdown.** From the last measured mean latency and the board's profile table (the
   trace's median latency of the point that ran, times the log-normal mean factor implied by
   its p90), it updates a running estimate of each unit's slowdown. The slowdown is split into
   a contention model a kernel engineer would write from the measured background load (GPU:
   time slicing, ``1 + g``; CPU: the profile's measured contention table where it has one,
   else fair share, ``max(1, (cores + b) / online)``) and a residual
   factor (everything else: another model on the unit, a slower board than the profile),
   kept as an exponentially weighted mean of ``log(measured / predicted)`` with each update
   clipped (robust to a noisy period). A unit not measured yet has residual 1.
2. **Prediction** for every (subnetwork, unit, cores, frequency) the action mask allows:
   median latency = table x contention(last background) x residual; board power = base +
   every unit's power model (the DNN's unit at the candidate point, the other units at the
   frequency the kernel's schedutil would give their background; background activity taken
   as 1) times a measured correction factor (measured / predicted power of the last period, a running mean);
   energy per inference = power x latency / busy share.
3. **Choice**: the highest-accuracy subnetwork, then the lowest predicted energy per
   inference among the points predicted to meet the deadline (``latency x (1 + margin)``),
   the power budget (``power x (1 + power_margin)``) and the energy budget (``energy x
   (1 + margin)``). When nothing meets them all: drop the energy budget; then the power budget
   (the least power among the points that meet the deadline: the background alone can push
   the board over it, and a late inference is worse than a slight excess); then the deadline
   (the fastest point).

It reads only what a controller on the board has: the step's measurements (``info["result"]``:
latency, power, utilisation, background load, frequencies), the targets in force, the action
mask (power-mode caps), and the profile's tables (platform TOML and trace). It never reads
the simulator's hidden state (the coming step's background draw or noise).

Tunables: ``margin`` (latency / energy safety margin; ``None``: chosen on the tuning seeds
of :mod:`rlrm.agents.tuning` among :data:`MARGIN_GRID`), ``power_margin``, ``alpha`` (weight of
the newest measurement in the running estimates). Several managed applications are each
decided alone; their mutual contention reaches the estimate through the residual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from rlrm.agents import tuning
from rlrm.platform.contention import ContentionTable
from rlrm.policy.base import Policy

#: margins ``lut`` tries on the tuning seeds when none is given
MARGIN_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45)
#: largest |log| step of one residual update (a period 2x off moves the estimate at most this)
MAX_LOG_UPDATE = 0.7
#: GPU time share above which other work is taken to saturate the GPU
GPU_SHARE_CAP = 0.95


@dataclass
class BoardTables:
    """What the profile and the traces say about one managed application's operating points.

    :param lat: median latency (ms) without contention, ``[subnet][option][freq_index]``
        (NaN where the unit has fewer frequencies)
    :param sigma: log-normal sigma of the latency, ``[subnet][option]``
    :param act: unit activity while the DNN runs, ``[subnet][option]``
    :param top1: top-1 per subnet
    :param fps: frame rate of the application (0: back to back)
    """

    lat: np.ndarray
    sigma: np.ndarray
    act: np.ndarray
    top1: np.ndarray
    fps: float


def board_tables(env: Any) -> tuple[list, list[BoardTables]]:
    """The profile's tables for ``env``'s managed applications (trace + platform, nothing hidden).

    The one place ``lut`` reads the environment's set-up: ``env.platform``, ``env.options``,
    ``env.managed``, the scenario's applications and the traces the backend loaded.

    :return: the units (:class:`rlrm.platform.ComputeUnit`) in the board's order, and one
        :class:`BoardTables` per managed application
    """
    platform = env.platform
    names = list(platform.units)
    units = [platform.units[n] for n in names]
    n_freq = max(u.n_freqs for u in units)
    apps = env.sim.scenario.apps
    out = []
    for i in env.managed:
        trace = env.sim.traces[apps[i].library]
        n_sub = env.n_subnets
        lat = np.full((n_sub, len(env.options), n_freq), np.nan)
        sigma = np.zeros((n_sub, len(env.options)))
        act = np.zeros((n_sub, len(env.options)))
        for s in range(n_sub):
            for o, (uname, cores) in enumerate(env.options):
                e = trace.entry(s, uname, cores)
                u = platform.units[uname]
                lat[s, o, :u.n_freqs] = [e.latency_at(f, u.f_max_khz) for f in u.freqs_khz]
                sigma[s, o] = e.sigma
                act[s, o] = e.activity
        top1 = np.asarray([sub.top1 for sub in trace.subnets[:n_sub]])
        out.append(BoardTables(lat, sigma, act, top1, float(apps[i].fps)))
    return units, out


def board_now(env: Any) -> tuple[list[int], Any]:
    """What the controller is told now: cores online per unit (the power mode) and the targets
    in force (the one place ``lut`` reads the backend's current state)."""
    sim = env.sim
    return [sim.online_cores(u) for u in range(len(sim.unit_names))], sim.targets


def contention(kind: str, cores: int, online: int, background: float,
               table: Optional[ContentionTable] = None, unit_cores: Optional[int] = None,
               level: Optional[int] = None) -> float:
    """Slowdown a unit's measured background load causes (GPU time slicing; CPU: the profile's
    measured contention table where it covers ``cores`` with all ``unit_cores`` online, else
    fair share).

    :param kind: ``cpu`` or ``gpu``
    :param cores: cores the DNN uses (CPU)
    :param online: cores online (CPU)
    :param background: background load: CPU fraction of online cores, GPU time share
    :param table: the unit's measured contention table (None: fair share)
    :param unit_cores: the unit's cores (the table holds with all of them online)
    :param level: the subnetwork level (a table measured at several levels interpolates over them)
    """
    if kind == "gpu":
        return 1.0 + min(max(background, 0.0), GPU_SHARE_CAP)
    other = max(background, 0.0) * online
    if table is not None and table.covers(cores) and (unit_cores is None or online == unit_cores):
        return table.lookup(cores, other, online, level)
    return max(1.0, (cores + other) / max(online, 1))


def schedutil_index(freqs_khz: Sequence[int], util: float, top: int) -> int:
    """The kernel schedutil frequency for a utilisation: lowest ``f >= 1.25 f_max util``."""
    target = 1.25 * freqs_khz[-1] * min(1.0, max(util, 0.0))
    for i in range(top + 1):
        if freqs_khz[i] >= target:
            return i
    return top


class LutPolicy(Policy):
    """The table-driven runtime manager (see the module docstring).

    :param margin: latency and energy safety margin (0.1: predicted latency 10 % below the
        deadline); None: tuned on the tuning seeds at the first reset for each environment
    :param power_margin: power safety margin
    :param alpha: weight of the newest measurement in the running estimates
    :param tuning_episodes: tuning seeds used when ``margin`` is None
    """

    name = "lut"

    def __init__(self, margin: Optional[float] = None, power_margin: float = 0.05, alpha: float = 0.5,
                 tuning_episodes: int = 3) -> None:
        self.margin = margin
        self.fixed_margin = margin is not None
        self.power_margin = float(power_margin)
        self.alpha = float(alpha)
        self.tuning_episodes = int(tuning_episodes)
        #: per environment key: the margin picked on the tuning seeds, their mean rewards, the seeds
        self.tuned: dict = {}
        #: the margin in use and where it came from (for the summary)
        self.choice: Optional[dict] = None

    # ------------------------------------------------------------------ episode
    def reset(self, env: Any, seed: Optional[int] = None) -> None:
        if not self.fixed_margin:
            self.margin = self._tuned_margin(env, seed)
            self.choice = self.tuned[tuning.env_key(env)]
        else:
            self.choice = {"margin": self.margin, "seeds": None}
        self.units, self.tables = board_tables(env)
        self.options = list(env.options)
        self.unit_of = [self.units.index(env.platform.units[u]) for u, _ in self.options]
        self.cores_of = [c for _, c in self.options]
        n_units = len(self.units)
        self.residual = np.zeros((len(self.tables), n_units))  # log residual per app and unit
        self.power_corr = 0.0  # log measured / predicted board power
        self.background = [0.0] * n_units
        self.chosen: list = [None] * len(self.tables)
        self.base_power_w = env.platform.base_power_w
        self._managed = list(env.managed)
        self._online_cores = board_now(env)[0]

    def _tuned_margin(self, env: Any, seed: Optional[int]) -> float:
        tuning.check_evaluation_seed(seed)
        key = tuning.env_key(env)
        if key not in self.tuned:
            scores = {m: tuning.tuning_reward(lambda m=m: LutPolicy(margin=m, power_margin=self.power_margin,
                                                                    alpha=self.alpha), env, self.tuning_episodes)
                      for m in MARGIN_GRID}
            best = max(MARGIN_GRID, key=lambda m: (scores[m], -m))
            self.tuned[key] = {"margin": best, "rewards": scores, "seeds": tuning.tuning_seeds(self.tuning_episodes)}
            print(f"lut: margin {best} on tuning seeds {tuning.describe_seeds(self.tuning_episodes)} "
                  f"({key[0]}/{key[1]}; mean rewards " + ", ".join(f"{m}: {r:.4f}" for m, r in scores.items()) + ")")
        return self.tuned[key]["margin"]

    # ------------------------------------------------------------------ measurements
    def observe(self, info: dict) -> None:
        result = info["result"]
        self.background = list(result["background"])
        online = self._online_cores
        a = self.alpha
        for k, i in enumerate(self._managed):
            app = result["apps"][i]
            point = self.chosen[k]
            if app is None or point is None or app["inferences"] <= 0:
                continue
            s, o = point[0], point[1]
            u = self.unit_of[o]
            unit = self.units[u]
            fi = unit.freqs_khz.index(app["freq_khz"]) if app["freq_khz"] in unit.freqs_khz else point[2]
            t = self.tables[k]
            table_mean = t.lat[s, o, fi] * math.exp(0.5 * t.sigma[s, o] ** 2)
            expected = table_mean * contention(unit.kind, self.cores_of[o], online[u], self.background[u],
                                              unit.contention, unit.cores, int(s))
            step = math.log(max(app["latency_ms"], 1e-9) / expected) - self.residual[k, u]
            self.residual[k, u] += a * max(-MAX_LOG_UPDATE, min(MAX_LOG_UPDATE, step))
        # power correction: measured against the model's power of what ran, with the background measured
        # in the same period (so a change of background is not taken for a model error)
        ran = [np.asarray([c]) for c in self.chosen if c is not None]
        modelled = max((self.predict(k, r)[1][0] for k, r in enumerate(ran)), default=0.0) / math.exp(self.power_corr)
        if modelled > 0 and result["power_w"] > 0:
            step = math.log(result["power_w"] / modelled) - self.power_corr
            self.power_corr += a * max(-MAX_LOG_UPDATE, min(MAX_LOG_UPDATE, step))

    # ------------------------------------------------------------------ decision
    def act(self, env: Any, obs: np.ndarray, info: dict) -> Any:
        self._managed = list(env.managed)
        self._online_cores, targets = board_now(env)
        mask = env.action_masks().reshape(len(self.tables), -1)
        table = env.action_table
        actions = []
        for k in range(len(self.tables)):
            a = self._choose(k, table, mask[k], targets)
            actions.append(a)
            self.chosen[k] = tuple(int(x) for x in table[a])
        return actions[0] if len(actions) == 1 else np.asarray(actions)

    def predict(self, k: int, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Predicted median latency (ms), board power (W) and energy per inference (mJ) of
        action-table rows for managed app ``k``."""
        t = self.tables[k]
        s, o, f = rows[:, 0], rows[:, 1], rows[:, 2]
        online = self._online_cores
        unit_idx = np.asarray(self.unit_of)[o]
        cores = np.asarray(self.cores_of)[o]
        slow = np.asarray([contention(self.units[u].kind, int(c), online[u], self.background[u],
                                      self.units[u].contention, self.units[u].cores, int(lv))
                           for u, c, lv in zip(unit_idx, cores, s)]) * np.exp(self.residual[k, unit_idx])
        lat = t.lat[s, o, f] * slow
        busy = np.ones_like(lat) if t.fps <= 0 else np.minimum(1.0, lat * t.fps / 1000.0)
        act = t.act[s, o]
        power = np.empty_like(lat)
        rest = self._rest_power(online)  # other units at their kernel-governed frequencies
        for j in range(len(rows)):
            u = int(unit_idx[j])
            unit = self.units[u]
            slots = online[u] if unit.kind == "cpu" else 1
            dnn = busy[j] * (cores[j] if unit.kind == "cpu" else 1.0)
            bg = self.background[u] * slots
            total = min(dnn + bg, float(slots))
            activity = (dnn * act[j] + bg * 1.0) / (dnn + bg) if dnn + bg > 0 else 0.0
            p_unit = unit.power_w(int(f[j]), total, activity, online[u] if unit.kind == "cpu" else None)
            power[j] = (self.base_power_w + rest[-1] - rest[u] + p_unit) * math.exp(self.power_corr)
        epi = power * lat / np.maximum(busy, 1e-9)
        return lat, power, epi

    def _rest_power(self, online: list) -> list:
        """Power of each unit left to the kernel's schedutil on its background, and their sum last."""
        out = []
        for u, unit in enumerate(self.units):
            fi = schedutil_index(unit.freqs_khz, self.background[u], len(unit.freqs_khz) - 1)
            slots = online[u] if unit.kind == "cpu" else 1
            out.append(unit.power_w(fi, self.background[u] * slots, 1.0, online[u] if unit.kind == "cpu" else None))
        out.append(sum(out))
        return out

    def _choose(self, k: int, table: np.ndarray, mask: np.ndarray, targets: Any) -> int:
        """The action for managed app ``k`` (see the module docstring, step 3)."""
        valid = np.flatnonzero(mask)
        rows = table[valid]
        lat, power, epi = self.predict(k, rows)
        m = self.margin or 0.0
        ok_power = power * (1.0 + self.power_margin) <= targets.power_w
        ok_lat = lat * (1.0 + m) <= targets.latency_ms
        ok_energy = epi * (1.0 + m) <= targets.energy_mj
        top1 = self.tables[k].top1[rows[:, 0]]
        for feasible in (ok_power & ok_lat & ok_energy, ok_power & ok_lat):
            if feasible.any():
                best_acc = top1[feasible].max()
                cand = np.flatnonzero(feasible & (top1 == best_acc))
                j = cand[np.argmin(epi[cand])]
                return int(valid[j])
        if ok_lat.any():  # over the power budget whatever meets the deadline (background power): the least power
            cand = np.flatnonzero(ok_lat)
            j = cand[np.lexsort((-top1[cand], power[cand]))[0]]
            return int(valid[j])
        j = int(np.lexsort((epi, lat))[0])  # nothing meets the deadline: the fastest point
        return int(valid[j])
