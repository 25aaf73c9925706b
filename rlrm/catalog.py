"""``rlrm scenarios`` and ``rlrm policies``: what exists to evaluate, shipped and in
``$RLRM_HOME``."""

from __future__ import annotations

import argparse
import json
import textwrap

from rlrm.agents.registry import NAME_FORMS, available_policies
from rlrm.paths import CHECKPOINTS_DIR, SCENARIOS_DIR, list_names, resolve_checkpoint
from rlrm.policy import SIDECAR_NAME
from rlrm.sim.scenario import load_scenario
from rlrm.table import MAX_WIDTH, render


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``scenarios`` and ``policies`` subcommands."""
    s = sub.add_parser("scenarios", help="list the scenarios (shipped and in $RLRM_HOME/envs/scenarios)")
    s.add_argument("--json", action="store_true", help="print them as JSON")
    s.set_defaults(func=run_scenarios)
    p = sub.add_parser("policies", help="list the policies --policy takes: baselines and checkpoints "
                                        "(shipped and in $RLRM_HOME/checkpoints)")
    p.add_argument("--json", action="store_true", help="print them as JSON")
    p.set_defaults(func=run_policies)


def run_scenarios(args: argparse.Namespace) -> int:
    """Run ``rlrm scenarios``."""
    rows = []
    for name in list_names(SCENARIOS_DIR, ".toml"):
        sc = load_scenario(name)
        rows.append({"scenario": name, "apps": len(sc.apps), "steps": sc.episode_steps,
                     "description": sc.description})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    room = MAX_WIDTH - max([len("scenario")] + [len(r["scenario"]) for r in rows]) - 2 - 4 - 2 - 5 - 2
    for r in rows:
        if len(r["description"]) > room:
            r["description"] = r["description"][:room - 1] + "~"
    print(render(rows, ["apps", "steps", "description"], label="scenario"))
    return 0


def run_policies(args: argparse.Namespace) -> int:
    """Run ``rlrm policies``."""
    checkpoints = []
    for name in list_names(CHECKPOINTS_DIR, "/"):
        path = resolve_checkpoint(name, SIDECAR_NAME)
        if path is None:
            continue
        try:
            doc = json.loads((path / SIDECAR_NAME).read_text())
            env = doc.get("env", {}) if isinstance(doc, dict) else {}
            board = f"{env.get('platform', '?')} / {env.get('scenario', '?')}"
        except (OSError, ValueError):
            board = "? (unreadable policy.json)"
        checkpoints.append({"policy": name, "trained on": board})
    baselines = available_policies()
    if args.json:
        print(json.dumps({"baselines": baselines, "forms": NAME_FORMS, "checkpoints": checkpoints}, indent=1))
        return 0
    print(textwrap.fill("baselines: " + ", ".join(baselines) + f", and {NAME_FORMS}", MAX_WIDTH,
                        subsequent_indent="  ", break_on_hyphens=False))
    print()
    print(render(checkpoints, ["trained on"], label="policy") if checkpoints else "no checkpoints")
    return 0
