"""Field: one parameter's check, its words, its catalog entry and its JSON Schema."""

from __future__ import annotations

from typing import Any

import jsonschema_rs  # schemathesis's JSON Schema validator
import pytest

from pilot_spec.fields import MAX_INT, Field

DROP_PROB = Field("number", 0.1, "rate", minimum=0, exclusive_maximum=1)
BLOCK = Field("integer", 3, "side", minimum=1, maximum=64.0)


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        (Field("integer", minimum=1), [1, 10**18, MAX_INT], [0, 1.0, True, "1", None, MAX_INT + 1, -(2**64)]),
        (Field("number", exclusive_minimum=0, maximum=1), [1, 0.5, 1e-9], [0, 1.5, float("nan"), float("inf"), False]),
        (Field("boolean"), [True, False], [0, 1, "true", None]),
        (Field("string", enum=("a", "b")), ["a"], ["c", 1, None]),
        (Field("string"), ["/data", "ü"], ["a\x00b", "\ud800", 3]),
        (Field("integer", enum=(1, 3)), [1, 3], [2, 1.0, True]),
        (Field("boolean", nullable=True), [None, True], ["null"]),
    ],
)
def test_check_accepts_the_allowed_and_names_the_problem_of_the_rest(
    field: Field, good: list[Any], bad: list[Any]
) -> None:
    assert [field.check(value) for value in good] == [None] * len(good)
    for value in bad:
        problem = field.check(value)
        assert problem is not None and problem.startswith(f"must be {field.describe()}")
        assert not field.ok(value)


def test_check_messages() -> None:
    assert BLOCK.check(100) == "must be an integer >= 1 and <= 64 (got 100)"
    assert DROP_PROB.check("high") == "must be a number >= 0 and < 1 (got 'high')"
    assert (
        Field("integer", minimum=0).check(2**70)
        == "must be an integer >= 0 and at most 2^63-1 (got 1180591620717411303424)"
    )
    assert Field("string").check(7) == "must be a string (got 7)"
    assert Field("boolean").check("x" * 100) == f"must be true or false (got '{'x' * 56}...)"  # user input, cut short


def test_describe_says_what_is_allowed() -> None:
    assert DROP_PROB.describe() == "a number >= 0 and < 1"
    assert Field("string", enum=("linear", "constant")).describe() == "one of linear, constant"
    assert BLOCK.describe() == "an integer >= 1 and <= 64"
    assert Field("boolean", nullable=True).describe() == "true or false or null"
    assert Field("integer", enum=(1, 3), allowed="1 or 3").describe() == "1 or 3"
    assert Field("integer", enum=(1, 3)).describe() == "one of 1, 3"


def test_catalog_entry_round_trips() -> None:
    field = Field("integer", None, "width", minimum=1, maximum=1024, nullable=True, allowed="null or 1..1024")
    entry = field.catalog_entry()
    assert entry == {
        "type": "integer",
        "default": None,
        "help": "width",
        "minimum": 1,
        "maximum": 1024,
        "nullable": True,
        "allowed": "null or 1..1024",
    }
    assert Field.from_catalog(entry) == field
    assert Field.from_catalog(DROP_PROB.catalog_entry()) == DROP_PROB


@pytest.mark.parametrize(
    ("field", "values"),
    [
        (DROP_PROB, [0, 0.5, 0.999, 1, -0.1, "x", None, True]),
        (BLOCK, [1, 64, 0, 65, 3.5, None, False, "3", MAX_INT + 1]),
        (Field("string", "a", enum=("a", "b"), nullable=True), ["a", "b", "c", None, 1]),
        (Field("boolean", True), [True, False, None, 0]),
        (Field("string", None, "a path", required=True), ["/data", 3, None]),
    ],
)
def test_json_schema_agrees_with_check(field: Field, values: list[Any]) -> None:
    schema = field.json_schema()
    assert jsonschema_rs.meta.is_valid(schema)
    validator = jsonschema_rs.Draft202012Validator(schema)
    assert [validator.is_valid(value) for value in values] == [field.ok(value) for value in values]
    assert ("default" in schema) != field.required and schema.get("description", "") == field.help
