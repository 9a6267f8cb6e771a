"""The fast touchpoint validator accepts and refuses exactly what the schema file, compiled as is, does."""

from __future__ import annotations

from typing import Any

import fastjsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas

pytestmark = pytest.mark.unit

FULL = fastjsonschema.compile(schemas.load_schema("touchpoint"))
FAST = schemas.validator("touchpoint")
EXAMPLES: list[dict[str, Any]] = schemas.load_schema("touchpoint")["examples"]
TYPES: list[str] = schemas.load_schema("touchpoint")["properties"]["type"]["enum"]
ATTRIBUTES = ["amount", "currency", "wait_seconds", "transfer_kind", "issue_id", "csat", "nps", "offer_id"]
values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 500),
    st.text(max_size=6),
    st.floats(allow_nan=False),
    st.just([]),
)


def outcome(validate: Any, document: dict[str, Any]) -> str | None:
    try:
        validate(document)
    except schemas.ValidationError as exc:
        return str(exc.message)
    return None


@st.composite
def touchpoints(draw: st.DrawFn) -> dict[str, Any]:
    """A valid example with its type, attributes and a few fields redrawn: many valid, many not."""
    document = dict(draw(st.sampled_from(EXAMPLES)))
    document["type"] = draw(st.sampled_from([*TYPES, "unknown", 3]))
    attributes = dict(document.get("attributes") or {})
    for name in draw(st.lists(st.sampled_from(ATTRIBUTES), max_size=4)):
        attributes[name] = draw(values)
    for name in draw(st.lists(st.sampled_from(ATTRIBUTES), max_size=3)):
        attributes.pop(name, None)
    if draw(st.booleans()):
        document["attributes"] = attributes
    else:
        document.pop("attributes", None)
    for name in draw(
        st.lists(st.sampled_from(["customer_id", "identifiers", "channel", "actor"]), max_size=2)
    ):
        document.pop(name, None)
    return document


@settings(max_examples=500, deadline=None)
@given(touchpoints())
def test_the_fast_validator_decides_like_the_schema_and_says_the_same(document: dict[str, Any]) -> None:
    assert outcome(FAST, document) == outcome(FULL, document)


def test_the_fast_validator_is_not_the_plain_compiled_one() -> None:
    # The touchpoint schema's type rules are what the fast path is for; if its shape changes so
    # that the fast path no longer applies, this says so rather than silently losing the speed.
    assert FAST.__name__ == "validate"
