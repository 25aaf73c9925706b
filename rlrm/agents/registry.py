"""Policies by name: ``schedutil``, ``schedutil@0``, ``schedutil+dofa``, ``oracle``, ``oracle-greedy``, ``random``, ``fixed:...``."""

from __future__ import annotations

from typing import Any

from rlrm.policy.base import Policy
from rlrm.agents.baselines import FixedPolicy, GovernorPolicy, RandomPolicy
from rlrm.agents.lut import LutPolicy
from rlrm.agents.oracle import OraclePolicy
from rlrm.agents.static_best import StaticBestPolicy
from rlrm.errors import InputError

GOVERNOR_BASELINES = ("performance", "powersave", "ondemand", "conservative", "schedutil")
#: the name forms besides :func:`available_policies`, for help and error messages
NAME_FORMS = "G@L (governor G, subnetwork pinned at level L, e.g. schedutil@0), fixed:subnet=L,unit=U,freq=F"


def available_policies() -> list[str]:
    """The policy names :func:`make_policy` knows (besides ``G@L`` and ``fixed:...``)."""
    names = list(GOVERNOR_BASELINES) + [f"{g}+dofa" for g in GOVERNOR_BASELINES]
    return names + ["oracle", "oracle-greedy", "random", "lut", "static-best"]


def pinned_governors(env: Any) -> list[str]:
    """Every ``G@L`` (governor with the subnetwork pinned at level L) for ``static-best``'s search."""
    return [f"{g}@{level}" for g in GOVERNOR_BASELINES for level in range(env.n_subnets)]


def make_policy(name: str) -> Policy:
    """A baseline policy by name.

    ``G`` (a governor with the largest subnetwork), ``G@L`` (subnetwork pinned at level L),
    ``G+dofa`` (Dynamic-OFA's manager), ``oracle`` (planned ahead where the board has
    state), ``oracle-greedy`` (greedy per step everywhere), ``random``, or
    ``fixed:subnet=L,unit=U,freq=F`` for a fixed operating point.
    """
    if name.startswith("fixed:"):
        return FixedPolicy(name)
    if name == "oracle":
        return OraclePolicy()
    if name == "oracle-greedy":
        return OraclePolicy(greedy=True)
    if name == "random":
        return RandomPolicy()
    if name == "lut":
        return LutPolicy()
    if name == "static-best":
        return StaticBestPolicy(make_policy=make_policy, extra_candidates=pinned_governors)
    gov, at, level = name.partition("@")
    if at:
        if gov in GOVERNOR_BASELINES and level.isdigit():
            return GovernorPolicy(gov, level=int(level))
        raise InputError("--policy", "policy", f"{name!r}: expected G@L with G one of {', '.join(GOVERNOR_BASELINES)} "
                                               "and L a subnetwork level (0, 1, ...)")
    gov, _, extra = name.partition("+")
    if gov in GOVERNOR_BASELINES and extra in ("", "dofa"):
        return GovernorPolicy(gov, dofa=extra == "dofa")
    raise InputError("--policy", "policy", f"unknown policy {name!r}; known: {', '.join(available_policies())}, "
                                           f"{NAME_FORMS}")
