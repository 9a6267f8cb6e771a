"""A shape says yes only to what the schema accepts, and says it to the records that reach ingest."""

from __future__ import annotations

import itertools
import re
import sys
from typing import Any

import fastjsonschema
import orjson
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import schemas
import schemas.accept
from schemas.accept import DOLLAR, INSTANT, SAFE_TEXT, VISIBLE_SAFE_TEXT, shape_of
from streams.sim import SimulationSpec, generate
from tests.compiled import interpreted

pytestmark = pytest.mark.unit

DRAFT = "http://json-schema.org/draft-07/schema#"
TOUCHPOINT = schemas.load_schema("touchpoint")
SHAPE = shape_of(TOUCHPOINT)
FULL = fastjsonschema.compile(TOUCHPOINT)


def accepted_by(validate: Any, document: Any) -> bool:
    try:
        validate(document)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


# Values near every edge a keyword below draws: whole floats, bools beside numbers, a newline
# before the end (``$``), a soft hyphen (excluded by the contract's id patterns).
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, 1.0, 2.5, -1.5]),
    st.text(alphabet="ab\n\u00ad ", max_size=4),
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from("abc"), children, max_size=3)
    ),
    max_leaves=8,
)
names = st.sampled_from("abc")
words = st.sampled_from(["a", "b", "ab"])


@st.composite
def subschemas(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    """A schema of the keywords a shape knows, each drawn or not, nested up to two levels."""
    schema: dict[str, Any] = {}
    types = ["null", "boolean", "integer", "number", "string", "array", "object"]
    if draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(types), min_size=1, max_size=3, unique=True))
        schema["type"] = chosen[0] if len(chosen) == 1 else chosen
    if draw(st.integers(0, 5)) == 0:
        schema["const"] = draw(st.sampled_from(["a", 1, 0, True, None]))
    if draw(st.integers(0, 4)) == 0:
        schema["enum"] = draw(st.lists(words, min_size=1, max_size=2, unique=True))
    for keyword in ("minLength", "maxLength", "minProperties", "maxProperties"):
        if draw(st.integers(0, 3)) == 0:
            schema[keyword] = draw(st.integers(0, 3))
    if draw(st.integers(0, 3)) == 0:
        schema["pattern"] = draw(
            st.sampled_from(["^a", "a$", "^[ab]*$", "^$", "b", "^[^\u00ad]*(?![\\s\\S])"])
        )
    for keyword in ("minimum", "maximum"):
        if draw(st.integers(0, 3)) == 0:
            schema[keyword] = draw(st.sampled_from([-1, 0, 1, 1.5, 2]))
    if draw(st.integers(0, 3)) == 0:
        schema["required"] = draw(st.lists(names, max_size=2, unique=True))
    if depth < 2:
        if draw(st.integers(0, 2)) == 0:
            schema["properties"] = draw(st.dictionaries(names, subschemas(depth + 1), max_size=2))
        if draw(st.integers(0, 3)) == 0:
            schema["additionalProperties"] = draw(st.one_of(st.booleans(), subschemas(depth + 1)))
        if draw(st.integers(0, 4)) == 0:
            schema["anyOf"] = draw(st.lists(subschemas(depth + 1), min_size=1, max_size=2))
        if draw(st.integers(0, 4)) == 0:
            schema["allOf"] = [
                {
                    "if": {"required": [name], "properties": {name: test}},
                    "then": draw(subschemas(depth + 1)),
                }
                for name, test in draw(
                    st.lists(
                        st.tuples(
                            names,
                            st.one_of(
                                words.map(lambda word: {"const": word}),
                                st.lists(words, min_size=1, max_size=2).map(lambda some: {"enum": some}),
                            ),
                        ),
                        min_size=1,
                        max_size=2,
                    )
                )
            ]
    return schema


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subschemas(), st.lists(json_values, min_size=1, max_size=8))
def test_a_shape_never_accepts_what_the_schema_refuses(schema: dict[str, Any], values: list[Any]) -> None:
    try:
        full = fastjsonschema.compile({"$schema": DRAFT, **schema})
    except fastjsonschema.JsonSchemaDefinitionException:
        reject()  # a schema fastjsonschema itself refuses to compile (a required property not allowed)
    shape = shape_of(schema)
    assert shape is not None, "every keyword drawn is one a shape knows"
    for value in values:
        if shape.accepts(value):
            assert accepted_by(full, value), f"{value!r} accepted by the shape of {schema!r}"


@st.composite
def touchpoints(draw: st.DrawFn) -> dict[str, Any]:
    """A contract example with a few fields, identifiers or attributes set to edge values or dropped."""
    document: dict[str, Any] = orjson.loads(orjson.dumps(draw(st.sampled_from(TOUCHPOINT["examples"]))))
    edges = st.one_of(
        json_values,
        st.sampled_from(["", " ", "x" * 129, "a\n", "2026-01-05T19:30:00Z\n", "ok\u200b", "EUR", "eur"]),
        st.sampled_from([1, 1.0, True, -0.5, 604_800, 604_801, 1e9, 5, 6, 10, 11, 3.0]),
    )
    for _ in range(draw(st.integers(1, 3))):
        place = draw(st.sampled_from(["top", "identifiers", "attributes"]))
        if place == "top":
            name = draw(st.sampled_from([*TOUCHPOINT["properties"], "extra"]))
            target = document
        else:
            name = draw(st.sampled_from([*TOUCHPOINT["properties"][place].get("properties", {}), "other"]))
            target = document.setdefault(place, {})
            if not isinstance(target, dict):
                continue
        if draw(st.integers(0, 3)) == 0:
            target.pop(name, None)
        else:
            target[name] = draw(edges)
    return document


@settings(max_examples=1500, deadline=None)
@given(touchpoints())
def test_the_touchpoint_shape_accepts_only_what_the_touchpoint_contract_does(
    document: dict[str, Any],
) -> None:
    assert SHAPE is not None
    if SHAPE.accepts(document):
        assert accepted_by(FULL, document)


def test_the_records_ingest_sees_are_plainly_valid_so_the_full_validator_is_rarely_run() -> None:
    # The point of a shape is speed: a valid record it leaves to the full validator costs both.
    assert SHAPE is not None
    records = itertools.islice(generate(SimulationSpec(customers=200, seed=5, malformed_share=0.0)), 3000)
    valid = [doc for doc in map(orjson.loads, records) if isinstance(doc, dict) and accepted_by(FULL, doc)]
    assert len(valid) > 2500
    assert all(SHAPE.accepts(document) for document in valid)
    assert all(SHAPE.accepts(example) for example in TOUCHPOINT["examples"])


@pytest.mark.parametrize(
    ("schema", "value"),
    [
        ({"type": "integer"}, 3.0),  # an integer to draft 7, but a float here: the full validator says
        ({"type": "integer"}, True),
        ({"const": 1}, True),
        ({"const": 1}, 1.0),
        ({"minimum": 0}, True),
        ({"pattern": "^a$"}, "a\n"),  # $ is the very end, as fastjsonschema reads it
        ({"enum": ["a"]}, ["a"]),
        ({"allOf": [{"if": {"required": ["t"], "properties": {"t": {"const": "x"}}}, "then": {}}]}, {"t": 1}),
    ],
)
def test_edge_values_are_left_to_the_full_validator(schema: dict[str, Any], value: Any) -> None:
    shape = shape_of(schema)
    assert shape is not None
    assert not shape.accepts(value)


@pytest.mark.parametrize(
    "schema",
    [
        {"format": "date-time"},
        {"$ref": "#/definitions/x"},
        {"properties": {"a": {"default": 1}}},
        {"items": {"type": "string"}},
        {"enum": [1, 2]},
        {"const": 1.5},
        {"allOf": [{"type": "object"}]},
        {"allOf": [{"if": {"required": ["a"]}, "then": {}}]},
        {"allOf": [{"if": {"required": ["a"], "properties": {"a": {"type": "string"}}}, "then": {}}]},
        {"anyOf": [{"not": {}}]},
    ],
)
def test_a_schema_with_anything_a_shape_cannot_check_has_none(schema: dict[str, Any]) -> None:
    assert shape_of(schema) is None


def test_the_end_of_a_pattern_is_read_as_fastjsonschema_reads_it() -> None:
    from fastjsonschema import draft04

    assert DOLLAR.pattern == draft04.DOLLAR_FINDER.pattern


def test_every_contract_validates_with_the_same_verdicts_through_its_shape() -> None:
    for name in schemas.SCHEMA_FILES:
        schema = schemas.load_schema(name)
        full = fastjsonschema.compile(schema)
        for example in schema.get("examples", []):
            assert accepted_by(schemas.validator(name), example) == accepted_by(full, example), name


def test_the_contracts_name_the_safe_text_patterns_that_printable_text_proves() -> None:
    # The shortcut in Shape._accepts_string applies only where a contract uses these exact strings.
    patterns = {item.get("pattern") for item in TOUCHPOINT["properties"].values()}
    assert {SAFE_TEXT, VISIBLE_SAFE_TEXT} <= patterns


def test_every_printable_character_is_safe_text_and_the_space_is_the_only_printable_whitespace() -> None:
    # The two facts the shortcut rests on, over every code point of this Python's Unicode tables.
    safe = re.compile(SAFE_TEXT)
    printable = [chr(point) for point in range(sys.maxunicode + 1) if chr(point).isprintable()]
    assert safe.match("".join(printable))
    assert [character for character in printable if character.isspace()] == [" "]
    assert not safe.match("\u00ad")


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "   ",
        "a",
        " a ",
        "ab\u00adc",
        "a\tb",
        "\u200b",
        "a\u2028",
        "\ue000",
        "\ud800",
        "x\u3000y",
        "é",
    ],
)
@pytest.mark.parametrize("pattern", [SAFE_TEXT, VISIBLE_SAFE_TEXT])
def test_a_safe_text_shape_agrees_with_its_pattern_printable_or_not(pattern: str, text: str) -> None:
    schema = {"type": "string", "pattern": pattern}
    assert shape_accepts(schema, text) == accepted_by(fastjsonschema.compile(schema), text)


ACCEPT_INTERPRETED = interpreted(schemas.accept)


@given(
    text=st.text()
    | st.text(alphabet=st.characters(max_codepoint=0x7F))
    | st.text(alphabet=" \t\x7f\x1fa~\u00a0\u00ad\u3000é")
)
@pytest.mark.parametrize("proof", [1, 2])
def test_printable_ascii_read_natively_proves_what_isprintable_proves(text: str, proof: int) -> None:
    # The shortcut's own test, compiled and interpreted: printable, and (2) not empty nor all spaces.
    expected = text.isprintable() and (proof == 1 or (len(text) > 0 and not text.isspace()))
    assert schemas.accept._proves(text, proof) is expected
    assert ACCEPT_INTERPRETED._proves(text, proof) is expected


INSTANT_REGEX = re.compile(DOLLAR.sub(r"\\Z", INSTANT))


def _instant_texts() -> st.SearchStrategy[str]:
    """Instants as producers write them, and near misses: one character changed, dropped or added."""
    written = st.builds(
        lambda moment, spec, sep, zulu: moment.isoformat(sep=sep, timespec=spec).replace(
            "+00:00", "Z" if zulu else "+00:00"
        ),
        st.datetimes(timezones=st.timezones()).filter(lambda moment: moment.utcoffset() is not None),
        st.sampled_from(["seconds", "milliseconds", "microseconds", "auto"]),
        st.sampled_from(["T", "t", " ", "_"]),
        st.booleans(),
    )
    mutated = st.builds(
        lambda text, where, what, how: (
            text[:where] + what + text[where + 1 :]
            if how == 0
            else text[:where] + text[where + 1 :]
            if how == 1
            else text[:where] + what + text[where:]
        ),
        written,
        st.integers(0, 40),
        st.sampled_from(list("0129-+:.TtZz x\n\u0660")),
        st.integers(0, 2),
    )
    return written | mutated | st.from_regex(INSTANT_REGEX) | st.text(max_size=40)


@given(text=_instant_texts())
def test_an_instant_read_natively_matches_exactly_what_the_contract_s_pattern_matches(text: str) -> None:
    expected = INSTANT_REGEX.search(text) is not None
    assert schemas.accept._is_instant(text) is expected
    assert ACCEPT_INTERPRETED._is_instant(text) is expected


def test_the_touchpoint_contract_s_instant_is_the_one_read_natively() -> None:
    assert TOUCHPOINT["properties"]["occurred_at"]["pattern"] == INSTANT


def shape_accepts(schema: dict[str, Any], value: Any) -> bool:
    shape = shape_of(schema)
    assert shape is not None
    return shape.accepts(value)
