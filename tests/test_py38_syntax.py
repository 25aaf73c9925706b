"""The board runtime (:data:`rlrm.extras.BOARD_RUNTIME`) stays Python 3.8 code: it parses with
``feature_version=(3, 8)`` and uses no 3.9+ construct that is evaluated at run time.

What is flagged (outside annotations, which ``from __future__ import annotations`` leaves
unevaluated): ``list[...]``/``dict[...]``/``tuple[...]``... subscripted, ``X | None`` and unions of
builtin types, 3.9+ imports (``tomllib``, ``functools.cache``, ``importlib.resources.files``...) unless
inside a ``try`` that catches ``ImportError``, 3.9+ methods (``removeprefix``, ``is_relative_to``...)
and keyword arguments (``zip(strict=)``, ``dataclass(slots=, kw_only=)``...). The run-time proof
is ``tests/board`` under Python 3.8 in ``.ci/run``; this catches the same mistakes on 3.11 alone.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import List, Set

import pytest

from rlrm.extras import is_board_runtime

PACKAGE = Path(__file__).resolve().parents[1] / "rlrm"

BUILTIN_GENERICS = {"list", "dict", "tuple", "set", "frozenset", "type"}
BUILTIN_TYPES = BUILTIN_GENERICS | {"int", "float", "str", "bytes", "bool", "complex"}
#: attributes (methods, functions) that appeared in Python 3.9 or later
NEW_ATTRIBUTES = {"removeprefix", "removesuffix", "is_relative_to", "with_stem", "hardlink_to", "bit_count",
                  "pairwise", "batched", "BooleanOptionalAction", "lcm", "randbytes", "to_thread", "file_digest",
                  "StrEnum", "waitstatus_to_exitcode", "get_annotations", "KW_ONLY"}
#: names imported from a module that are 3.9+ there
NEW_IMPORTS = {"functools": {"cache"}, "importlib.resources": {"files", "as_file"},
               "typing": {"Annotated", "TypeAlias", "ParamSpec", "Concatenate", "TypeGuard", "Self", "Never",
                          "NotRequired", "Required", "LiteralString", "Unpack", "TypeVarTuple", "assert_never",
                          "reveal_type", "dataclass_transform", "override"},
               "contextlib": {"aclosing", "chdir"}, "itertools": {"pairwise", "batched"}, "math": {"lcm"},
               "datetime": {"UTC"}, "enum": {"StrEnum"}, "dataclasses": {"KW_ONLY"}}
NEW_MODULES = {"tomllib", "zoneinfo", "graphlib"}
#: keyword arguments that appeared in 3.9+: function name -> keywords
NEW_KEYWORDS = {"zip": {"strict"}, "dataclass": {"slots", "kw_only", "match_args", "weakref_slot"},
                "field": {"kw_only"}, "write_text": {"newline"}, "read_text": {"newline"},
                "bisect": {"key"}, "bisect_left": {"key"}, "bisect_right": {"key"}, "insort": {"key"},
                "TemporaryDirectory": {"ignore_cleanup_errors"}, "ArgumentParser": {"exit_on_error"},
                "basicConfig": {"encoding"}, "sample": {"counts"}, "rmtree": {"onexc"}}


def board_runtime_files() -> List[Path]:
    """The source files of :data:`rlrm.extras.BOARD_RUNTIME`."""
    files = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if is_board_runtime(module):
            files.append(path)
    return files


def _annotation_nodes(tree: ast.AST) -> Set[int]:
    """ids of every node inside an annotation."""
    roots: List[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            args = a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x is not None]
            roots += [x.annotation for x in args if x.annotation is not None]
            if node.returns is not None:
                roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
    return {id(n) for root in roots for n in ast.walk(root)}


def _guarded_imports(tree: ast.AST) -> Set[int]:
    """ids of import statements inside a ``try`` whose handlers catch ImportError."""
    guarded: Set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                h.type is None or any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError")
                                      for n in ast.walk(h.type)) for h in node.handlers):
            guarded |= {id(n) for stmt in node.body for n in ast.walk(stmt) if isinstance(n, (ast.Import, ast.ImportFrom))}
    return guarded


def _is_type_like(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant) and node.value is None:
        return True
    if isinstance(node, ast.Name) and node.id in BUILTIN_TYPES:
        return True
    return isinstance(node, ast.Subscript) and _is_type_like(node.value)


def problems_of(source: str, filename: str = "<source>") -> List[str]:
    """Every 3.9+ construct of ``source`` that Python 3.8 would meet at run time, as ``file:line: what``."""
    try:
        tree = ast.parse(source, filename, feature_version=(3, 8))
    except SyntaxError as err:
        return [f"{filename}:{err.lineno}: not Python 3.8 syntax: {err.msg}"]
    lazy = any(isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
               for n in getattr(tree, "body", []))
    skip = _annotation_nodes(tree) if lazy else set()
    guarded = _guarded_imports(tree)
    found = []

    def flag(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in BUILTIN_GENERICS:
            flag(node, f"{node.value.id}[...] evaluated at run time (typing.{node.value.id.capitalize()} on 3.8)")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and (
                _is_type_like(node.left) or _is_type_like(node.right)):
            flag(node, "X | Y of types evaluated at run time (typing.Union/Optional on 3.8)")
        elif isinstance(node, ast.Attribute) and node.attr in NEW_ATTRIBUTES:
            flag(node, f".{node.attr} is Python 3.9+")
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in guarded:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in NEW_MODULES:
                        flag(node, f"import {alias.name}: Python 3.9+ (guard it with try/except ImportError)")
            elif node.module:
                if node.module.split(".")[0] in NEW_MODULES:
                    flag(node, f"from {node.module}: Python 3.9+ (guard it with try/except ImportError)")
                for alias in node.names:
                    if alias.name in NEW_IMPORTS.get(node.module, ()):
                        flag(node, f"{node.module}.{alias.name} is Python 3.9+")
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            for kw in node.keywords:
                if kw.arg in NEW_KEYWORDS.get(name or "", ()):
                    flag(node, f"{name}({kw.arg}=...) is Python 3.9+")
    return found


@pytest.mark.parametrize("path", board_runtime_files(), ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_board_runtime_module_is_python_38(path: Path) -> None:
    assert problems_of(path.read_text(), str(path.relative_to(PACKAGE.parent))) == []


def test_the_board_runtime_is_what_the_commands_need() -> None:
    names = {str(p.relative_to(PACKAGE.parent)) for p in board_runtime_files()}
    assert {"rlrm/__init__.py", "rlrm/cli.py", "rlrm/hw/cli.py", "rlrm/hw/utilisation.py", "rlrm/policy/checkpoint.py",
            "rlrm/validate/files.py", "rlrm/platform/profile.py", "rlrm/paths.py", "rlrm/atomic.py"} <= names
    assert not names & {"rlrm/policy/export.py", "rlrm/env/dynamic_dnn.py", "rlrm/train/trainer.py"}


@pytest.mark.parametrize("source,what", [
    ("Times = dict[int, tuple[int, int]]\n", "dict[...] evaluated at run time"),
    ("from __future__ import annotations\nx = isinstance(1, int | None)\n", "X | Y of types"),
    ("def f(x: int | None) -> list[int]: ...\n", "X | Y of types"),  # no __future__: annotations run
    ("match x:\n    case 1: pass\n", "not Python 3.8 syntax"),
    ("with (open('a') as a, open('b') as b): pass\n", "not Python 3.8 syntax"),
    ("name = 'ab'.removeprefix('a')\n", ".removeprefix is Python 3.9+"),
    ("import tomllib\n", "import tomllib: Python 3.9+"),
    ("from functools import cache\n", "functools.cache is Python 3.9+"),
    ("from importlib.resources import files\n", "importlib.resources.files is Python 3.9+"),
    ("pairs = list(zip(a, b, strict=True))\n", "zip(strict=...)"),
    ("from dataclasses import dataclass\n@dataclass(slots=True)\nclass A: pass\n", "dataclass(slots=...)"),
])
def test_the_guard_catches(source: str, what: str) -> None:
    found = problems_of(source)
    assert any(what in line for line in found), found


@pytest.mark.parametrize("source", [
    "from __future__ import annotations\ndef f(x: int | None, y: list[int]) -> dict[str, int]: ...\n",
    "from __future__ import annotations\nclass A:\n    x: list[int]\n",
    "try:\n    import tomllib\nexcept ImportError:\n    import tomli as tomllib\n",
    "from typing import Dict, Optional\nTimes = Dict[int, Optional[int]]\nflags = 1 | 2\n",
    "from functools import lru_cache\n",
])
def test_the_guard_passes_38_code(source: str) -> None:
    assert problems_of(source) == []
