"""The shape of the code: subpackages layered without import cycles, small modules, no
private name of rlrm used outside its module.

Imports are read with :mod:`ast` from every module of ``rlrm/`` (imports inside functions
included), so the checks need nothing imported and run in well under a second.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import Iterator

import pytest

from rlrm.extras import EXTRA_OF, VENDOR_MODULES

ROOT = Path(__file__).resolve().parents[1] / "rlrm"

#: modules allowed over MAX_LINES and to use/export private names across modules (none now).
TEMPORARY_ALLOW: set = set()
MAX_LINES = 600
#: private names still read across modules: TEMPORARY, same as above (none now).
TEMPORARY_PRIVATE_ALLOW: set = set()


@functools.lru_cache(maxsize=None)
def parse(path: Path) -> ast.Module:
    """The syntax tree of a module (parsed once per test session)."""
    return ast.parse(path.read_text(encoding="utf-8"))


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def subpackage(mod: str) -> str:
    """``rlrm.sim.simulator`` -> ``sim``; top-level modules (``rlrm.evaluate``) are their own layer."""
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def from_target(node: ast.ImportFrom, package: str) -> str:
    """The module a ``from ... import`` names, relative imports resolved against ``package``."""
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(mod: str, path: Path) -> Iterator[tuple[str, list[str], int]]:
    """``(imported rlrm module, names taken from it, line)`` for every import in ``path``,
    at any depth (inside functions too)."""
    tree = parse(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("rlrm"):
                    yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = from_target(node, package)
            if target.startswith("rlrm"):
                yield target, [a.name for a in node.names], node.lineno


def resolve(target: str, known: dict[str, Path]) -> str:
    """The module an import names (``from rlrm.sim import x`` -> ``rlrm.sim``)."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target


def package_graph() -> dict[str, set[str]]:
    known = modules()
    graph: dict[str, set[str]] = {}
    for mod, path in known.items():
        src = subpackage(mod)
        for target, names, _line in imports_of(mod, path):
            targets = [resolve(target, known)]
            # `from rlrm import x` / `from rlrm.pkg import sub` may name submodules
            targets += [resolve(f"{target}.{n}", known) for n in names if f"{target}.{n}" in known]
            for t in targets:
                dst = subpackage(t)
                if t != "rlrm" and dst != src:
                    graph.setdefault(src, set()).add(dst)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of ``graph`` as a list of nodes (first == last), or []."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}}) == []


def test_no_cycle_between_subpackages() -> None:
    cycle = find_cycle(package_graph())
    assert not cycle, "import cycle between rlrm's subpackages: " + " -> ".join(c or "<top>" for c in cycle)


def test_no_module_over_max_lines() -> None:
    long = {m: n for m, p in modules().items()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES and m not in TEMPORARY_ALLOW}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


#: optional third-party packages the board runtime does without: what an install extra
#: (``rlrm[train]``, ``[demo]``, ``[onnx]``, ``[sweep]``) or the vendor (torch) provides, as
#: :mod:`rlrm.extras` lists them; only modules bound to one of them may be imported inside a function
HEAVY_PACKAGES = (set(EXTRA_OF) | VENDOR_MODULES) - {"pytest", "hypothesis"}


def top_level_imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports when it is imported (its top level and ``try`` blocks
    there, not functions or ``if TYPE_CHECKING:``), as absolute names."""
    mod = module_name(path)
    package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
    nodes = list(parse(path).body)
    while nodes:
        node = nodes.pop()
        if isinstance(node, ast.Try):
            nodes += node.body + node.orelse + node.finalbody
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = from_target(node, package)
            yield target
            yield from (f"{target}.{a.name}" for a in node.names)


def heavy_modules() -> set[str]:
    """rlrm modules that import a :data:`HEAVY_PACKAGES` package when imported, directly or
    through another rlrm module's top level (torch-, sb3-, Ray- or ONNX-Runtime-bound)."""
    known = modules()
    deps = {mod: set(top_level_imports(path)) for mod, path in known.items()}
    heavy = {mod for mod, names in deps.items() if any(n.split(".")[0] in HEAVY_PACKAGES for n in names)}
    grew = True
    while grew:
        grew = False
        for mod, names in deps.items():
            if mod not in heavy and any(n in known and n in heavy for n in names):
                heavy.add(mod)
                grew = True
    return heavy


def late_rlrm_imports() -> list[str]:
    """rlrm modules imported inside a function (or any block but the module's top level) that
    are not :func:`heavy_modules`."""
    known = modules()
    heavy = heavy_modules()
    out = []
    for mod, path in known.items():
        if mod in TEMPORARY_ALLOW:
            continue
        tree = parse(path)
        top = {id(n) for n in tree.body}
        for node in tree.body:  # `if TYPE_CHECKING:` at the top: imports for annotations only
            if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                top.update(id(n) for n in node.body)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for name in names:
                    if name.startswith("rlrm") and resolve(name, known) not in heavy:
                        out.append(f"{mod}:{node.lineno} imports {name}")
    return out


def test_rlrm_imports_at_module_top() -> None:
    late = late_rlrm_imports()
    assert not late, "rlrm modules imported inside functions (only torch-bound ones may be):\n" + "\n".join(late)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def private_uses() -> list[str]:
    """Every private name of an rlrm module imported or read as an attribute of an imported
    rlrm module by another module."""
    known = modules()
    out = []
    for mod, path in known.items():
        if mod in TEMPORARY_ALLOW:
            continue
        tree = parse(path)
        aliases: dict[str, str] = {}  # local name -> rlrm module
        for target, names, line in imports_of(mod, path):
            src = resolve(target, known)
            if src in TEMPORARY_ALLOW:
                continue
            for n in names:
                if _private(n) and src != mod:
                    out.append(f"{mod}:{line} imports {src}.{n}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("rlrm"):
                        aliases[a.asname or a.name.split(".")[0]] = a.asname and a.name or "rlrm"
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rlrm"):
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    if full in known:
                        aliases[a.asname or a.name] = full
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                base = node.value
                if isinstance(base, ast.Name) and base.id in aliases and aliases[base.id] != mod:
                    out.append(f"{mod}:{node.lineno} uses {aliases[base.id]}.{node.attr}")
    return out


def private_attribute_reads(names: set[str]) -> list[str]:
    """Reads of ``obj.<name>`` for the given private attribute names outside ``self``/``cls``:
    private attributes of rlrm classes read from another object (``sim._top1``)."""
    out = []
    for mod, path in modules().items():
        if mod in TEMPORARY_ALLOW:
            continue
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.Attribute) and node.attr in names:
                base = node.value
                if not (isinstance(base, ast.Name) and base.id in ("self", "cls")):
                    out.append(f"{mod}:{node.lineno} reads .{node.attr}")
    return out


def defined_private_attributes() -> dict[str, str]:
    """``self._x`` attributes assigned in rlrm classes, by name -> first module that sets it."""
    found: dict[str, str] = {}
    for mod, path in modules().items():
        for node in ast.walk(parse(path)):
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and _private(node.attr) \
                    and isinstance(node.value, ast.Name) and node.value.id == "self":
                found.setdefault(node.attr, mod)
    return found


def _allowed(line: str) -> bool:
    where, _, what = line.partition(" ")
    return f"{where.split(':')[0]} {what}" in TEMPORARY_PRIVATE_ALLOW


def test_no_private_name_across_modules() -> None:
    uses = [u for u in private_uses() if not _allowed(u)]
    assert not uses, "private names used outside their module:\n" + "\n".join(uses)


def test_no_private_attribute_of_another_object() -> None:
    reads = [r for r in private_attribute_reads(set(defined_private_attributes())) if not _allowed(r)]
    assert not reads, "private attributes read from another object:\n" + "\n".join(reads)


def test_the_checks_catch_planted_violations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A fake rlrm with a cycle, a private import, a private attribute read and a late import."""
    pkg = tmp_path / "rlrm"
    for sub in ("a", "b"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "x.py").write_text("from rlrm.b.y import _hidden\n\n\nclass X:\n    def __init__(self):\n"
                                    "        self._table = []\n")
    (pkg / "b" / "y.py").write_text("def _hidden(x):\n    from rlrm.a.x import X\n    return x._table\n")
    # torch-bound through another rlrm module's top level: may be imported inside a function
    (pkg / "a" / "net.py").write_text("import torch\n")
    (pkg / "a" / "model.py").write_text("from rlrm.a.net import torch\n")
    (pkg / "a" / "use.py").write_text("def build():\n    from rlrm.a.model import torch\n    return torch\n")
    monkeypatch.setitem(globals(), "ROOT", pkg)
    assert find_cycle(package_graph()) in (["a", "b", "a"], ["b", "a", "b"])
    assert private_uses() == ["rlrm.a.x:1 imports rlrm.b.y._hidden"]
    assert private_attribute_reads(set(defined_private_attributes())) == ["rlrm.b.y:3 reads ._table"]
    assert heavy_modules() == {"rlrm.a.net", "rlrm.a.model"}
    assert late_rlrm_imports() == ["rlrm.b.y:2 imports rlrm.a.x"]
