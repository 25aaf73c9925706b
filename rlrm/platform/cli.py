"""``rlrm platforms``: list the board profiles."""

from __future__ import annotations

import argparse

from rlrm.platform.profile import available_platforms, load_platform


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("platforms", help="list board profiles with a one-line summary each")
    p.add_argument("profile", nargs="?", help="show one profile (name or path to a TOML file) in detail")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.profile:
        plat = load_platform(args.profile)
        print(f"{plat.name}: {plat.description}")
        print(f"  base power {plat.base_power_w} W ({plat.base_power_source})")
        for u in plat.units.values():
            print(f"  unit {u.name}: {u.kind}, {u.cores} core(s) {u.core_type}")
            print(f"    kHz: {', '.join(str(f) for f in u.freqs_khz)}")
            print(f"    mV:  {', '.join(f'{v:g}' for v in u.volts_mv)}  ({u.volt_source})")
            print(f"    power: ceff {u.power.ceff} W/(V^2 GHz), static {u.power.static_w} W ({u.power.source})")
        for m in plat.power_modes.values():
            mark = " (default)" if m.name == plat.default_power_mode else ""
            print(f"  power mode {m.id} {m.name}{mark}: budget {m.budget_w} W, online {m.online_cores or 'all'}, caps {m.max_freq_khz or 'none'}")
        return 0
    for name in available_platforms():
        plat = load_platform(name)
        print(f"{plat.name:<20} {plat.summary()}")
    return 0
