"""Hardware access for the live board: cpufreq and devfreq actuators, core placement, power
and thermal sensors, CPU utilisation, and the safety snapshot that puts everything back.

Every path is taken under a root (``--sysfs-root``, ``$RLRM_SYSFS_ROOT`` or ``/``), so the same
code runs against the fake trees of :mod:`rlrm.hw.fake`. Nothing here imports torch at load.
"""

from rlrm.hw.actuator import HardwareActuator
from rlrm.hw.affinity import CoreController
from rlrm.hw.cpufreq import CpuPolicy, discover_policies, online_cpus
from rlrm.hw.devfreq import DevfreqDevice, find_gpu
from rlrm.hw.power import PowerReader, auto_discover, make_reader, read_all
from rlrm.hw.state import StateGuard, SysfsWriteError
from rlrm.hw.statefile import restore_statefile
from rlrm.hw.sysfs import Reading, Sysfs, resolve_root
from rlrm.hw.thermal import ThermalZone, discover_thermal_zones, read_temperatures
from rlrm.hw.utilisation import CpuUtilisation

__all__ = [
    "HardwareActuator", "CoreController", "CpuPolicy", "discover_policies", "online_cpus", "DevfreqDevice",
    "find_gpu", "PowerReader", "auto_discover", "make_reader", "read_all", "StateGuard", "SysfsWriteError",
    "restore_statefile", "Reading", "Sysfs", "resolve_root", "ThermalZone", "discover_thermal_zones",
    "read_temperatures", "CpuUtilisation",
]
