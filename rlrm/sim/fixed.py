"""Fixed operating points given as text: ``fixed:subnet=L,unit=U,freq=F[,cores=N]``."""

from __future__ import annotations

from rlrm.errors import InputError
from rlrm.sim.backend import Backend
from rlrm.sim.result import OperatingPoint
from rlrm.units import choose_khz


def parse_fixed(spec: str, sim: Backend) -> OperatingPoint:
    """Parse a fixed operating point for ``sim``.

    ``subnet``: a level (``-1`` or ``max``: the largest); ``unit``: a unit name, ``cpu`` or
    ``gpu``; ``freq``: ``max``, ``min`` or an operating point of the unit (``1109250`` kHz, ``1109.25MHz``, ``1.11GHz``); ``cores``:
    CPU cores (default: all online).
    """
    source = "--policy"
    body = spec[len("fixed:"):] if spec.startswith("fixed:") else spec
    fields: dict = {}
    for part in filter(None, body.split(",")):
        key, sep, value = part.partition("=")
        if not sep or key.strip() not in ("subnet", "unit", "freq", "cores"):
            raise InputError(source, key.strip() or part, "expected subnet=L,unit=U,freq=F[,cores=N]")
        fields[key.strip()] = value.strip()
    n_sub = len(sim.top1(0))
    sub_text = fields.get("subnet", "max")
    try:
        subnet = n_sub - 1 if sub_text in ("max", "-1") else (0 if sub_text == "min" else int(sub_text))
    except ValueError:
        raise InputError(source, "subnet", f"expected a level 0..{n_sub - 1}, 'min' or 'max', got {sub_text!r}") from None
    if not 0 <= subnet < n_sub:
        raise InputError(source, "subnet", f"expected a level 0..{n_sub - 1}, got {subnet}")
    u = sim.resolve_unit(fields.get("unit", sim.scenario.unit), "unit")
    unit = sim.platform.units[sim.unit_names[u]]
    if unit.kind == "cpu":
        try:
            cores = int(fields.get("cores", sim.online_cores(u)))
        except ValueError:
            raise InputError(source, "cores", f"expected an integer, got {fields['cores']!r}") from None
    else:
        cores = 0
    if (unit.name, cores) not in sim.options:
        raise InputError(source, "cores", f"no trace entry for {unit.name} with {cores} cores")
    freq = fields.get("freq", "max")
    if freq == "max":
        fi = sim.max_freq_index(u)
    elif freq == "min":
        fi = 0
    else:
        try:
            fi = unit.freq_index(choose_khz(freq, unit.freqs_khz, f"{unit.name} frequency"))
        except ValueError as err:
            raise InputError(source, "freq", str(err)) from None
    return OperatingPoint(subnet, sim.options.index((unit.name, cores)), fi)
