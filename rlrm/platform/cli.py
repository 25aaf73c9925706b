"""``rlrm platforms``: list the board profiles."""

from __future__ import annotations

import argparse
import json
import textwrap

from rlrm.platform.profile import available_platforms, load_platform
from rlrm.table import MAX_WIDTH, render
from rlrm.units import mhz, mhz_list


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("platforms", help="list board profiles with a one-line summary each")
    p.add_argument("profile", nargs="?", help="show one profile (name or path to a TOML file) in detail")
    p.add_argument("--wide", action="store_true", help="one line per board (the summary in full)")
    p.add_argument("--json", action="store_true", help="print name, units and power modes as JSON")
    p.set_defaults(func=run)


def _p(text: str, indent: int = 6) -> None:
    """Print a line wrapped at :data:`MAX_WIDTH` (continuations indented)."""
    print(textwrap.fill(text, MAX_WIDTH, subsequent_indent=" " * indent, break_long_words=False,
                        break_on_hyphens=False))


def run(args: argparse.Namespace) -> int:
    if args.profile:
        plat = load_platform(args.profile)
        _p(f"{plat.name}: {plat.description}")
        _p(f"  base power {plat.base_power_w} W ({plat.base_power_source})")
        for u in plat.units.values():
            _p(f"  unit {u.name}: {u.kind}, {u.cores} core(s) {u.core_type}")
            _p("    MHz: " + mhz_list(u.freqs_khz), 9)
            _p(f"    mV:  {', '.join(f'{v:g}' for v in u.volts_mv)}  ({u.volt_source})", 9)
            _p(f"    power: ceff {u.power.ceff} W/(V^2 GHz), static {u.power.static_w} W ({u.power.source})")
        for m in plat.power_modes.values():
            mark = " (default)" if m.name == plat.default_power_mode else ""
            caps = ", ".join(f"{k} {mhz(v)} MHz" for k, v in m.max_freq_khz.items()) or "none"
            _p(f"  power mode {m.id} {m.name}{mark}: budget {m.budget_w} W, online {m.online_cores or 'all'}, caps {caps}")
        return 0
    boards = [load_platform(name) for name in available_platforms()]
    if args.json:
        print(json.dumps([{"name": b.name, "description": b.description, "power_modes": list(b.power_modes),
                           "units": {u.name: {"kind": u.kind, "cores": u.cores, "core_type": u.core_type,
                                              "freqs_mhz": [f / 1000 for f in u.freqs_khz]}
                                     for u in b.units.values()}} for b in boards], indent=1))
        return 0
    if args.wide:
        for plat in boards:
            print(f"{plat.name:<20} {plat.summary()}")
        return 0
    rows = []
    for plat in boards:
        for i, u in enumerate(plat.units.values()):
            rows.append({"board": plat.name if i == 0 else "", "unit": u.name,
                         "cores": f"{u.cores}x" if u.kind == "cpu" else "-", "type": u.core_type,
                         "OPPs": u.n_freqs, "MHz": f"{u.f_min_khz / 1000:g}-{u.f_max_khz / 1000:g}",
                         "modes": len(plat.power_modes) if i == 0 else ""})
    print(render(rows, ["unit", "cores", "OPPs", "MHz", "modes", "type"], label="board",
                 headers={"type": "core type"}))
    return 0
