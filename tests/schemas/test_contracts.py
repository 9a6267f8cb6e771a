"""Every schema is valid JSON Schema, and every example in it says what the code does."""

from __future__ import annotations

from importlib import resources
from typing import Any

import jsonschema
import orjson
import pytest

import schemas
from agents.domain.refusal import Rejected
from agents.ingest.decode import Accepted, TouchpointDecoder

pytestmark = pytest.mark.unit

DECODER = TouchpointDecoder(identity_salt=b"test")
INVALID = orjson.loads((resources.files("schemas") / "touchpoint.v1.invalid.json").read_bytes())["examples"]


@pytest.mark.parametrize("name", sorted(schemas.SCHEMA_FILES))
def test_schema_file_is_valid_draft_7_json_schema(name: str) -> None:
    jsonschema.Draft7Validator.check_schema(schemas.load_schema(name))


@pytest.mark.parametrize("name", sorted(schemas.SCHEMA_FILES))
def test_every_example_in_a_schema_validates_against_it(name: str) -> None:
    document = schemas.load_schema(name)
    assert document.get("examples"), f"{name} carries examples for consumers"
    for example in document["examples"]:
        schemas.validator(name)(example)
        jsonschema.Draft7Validator(document, format_checker=jsonschema.FormatChecker()).validate(example)


def test_touchpoint_examples_cover_every_channel_and_type_at_least_once() -> None:
    document = schemas.load_schema("touchpoint")
    examples = document["examples"]
    assert len(examples) >= 12
    assert {e["channel"] for e in examples} == set(document["properties"]["channel"]["enum"])
    assert {e["type"] for e in examples} == set(document["properties"]["type"]["enum"])


@pytest.mark.parametrize(
    "example", schemas.load_schema("touchpoint")["examples"], ids=lambda e: e["event_id"]
)
def test_valid_touchpoint_example_is_accepted_by_the_decoder(example: dict[str, Any]) -> None:
    assert isinstance(DECODER(orjson.dumps(example)), Accepted)


def test_there_are_at_least_twelve_invalid_touchpoint_examples() -> None:
    assert len(INVALID) >= 12


@pytest.mark.parametrize("example", INVALID, ids=lambda e: e["description"])
def test_invalid_touchpoint_example_is_rejected_with_its_documented_reason_and_field(
    example: dict[str, Any],
) -> None:
    outcome = DECODER(orjson.dumps(example["record"]))
    assert isinstance(outcome, Rejected)
    assert (outcome.reason, outcome.field) == (example["reason"], example["field"])
    assert outcome.message


@pytest.mark.parametrize("example", INVALID, ids=lambda e: e["description"])
def test_invalid_touchpoint_example_is_also_refused_by_a_generic_validator(example: dict[str, Any]) -> None:
    # The schema checks an instant's shape; calendar validity and the accepted range are the decoder's policy.
    errors = list(
        jsonschema.Draft7Validator(schemas.load_schema("touchpoint")).iter_errors(example["record"])
    )
    assert errors or example["reason"] == "timestamp"


def test_dead_letter_reasons_in_the_schema_are_exactly_the_decoder_reasons() -> None:
    from agents.domain.refusal import REASONS

    assert set(schemas.load_schema("dead_letter")["properties"]["reason"]["enum"]) == set(REASONS)


def test_unknown_contract_name_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="unknown contract"):
        schemas.load_schema("nope")
