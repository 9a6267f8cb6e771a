"""The identity graph's records: what an identifier's record keeps, and what identity.merges and identity.conflicts carry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import pytest

import schemas
from agents.domain.identity import (
    IDENTIFIER_STRENGTH,
    LINKED,
    MERGE,
    OVER_LIMIT,
    SHARED,
    SPLIT,
    UNLINKED,
    Conflict,
    IdentityRecord,
    Merge,
)

pytestmark = pytest.mark.unit

DEVICE = "id:device_id:8c1f0a66d2b74e93a1c5"
EMAIL = "id:email:19106649a775127e6987"


def instant(at: str) -> int:
    return int(datetime.fromisoformat(at).timestamp())


def examples(name: str) -> list[dict[str, Any]]:
    return list(schemas.load_schema(name)["examples"])


def test_a_merge_is_published_as_the_contracts_example() -> None:
    merge = Merge(
        MERGE,
        DEVICE,
        "cust-000042",
        "ev-0107",
        instant("2026-01-06T08:12:03+00:00"),
        (
            (
                f"after_hours_unanswered/{DEVICE}/3e1d9a0c44b2",
                "after_hours_unanswered/cust-000042/b07c21e9d3f4",
            ),
        ),
    )
    document = orjson.loads(merge.encode())
    assert document == examples("identity_merge")[0]
    assert "by" not in document
    assert "reason" not in document, "a merge is no operator's: it says neither who nor why"


def test_an_operators_split_says_who_and_why() -> None:
    split = Merge(
        SPLIT,
        DEVICE,
        "cust-000042",
        None,
        instant("2026-01-08T09:30:00+00:00"),
        (
            (
                "after_hours_unanswered/cust-000042/b07c21e9d3f4",
                f"after_hours_unanswered/{DEVICE}/3e1d9a0c44b2",
            ),
        ),
        by="anna@support",
        reason="the partner's tablet",
    )
    document = orjson.loads(split.encode())
    assert document == examples("identity_merge")[2]
    schemas.validator("identity_merge")(document)
    without_reason = orjson.loads(Merge(SPLIT, DEVICE, "cust-1", None, 0, by="ops").encode())
    assert (without_reason["by"], "reason" in without_reason) == ("ops", False)


@pytest.mark.parametrize(
    ("identifier", "customers", "event_id", "at", "outcome"),
    [
        (EMAIL, ("cust-anna", "cust-bob"), "ev-9001", "2026-01-12T10:00:00+00:00", SHARED),
        (EMAIL, ("cust-anna", "cust-bob", "cust-carl"), "ev-9730", "2026-01-19T08:15:00+00:00", OVER_LIMIT),
    ],
)
def test_a_conflict_names_the_kind_every_claimant_and_the_new_one(
    identifier: str, customers: tuple[str, ...], event_id: str, at: str, outcome: str
) -> None:
    document = orjson.loads(Conflict(identifier, customers, event_id, instant(at), outcome).encode())
    assert document in examples("identity_conflict")
    assert document["kind"] == "email"
    assert document["claimant"] == customers[-1]
    schemas.validator("identity_conflict")(document)


def test_an_identifiers_record_starts_unlinked_and_the_first_claimant_is_the_linked_one() -> None:
    record = IdentityRecord()
    assert (record.status, record.claimants, record.barred, record.merged) == (UNLINKED, {}, [], None)
    assert (record.merged_event, record.merged_at, record.alerts) == (None, 0, {})
    assert record.first_claimant is None
    record.claimants.update({"cust-b": 20, "cust-a": 10})
    assert record.first_claimant == "cust-b", "claim order, not event time, decides"


def test_an_identifiers_record_keeps_every_fact_in_its_compact_form() -> None:
    record = IdentityRecord(
        LINKED,
        {"cust-b": 20, "cust-a": 10},
        ["cust-c"],
        b"\x93profile",
        "ev-7",
        15,
        {"a/id:x/1": "a/cust-b/2"},
    )
    data = record.to_list()
    assert data == [
        LINKED,
        [["cust-b", 20], ["cust-a", 10]],
        ["cust-c"],
        b"\x93profile",
        "ev-7",
        15,
        {"a/id:x/1": "a/cust-b/2"},
    ]
    restored = IdentityRecord.from_list(data)
    assert restored == record
    assert list(restored.claimants) == ["cust-b", "cust-a"], "the claim order survives"
    restored.barred.append("cust-d")
    restored.alerts.clear()
    assert (record.barred, record.alerts) == (["cust-c"], {"a/id:x/1": "a/cust-b/2"}), "read back as a copy"


def test_identifiers_rank_from_what_one_person_holds_to_what_a_household_shares() -> None:
    assert IDENTIFIER_STRENGTH == ("loyalty_id", "email", "phone", "openid", "device_id")
