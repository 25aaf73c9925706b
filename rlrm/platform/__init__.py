"""Board profiles (``envs/platforms/*.toml``) loaded into validated dataclasses."""

from rlrm.platform.profile import (
    ComputeUnit,
    Platform,
    PowerMode,
    PowerModel,
    Sensor,
    ThermalModel,
    available_platforms,
    load_platform,
    parse_platform,
    platform_to_dict,
    save_platform,
)

__all__ = [
    "ComputeUnit", "Platform", "PowerMode", "PowerModel", "Sensor", "ThermalModel", "available_platforms",
    "load_platform", "parse_platform", "platform_to_dict", "save_platform",
]
