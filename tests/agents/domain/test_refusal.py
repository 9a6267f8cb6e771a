"""A refused record: its reason code, as the dead-letter contract spells it, and what it says."""

from __future__ import annotations

import pytest

from agents.domain import refusal
from agents.domain.refusal import REASONS, Rejected

pytestmark = pytest.mark.unit


def test_every_reason_code_is_spelled_as_the_dead_letter_topic_carries_it() -> None:
    assert REASONS == (
        "empty",
        "too_large",
        "not_utf8",
        "not_json",
        "not_object",
        "schema",
        "timestamp",
        "future",
        "internal",
        "too_old",
        "conflicting_duplicate",
        "forged_control",
        "unknown_alert",
        "stale_action",
        "unknown_merge",
    )
    named = {
        name: value for name, value in vars(refusal).items() if name.isupper() and isinstance(value, str)
    }
    assert sorted(named.values()) == sorted(REASONS), "each reason has its constant"
    assert all(value == name.lower() for name, value in named.items())


def test_a_refusal_names_no_field_and_no_details_unless_it_has_them() -> None:
    bare = Rejected("empty", "payload is empty or only whitespace")
    assert (bare.field, bare.details) == (None, None)
    full = Rejected("future", "3 days ahead", "occurred_at", {"skew_seconds": "259200"})
    assert (full.reason, full.message, full.field, full.details) == (
        "future",
        "3 days ahead",
        "occurred_at",
        {"skew_seconds": "259200"},
    )
