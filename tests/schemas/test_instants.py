"""The contracts' ``date-time``: what a contract accepts there, the core can read and write back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import schemas
from agents.domain.instants import iso

pytestmark = pytest.mark.unit

#: Every inbound contract with a date-time a producer or an operator writes, and a valid record of it.
INBOUND: dict[str, tuple[str, dict[str, Any]]] = {
    "alert_action": (
        "at",
        {
            "schema_version": 1,
            "alert_id": "long_wait/cust-1/0123456789ab",
            "action": "snooze",
            "by": "anna@support",
            "at": "2026-01-05T10:00:00Z",
            "until": "2026-01-05T12:00:00Z",
        },
    ),
    "erasure_request": (
        "requested_at",
        {
            "schema_version": 1,
            "request_id": "r",
            "customer_id": "cust-1",
            "requested_at": "2026-01-05T10:00:00Z",
            "by": "dpo",
            "reason": "gdpr-art-17",
        },
    ),
    "identity_action": (
        "at",
        {
            "schema_version": 1,
            "action": "split",
            "from": "id:email:0123456789abcdef0123",
            "into": "cust-1",
            "by": "anna@support",
            "at": "2026-01-05T10:00:00Z",
        },
    ),
}

#: Instants as the core reads them (agents/alerts/actions.py, agents/journey/erasure.py, the journey agent).
ALMOST_RFC_3339 = r"\A[0-9０-９٠-٩]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:?[0-9]{2})\Z"


def accepted(contract: str, text: str) -> bool:
    field, record = INBOUND[contract]
    try:
        schemas.validator(contract)({**record, field: text})
    except schemas.ValidationError:
        return False
    return True


def test_every_inbound_contract_here_is_valid_as_written() -> None:
    for contract in INBOUND:
        assert accepted(contract, INBOUND[contract][1][INBOUND[contract][0]]), contract
    assert schemas.load_schema("identity_action")["properties"]["at"]["format"] == "date-time"


@pytest.mark.parametrize(
    "text",
    [
        "2026-06-30T23:59:60Z",  # a leap second: RFC 3339 has them, no datetime does
        "２０２６-01-05T10:00:00Z",  # another script's digits
        "0000-01-01T00:00:00Z",
        "2026-02-29T10:00:00Z",
        "9999-12-31T23:59:59-00:01",  # the year 10000 in UTC
        "0001-01-01T00:00:00+00:01",  # the year 0 in UTC
        "2026-01-05T10:00:00+0100",
        "2026-01-05 10:00:00Z",
        "2026-01-05T10:00Z",
    ],
)
def test_a_date_time_no_datetime_holds_is_refused_by_the_contract(text: str) -> None:
    assert not schemas.is_instant(text)
    for contract in INBOUND:
        assert not accepted(contract, text), contract


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-05T10:00:00Z",
        "2026-01-05t10:00:00z",
        "2026-01-05T10:00:00.123456789+14:00",
        "2026-01-05T10:00:00-00:00",
        "2024-02-29T10:00:00+01:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ],
)
def test_rfc_3339_instants_are_accepted(text: str) -> None:
    assert schemas.is_instant(text)
    for contract in INBOUND:
        assert accepted(contract, text), contract


@given(st.sampled_from(sorted(INBOUND)), st.from_regex(ALMOST_RFC_3339))
@example("alert_action", "2026-06-30T23:59:60Z")
@example("erasure_request", "9999-12-31T23:59:59Z")
@example("identity_action", "0001-01-01T00:00:00.5Z")
def test_what_a_contract_accepts_the_core_reads_and_writes_back(contract: str, text: str) -> None:
    if not accepted(contract, text):
        return
    instant = int(datetime.fromisoformat(text.upper()).timestamp())
    assert datetime.fromisoformat(iso(instant)).timestamp() == instant
