"""The reward of ``rlrm/DynamicDNN-v0``, a pure function of a simulator step result.

Per active, managed application ``i``::

    r_i = w_accuracy * (0.5 + 0.5 * acc_norm_i) * (1 - miss_i)       accuracy, when the deadline is met
        - w_latency  * (miss_i + log1p(max(0, latency_i / deadline - 1)))   grows with the size of a violation
        - w_floor    * max(0, floor - top1_i) / (top1_max - top1_min)
and for the board::

    r = mean_i(r_i)
        - w_power  * max(0, power / budget - 1) * 10                 power-budget violation (10 % over costs w_power)
        - w_energy_budget * max(0, epi / energy_budget - 1)          energy-budget violation
        - w_energy * min(epi / epi_ref, 5)                           energy per inference, normalised (capped:
                                                                     a unit that finishes almost nothing would
                                                                     otherwise dominate the return)

``acc_norm`` maps the library's top-1 range to [0, 1]; ``epi_ref`` is the energy per
inference of the largest subnetwork at maximum frequency on the scenario's unit.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Mapping, Optional

from rlrm.errors import InputError
from rlrm.sim.result import StepResult
from rlrm.validate import is_finite_number, short_repr

#: the normalised energy-per-inference term is capped here
ENERGY_TERM_CAP = 5.0


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the reward terms (see the module docstring).

    :param accuracy: weight of the accuracy term
    :param latency: weight of deadline misses and latency overshoot
    :param floor: weight of falling below the accuracy floor
    :param power: weight of power-budget violations
    :param energy_budget: weight of energy-budget violations
    :param energy: weight of the normalised energy per inference
    """

    accuracy: float = 1.0
    latency: float = 2.0
    floor: float = 2.0
    power: float = 2.0
    energy_budget: float = 1.0
    energy: float = 0.5

    @classmethod
    def from_mapping(cls, values: Optional[Mapping], source: str = "reward_weights",
                     field: str = "") -> "RewardWeights":
        """Build from a dict, refusing unknown names and negative or non-finite weights.

        :param values: weight name -> value (missing names keep their default); None: defaults
        :param source: the file (or argument) the values came from, for errors
        :param field: their dotted name there ("": errors name the key alone)
        """
        if values is None:
            return cls()
        if isinstance(values, RewardWeights):
            return values
        if not isinstance(values, Mapping):
            raise InputError(source, field or "reward_weights", f"expected a table, got {short_repr(values)}")
        known = {f.name for f in fields(cls)}
        out = {}
        for key, value in dict(values).items():
            name = f"{field}.{key}" if field else str(key)
            if key not in known:
                raise InputError(source, name, f"unknown reward weight (known: {', '.join(sorted(known))})")
            if not is_finite_number(value) or value < 0:
                raise InputError(source, name, f"must be a finite number >= 0, got {short_repr(value)}")
            out[key] = float(value)
        return cls(**out)

    def as_dict(self) -> dict:
        return asdict(self)


def budget_excess(value: float, budget: float) -> float:
    """``max(0, value / budget - 1)``; 0 where there is no budget (infinite, zero, negative or
    not a number: a board whose power model is zero gives a zero budget, which no reading meets
    and no ratio can measure)."""
    if not (0.0 < budget < math.inf) or not math.isfinite(value):
        return 0.0
    return max(0.0, value / budget - 1.0)


def step_reward(result: StepResult, weights: RewardWeights, top1_range: tuple, epi_ref: float) -> tuple[float, dict]:
    """Reward of one step result and its terms."""
    targets = result.targets
    lo, hi = top1_range
    span = max(hi - lo, 1e-9)
    acc_terms, lat_terms, floor_terms = [], [], []
    for app in result.apps:
        if app is None or not app.controlled:
            continue
        miss = app.deadline_miss
        acc_norm = (app.accuracy - lo) / span
        acc_terms.append((0.5 + 0.5 * acc_norm) * (1.0 - miss))
        over = app.latency_ms / targets.latency_ms - 1.0 if targets.latency_ms < math.inf else 0.0
        lat_terms.append(miss + math.log1p(max(0.0, over)))
        floor_terms.append(max(0.0, targets.accuracy - app.accuracy) / span)
    n = len(acc_terms)
    if n == 0:
        terms = {"accuracy": 0.0, "latency": 0.0, "floor": 0.0}
    else:
        terms = {"accuracy": sum(acc_terms) / n, "latency": sum(lat_terms) / n, "floor": sum(floor_terms) / n}
    power_over = budget_excess(result.power_w, targets.power_w)
    epi = result.energy_per_inference_mj
    if n == 0 or not math.isfinite(epi) or epi_ref <= 0:  # a profile without power data: no energy term
        epi_norm = 0.0
        energy_over = 0.0
    else:
        epi_norm = min(epi / epi_ref, ENERGY_TERM_CAP)
        energy_over = budget_excess(epi, targets.energy_mj)
    terms.update(power=power_over * 10.0, energy_budget=energy_over, energy=epi_norm)
    reward = (weights.accuracy * terms["accuracy"] - weights.latency * terms["latency"]
              - weights.floor * terms["floor"] - weights.power * terms["power"]
              - weights.energy_budget * terms["energy_budget"] - weights.energy * terms["energy"])
    return reward, terms
