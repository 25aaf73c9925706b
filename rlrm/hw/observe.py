"""Measured observations of a board's compute units, each tagged measured or modelled.

Per unit, between two calls of :meth:`UnitObserver.sample`:

- CPU unit: utilisation = mean busy fraction of its online CPUs from ``/proc/stat`` deltas
  (:class:`~rlrm.hw.utilisation.CpuUtilisation`; psutil where there is no ``/proc/stat``),
  the same quantity the simulator models (busy cores / online cores); frequency read back
  from its cpufreq policies' ``scaling_cur_freq`` (kHz; the highest when it spans several).
- GPU unit: utilisation = the driver's load (``gpu.0/load`` on a Jetson, per mille, found
  beside the devfreq node), frequency read back from devfreq ``cur_freq`` (Hz -> kHz).

A value that cannot be read is ``None`` with the problem, and :func:`tag` then falls back
to the caller's modelled value, saying so: every element carries ``source`` ``measured`` or
``modelled``. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from rlrm.errors import InputError
from rlrm.hw.jetson import gpu_load_percent
from rlrm.hw.sysfs import PathLike, Sysfs
from rlrm.hw.utilisation import CpuUtilisation, busy_fraction

MEASURED = "measured"
MODELLED = "modelled"


@dataclass(frozen=True)
class Tagged:
    """One observation element and where it came from.

    :param value: the value (None when neither measured nor modelled)
    :param source: ``measured`` or ``modelled``
    :param problem: why it is not measured ("" when it is)
    """

    value: Optional[float]
    source: str
    problem: str = ""

    def as_dict(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"value": self.value, "source": self.source}
        if self.problem:
            out["problem"] = self.problem
        return out


def tag(measured: Optional[float], modelled: Optional[float], problem: str = "") -> Tagged:
    """The measured value when there is one, else the modelled one tagged ``modelled``."""
    if measured is not None:
        return Tagged(float(measured), MEASURED)
    return Tagged(None if modelled is None else float(modelled), MODELLED, problem or "not measured")


@dataclass(frozen=True)
class UnitProbe:
    """Where one unit's measurements are read.

    :param name: unit name (as in the board profile)
    :param kind: ``cpu`` or ``gpu``
    :param cpus: the CPUs of a CPU unit (empty: every CPU in ``/proc/stat``)
    :param policies: cpufreq policy directories (root-relative) of a CPU unit
    :param devfreq: devfreq node directories (root-relative candidates) of a GPU unit
    """

    name: str
    kind: str
    cpus: Tuple[int, ...] = ()
    policies: Tuple[str, ...] = ()
    devfreq: Tuple[str, ...] = ()


@dataclass(frozen=True)
class UnitReading:
    """One unit's measured values over the last interval (None where unreadable).

    :param util: busy fraction in [0, 1] (CPU: of its online CPUs; GPU: the driver's load)
    :param freq_khz: the frequency read back, kHz
    :param problems: what could not be read, naming the file
    """

    util: Optional[float]
    freq_khz: Optional[int]
    problems: Tuple[str, ...] = field(default_factory=tuple)


class UnitObserver:
    """Reads utilisation and frequency of each unit; :meth:`sample` gives the values since
    the previous call (the first call: since construction).

    :param probes: the units
    :param root: the sysfs / procfs root (None: ``$RLRM_SYSFS_ROOT`` or ``/``)
    """

    def __init__(self, probes: Sequence[UnitProbe], root: Union[Sysfs, PathLike, None] = None) -> None:
        self.fs = root if isinstance(root, Sysfs) else Sysfs(root)
        self.probes = list(probes)
        self._cpu: Optional[CpuUtilisation] = None
        self._cpu_problem = ""
        if any(p.kind == "cpu" for p in self.probes):
            try:
                self._cpu = CpuUtilisation(self.fs)
            except (OSError, InputError, ImportError) as err:
                self._cpu_problem = f"cpu times: {err}"

    @classmethod
    def from_platform(cls, platform: Any, root: Union[Sysfs, PathLike, None] = None) -> "UnitObserver":
        """Probes from a board profile's units (``sysfs.cpus``, ``sysfs.cpufreq_policies``,
        ``sysfs.devfreq``); a CPU unit without ``cpus`` uses its policies' ``related_cpus``."""
        fs = root if isinstance(root, Sysfs) else Sysfs(root)
        probes = []
        for name, unit in platform.units.items():
            sysfs = dict(getattr(unit, "sysfs", None) or {})
            policies = tuple(str(p).lstrip("/") for p in sysfs.get("cpufreq_policies", ()))
            cpus = tuple(int(c) for c in sysfs.get("cpus", ()))
            if unit.kind == "cpu" and not cpus:
                cpus = tuple(_related_cpus(fs, policies))
            devfreq = tuple(str(p).lstrip("/") for p in sysfs.get("devfreq", ()))
            probes.append(UnitProbe(name, unit.kind, cpus, policies, devfreq))
        return cls(probes, fs)

    def sample(self) -> Dict[str, UnitReading]:
        """``{unit: UnitReading}`` since the previous call."""
        busy: Optional[Dict[int, float]] = None
        cpu_problem = self._cpu_problem
        if self._cpu is not None:
            try:
                busy = self._cpu.sample()
            except (OSError, InputError) as err:
                cpu_problem = f"cpu times: {err}"
        out: Dict[str, UnitReading] = {}
        for p in self.probes:
            problems: List[str] = []
            if p.kind == "cpu":
                util = None
                if busy is not None:
                    cpus = list(p.cpus) or None
                    if cpus is None or any(c in busy for c in cpus):
                        util = busy_fraction(busy, cpus)
                    else:
                        problems.append(f"cpu times: none of CPUs {list(p.cpus)} online")
                else:
                    problems.append(cpu_problem or "cpu times: not read")
                freq = self._cpu_freq(p, problems)
            else:
                util, freq = self._gpu(p, problems)
            out[p.name] = UnitReading(util, freq, tuple(problems))
        return out

    def _cpu_freq(self, p: UnitProbe, problems: List[str]) -> Optional[int]:
        values = []
        for rel in p.policies:
            f = f"{rel}/scaling_cur_freq"
            try:
                values.append(self.fs.read_int(f, "current frequency (kHz)", minimum=1, maximum=100_000_000))
            except (OSError, InputError) as err:
                problems.append(str(err) if isinstance(err, InputError) else f"{self.fs.path(f)}: {err.strerror}")
        if not p.policies:
            problems.append(f"{p.name}: no cpufreq policy in the profile")
        return max(values) if values else None

    def _gpu(self, p: UnitProbe, problems: List[str]) -> Tuple[Optional[float], Optional[int]]:
        node = next((rel for rel in p.devfreq if self.fs.is_dir(rel)), None)
        freq = None
        if node is None:
            problems.append(f"{p.name}: no devfreq node ({', '.join(p.devfreq) or 'none in the profile'})")
        else:
            f = f"{node}/cur_freq"
            try:
                freq = self.fs.read_int(f, "current frequency (Hz)", minimum=1_000, maximum=10**11) // 1000
            except (OSError, InputError) as err:
                problems.append(str(err) if isinstance(err, InputError) else f"{self.fs.path(f)}: {err.strerror}")
        real = _resolved(self.fs, node) if node else None
        pct = gpu_load_percent(self.fs, real)
        if pct is None:
            problems.append(f"{p.name}: no readable GPU load file")
        return (None if pct is None else pct / 100.0), freq


def _related_cpus(fs: Sysfs, policies: Sequence[str]) -> List[int]:
    cpus: List[int] = []
    for rel in policies:
        try:
            cpus += fs.read_cpus(f"{rel}/related_cpus", "related CPUs")
        except (OSError, InputError):
            continue
    return sorted(set(cpus))


def _resolved(fs: Sysfs, rel: str) -> str:
    """The node's directory with symlinks resolved, relative to the root (``gpu.0`` is a link)."""
    real = fs.path(rel).resolve()
    try:
        return str(real.relative_to(fs.root.resolve()))
    except ValueError:
        return rel
