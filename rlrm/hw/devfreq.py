"""devfreq: find the GPU's node and pin its frequency (min_freq = max_freq, in Hz).

The node is found the way NVIDIA's jetson_clocks and jetson-stats (``jtop/core/gpu.py``) do:
walk ``/sys/class/devfreq/*`` and read ``<node>/device/of_node/name`` (a device-tree string
ending in a NUL); the GPU's is one of ``gv11b`` (Xavier), ``gp10b`` (TX2), ``ga10b`` (Orin) or
``gpu`` (Nano ``57000000.gpu``, Odroid XU3 ``11800000.gpu``). Where a node has no
``of_node`` the suffix of its name (``17000000.gv11b``) is used instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from rlrm.errors import InputError
from rlrm.hw.sysfs import Sysfs, Writer, write_limits

DEVFREQ_CLASS = "sys/class/devfreq"
#: Device-tree node names of integrated GPUs (jetson_clocks / jtop use the first four).
GPU_OF_NAMES = ("gv11b", "gp10b", "ga10b", "gpu")
#: Node-name suffixes accepted when there is no of_node (adds Hardkernel's Mali node name).
GPU_NODE_SUFFIXES = GPU_OF_NAMES + ("mali",)
#: Plausible bounds of a GPU frequency in Hz (1 MHz .. 10 GHz).
HZ_MIN, HZ_MAX = 1_000_000, 10_000_000_000


@dataclass(frozen=True)
class DevfreqState:
    """What the node is doing now.

    :param governor: ``governor``
    :param min_hz: ``min_freq``
    :param max_hz: ``max_freq``
    :param cur_hz: ``cur_freq``
    """

    governor: str
    min_hz: int
    max_hz: int
    cur_hz: int


@dataclass(frozen=True)
class DevfreqDevice:
    """One devfreq node (the GPU's), addressed through ``/sys/class/devfreq/<name>``.

    :param fs: the sysfs root it was found under
    :param name: the node's name, e.g. ``17000000.gv11b``
    :param rel: the node's directory relative to the root (``sys/class/devfreq/<name>`` resolved)
    :param of_name: the device-tree node name (``gv11b``), or the suffix used instead
    :param available_hz: ``available_frequencies`` in Hz, ascending
    :param governors: ``available_governors``
    """

    fs: Sysfs = field(repr=False)
    name: str
    rel: str
    of_name: str
    available_hz: tuple[int, ...]
    governors: tuple[str, ...] = ()

    def file(self, attr: str) -> str:
        return f"{self.rel}/{attr}"

    def files_touched(self) -> list[str]:
        """Every file :meth:`set_frequency` may write."""
        return [self.file("min_freq"), self.file("max_freq")]

    def state(self) -> DevfreqState:
        """Read governor, limits and current frequency (validated)."""
        gov = self.fs.read_word(self.file("governor"), "governor")
        lo = _read_hz(self.fs, self.file("min_freq"), "minimum frequency (Hz)")
        hi = _read_hz(self.fs, self.file("max_freq"), "maximum frequency (Hz)")
        if lo > hi:
            raise InputError(self.fs.path(self.file("min_freq")), "minimum frequency (Hz)",
                             f"{lo} is above {self.fs.path(self.file('max_freq'))} ({hi})")
        cur = _read_hz(self.fs, self.file("cur_freq"), "current frequency (Hz)")
        return DevfreqState(gov, lo, hi, cur)

    def check_frequency(self, hz: int) -> int:
        """Return ``hz`` if it is one of the node's operating points, else raise InputError."""
        if isinstance(hz, bool) or not isinstance(hz, int):
            raise TypeError(f"frequency must be an int in Hz, got {hz!r}")
        if hz not in self.available_hz:
            lo, hi = self.available_hz[0], self.available_hz[-1]
            raise InputError(self.fs.path(self.file("available_frequencies")), f"{self.name} frequency",
                             f"{hz} Hz is not an available frequency ({len(self.available_hz)} steps {lo}..{hi} Hz)")
        return hz

    def set_frequency(self, hz: int, writer: Writer) -> bool:
        """Pin the node at ``hz`` (min_freq = max_freq); False when it already was."""
        self.check_frequency(hz)
        return write_limits(self.fs, writer, self.file("min_freq"), self.file("max_freq"), hz, hz,
                            field="frequency (Hz)", bounds=(HZ_MIN, HZ_MAX))


def find_gpu(fs: Sysfs) -> Optional[DevfreqDevice]:
    """The GPU's devfreq node under the root, or None when there is none."""
    for rel in fs.glob(f"{DEVFREQ_CLASS}/*"):
        name = rel.rsplit("/", 1)[-1]
        of_rel = f"{rel}/device/of_node/name"
        if fs.exists(of_rel):
            of_name = fs.read_line(of_rel, "device-tree node name")
            if of_name not in GPU_OF_NAMES:
                continue
        else:
            of_name = name.rsplit(".", 1)[-1]
            if of_name not in GPU_NODE_SUFFIXES:
                continue
        return load_devfreq(fs, _resolved(fs, rel), of_name)
    return None


def _resolved(fs: Sysfs, rel: str) -> str:
    """The node's real directory (``sys/devices/.../devfreq/<name>``) when it lies under the root,
    so errors and the state file name the file itself rather than a path through a symlink."""
    real = fs.path(rel).resolve()
    try:
        return str(real.relative_to(fs.root.resolve()))
    except ValueError:
        return rel


def load_devfreq(fs: Sysfs, rel: str, of_name: str = "") -> DevfreqDevice:
    """Read a devfreq node's table and governors (validated)."""
    name = rel.rstrip("/").rsplit("/", 1)[-1]
    avail_rel = f"{rel}/available_frequencies"
    if not fs.exists(avail_rel):
        raise InputError(fs.path(avail_rel), "available frequencies (Hz)",
                         "missing: the GPU node has no frequency table")
    freqs = fs.read_ints(avail_rel, "available frequencies (Hz)", minimum=HZ_MIN, maximum=HZ_MAX)
    if len(set(freqs)) != len(freqs):
        raise InputError(fs.path(avail_rel), "available frequencies (Hz)", "a frequency is listed twice")
    gov_rel = f"{rel}/available_governors"
    governors = tuple(fs.read_words(gov_rel, "available governors")) if fs.exists(gov_rel) else ()
    return DevfreqDevice(fs, name, rel, of_name or name.rsplit(".", 1)[-1], tuple(sorted(freqs)), governors)


def _read_hz(fs: Sysfs, rel: str, what: str) -> int:
    return fs.read_int(rel, what, minimum=HZ_MIN, maximum=HZ_MAX)
