"""One unit convention for frequencies: MHz in everything printed; as input, a bare integer is
kHz (as sysfs cpufreq writes it), or a number with ``Hz``, ``kHz``, ``MHz`` or ``GHz``.

A frequency given for a unit with a table of operating points must be one of them (a GHz
value rounded to two decimals matches the nearest point within 0.5 %); errors list the valid
frequencies, as ``cpupower frequency-info`` does.
"""

from __future__ import annotations

import re
from typing import Optional, Sequence

#: kHz per unit suffix (lower case)
_SCALE = {"hz": 1e-3, "khz": 1.0, "mhz": 1e3, "ghz": 1e6}
_PATTERN = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([kKmMgG]?[hH][zZ])?\s*")
#: a value with a unit matches an operating point this close (relative), e.g. 1.19GHz -> 1190400 kHz
TOLERANCE = 0.005


def mhz(khz: float) -> str:
    """A frequency in kHz as printed: MHz, without trailing zeros (``1190400`` -> ``1190.4``)."""
    return f"{khz / 1000:g}" if khz < 1e9 else f"{khz / 1000:.0f}"


def mhz_list(khz: Sequence[float]) -> str:
    """Frequencies in kHz as a comma-separated MHz list."""
    return ", ".join(mhz(f) for f in khz)


def parse_khz(text: str) -> tuple[float, bool]:
    """A frequency in kHz and whether the text had an explicit unit.

    :raises ValueError: the text is not a frequency
    """
    m = _PATTERN.fullmatch(str(text))
    if not m:
        raise ValueError(f"expected a frequency such as 1190400 (kHz), 1190.4MHz or 1.19GHz, got {text!r}")
    value = float(m.group(1))
    suffix = (m.group(2) or "").lower()
    if not suffix and "." in m.group(1):
        raise ValueError(f"a bare number is kHz and must be an integer; give a unit (e.g. {text}MHz), got {text!r}")
    return value * _SCALE.get(suffix, 1.0), bool(suffix)


def choose_khz(text: str, valid_khz: Optional[Sequence[int]] = None, what: str = "frequency") -> int:
    """The operating point ``text`` names among ``valid_khz`` (any positive integer when None).

    :raises ValueError: not a frequency, or not one of the valid ones (the message lists them in MHz)
    """
    khz, has_unit = parse_khz(text)
    if not valid_khz:
        if khz <= 0:
            raise ValueError(f"{what} must be positive, got {text!r}")
        return int(round(khz))
    valid = sorted(int(f) for f in valid_khz)
    nearest = min(valid, key=lambda f: abs(f - khz))
    if nearest == khz or (has_unit and abs(nearest - khz) <= TOLERANCE * nearest):
        return nearest
    raise ValueError(f"{what} {text} is not an operating point; available frequencies (MHz): {mhz_list(valid)}")
