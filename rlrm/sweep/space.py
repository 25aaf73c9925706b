"""Sweep search spaces in YAML (``agents/sweep.yaml``) and their Ray Tune form.

A search file is a mapping::

    platform: {grid: [jetson-xavier-nx, jetson-tx2]}   # optional: else --platform (a grid)
    scenario: {grid: [steady, mix]}                    # optional: else --scenario
    seed: {grid: [0, 1, 2]}                            # optional: else one random seed a sample
    hyperparameters:                                   # over the --config's entries
      learning_rate: {loguniform: [1.0e-4, 1.0e-3]}
      gamma: {uniform: [0.3, 0.9]}
      n_epochs: {choice: [5, 10]}
      ent_coef: 0.01                                   # a constant

A value is a constant or one of ``{choice: [...]}``, ``{grid: [...]}`` (every value, times
``--num-samples``), ``{uniform: [low, high]}``, ``{loguniform: [low, high]}``,
``{randint: [low, high]}`` (``high`` excluded). Every value a hyperparameter can take is
checked as a config entry would be; an error is one line naming the file and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from rlrm.errors import InputError
from rlrm.train.config import check_hyperparameter  # the config's own check of one entry
from rlrm.validate import is_finite_number, read_yaml, short_repr

#: the distributions a search file may use
KINDS = ("choice", "grid", "uniform", "loguniform", "randint")
#: top-level keys of a search file
TOP_KEYS = ("platform", "scenario", "seed", "hyperparameters")
#: the largest seed a sample draws
MAX_SEED = 2**31 - 1


def load_search(path: Path) -> dict:
    """Read and check a search file; returns it as data (JSON-able, see :func:`to_tune`)."""
    path = Path(path)
    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(path, "<top>", f"expected a mapping with keys {', '.join(TOP_KEYS)}")
    check_search(data, path)
    return data


def check_search(data: Mapping[str, Any], path: Path) -> None:
    """Check a search space (parsed YAML); :class:`InputError` naming ``path`` and the field."""
    for key in data:
        if key not in TOP_KEYS:
            raise InputError(path, str(key), f"unknown key (known: {', '.join(TOP_KEYS)})")
    for key in ("platform", "scenario"):
        if key in data:
            for value in _values(path, key, data[key], allow_ranges=False):
                if not isinstance(value, str) or not value:
                    raise InputError(path, key, f"expected a name or path, got {short_repr(value)}")
    if "seed" in data:
        for value in _values(path, "seed", data["seed"], allow_ranges=True):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
                raise InputError(path, "seed", f"expected an integer from 0 to {MAX_SEED}, got {short_repr(value)}")
    hps = data.get("hyperparameters") or {}
    if not isinstance(hps, dict):
        raise InputError(path, "hyperparameters", "expected a mapping of hyperparameter names to values or ranges")
    for key, spec in hps.items():
        for value in _values(path, f"hyperparameters.{key}", spec, allow_ranges=True):
            check_hyperparameter(path, f"hyperparameters.{key}", str(key), value)


def _values(path: Path, field: str, spec: Any, allow_ranges: bool) -> list:
    """The values to check of one entry: a constant, a list's items, or a range's ends."""
    if not (isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in KINDS):
        if isinstance(spec, dict) and any(k in KINDS for k in spec):
            raise InputError(path, field, f"one distribution per entry, got {short_repr(sorted(spec))}")
        return [spec]
    kind, arg = next(iter(spec.items()))
    if kind in ("choice", "grid"):
        if not isinstance(arg, list) or not arg:
            raise InputError(path, f"{field}.{kind}", f"expected a non-empty list, got {short_repr(arg)}")
        return list(arg)
    if not allow_ranges:
        raise InputError(path, f"{field}.{kind}", "only choice or grid here")
    if not (isinstance(arg, list) and len(arg) == 2 and all(is_finite_number(v) for v in arg) and arg[0] < arg[1]):
        raise InputError(path, f"{field}.{kind}", f"expected [low, high] with low < high, got {short_repr(arg)}")
    if kind == "loguniform" and arg[0] <= 0:
        raise InputError(path, f"{field}.{kind}", f"needs low > 0, got {short_repr(arg[0])}")
    if kind == "randint":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in arg):
            raise InputError(path, f"{field}.{kind}", f"expected integers, got {short_repr(arg)}")
        return [arg[0], arg[1] - 1]
    return [float(arg[0]), float(arg[1])]


def to_tune(spec: Any) -> Any:
    """One entry as a Ray Tune search-space object (or the constant itself)."""
    from ray import tune

    if not (isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in KINDS):
        return spec
    kind, arg = next(iter(spec.items()))
    if kind == "grid":
        return tune.grid_search(list(arg))
    if kind == "choice":
        return tune.choice(list(arg))
    if kind == "uniform":
        return tune.uniform(float(arg[0]), float(arg[1]))
    if kind == "loguniform":
        return tune.loguniform(float(arg[0]), float(arg[1]))
    return tune.randint(int(arg[0]), int(arg[1]))


def param_space(search: Mapping[str, Any], platforms: list, scenario: str) -> dict:
    """The Tune ``param_space``: board, scenario, seed and the hyperparameters of a trial.

    :param search: a checked search file (:func:`load_search`)
    :param platforms: ``--platform`` (a grid when several), unless the file sets ``platform``
    :param scenario: ``--scenario``, unless the file sets ``scenario``
    A file without ``seed`` gives each sample a random seed (drawn reproducibly: the sweep's
    search algorithm has a fixed random state).
    """
    default_platform = platforms[0] if len(platforms) == 1 else {"grid": list(platforms)}
    default_seed = {"randint": [0, MAX_SEED]}
    return {"platform": to_tune(search.get("platform", default_platform)),
            "scenario": to_tune(search.get("scenario", scenario)),
            "seed": to_tune(search.get("seed", default_seed)),
            "hyperparameters": {k: to_tune(v) for k, v in (search.get("hyperparameters") or {}).items()}}
