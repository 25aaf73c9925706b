"""InputError formatting: one line naming file and field."""

from rlrm.errors import InputError


def test_input_error_is_one_line_with_file_and_field() -> None:
    err = InputError("envs/platforms/x.toml", "units.gpu.opp", "not\nincreasing")
    assert str(err) == "envs/platforms/x.toml: units.gpu.opp: not increasing"
    assert "\n" not in str(err)
    assert err.source.endswith("x.toml") and err.field == "units.gpu.opp"


def test_source_and_field_from_a_file_stay_on_one_line() -> None:
    err = InputError("a\nb.json", "env.\n\x00\u2028", "bad")
    assert str(err) == "a\\nb.json: env.\\n\\x00\\u2028: bad"
    assert len(str(err).splitlines()) == 1


def test_an_empty_field_name_is_shown() -> None:
    err = InputError("a.toml", "", "unknown key")
    assert str(err) == 'a.toml: "": unknown key' and err.field
