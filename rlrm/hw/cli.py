"""``rlrm restore STATEFILE``, ``rlrm hw status`` and ``rlrm hw pin``."""

from __future__ import annotations

import argparse
import re
import signal
import sys
import time
from typing import Optional, Union

from rlrm.errors import InputError, printable
from rlrm.hw import power, thermal
from rlrm.hw.actuator import HardwareActuator, control_problems
from rlrm.hw.cpufreq import METHODS, discover_policies, online_cpus
from rlrm.hw.devfreq import find_gpu
from rlrm.hw.statefile import restore_command, restore_statefile
from rlrm.hw.status import jetson_lines, print_json, watch
from rlrm.hw.sysfs import ROOT_ENV, Reading, Sysfs, format_cpulist
from rlrm.platform import load_platform
from rlrm.platform.profile import available_platforms
from rlrm.units import choose_khz, mhz, parse_khz


def add_sysfs_root_argument(parser: argparse.ArgumentParser, default: str = "/") -> None:
    """The ``--sysfs-root DIR`` option every hardware-touching command takes."""
    parser.add_argument("--sysfs-root", metavar="DIR", default=None,
                        help=f"take every /sys and /proc path under DIR (default: ${ROOT_ENV}, else {default})")


def add_parser(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("restore", help="put back the hardware settings saved in a state file "
                                       "(after rlrm was killed with SIGKILL)")
    r.add_argument("statefile", metavar="STATEFILE", help="the rlrm-hw-state-<pid>.json file")
    add_sysfs_root_argument(r)  # never the root named inside STATEFILE: that file is not trusted for it
    r.add_argument("--force", action="store_true",
                   help="restore even if the process that wrote the file still runs or the board rebooted")
    r.set_defaults(func=run_restore)

    hw = sub.add_parser("hw", help="what rlrm finds on this board (clusters, GPU, sensors)")
    hw_sub = hw.add_subparsers(dest="hw_command", metavar="ACTION")
    st = hw_sub.add_parser("status", help="print clusters, frequencies, governors, GPU node, sensors and readings")
    add_sysfs_root_argument(st)
    st.add_argument("--watch", type=float, default=None, metavar="SECONDS",
                    help="print a tegrastats-like line every SECONDS until interrupted")
    st.add_argument("--count", type=int, default=None, help=argparse.SUPPRESS)  # --watch: stop after N lines
    st.add_argument("--json", action="store_true", help="print the state as JSON (with --watch: one object a line)")
    st.add_argument("--platform", default=None,
                    help="a board profile (name or TOML path): name each cluster and the GPU by its unit there")
    st.set_defaults(func=run_status)
    pin = hw_sub.add_parser("pin", help="set frequencies and hold them until interrupted; "
                                        "Ctrl-C or SIGTERM puts the old ones back")
    pin.add_argument("--cpu", action="append", default=[], type=_cluster_khz, metavar="CLUSTER=FREQ",
                     help="a cluster (index, policy name such as policy4, or the profile's unit name such as "
                          "carmel or a15: all its policies) and a frequency from its table: 1190400 (kHz, as "
                          "sysfs), 1190.4MHz or 1.19GHz; repeat for several clusters")
    pin.add_argument("--platform", default=None,
                     help="board profile whose unit names --cpu takes (default: any profile naming the unit)")
    pin.add_argument("--gpu", type=_freq_text, metavar="FREQ",
                     help="GPU frequency from its devfreq table: kHz (bare integer), or with MHz/GHz")
    pin.add_argument("--method", choices=METHODS, default="pin",
                     help="pin: scaling_min_freq = scaling_max_freq (default); userspace: userspace "
                          "governor and scaling_setspeed")
    pin.add_argument("--seconds", type=_seconds, default=None, help="hold this long, then restore "
                                                                  "(default: until interrupted)")
    pin.add_argument("--statefile", default=None, help="where to save the original settings "
                                                       "(default: rlrm-hw-state-<pid>.json in the state folder: "
                                                       "$RLRM_STATE_DIR, else /run/rlrm as root, else "
                                                       "$XDG_RUNTIME_DIR/rlrm)")
    add_sysfs_root_argument(pin)
    pin.set_defaults(func=run_pin)
    hw.set_defaults(func=lambda args: (hw.print_help(), 2)[1])


def run_restore(args: argparse.Namespace) -> int:
    result = restore_statefile(args.statefile, args.sysfs_root, force=args.force)
    if result.skipped:
        print(f"rlrm: nothing restored from {args.statefile}: {result.skipped}", file=sys.stderr)
        return 1 if result.blocked else 0
    if result.problems:
        for p in result.problems:
            print(f"rlrm: could not restore {p}", file=sys.stderr)
        print(f"rlrm: {args.statefile} is kept; fix the above and run `rlrm restore {args.statefile}` again",
              file=sys.stderr)
        return 1
    print(f"restored {result.restored} setting(s) from {args.statefile}")
    return 0


def run_pin(args: argparse.Namespace) -> int:
    if not args.cpu and args.gpu is None:
        print("rlrm: nothing to pin: give --cpu CLUSTER=KHZ and/or --gpu KHZ", file=sys.stderr)
        return 2
    with HardwareActuator(args.sysfs_root, statefile=args.statefile, cpu_method=args.method,
                          enable_sensors=False, use_torch=False) as hw:
        if (args.cpu and not hw.can_control_cpu) or (args.gpu is not None and not hw.can_control_gpu):
            print("rlrm: nothing pinned: those frequencies are observe-only here (see the warning above)",
                  file=sys.stderr)
            return 1
        done = []
        for cluster, text in args.cpu:
            for name in _unit_policies(cluster, args.platform, [p.name for p in hw.clusters]):
                policy = hw.cluster(name)
                khz = _choose(text, policy.available_khz, f"--cpu {cluster}")
                hw.set_cpu_frequency(name, khz)
                done.append(f"{policy.name} {mhz(khz)} MHz")
        if args.gpu is not None:
            gpu = getattr(hw, "gpu", None)
            table = [hz // 1000 for hz in getattr(gpu, "available_hz", ()) or ()]
            khz = _choose(args.gpu, table, "--gpu")
            hw.set_gpu_frequency(khz)
            done.append(f"GPU {mhz(khz)} MHz")
        print(f"holding {', '.join(done)}", flush=True)
        print(f"original settings saved in {hw.statefile}\n"
              f"if this process is killed: {restore_command(hw.statefile, hw.fs.root)}", flush=True)
        if args.seconds is not None:
            time.sleep(max(0.0, args.seconds))
        else:
            while True:
                signal.pause()
    print("restored the original settings")
    return 0


def _profile_unit_names(platform: str) -> "dict[str, str]":
    """cpufreq policy name (``policy0``) or devfreq node name -> the profile's unit name
    (``carmel``, ``gpu``), so ``hw status`` names clusters as the profile and ``hw pin`` do."""
    names = {}
    for unit in load_platform(platform).units.values():
        for key in ("cpufreq_policies", "devfreq"):
            value = unit.sysfs.get(key)
            for path in ([value] if isinstance(value, str) else list(value or ())):
                names[str(path).rstrip("/").rsplit("/", 1)[-1]] = unit.name
    return names


def _unit_policies(which: Union[int, str], platform: Optional[str], here: "list[str]") -> "list[Union[int, str]]":
    """The clusters ``which`` names: itself when an index or a policy found here, else the
    cpufreq policies of the profile's CPU unit of that name (``carmel`` -> policy0, 2, 4)."""
    if isinstance(which, int) or which in here:
        return [which]
    names = [platform] if platform else available_platforms()
    units = []
    for name in names:
        unit = load_platform(name).units.get(str(which))
        if unit is not None and unit.kind == "cpu" and unit.sysfs.get("cpufreq_policies"):
            units.append(unit)
    if not units:
        raise InputError("--cpu", "cluster", f"no cluster {which!r} here (have {', '.join(here) or 'none'}) and no "
                                             f"CPU unit of that name in {platform or 'any board profile'}")
    return [str(p).rstrip("/").rsplit("/", 1)[-1] for p in units[0].sysfs["cpufreq_policies"]]


def _choose(text: str, table: "list[int] | tuple[int, ...]", what: str) -> int:
    """The operating point ``text`` names; an error lists the valid ones in MHz."""
    try:
        return choose_khz(text, table, "frequency")
    except ValueError as err:
        raise InputError(what, "frequency", str(err)) from None


def _seconds(text: str) -> float:
    """A finite, non-negative number of seconds up to a year (``inf``, ``nan`` and ``-1`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 366 * 86400:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and {366 * 86400}, got {text!r}")
    return value


def _freq_text(text: str) -> str:
    """A frequency as typed (checked here, resolved against the unit's table later)."""
    try:
        parse_khz(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text.strip()


def _cluster_khz(text: str) -> tuple[Union[int, str], str]:
    name, sep, freq = text.partition("=")
    if not sep or not name.strip() or not re.fullmatch(r"[A-Za-z0-9_]{1,16}", name.strip(), re.ASCII):
        raise argparse.ArgumentTypeError(f"expected CLUSTER=FREQ (e.g. 0=1190400, policy4=1.8GHz), got {text!r}")
    name = name.strip()
    return (int(name) if name.isdigit() else name), _freq_text(freq)


def run_status(args: argparse.Namespace) -> int:
    """Print what is found; every text read from the tree goes through :func:`_safe`."""
    import builtins

    def print(*parts: object, **kw: object) -> None:  # noqa: A001 - names from sysfs, escaped
        builtins.print(*(_safe(str(p)) for p in parts), **kw)  # type: ignore[arg-type]

    fs = Sysfs(args.sysfs_root)
    if getattr(args, "watch", None) is not None:
        return watch(fs, args.watch, as_json=args.json, count=args.count)
    if getattr(args, "json", False):
        return print_json(fs)
    print(f"sysfs root: {fs.root}")
    online = online_cpus(fs)
    print(f"CPUs online: {_cpus(online) if online is not None else 'unknown (no sys/devices/system/cpu/online)'}")
    clusters = discover_policies(fs)
    units = _profile_unit_names(args.platform) if getattr(args, "platform", None) else {}
    if not clusters:
        print("clusters: none (no cpufreq policy)")
    for i, p in enumerate(clusters):
        label = f"{units[p.name]} " if p.name in units else ""
        if not p.active:
            print(f"{label}cluster {i} {p.name}: inactive (every CPU of it is offline)")
            continue
        st = p.state()
        table = (f"{len(p.available_khz)} OPPs {mhz(p.available_khz[0])}-{mhz(p.available_khz[-1])}"
                 if p.available_khz else f"{mhz(p.cpuinfo_min_khz)}-{mhz(p.cpuinfo_max_khz)} (no table)")
        print(f"{label}cluster {i} {p.name}: CPUs {_cpus(p.cpus)} {st.governor} now {_mhz(st.cur_khz)} MHz, "
              f"limits {_mhz(st.min_khz)}-{_mhz(st.max_khz)}, {table} MHz")
    gpu = find_gpu(fs)
    if gpu is None:
        print("GPU: none (no devfreq node named like a GPU)")
    else:
        g = gpu.state()
        print(f"{units.get(gpu.name, 'GPU')} {gpu.name}: {g.governor} now {_mhz(g.cur_hz, 1000)} MHz, limits {_mhz(g.min_hz, 1000)}-"
              f"{_mhz(g.max_hz, 1000)}, {len(gpu.available_hz)} OPPs {_mhz(gpu.available_hz[0], 1000)}-"
              f"{_mhz(gpu.available_hz[-1], 1000)} MHz")
        print(f"  devfreq node {fs.path(gpu.rel)}")
    sensors = power.auto_discover(fs)
    if any(isinstance(s, power.Rapl) for s in sensors):
        time.sleep(0.25)  # RAPL power is an energy difference over time
    if not sensors:
        print("power: no sensor found")
    for s in sensors:
        print(f"power {s.name} ({s.kind}): {_reading(s.read(), '.3f')}")
    for z in thermal.discover_thermal_zones(fs):
        print(f"temperature {z.name}: {_reading(z.read(), '.1f')}")
    for line in jetson_lines(fs, clusters, gpu):
        print(line)
    cpu_why, gpu_why = control_problems(fs, clusters, gpu)
    print(f"control: CPU frequency {'can be set' if not cpu_why else 'observe-only: ' + cpu_why}; "
          f"GPU frequency {'can be set' if not gpu_why else 'observe-only: ' + gpu_why}")
    return 0


def _mhz(value: Optional[float], per_khz: float = 1.0) -> str:
    """A reading in kHz (``per_khz`` = 1000 for Hz) as MHz; ``?`` when unreadable."""
    return "?" if value is None else mhz(value / per_khz)


def _safe(text: str) -> str:
    """``text`` with control characters (terminal escape codes) escaped, as in error messages."""
    return printable(text)


def _reading(r: Reading, fmt: str) -> str:
    return f"{r.value:{fmt}} {r.unit}" if r.value is not None else f"missing ({r.problem})"


def _cpus(cpus: "list[int] | tuple[int, ...] | None") -> str:
    return format_cpulist(cpus or []) or "none"
