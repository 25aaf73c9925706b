"""Hypothesis helpers shared by the malformed-input tests: corrupt one node of a parsed file.

A file is parsed into nested dicts and lists; :func:`draw_mutation` picks one node (by its
path of keys and indices) and deletes it, replaces it with :data:`JUNK` or adds an unknown
sibling key next to it.
"""

from __future__ import annotations

import copy
from typing import Any, Iterator, Optional

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from rlrm.errors import InputError

#: values of every JSON/TOML/YAML kind, including the awkward ones (NaN, huge and negative numbers)
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-10**6, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.lists(st.integers(-5, 5), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from([2**63, -2**63 - 1, 10**400]),  # beyond int64, beyond float
)

#: what :func:`mutate` can do to a node
ACTIONS = ("delete", "replace", "add")


def paths(d: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """The path (tuple of keys and indices) of every node below ``d``, parents first."""
    if isinstance(d, dict):
        for k, v in d.items():
            yield prefix + (k,)
            yield from paths(v, prefix + (k,))
    elif isinstance(d, list):
        for i, v in enumerate(d):
            yield prefix + (i,)
            yield from paths(v, prefix + (i,))


def mutate(d: dict, path: tuple, action: str, value: Any) -> dict:
    """A deep copy of ``d`` with the node at ``path`` deleted, replaced by ``value``, or with
    an unknown key ``zz_unknown: value`` added next to it (in a list: the node replaced)."""
    d = copy.deepcopy(d)
    node = d
    for key in path[:-1]:
        node = node[key]
    last = path[-1]
    if action == "delete":
        del node[last]
    elif action == "replace":
        node[last] = value
    else:  # add an unknown sibling key
        if isinstance(node, dict):
            node["zz_unknown"] = value
        else:
            node[last] = value
    return d


def draw_mutation(data: st.DataObject, base: dict, junk: st.SearchStrategy = JUNK,
                  node_paths: Optional[list[tuple]] = None) -> tuple[dict, tuple]:
    """Draw one corruption of ``base``: ``(the corrupted copy, the path of the node deleted, replaced or added)``.

    :param data: hypothesis' ``st.data()``
    :param base: the parsed file
    :param junk: the values replacements and added keys take
    :param node_paths: the nodes to choose from (default: all of ``base``)
    """
    path = data.draw(st.sampled_from(node_paths if node_paths is not None else list(paths(base))), label="path")
    action = data.draw(st.sampled_from(ACTIONS), label="action")
    value = data.draw(junk, label="value")
    parent = base
    for key in path[:-1]:
        parent = parent[key]
    changed = path[:-1] + ("zz_unknown",) if action == "add" and isinstance(parent, dict) else path
    return mutate(base, path, action, value), changed


def assert_one_line(err: InputError, source: str) -> None:
    """``err`` is one line, ``<source>: <field>: <problem>``, with a non-empty field and problem."""
    msg = str(err)
    assert len(msg.splitlines()) == 1 and "\r" not in msg and "\n" not in msg, repr(msg)
    assert err.source == str(source), msg
    assert err.field and err.problem, msg
    assert msg == f"{err.source}: {err.field}: {err.problem}", msg


def note_outcome(outcome: str) -> None:
    """Count ``outcome`` in ``--hypothesis-show-statistics`` (a no-op outside a hypothesis test)."""
    if currently_in_test_context():
        event(outcome)
