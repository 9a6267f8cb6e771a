"""Folding touchpoints into a state, exactly at the edges: same instants, capped memories, decayed scores."""

from __future__ import annotations

from typing import Any

import pytest

from agents.config import config_from_mapping
from agents.domain.state import CustomerState
from agents.journey.folding import Folding

pytestmark = pytest.mark.unit

DAY = 86_400
T = 20_000 * DAY  # an instant on local day 20000
FOLDING = Folding(
    config_from_mapping(
        {"state": {"max_purchase_days": 8, "answered_memory": 2, "satisfaction_half_life_days": 10}}
    )
)


def touch(kind: str, actor: str = "customer", channel: str = "web", **attributes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"type": kind, "actor": actor, "channel": channel}
    conversation = attributes.pop("conversation", None)
    if conversation is not None:
        event["conversation_id"] = conversation
    if attributes:
        event["attributes"] = attributes
    return event


def buy(state: CustomerState, day: int, amount: float = 10.0, currency: str = "EUR") -> None:
    FOLDING.fold(state, touch("purchase", amount=amount, currency=currency), day * DAY, day)


def test_purchase_days_are_distinct_days_the_newest_eight_and_the_older_ones_counted() -> None:
    state = CustomerState()
    for day in (20_000, 20_000, 20_003, 20_001):
        buy(state, day)
    assert state.purchase_days == [20_000, 20_001, 20_003], "in order, each day once"
    assert (state.first_purchase_day, state.purchase_count) == (20_000, 4)
    for day in range(20_010, 20_015):
        buy(state, day)
    assert len(state.purchase_days) == 8, "eight days fit exactly"
    assert state.purchase_days_folded == 0
    buy(state, 20_020)
    assert state.purchase_days[0] == 20_001
    assert state.purchase_days_folded == 1
    buy(state, 20_016)
    assert (state.purchase_days[:2], state.purchase_days_folded) == ([20_003, 20_010], 2)


def test_a_purchase_older_than_every_day_listed_once_days_were_folded_counts_as_one_more_folded_day() -> None:
    state = CustomerState(purchase_days=[20_010, 20_011], purchase_days_folded=3, purchase_count=5)
    buy(state, 20_002)
    assert (state.purchase_days, state.purchase_days_folded) == ([20_010, 20_011], 4)
    buy(state, 20_011)
    assert (state.purchase_days, state.purchase_days_folded) == ([20_010, 20_011], 4), (
        "a listed day: nothing new"
    )
    nothing_folded = CustomerState(purchase_days=[20_010], purchase_count=1)
    buy(nothing_folded, 20_002)
    assert (nothing_folded.purchase_days, nothing_folded.purchase_days_folded) == ([20_002, 20_010], 0)


def test_every_purchase_in_a_currency_without_a_rate_is_counted_without_a_value() -> None:
    state = CustomerState()
    buy(state, 20_000, 10.0, "XAU")
    buy(state, 20_001, 12.0, "XAU")
    buy(state, 20_002, 5.25)
    assert (state.unpriced_purchases, state.purchase_count, state.purchase_value) == (2, 3, 5.25)


def test_the_first_purchase_day_is_the_earliest_whatever_the_order() -> None:
    state = CustomerState()
    buy(state, 20_005)
    buy(state, 20_002)
    buy(state, 20_009)
    assert (state.first_purchase_day, state.first_purchase, state.last_purchase) == (
        20_002,
        20_002 * DAY,
        20_009 * DAY,
    )


def test_a_resolution_at_the_complaints_instant_closes_it_and_a_complaint_at_the_resolutions_does_not_reopen() -> (
    None
):
    state = CustomerState()
    FOLDING.fold(state, touch("complaint", issue_id="tv-1"), T, 0)
    FOLDING.fold(state, touch("resolution", actor="agent", issue_id="tv-1"), T, 0)
    assert (state.complaints_open, state.complaints_resolved) == ({}, 1)
    FOLDING.fold(state, touch("complaint", issue_id="tv-1"), T, 0)
    assert (state.complaints_open, state.complaints_total) == ({}, 2), "a late copy of the same moment"
    FOLDING.fold(state, touch("resolution", actor="agent", issue_id="box-2"), T, 0)
    FOLDING.fold(state, touch("resolution", actor="agent", issue_id="mug-3"), T + 1, 0)
    assert state.complaints_resolved == 3, "each resolved before its complaint arrived counts once"
    assert state.recently_resolved == {"box-2": T, "mug-3": T + 1}, "the two latest, answered_memory = 2"


def test_a_reply_at_the_questions_instant_answers_it_and_a_question_at_the_replys_is_answered() -> None:
    state = CustomerState()
    FOLDING.fold(state, touch("inquiry", conversation="c-1"), T, 0)
    folded = FOLDING.fold(state, touch("reply", actor="agent", conversation="c-1"), T, 0)
    assert (state.inquiries_open, folded.answered) == ({}, "c-1")
    late = FOLDING.fold(state, touch("inquiry", conversation="c-1"), T, 0)
    assert (state.inquiries_open, late.asked) == ({}, None)
    later = FOLDING.fold(state, touch("inquiry", conversation="c-1"), T + 1, 0)
    assert (state.inquiries_open, later.asked) == ({"c-1": T + 1}, "c-1")


def test_the_answered_memory_keeps_the_latest_replies_each_at_its_latest() -> None:
    state = CustomerState()
    for conversation, at in (("c-1", T + 5), ("c-2", T + 1), ("c-1", T + 3), ("c-3", T + 2)):
        FOLDING.fold(state, touch("reply", actor="agent", conversation=conversation), at, 0)
    assert state.recently_answered == {"c-1": T + 5, "c-3": T + 2}


def test_feedback_at_the_same_instant_as_the_last_replaces_it_and_decays_with_time() -> None:
    state = CustomerState()
    FOLDING.fold(state, touch("feedback", csat=2, nps=3), T, 0)
    FOLDING.fold(state, touch("feedback", csat=5, nps=9), T, 0)
    assert (state.csat, state.nps) == ([5, T], [9, T])
    # Four scores at T: (2-1)/4, 3/10, (5-1)/4, 9/10.
    assert (state.satisfaction_sum, state.satisfaction_weight) == pytest.approx((2.45, 4.0))
    FOLDING.fold(state, touch("feedback", csat=1), T + 10 * DAY, 0)
    # A half-life later the earlier four count half: (2.45 / 2 + 0) / (4 / 2 + 1).
    assert state.satisfaction_at == T + 10 * DAY
    assert (state.satisfaction_sum, state.satisfaction_weight) == pytest.approx((1.225, 3.0))
    FOLDING.fold(state, touch("feedback", nps=10), T - 10 * DAY, 0)
    assert state.nps == [9, T], "an older score arriving late is not the latest"
    # Two half-lives before the latest feedback: it counts a quarter.
    assert (state.satisfaction_sum, state.satisfaction_weight) == pytest.approx((1.475, 3.25))
