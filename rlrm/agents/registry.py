"""Policies by name: ``schedutil``, ``schedutil+dofa``, ``oracle``, ``random``, ``fixed:...``."""

from __future__ import annotations

from rlrm.agents.base import Policy
from rlrm.agents.baselines import FixedPolicy, GovernorPolicy, RandomPolicy
from rlrm.agents.lut import LutPolicy
from rlrm.agents.oracle import OraclePolicy
from rlrm.agents.static_best import StaticBestPolicy
from rlrm.errors import InputError

GOVERNOR_BASELINES = ("performance", "powersave", "ondemand", "conservative", "schedutil")


def available_policies() -> list[str]:
    """The policy names :func:`make_policy` knows (besides ``fixed:...``)."""
    names = list(GOVERNOR_BASELINES) + [f"{g}+dofa" for g in GOVERNOR_BASELINES]
    return names + ["oracle", "random", "lut", "static-best"]


def make_policy(name: str) -> Policy:
    """A baseline policy by name; ``fixed:subnet=L,unit=U,freq=F`` for a fixed operating point."""
    if name.startswith("fixed:"):
        return FixedPolicy(name)
    if name == "oracle":
        return OraclePolicy()
    if name == "random":
        return RandomPolicy()
    if name == "lut":
        return LutPolicy()
    if name == "static-best":
        return StaticBestPolicy(make_policy=make_policy)  # G@L names go in extra_candidates
    gov, _, extra = name.partition("+")
    if gov in GOVERNOR_BASELINES and extra in ("", "dofa"):
        return GovernorPolicy(gov, dofa=extra == "dofa")
    raise InputError("--policy", "policy", f"unknown policy {name!r}; known: {', '.join(available_policies())}, "
                                           "fixed:subnet=L,unit=U,freq=F")
