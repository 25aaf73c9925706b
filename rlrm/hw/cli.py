"""``rlrm restore STATEFILE``, ``rlrm hw status`` and ``rlrm hw pin``."""

from __future__ import annotations

import argparse
import re
import signal
import sys
import time
from typing import Union

from rlrm.errors import printable
from rlrm.hw import power, thermal
from rlrm.hw.actuator import HardwareActuator, control_problems
from rlrm.hw.cpufreq import METHODS, discover_policies, online_cpus
from rlrm.hw.devfreq import find_gpu
from rlrm.hw.statefile import restore_command, restore_statefile
from rlrm.hw.status import jetson_lines, print_json, watch
from rlrm.hw.sysfs import ROOT_ENV, Reading, Sysfs, format_cpulist


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
    st.set_defaults(func=run_status)
    pin = hw_sub.add_parser("pin", help="set frequencies and hold them until interrupted; "
                                        "Ctrl-C or SIGTERM puts the old ones back")
    pin.add_argument("--cpu", action="append", default=[], type=_cluster_khz, metavar="CLUSTER=KHZ",
                     help="a cluster (index, or policy name such as policy4) and a frequency from its "
                          "table, in kHz; repeat for several clusters")
    pin.add_argument("--gpu", type=int, metavar="KHZ", help="GPU frequency in kHz (from its devfreq table)")
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
        for cluster, khz in args.cpu:
            hw.set_cpu_frequency(cluster, khz)
            done.append(f"{hw.cluster(cluster).name} {khz} kHz")
        if args.gpu is not None:
            hw.set_gpu_frequency(args.gpu)
            done.append(f"GPU {args.gpu} kHz")
        print(f"holding {', '.join(done)}; original settings saved in {hw.statefile} "
              f"(`{restore_command(hw.statefile, hw.fs.root)}` if this process is killed)", flush=True)
        if args.seconds is not None:
            time.sleep(max(0.0, args.seconds))
        else:
            while True:
                signal.pause()
    print("restored the original settings")
    return 0


def _seconds(text: str) -> float:
    """A finite, non-negative number of seconds up to a year (``inf``, ``nan`` and ``-1`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 366 * 86400:
        raise argparse.ArgumentTypeError(f"expected seconds between 0 and {366 * 86400}, got {text!r}")
    return value


def _cluster_khz(text: str) -> tuple[Union[int, str], int]:
    name, sep, khz = text.partition("=")
    if not sep or not re.fullmatch(r"[0-9]{1,9}", khz.strip(), re.ASCII) or not name.strip() \
            or not re.fullmatch(r"[A-Za-z0-9_]{1,16}", name.strip(), re.ASCII):
        raise argparse.ArgumentTypeError(f"expected CLUSTER=KHZ (e.g. 0=1190400 or policy4=1800000), got {text!r}")
    name = name.strip()
    return (int(name) if name.isdigit() else name), int(khz.strip())


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
    if not clusters:
        print("clusters: none (no cpufreq policy)")
    for i, p in enumerate(clusters):
        if not p.active:
            print(f"cluster {i} {p.name}: inactive (every CPU of it is offline)")
            continue
        st = p.state()
        table = (f"{len(p.available_khz)} steps {p.available_khz[0]}..{p.available_khz[-1]} kHz"
                 if p.available_khz else f"{p.cpuinfo_min_khz}..{p.cpuinfo_max_khz} kHz (no table)")
        print(f"cluster {i} {p.name}: CPUs {_cpus(p.cpus)}, {table}; governor {st.governor}, "
              f"limits {st.min_khz}..{st.max_khz} kHz, now {st.cur_khz} kHz")
    gpu = find_gpu(fs)
    if gpu is None:
        print("GPU: none (no devfreq node named like a GPU)")
    else:
        g = gpu.state()
        print(f"GPU: {gpu.name} ({fs.path(gpu.rel)}), {len(gpu.available_hz)} steps "
              f"{gpu.available_hz[0]}..{gpu.available_hz[-1]} Hz; governor {g.governor}, "
              f"limits {g.min_hz}..{g.max_hz} Hz, now {g.cur_hz} Hz")
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


def _safe(text: str) -> str:
    """``text`` with control characters (terminal escape codes) escaped, as in error messages."""
    return printable(text)


def _reading(r: Reading, fmt: str) -> str:
    return f"{r.value:{fmt}} {r.unit}" if r.value is not None else f"missing ({r.problem})"


def _cpus(cpus: "list[int] | tuple[int, ...] | None") -> str:
    return format_cpulist(cpus or []) or "none"
