"""Sub-network libraries: the project's files load; malformed files are one-line errors."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rlrm.dnn.library import LIBRARIES_DIR, load_library, parse_library
from rlrm.errors import InputError
from rlrm.paths import PROJECT_ROOT
from tests.fuzz_support import paths

REFERENCE = PROJECT_ROOT.parent / "shared" / "reference" / "dynamic_ofa_subnets.json"


def _lib_dict() -> dict:
    return json.loads((LIBRARIES_DIR / "dynamic-ofa-6.json").read_text())


def test_project_libraries_load() -> None:
    six, seven = load_library("dynamic-ofa-6"), load_library("dynamic-ofa-7")
    assert (len(six), len(seven)) == (6, 7)
    assert six.arch.name == "ofa_mbv3_d234_e346_k357_w1.2" and six.arch.n_classes == 1000
    assert [s.resolution for s in six.levels] == [176, 176, 192, 208, 224, 224]
    assert six[5].depth == (4, 4, 4, 4, 4) and len(six[0].kernel) == 20


@pytest.mark.skipif(not REFERENCE.is_file(), reason="reference library not available")
def test_reference_file_form_with_library_choice() -> None:
    lib = load_library(f"{REFERENCE}#six_levels")
    assert [s.to_json() for s in lib.levels] == [s.to_json() for s in load_library("dynamic-ofa-6").levels]
    with pytest.raises(InputError) as exc:
        load_library(REFERENCE)
    assert "six_levels" in str(exc.value)


def test_round_trip(tmp_path) -> None:
    lib = load_library("dynamic-ofa-6")
    lib.save(tmp_path / "x.json")
    again = load_library(tmp_path / "x.json")
    assert again.levels == lib.levels and again.arch == lib.arch


@pytest.mark.parametrize(
    "mutate,field",
    [
        (lambda d: d.update(colour="red"), "colour"),
        (lambda d: d.update(supernet="resnet50"), "supernet"),
        (lambda d: d["libraries"]["dynamic-ofa-6"][1].update(kernel=[3] * 19), "libraries.dynamic-ofa-6[1].kernel"),
        (lambda d: d["libraries"]["dynamic-ofa-6"][2]["expand"].__setitem__(4, 5), "libraries.dynamic-ofa-6[2].expand[4]"),
        (lambda d: d["libraries"]["dynamic-ofa-6"][0].update(depth=[1, 2, 3, 4, 4]), "libraries.dynamic-ofa-6[0].depth[0]"),
        (lambda d: d["libraries"]["dynamic-ofa-6"][3].update(mflops=500.0), "libraries.dynamic-ofa-6[3].mflops"),
        (lambda d: d["libraries"]["dynamic-ofa-6"][3].update(level=7), "libraries.dynamic-ofa-6[3].level"),
        (lambda d: d["libraries"]["dynamic-ofa-6"][0].update(top1=140), "libraries.dynamic-ofa-6[0].top1"),
        (lambda d: d["libraries"]["dynamic-ofa-6"][0].pop("resolution"), "libraries.dynamic-ofa-6[0].resolution"),
        (lambda d: d["libraries"]["dynamic-ofa-6"][0].update(speed=1), "libraries.dynamic-ofa-6[0].speed"),
    ],
)
def test_malformed_library_names_the_field(tmp_path, mutate, field: str) -> None:
    d = _lib_dict()
    mutate(d)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))
    with pytest.raises(InputError) as exc:
        load_library(path)
    assert exc.value.field == field
    assert str(exc.value).startswith(str(path)) and "\n" not in str(exc.value)


def test_unreadable_library(tmp_path) -> None:
    (tmp_path / "x.json").write_text("{")
    with pytest.raises(InputError):
        load_library(tmp_path / "x.json")
    with pytest.raises(InputError):
        load_library("no-such-library")


JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10**6), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6), st.lists(st.integers(-3, 8), max_size=21), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


BASE = _lib_dict()
PATHS = list(paths(BASE))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=JUNK, delete=st.booleans())
def test_any_corruption_is_an_input_error_or_still_valid(path, value, delete) -> None:
    d = copy.deepcopy(BASE)
    node = d
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    try:
        lib = parse_library(d, "x.json")
    except InputError as err:
        assert "\n" not in str(err) and str(err).startswith("x.json: ")
    else:
        assert len(lib) >= 1
