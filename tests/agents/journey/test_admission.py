"""Which touchpoints a customer's state takes: each once, none from too far ahead or too long before."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from agents.domain.dedupe_window import entries
from agents.domain.refusal import CONFLICTING_DUPLICATE, FUTURE, TOO_OLD, Rejected
from agents.domain.state import CustomerState
from agents.journey.admission import DUPLICATE, Admission, Fresh, content_digest

pytestmark = pytest.mark.unit

SALT = b"deployment salt"
SKEW = 300
MAX_AGE = 30 * 86_400
ADMISSION = Admission(SALT, window=3, max_future_skew=SKEW, max_event_age=MAX_AGE)
NOW = int(datetime(2026, 1, 5, 10, 0, tzinfo=UTC).timestamp())


def event(event_id: str = "ev-1", at: str = "2026-01-05T10:00:00+00:00", **attributes: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": event_id,
        "occurred_at": at,
        "customer_id": "cust-1",
        "channel": "web",
        "type": "visit",
        "actor": "customer",
        **({"attributes": attributes} if attributes else {}),
    }


def test_the_dedupe_digests_are_keyed_with_a_key_of_their_own_and_stable_across_versions() -> None:
    # States on disk keep these digests: a worker of another version must compute the same ones, or a
    # redelivery after an upgrade would be applied twice.
    key = hashlib.blake2b(b"touchpoint-dedupe|" + SALT, digest_size=32).digest()
    expected = hashlib.blake2b(b"ev-1", digest_size=8, key=key).digest()
    assert ADMISSION.event_digest("ev-1") == expected
    assert ADMISSION.event_digest("ev-1") != Admission(b"another", 3, SKEW, MAX_AGE).event_digest("ev-1")


def test_the_content_digest_is_of_the_canonical_json_whatever_the_key_order() -> None:
    one = event(amount=12.5, currency="EUR")
    reordered = dict(reversed(list(one.items())))
    reordered["attributes"] = dict(reversed(list(one["attributes"].items())))
    assert content_digest(one) == content_digest(reordered), "the same event serialised otherwise"
    canonical = (
        b'{"actor":"customer","attributes":{"amount":12.5,"currency":"EUR"},"channel":"web","customer_id":"cust-1",'
        b'"event_id":"ev-1","occurred_at":"2026-01-05T10:00:00+00:00","schema_version":1,"type":"visit"}'
    )
    assert content_digest(one) == hashlib.blake2b(canonical, digest_size=4).digest()


def test_each_content_digest_starts_afresh() -> None:
    # The digests start from one prepared hash: no event's bytes may carry over into the next digest.
    first, second = event(amount=12.5, currency="EUR"), event(amount=13.0, currency="EUR")
    expected = [
        hashlib.blake2b(orjson.dumps(e, option=orjson.OPT_SORT_KEYS), digest_size=4).digest()
        for e in (first, second)
    ]
    assert [content_digest(first), content_digest(second), content_digest(first)] == [*expected, expected[0]]


def test_a_new_customer_takes_its_first_event() -> None:
    verdict = ADMISSION.check(None, event(), NOW, NOW)
    assert verdict == Fresh(ADMISSION.event_digest("ev-1"), content_digest(event()))


def test_an_event_exactly_the_allowed_skew_ahead_of_its_record_is_taken_and_a_second_more_is_not() -> None:
    assert isinstance(ADMISSION.check(None, event(), NOW, NOW - SKEW), Fresh)
    assert isinstance(ADMISSION.check(None, event(), NOW, None), Fresh), "no broker timestamp: no bound"
    refused = ADMISSION.check(None, event(), NOW, NOW - SKEW - 90)
    assert refused == Rejected(
        FUTURE,
        "occurred_at 2026-01-05T10:00:00+00:00 is 6 minutes ahead of the record's timestamp "
        "2026-01-05T09:53:30+00:00 (at most 5 minutes)",
        "occurred_at",
    )


def test_a_redelivery_is_a_duplicate_and_the_same_id_with_other_content_is_refused() -> None:
    state = CustomerState(events=1, first_seen=NOW)
    first = ADMISSION.check(state, event(), NOW, NOW)
    assert isinstance(first, Fresh)
    ADMISSION.remember(state, first)
    assert ADMISSION.check(state, event(), NOW, NOW) is DUPLICATE
    changed = event(amount=3)
    refused = ADMISSION.check(state, changed, NOW, NOW)
    kept, other = content_digest(event()).hex(), content_digest(changed).hex()
    assert len(kept) == len(other) == 8, "the digests written as 8 hex digits, as in earlier versions"
    assert refused == Rejected(
        CONFLICTING_DUPLICATE,
        f"event_id 'ev-1' was already applied for this customer with other content (content digest {kept}, "
        f"this record {other})",
        "event_id",
        {"kept_digest": kept, "refused_digest": other},
    )


def test_an_event_at_most_the_allowed_age_before_the_first_is_taken_and_older_is_not() -> None:
    state = CustomerState(events=1, first_seen=NOW)
    assert isinstance(ADMISSION.check(state, event("ev-2"), NOW - MAX_AGE, NOW), Fresh)
    refused = ADMISSION.check(state, event("ev-3", "2025-12-06T09:59:59+00:00"), NOW - MAX_AGE - 1, NOW)
    assert refused == Rejected(
        TOO_OLD,
        "occurred_at 2025-12-06T09:59:59+00:00 is 30 days before this customer's first event "
        "(2026-01-05T10:00:00+00:00); at most 30 days earlier is applied (time.max_event_age_days)",
        "occurred_at",
    )
    # A state with no event yet (an identifier's record only) has no first event to be measured against.
    assert isinstance(ADMISSION.check(CustomerState(), event("ev-4"), NOW - 10 * MAX_AGE, NOW), Fresh)


def test_the_dedupe_window_forgets_the_oldest_event() -> None:
    state = CustomerState(events=1, first_seen=NOW)
    for number in range(4):
        fresh = ADMISSION.check(state, event(f"ev-{number}"), NOW, NOW)
        assert isinstance(fresh, Fresh)
        ADMISSION.remember(state, fresh)
    assert [marker for marker, _ in entries(state.recent_events)] == [
        ADMISSION.event_digest(f"ev-{n}") for n in (1, 2, 3)
    ]
    assert isinstance(ADMISSION.check(state, event("ev-0"), NOW, NOW), Fresh), "forgotten: taken again"
