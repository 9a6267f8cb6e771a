"""Timer ticks carry a proof of origin and a clock the receiving worker accepts."""

from __future__ import annotations

import orjson
import pytest

from agents.domain.refusal import Rejected
from agents.journey.control import (
    CONTROL_KEY_PREFIX,
    TICK_KEY,
    VERDICT_HEADER,
    Verdicts,
    sign_tick,
    verify_tick,
)

pytestmark = pytest.mark.unit

SECRET = b"a shared secret of the app's workers"
NOW = 1_767_607_800.25  # 2026-01-05 10:10:00.25 UTC


def test_a_tick_signed_by_a_worker_is_accepted_by_any_worker_with_the_secret() -> None:
    assert verify_tick(SECRET, 3, sign_tick(SECRET, 3, NOW), NOW + 1.5, skew=300) == int(NOW)


def test_the_tick_key_is_in_the_control_key_space_no_customer_can_enter() -> None:
    assert TICK_KEY.startswith(CONTROL_KEY_PREFIX)
    assert CONTROL_KEY_PREFIX == b"\x00"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(orjson.dumps({"now": 4102444800}), id="the old unsigned tick"),
        pytest.param(sign_tick(b"another secret", 3, NOW), id="signed with another secret"),
        pytest.param(sign_tick(SECRET, 2, NOW), id="signed for another partition"),
        pytest.param(
            orjson.dumps({**orjson.loads(sign_tick(SECRET, 3, NOW)), "now_ms": 4_102_444_800_000}),
            id="clock changed after signing",
        ),
        pytest.param(b"not json", id="garbage"),
        pytest.param(None, id="no value"),
        pytest.param(orjson.dumps({"now_ms": "1", "mac": 5}), id="wrong types"),
    ],
)
def test_a_tick_without_a_valid_proof_is_refused_as_forged(value: bytes | None) -> None:
    outcome = verify_tick(SECRET, 3, value, NOW, skew=300)
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "forged_control"
    assert outcome.message == "a timer tick without a valid proof of origin (HMAC) for this partition"


@pytest.mark.parametrize(("offset", "side"), [(301, "ahead of"), (-301, "behind")])
def test_a_genuine_tick_far_from_the_receivers_clock_is_refused(offset: float, side: str) -> None:
    outcome = verify_tick(SECRET, 3, sign_tick(SECRET, 3, NOW + offset), NOW, skew=300)
    assert isinstance(outcome, Rejected)
    assert outcome.reason == "forged_control"
    assert f"5 minutes {side} this worker's clock" in outcome.message


def test_a_genuine_tick_just_within_the_bound_is_accepted() -> None:
    assert verify_tick(SECRET, 0, sign_tick(SECRET, 0, NOW + 300), NOW, skew=300) == int(NOW + 300)


def test_a_tick_keeps_its_wire_format_so_workers_of_two_releases_accept_each_others_ticks() -> None:
    # During a rolling upgrade a partition moves between old and new workers with ticks in flight:
    # the signed message (HMAC-SHA256 over "touchpoint-tick|partition|now_ms") must not change.
    signed = (
        b'{"now_ms":1767607800250,"mac":"448045fc9c7901857290f97657b1081e2b028ed0b609ba96552328950b3e547a"}'
    )
    assert sign_tick(SECRET, 3, NOW) == signed
    assert verify_tick(SECRET, 3, signed, NOW, skew=300) == 1_767_607_800


# --- touchpoints ingest's worker decided: their copies on by-customer say so, signed -----------------

KEY, VALUE = b"cust-1", b'{"event_id":"ev-1"}'


def test_a_copy_marked_applied_reads_as_applied_on_any_worker_with_the_secret() -> None:
    headers = Verdicts(SECRET).applied(KEY, VALUE)
    assert Verdicts(SECRET).read(KEY, VALUE, headers) is True


def test_a_copy_marked_refused_carries_the_refusal_to_the_dead_letter() -> None:
    refusal = Rejected("conflicting_duplicate", "already applied", "event_id", {"kept_digest": "0a0b0c0d"})
    headers = Verdicts(SECRET).refused(KEY, VALUE, refusal)
    assert Verdicts(SECRET).read(KEY, VALUE, headers) == refusal


@pytest.mark.parametrize(
    ("key", "value", "secret"),
    [
        pytest.param(b"cust-2", VALUE, SECRET, id="another customer's key"),
        pytest.param(KEY, b'{"event_id":"ev-2"}', SECRET, id="another value"),
        pytest.param(KEY, VALUE, b"another secret", id="signed with another secret"),
    ],
)
def test_a_mark_that_does_not_hold_is_no_verdict_and_the_copy_is_applied(
    key: bytes, value: bytes, secret: bytes
) -> None:
    headers = Verdicts(secret).applied(KEY, VALUE)
    assert Verdicts(SECRET).read(key, value, headers) is None


def test_a_forged_verdict_or_a_record_without_one_is_no_verdict() -> None:
    genuine = Verdicts(SECRET).applied(KEY, VALUE)[0][1]
    refused = Verdicts(SECRET).refused(KEY, VALUE, Rejected("too_old", "old"))[0][1]
    verdicts = Verdicts(SECRET)
    assert verdicts.read(KEY, VALUE, []) is None
    assert verdicts.read(KEY, VALUE, [("other", b"x")]) is None
    assert verdicts.read(KEY, VALUE, [(VERDICT_HEADER, genuine[:16] + b"refused")]) is None
    # A refusal's proof covers the refusal: swapping in another one breaks it.
    assert verdicts.read(KEY, VALUE, [(VERDICT_HEADER, refused[:16] + b"applied")]) is None
    assert verdicts.read(None, VALUE, [(VERDICT_HEADER, genuine)]) is None


def test_a_mark_keeps_its_wire_format_so_workers_of_two_releases_read_each_others_verdicts() -> None:
    # Copies marked by an old worker are read by a new one after a rolling upgrade or in a replay:
    # the mark (a keyed 16-byte BLAKE2b of the framed key, verdict and value, then the verdict) must not change.
    verdicts = Verdicts(SECRET)
    applied = bytes.fromhex("a9b990e188f01dea5e206b2333b023c5") + b"applied"
    assert verdicts.applied(KEY, VALUE) == [(VERDICT_HEADER, applied)]
    refusal = b'{"reason":"too_old","message":"old","field":null,"details":null}'
    refused = bytes.fromhex("9e6a0aa4ba24102b729f39d911b630c8") + refusal
    assert verdicts.refused(KEY, VALUE, Rejected("too_old", "old")) == [(VERDICT_HEADER, refused)]
    assert verdicts.read(KEY, VALUE, [(VERDICT_HEADER, applied)]) is True


def test_a_mark_is_read_among_the_records_other_headers() -> None:
    headers = [("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
    verdicts = Verdicts(SECRET)
    assert verdicts.read(KEY, VALUE, [*headers, *verdicts.applied(KEY, VALUE)]) is True
    assert verdicts.read(KEY, VALUE, [*verdicts.applied(KEY, VALUE), *headers]) is True


def test_a_worker_reads_its_own_marks_back_as_applied_and_only_on_the_bytes_it_marked() -> None:
    verdicts = Verdicts(SECRET)
    mark = verdicts.applied(KEY, VALUE)
    # Another key or value under the same mark (a copy of the header) is checked, and fails.
    assert verdicts.read(b"cust-2", VALUE, mark) is None
    assert verdicts.read(KEY, b'{"event_id":"ev-2"}', mark) is None
    assert verdicts.read(KEY, VALUE, mark) is True
    # Read again (the copy redelivered), or by a worker that did not mark it: its MAC holds.
    assert verdicts.read(KEY, VALUE, mark) is True
    assert Verdicts(SECRET).read(KEY, VALUE, mark) is True


def test_marks_are_read_by_their_mac_whenever_they_come_back() -> None:
    verdicts = Verdicts(SECRET)
    marks = [verdicts.applied(b"cust-%d" % number, VALUE) for number in range(40_000)]
    # However many were made since, and in any order.
    assert all(verdicts.read(b"cust-%d" % n, VALUE, marks[n]) is True for n in (39_999, 0, 1, 20_000))
    forged = [(VERDICT_HEADER, marks[5][0][1][:16] + b"applied")]
    assert verdicts.read(b"cust-6", VALUE, forged) is None
