"""Errors for bad input: one line, naming the file and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Union


class InputError(ValueError):
    """A file or value the user gave is malformed.

    ``str(err)`` is one line: ``<file>: <field>: <problem>``. The CLI prints it and exits
    with code 2, without a traceback.

    :param source: the file (or other origin, like a sysfs path) the bad value came from
    :param field: the dotted name of the offending field, e.g. ``units.gpu.opp[3].freq_khz``
    :param problem: what is wrong with it
    """

    def __init__(self, source: Union[str, Path], field: str, problem: str) -> None:
        self.source = printable(str(source))
        # keys come from the file: "a\nb" must not break the line, and an empty key is shown as ""
        self.field = printable(str(field)) or '""'
        self.problem = printable(" ".join(str(problem).split()))  # one line, no terminal escape codes
        super().__init__(f"{self.source}: {self.field}: {self.problem}")


def printable(text: str) -> str:
    """``text`` with line breaks and other unprintable characters escaped (``\\n``, ``\\x00``)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
