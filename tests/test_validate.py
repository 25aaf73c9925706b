"""rlrm.validate: one reader for TOML/JSON/YAML, declared field specs, the shared check helpers,
plausible ranges in profiles and scenarios, and the old-Python rule for the board-side files."""

from __future__ import annotations

import ast
import copy
import importlib.util
import json
import math
import os
import sys
import tomllib
import types
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rlrm import validate
from rlrm.errors import InputError
from rlrm.platform import parse_platform
from rlrm.sim import parse_scenario, parse_trace
from rlrm.validate import (OMIT, Any_, Bool, Float, Int, List, MapOf, Nullable, Spec, Str, StrictInt, Table,
                           check_bool, check_choice, check_finite, check_fraction, check_int, load, read_data,
                           read_bytes)

ROOT = Path(__file__).resolve().parent.parent


def _one_line(err: InputError, source: str) -> None:
    text = str(err)
    assert "\n" not in text and text.startswith(f"{source}: ") and err.field and err.problem, text


# ---------------------------------------------------------------------- the reader
@pytest.mark.parametrize("kind,text,expected", [
    ("toml", "a = 1\n[b]\nc = 'x'\n", {"a": 1, "b": {"c": "x"}}),
    ("json", '{"a": [1, 2.5]}', {"a": [1, 2.5]}),
    ("yaml", "a: {b: [1, 2]}\n", {"a": {"b": [1, 2]}}),
])
def test_reader_parses_each_kind_by_suffix(tmp_path: Path, kind: str, text: str, expected: dict) -> None:
    path = tmp_path / f"f.{kind}"
    path.write_text(text)
    assert read_data(path) == expected
    assert getattr(validate, f"read_{kind}")(path) == expected


@pytest.mark.parametrize("kind,text,field,words", [
    ("toml", "a = [", "<toml>", "not valid TOML"),
    ("json", "{", "<json>", "not valid JSON"),
    ("json", '{"a": {"b": [1, NaN]}}', "a.b[1]", "NaN is not allowed"),
    ("yaml", "a: 1\na: 2\n", "<yaml>", "duplicate key"),
    ("yaml", "a: !!python/object/apply:os.system [echo]", "<yaml>", "not valid YAML"),
    ("json", "[" * 100_000, "<json>", "nested too deeply"),
])
def test_reader_refuses_bad_text_in_one_line(tmp_path: Path, kind: str, text: str, field: str, words: str) -> None:
    path = tmp_path / f"bad.{kind}"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_data(path)
    _one_line(err.value, str(path))
    assert err.value.field == field and words in err.value.problem, err.value


@pytest.mark.parametrize("kind", ["toml", "json", "yaml"])
def test_reader_refuses_what_is_not_a_small_regular_utf8_file(tmp_path: Path, kind: str) -> None:
    cases = {}
    cases["missing"] = tmp_path / f"missing.{kind}"
    cases["directory"] = tmp_path / f"dir.{kind}"
    cases["directory"].mkdir()
    cases["fifo"] = tmp_path / f"fifo.{kind}"
    os.mkfifo(cases["fifo"])  # opening it for reading must not wait for a writer
    cases["large"] = tmp_path / f"large.{kind}"
    with open(cases["large"], "wb") as fh:
        fh.truncate(validate.MAX_FILE_BYTES + 1)
    for why, path in cases.items():
        with pytest.raises(InputError) as err:
            read_data(path)
        _one_line(err.value, str(path))
        assert err.value.field == "<file>", (why, err.value)
    binary = tmp_path / f"bin.{kind}"
    binary.write_bytes(b"\xff\xfe\x00a")
    with pytest.raises(InputError) as err:
        read_data(binary)
    assert err.value.field == f"<{kind}>" and "UTF-8" in err.value.problem


def test_reader_follows_a_link_to_a_regular_file_and_knows_only_three_kinds(tmp_path: Path) -> None:
    (tmp_path / "real.json").write_text("[1]")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    assert read_data(tmp_path / "link.json") == [1]
    (tmp_path / "x.ini").write_text("[a]")
    with pytest.raises(InputError) as err:
        read_data(tmp_path / "x.ini")
    assert err.value.field == "<file>"
    assert read_data(tmp_path / "x.ini", "toml") == {"a": {}}
    assert read_bytes(tmp_path / "real.json") == b"[1]"


def test_every_loader_reads_through_the_one_reader() -> None:
    """No module of rlrm parses TOML/JSON/YAML from a file with its own ``except`` ladder."""
    offenders = []
    for path in sorted((ROOT / "rlrm").rglob("*.py")):
        if path == ROOT / "rlrm" / "validate" / "files.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Try):
                caught = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
                if any(c.endswith(("TOMLDecodeError", "JSONDecodeError", "YAMLError")) for c in caught):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


def test_tomli_stands_in_for_tomllib_before_python_3_11(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("tomli")
    fake.loads = tomllib.loads  # type: ignore[attr-defined]
    fake.TOMLDecodeError = tomllib.TOMLDecodeError  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tomllib", None)  # "import tomllib" raises ImportError
    monkeypatch.setitem(sys.modules, "tomli", fake)
    spec = importlib.util.spec_from_file_location("_validate_files_py38", ROOT / "rlrm" / "validate" / "files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    assert module.tomllib is fake


# ---------------------------------------------------------------------- declared specs
INNER = Spec({"x": Float(minimum=0.0, maximum=10.0), "tag": Str(OMIT, choices=("a", "b"))})
SPEC = Spec({
    "name": Str(nonempty=True), "n": Int(3, minimum=1, maximum=9), "on": Bool(False),
    "items": List(StrictInt(minimum=0), [], nonempty=False, increasing=True),
    "inner": Table(INNER), "named": MapOf(Table(INNER), {}), "maybe": Nullable(Float(minimum=0.0)),
    "free": Any_(OMIT),
}, switch=None)


def test_spec_fills_defaults_and_leaves_omitted_fields_out() -> None:
    out = SPEC.check({"name": "b", "inner": {"x": 2}}, "f.toml")
    assert out == {"name": "b", "n": 3, "on": False, "items": [], "inner": {"x": 2.0}, "named": {}, "maybe": None}
    assert isinstance(out["inner"]["x"], float)
    assert SPEC.check({"name": "b", "inner": {"x": 2}, "n": 4.0, "free": [1]}, "f.toml")["n"] == 4


@pytest.mark.parametrize("change,field,words", [
    (lambda d: d.pop("name"), "name", "missing required field"),
    (lambda d: d.update(colour=1), "colour", "unknown key"),
    (lambda d: d.update(n=10), "n", "<= 9"),
    (lambda d: d.update(n=2.5), "n", "integer"),
    (lambda d: d.update(on=1), "on", "true or false"),
    (lambda d: d.update(items=[1, 1]), "items[1]", "strictly increasing"),
    (lambda d: d.update(items=[1, 2.0]), "items[1]", "integer"),
    (lambda d: d["inner"].update(x=math.inf), "inner.x", "finite"),
    (lambda d: d["inner"].update(x=1e308), "inner.x", "<= 10"),
    (lambda d: d["inner"].update(x="1e-4"), "inner.x", "1.0e-4"),
    (lambda d: d["inner"].update(tag="c"), "inner.tag", "not one of"),
    (lambda d: d.update(named={"u1": {"x": -1}}), "named.u1.x", ">= 0"),
    (lambda d: d.update(named=[]), "named", "expected a table"),
    (lambda d: d.update(maybe=-1), "maybe", ">= 0"),
    (lambda d: d.update(name=""), "name", "empty"),
])
def test_spec_errors_name_the_dotted_field(change, field: str, words: str) -> None:  # noqa: ANN001
    d = {"name": "b", "inner": {"x": 2}}
    change(d)
    with pytest.raises(InputError) as err:
        SPEC.check(d, "f.toml")
    _one_line(err.value, "f.toml")
    assert err.value.field == field and words in err.value.problem, err.value


def test_spec_variants_bring_their_own_fields() -> None:
    spec = Spec({"kind": Str(choices=("a", "b")), "common": Int(0)},
                switch=("kind", {"a": Spec({"x": Int()}), "b": Spec({"y": Str("z")})}))
    assert spec.check({"kind": "a", "x": 1}, "f") == {"kind": "a", "x": 1, "common": 0}
    assert spec.check({"kind": "b"}, "f") == {"kind": "b", "common": 0, "y": "z"}
    for bad, field in (({"kind": "a"}, "x"), ({"kind": "b", "x": 1}, "x"), ({"kind": "c"}, "kind")):
        with pytest.raises(InputError) as err:
            spec.check(bad, "f")
        assert err.value.field == field


def test_load_reads_and_checks(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: x\ninner: {x: 11}\n")
    with pytest.raises(InputError) as err:
        load(path, SPEC)
    assert str(err.value) == f"{path}: inner.x: must be <= 10, got 11"
    path.write_text("[]")
    with pytest.raises(InputError) as err:
        load(path, SPEC)
    assert err.value.field == "<top>"


@settings(max_examples=200, deadline=None)
@given(doc=st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
                        lambda c: st.lists(c, max_size=3) | st.dictionaries(
                            st.sampled_from(["name", "n", "on", "items", "inner", "x", "tag", "named", "maybe"])
                            | st.text(max_size=3), c, max_size=4), max_leaves=12))
def test_any_document_checks_or_is_one_line(doc: object) -> None:
    try:
        SPEC.check(doc, "f.json")
    except InputError as err:
        _one_line(err, "f.json")


# ---------------------------------------------------------------------- the check helpers
def test_check_helpers() -> None:
    assert check_int(5, "gov", "hz", 1, 10) == 5
    assert check_fraction(1, "gov", "load") == 1.0 and isinstance(check_fraction(1, "gov", "load"), float)
    assert check_finite(2, "env", "period_s", exclusive_minimum=0.0, maximum=3600.0) == 2.0
    assert check_choice("sim", "env", "backend", ("sim", "live")) == "sim"
    assert check_bool(True, "gov", "io_is_busy") is True
    bad = [
        (lambda: check_int(True, "gov", "hz", 1, 10), "hz", "must be an integer in 1..10"),
        (lambda: check_int(0, "gov", "hz", 1, None, "a kernel's HZ"), "hz", "integer >= 1 (a kernel's HZ)"),
        (lambda: check_int(5.0, "gov", "hz"), "hz", "must be an integer"),
        (lambda: check_fraction(float("nan"), "gov", "load"), "load", "[0, 1]"),
        (lambda: check_fraction(1.5, "gov", "load"), "load", "[0, 1]"),
        (lambda: check_fraction(False, "gov", "load"), "load", "[0, 1]"),
        (lambda: check_finite(10**400, "env", "x"), "x", "finite"),
        (lambda: check_finite(0, "env", "period_s", exclusive_minimum=0.0), "period_s", "> 0"),
        (lambda: check_choice(1, "env", "backend", ("sim", "live")), "backend", "not one of 'sim', 'live'"),
        (lambda: check_choice(True, "env", "x", (1, 2)), "x", "not one of"),
        (lambda: check_bool(1, "gov", "io_is_busy"), "io_is_busy", "true or false"),
    ]
    for call, field, words in bad:
        with pytest.raises(InputError) as err:
            call()
        assert err.value.field == field and words in err.value.problem, err.value


# ---------------------------------------------------------------------- plausible ranges in the files
@pytest.mark.parametrize("path,field", [
    (("board", "base_power_w"), "board.base_power_w"),
    (("units", "gpu", "power", "ceff"), "units.gpu.power.ceff"),
    (("units", "gpu", "power", "static_w"), "units.gpu.power.static_w"),
    (("units", "carmel", "dvfs_latency_us"), "units.carmel.dvfs_latency_us"),
    (("units", "carmel", "cores"), "units.carmel.cores"),
    (("power_modes", 0, "budget_w"), "power_modes[0].budget_w"),
])
def test_profile_refuses_implausible_numbers(xavier_dict: dict, path: tuple, field: str) -> None:
    d = copy.deepcopy(xavier_dict)
    node = d
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = 1e308  # finite, but the energy it gives is not
    with pytest.raises(InputError) as err:
        parse_platform(d, "board.toml")
    _one_line(err.value, "board.toml")
    assert err.value.field == field


def test_profile_refuses_implausible_operating_points(xavier_dict: dict) -> None:
    d = copy.deepcopy(xavier_dict)
    d["units"]["gpu"]["volts_mv"][-1] = 1e308
    with pytest.raises(InputError) as err:
        parse_platform(d, "board.toml")
    assert err.value.field == f"units.gpu.volts_mv[{len(d['units']['gpu']['volts_mv']) - 1}]"
    d = copy.deepcopy(xavier_dict)
    d["units"]["gpu"]["freqs_khz"][-1] = 10**12
    with pytest.raises(InputError) as err:
        parse_platform(d, "board.toml")
    assert err.value.field.startswith("units.gpu.freqs_khz[")


def test_scenario_and_trace_refuse_implausible_numbers(steady_dict: dict) -> None:
    for path, field in ((("targets", 0, "latency_ms"), "targets[0].latency_ms"),
                        (("apps", 0, "fps"), "apps[0].fps"), (("apps", 0, "stop_s"), "apps[0].stop_s")):
        d = copy.deepcopy(steady_dict)
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = 1e308
        with pytest.raises(InputError) as err:
            parse_scenario(d, "s.toml")
        assert err.value.field == field
    trace = json.loads((ROOT / "envs" / "traces" / "odroid-xu3" / "dynamic-ofa-6.json").read_text())
    trace["entries"][0]["latency_p90_ms"] = 1e308
    with pytest.raises(InputError) as err:
        parse_trace(trace, "t.json")
    assert err.value.field == "entries[0].latency_p90_ms"


# ---------------------------------------------------------------------- Python 3.8 on the board
#: the files this rule covers (the reading and validation path the board runtime imports)
PY38_FILES = ["rlrm/validate/__init__.py", "rlrm/validate/files.py", "rlrm/validate/spec.py",
              "rlrm/validate/values.py", "rlrm/validate/fields.py", "rlrm/errors.py", "rlrm/platform/profile.py", "rlrm/sim/scenario.py",
              "rlrm/sim/trace.py", "rlrm/dnn/library.py", "rlrm/dnn/lut.py", "rlrm/train/config.py",
              "rlrm/hw/sampler.py", "rlrm/hw/observe.py", "rlrm/hw/measurements.py", "rlrm/hw/utilisation.py"]
_NEW_GENERICS = {"list", "dict", "tuple", "set", "frozenset", "type"}


def _runtime_nodes(tree: ast.AST):  # noqa: ANN202
    """Every node that is evaluated when the module runs (annotations left out: the files use
    ``from __future__ import annotations``)."""
    skip: set = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
                if a is not None and a.annotation is not None:
                    skip.update(map(id, ast.walk(a.annotation)))
            if node.returns is not None:
                skip.update(map(id, ast.walk(node.returns)))
        elif isinstance(node, ast.AnnAssign):
            skip.update(map(id, ast.walk(node.annotation)))
    return [n for n in ast.walk(tree) if id(n) not in skip]


@pytest.mark.parametrize("name", PY38_FILES)
def test_board_side_files_run_on_python_3_8(name: str) -> None:
    source = (ROOT / name).read_text()
    tree = ast.parse(source, feature_version=(3, 8))
    assert "from __future__ import annotations" in source
    problems = []
    for node in _runtime_nodes(tree):
        line = getattr(node, "lineno", "?")
        if isinstance(node, ast.Match) or (isinstance(node, ast.With) and "with (" in ast.get_source_segment(
                source, node).split("\n")[0]):
            problems.append(f"{line}: 3.10 syntax")
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in _NEW_GENERICS:
            problems.append(f"{line}: {node.value.id}[...] outside an annotation")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and any(
                (isinstance(s, ast.Constant) and s.value is None)
                or (isinstance(s, ast.Name) and s.id in _NEW_GENERICS | {"int", "str", "float", "bool"})
                for s in (node.left, node.right)):
            problems.append(f"{line}: X | Y of types outside an annotation")
        if isinstance(node, ast.Attribute) and node.attr in ("removeprefix", "removesuffix"):
            problems.append(f"{line}: str.{node.attr}")
        if isinstance(node, ast.Import) and any(a.name in ("tomllib", "zoneinfo", "graphlib") for a in node.names):
            parent_try = any(isinstance(t, ast.Try) and node in t.body for t in ast.walk(tree))
            if not parent_try:
                problems.append(f"{line}: a module new in 3.9+ imported without a fallback")
    assert not problems, f"{name}: {problems}"
