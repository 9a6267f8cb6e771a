"""A profile merged into its customer field by field, and taken back out by a split, on hand-made states."""

from __future__ import annotations

import pytest

from agents.domain.state import CustomerState
from agents.identity.merging import Ledger, combine, subtract
from tests.agents.domain.windows import window

pytestmark = pytest.mark.unit

DAY = 86_400
HALF_LIFE = 30.0 * DAY
SETTINGS = {"dedupe_window": 4, "answered_memory": 2, "max_purchase_days": 4, "half_life": HALF_LIFE}


def customer() -> CustomerState:
    """Anna as she is known: two store purchases, a complaint resolved, a CSAT of 4."""
    return CustomerState(
        events=5,
        first_seen=100 * DAY,
        last_seen=130 * DAY,
        channels={"store": [3, 130 * DAY], "email": [2, 120 * DAY]},
        purchase_count=2,
        purchase_value=100.10,
        purchase_days=[100, 130],
        first_purchase=100 * DAY,
        first_purchase_day=100,
        last_purchase=130 * DAY,
        refund_count=1,
        refund_value=10.05,
        complaints_total=1,
        complaints_resolved=1,
        recently_resolved={"tv-1": 121 * DAY},
        csat=[4, 122 * DAY],
        satisfaction_sum=0.75,
        satisfaction_weight=1.0,
        satisfaction_at=122 * DAY,
        recently_answered={"conv-a": 110 * DAY},
        referrals=1,
        recent_events=window((1, 11), (2, 12), (3, 13)),
        last_view_day=125,
        sla_cases={"conv-b": [129 * DAY, "chat", None, "q-9"]},
        alert_last={"long_wait": 125 * DAY},
        snoozed={"long_wait": 140 * DAY},
    )


def profile() -> CustomerState:
    """Her phone before she logged in: earlier visits, a purchase, an open question, a newer NPS."""
    return CustomerState(
        events=4,
        first_seen=90 * DAY,
        last_seen=135 * DAY,
        channels={"app": [3, 135 * DAY], "email": [1, 125 * DAY]},
        purchase_count=1,
        purchase_value=0.20,
        purchase_days=[90, 130],
        purchase_days_folded=1,
        first_purchase=90 * DAY,
        first_purchase_day=90,
        last_purchase=90 * DAY,
        unpriced_purchases=1,
        refund_count=1,
        refund_value=0.10,
        complaints_total=2,
        complaints_open={"tv-1": 120 * DAY, "box-2": 131 * DAY},
        nps=[9, 134 * DAY],
        csat=[2, 122 * DAY],
        satisfaction_sum=0.9,
        satisfaction_weight=1.0,
        satisfaction_at=122 * DAY + int(HALF_LIFE),
        inquiries_open={"conv-a": 105 * DAY, "conv-c": 133 * DAY},
        referrals=2,
        recent_events=window((7, 17), (2, 12)),
        last_view_day=134,
        sla_cases={"conv-b": [128 * DAY, "chat", None, "q-8"], "conv-c": [133 * DAY, "app", None, "q-c"]},
        alert_last={"long_wait": 131 * DAY, "churn_risk": 90 * DAY},
        snoozed={"long_wait": 139 * DAY, "churn_risk": 150 * DAY},
    )


def merged() -> tuple[CustomerState, Ledger]:
    into, entry = customer(), Ledger("id:device_id:00", 136 * DAY, "login")
    combine(into, profile(), entry, **SETTINGS)  # type: ignore[arg-type]
    return into, entry


def test_counts_and_money_add_up_to_the_cent() -> None:
    into, _ = merged()
    assert (into.events, into.purchase_count, into.unpriced_purchases, into.refund_count) == (9, 3, 1, 2)
    assert (into.purchase_value, into.refund_value) == (100.30, 10.15)
    assert (into.complaints_total, into.complaints_resolved, into.referrals) == (3, 1, 3)
    assert into.channels == {"store": [3, 130 * DAY], "email": [3, 125 * DAY], "app": [3, 135 * DAY]}


def test_the_earliest_and_latest_instants_are_the_combined_ones() -> None:
    into, _ = merged()
    assert (into.first_seen, into.last_seen) == (90 * DAY, 135 * DAY)
    assert (into.first_purchase, into.first_purchase_day, into.last_purchase) == (90 * DAY, 90, 130 * DAY)
    assert into.last_view_day == 134


def test_purchase_days_are_one_set_capped_at_the_newest() -> None:
    into, entry = merged()
    assert into.purchase_days == [90, 100, 130]
    assert into.purchase_days_folded == 1, "the profile's folded day comes along"
    assert (entry.added_days, entry.added_folded) == ([90], 1)
    capped, capped_entry = customer(), Ledger("id:device_id:00", 0, "login")
    many = CustomerState(events=1, first_seen=DAY, purchase_days=[80, 85, 95, 99], purchase_count=4)
    combine(capped, many, capped_entry, **SETTINGS)  # type: ignore[arg-type]
    assert capped.purchase_days == [95, 99, 100, 130], "at most 4, the newest"
    assert (capped.purchase_days_folded, capped_entry.added_days, capped_entry.added_folded) == (
        2,
        [95, 99],
        2,
    )


def test_open_issues_and_questions_an_answer_on_either_side_closes_are_closed() -> None:
    into, _ = merged()
    # tv-1 was resolved on Anna's side after the phone's complaint; conv-a answered after its question.
    assert into.complaints_open == {"box-2": 131 * DAY}
    assert into.inquiries_open == {"conv-c": 133 * DAY}
    assert into.recently_resolved == {"tv-1": 121 * DAY}


def test_the_latest_scores_win_and_satisfaction_decays_to_the_later_instant() -> None:
    into, entry = merged()
    assert into.nps == [9, 134 * DAY]
    assert into.csat == [4, 122 * DAY], "a tie in time keeps the customer's own"
    # Anna's 0.75 (weight 1) is a half-life older than the phone's 0.9: it counts half.
    assert into.satisfaction_at == 122 * DAY + int(HALF_LIFE)
    assert into.satisfaction_weight == pytest.approx(1.5)
    assert into.satisfaction_sum == pytest.approx(0.375 + 0.9)
    assert (entry.csat, entry.nps) == ([4, 122 * DAY], None)


def test_the_dedupe_memory_keeps_the_newest_and_the_first_case_keeps_its_clock() -> None:
    into, _ = merged()
    # The profile's events first, being the older ones as a rule; the customer's after.
    assert into.recent_events == window((7, 17), (2, 12), (1, 11), (3, 13))
    narrow = customer()
    combine(narrow, profile(), Ledger("id:device_id:00", 0, "login"), **{**SETTINGS, "dedupe_window": 3})  # type: ignore[arg-type]
    assert narrow.recent_events == window((2, 12), (1, 11), (3, 13)), "the window keeps the newest"
    assert into.sla_cases == {
        "conv-b": [128 * DAY, "chat", None, "q-8"],  # the clock runs from the first unanswered question
        "conv-c": [133 * DAY, "app", None, "q-c"],
    }
    assert into.alert_last == {"long_wait": 131 * DAY, "churn_risk": 90 * DAY}
    assert into.snoozed == {"long_wait": 140 * DAY, "churn_risk": 150 * DAY}


def test_the_ledger_keeps_what_the_customer_was_before() -> None:
    _, entry = merged()
    assert (entry.first_seen, entry.first_purchase, entry.first_purchase_day, entry.last_purchase) == (
        100 * DAY,
        100 * DAY,
        100,
        130 * DAY,
    )
    assert Ledger.from_list(entry.to_list()) == entry


def test_a_new_customer_takes_the_profile_as_it_is() -> None:
    into = CustomerState()
    combine(into, profile(), Ledger("id:device_id:00", 0, "login"), **SETTINGS)  # type: ignore[arg-type]
    assert (into.first_seen, into.first_purchase, into.nps, into.csat) == (
        90 * DAY,
        90 * DAY,
        [9, 134 * DAY],
        [2, 122 * DAY],
    )
    assert (into.satisfaction_sum, into.satisfaction_weight, into.satisfaction_at) == (
        0.9,
        1.0,
        122 * DAY + int(HALF_LIFE),
    )


def test_a_split_gives_back_exactly_what_the_merge_brought() -> None:
    into, entry = merged()
    subtract(into, profile(), entry, HALF_LIFE)
    anna = customer()
    assert (into.events, into.purchase_count, into.purchase_value, into.unpriced_purchases) == (
        5,
        2,
        100.10,
        0,
    )
    assert (into.refund_count, into.refund_value, into.complaints_total, into.referrals) == (1, 10.05, 1, 1)
    assert into.channels == {"store": [3, 130 * DAY], "email": [2, 125 * DAY]}, (
        "the app channel was only hers"
    )
    assert (into.purchase_days, into.purchase_days_folded) == ([100, 130], 0)
    assert (into.first_seen, into.first_purchase, into.first_purchase_day, into.last_purchase) == (
        anna.first_seen,
        anna.first_purchase,
        anna.first_purchase_day,
        anna.last_purchase,
    )
    assert (into.csat, into.nps) == (anna.csat, anna.nps)
    assert into.satisfaction_weight == pytest.approx(0.5), "Anna's own, decayed to the later instant"
    assert into.satisfaction_sum == pytest.approx(0.375)
    assert into.complaints_open == {}
    assert into.inquiries_open == {}
    assert into.sla_cases == {}, "both cases came with the profile's questions"
    assert into.recent_events == window((7, 17), (2, 12), (1, 11), (3, 13)), (
        "the dedupe memory stays: a redelivery is still one"
    )


def test_a_split_without_a_ledger_takes_back_counts_and_open_items_only() -> None:
    into, _ = merged()
    subtract(into, profile(), None, HALF_LIFE)
    assert (into.events, into.purchase_count) == (5, 2)
    assert into.first_seen == 90 * DAY, "without the ledger the earliest instants stay"
    assert "conv-c" not in into.sla_cases


def test_taking_back_more_than_is_there_stops_at_nothing() -> None:
    into = CustomerState(events=1, channels={"app": [1, 5]}, purchase_count=1, purchase_value=0.1)
    subtract(into, profile(), None, HALF_LIFE)
    assert (into.events, into.purchase_count, into.purchase_value, into.refund_value) == (0, 0, 0.0, 0.0)
    assert (into.channels, into.first_purchase, into.last_purchase, into.first_purchase_day) == ({}, 0, 0, 0)
    assert (into.complaints_total, into.complaints_resolved, into.referrals, into.refund_count) == (
        0,
        0,
        0,
        0,
    )


def test_an_answer_at_the_very_instant_of_a_question_closes_it_as_folding_it_would() -> None:
    into = customer()
    asking = CustomerState(
        events=2,
        first_seen=110 * DAY,
        inquiries_open={"conv-a": 110 * DAY},
        complaints_open={"tv-1": 121 * DAY},
    )
    combine(into, asking, Ledger("id:device_id:00", 0, "login"), **SETTINGS)  # type: ignore[arg-type]
    assert into.inquiries_open == {}
    assert into.complaints_open == {}


def test_the_memory_of_answers_keeps_only_the_latest_few() -> None:
    into = customer()
    answered = CustomerState(
        events=2,
        first_seen=110 * DAY,
        recently_answered={"conv-x": 100 * DAY, "conv-y": 115 * DAY},
        recently_resolved={"tv-0": 90 * DAY, "tv-2": 125 * DAY},
    )
    combine(into, answered, Ledger("id:device_id:00", 0, "login"), **SETTINGS)  # type: ignore[arg-type]
    assert into.recently_answered == {"conv-a": 110 * DAY, "conv-y": 115 * DAY}, "at most 2, the latest"
    assert into.recently_resolved == {"tv-1": 121 * DAY, "tv-2": 125 * DAY}


def test_a_tie_in_time_keeps_the_customers_own_score_and_case() -> None:
    into = customer()
    into.nps = [3, 122 * DAY]
    tied = CustomerState(
        events=1,
        first_seen=110 * DAY,
        nps=[10, 122 * DAY],
        sla_cases={"conv-b": [129 * DAY, "app", None, "q-other"]},
    )
    combine(into, tied, Ledger("id:device_id:00", 0, "login"), **SETTINGS)  # type: ignore[arg-type]
    assert into.nps == [3, 122 * DAY]
    assert into.sla_cases == {"conv-b": [129 * DAY, "chat", None, "q-9"]}


def test_a_split_keeps_what_was_the_customers_own_before_the_merge() -> None:
    into = customer()
    later = CustomerState(
        events=1,
        first_seen=110 * DAY,
        purchase_count=1,
        purchase_value=5.0,
        purchase_days=[131],
        first_purchase=131 * DAY,
        first_purchase_day=131,
        last_purchase=131 * DAY,
        sla_cases={"conv-b": [130 * DAY, "app", None, "q-later"]},
    )
    entry = Ledger("id:device_id:00", 0, "login")
    combine(into, later, entry, **SETTINGS)  # type: ignore[arg-type]
    assert (into.first_purchase, into.last_purchase) == (100 * DAY, 131 * DAY)
    subtract(into, later, entry, HALF_LIFE)
    assert (into.first_purchase, into.first_purchase_day, into.last_purchase) == (100 * DAY, 100, 130 * DAY)
    assert into.sla_cases == {"conv-b": [129 * DAY, "chat", None, "q-9"]}, "her own case stays open"


def test_a_split_from_a_customer_who_was_only_the_profile_leaves_no_feedback_behind() -> None:
    into = CustomerState()
    entry = Ledger("id:device_id:00", 0, "login")
    combine(into, profile(), entry, **SETTINGS)  # type: ignore[arg-type]
    subtract(into, profile(), entry, HALF_LIFE)
    assert (into.satisfaction_sum, into.satisfaction_weight) == (0.0, 0.0)
    assert into.satisfaction is None


def test_a_customer_seen_once_keeps_their_first_sighting_when_the_profile_was_seen_later() -> None:
    into = CustomerState(events=1, first_seen=100 * DAY, last_seen=100 * DAY)
    later = CustomerState(events=2, first_seen=110 * DAY, last_seen=111 * DAY)
    combine(into, later, Ledger("id:device_id:00", 0, "login"), **SETTINGS)  # type: ignore[arg-type]
    assert (into.first_seen, into.last_seen, into.events) == (100 * DAY, 111 * DAY, 3)


def test_the_customers_own_counts_and_later_instants_are_kept_alongside_the_profiles() -> None:
    into = customer()
    into.unpriced_purchases, into.purchase_days_folded = 2, 3
    into.alert_last["churn_risk"] = 100 * DAY  # later than the profile's
    resolved = profile()
    resolved.complaints_resolved = 2
    resolved.recently_resolved = {"tv-1": 115 * DAY}  # resolved again later on her side
    entry = Ledger("id:device_id:00", 0, "login")
    combine(into, resolved, entry, **SETTINGS)  # type: ignore[arg-type]
    assert (into.unpriced_purchases, into.purchase_days_folded, into.complaints_resolved) == (3, 4, 3)
    assert into.alert_last["churn_risk"] == 100 * DAY
    assert into.recently_resolved == {"tv-1": 121 * DAY}
    subtract(into, resolved, entry, HALF_LIFE)
    assert (into.unpriced_purchases, into.purchase_days_folded, into.complaints_resolved) == (2, 3, 1)


def test_a_profile_without_purchases_leaves_the_customers_first_purchase() -> None:
    into = customer()
    browsing = CustomerState(events=2, first_seen=95 * DAY, last_seen=96 * DAY)
    combine(into, browsing, Ledger("id:device_id:00", 0, "login"), **SETTINGS)  # type: ignore[arg-type]
    assert (into.first_purchase, into.first_purchase_day, into.last_purchase) == (100 * DAY, 100, 130 * DAY)


def test_a_customer_left_without_events_takes_the_next_profiles_first_sighting() -> None:
    # Everything they had came with a profile that was split off again (without its ledger).
    emptied = CustomerState(events=0, first_seen=50 * DAY, last_seen=60 * DAY)
    combine(emptied, profile(), Ledger("id:device_id:00", 0, "login"), **SETTINGS)  # type: ignore[arg-type]
    assert emptied.first_seen == 90 * DAY


def test_a_split_gives_back_the_customers_own_scores_where_the_profiles_had_won() -> None:
    newer = CustomerState(events=1, first_seen=110 * DAY, csat=[5, 123 * DAY], nps=[10, 124 * DAY])
    into, entry = customer(), Ledger("id:device_id:00", 0, "login")
    into.nps = [6, 100 * DAY]
    combine(into, newer, entry, **SETTINGS)  # type: ignore[arg-type]
    assert (into.csat, into.nps) == ([5, 123 * DAY], [10, 124 * DAY])
    subtract(into, newer, entry, HALF_LIFE)
    assert (into.csat, into.nps) == ([4, 122 * DAY], [6, 100 * DAY])
    answered, answered_entry = customer(), Ledger("id:device_id:00", 0, "login")
    combine(answered, newer, answered_entry, **SETTINGS)  # type: ignore[arg-type]
    answered.csat = [1, 126 * DAY]  # her own answer after the merge
    subtract(answered, newer, answered_entry, HALF_LIFE)
    assert answered.csat == [1, 126 * DAY], "an answer given after the merge stays"


def test_a_split_leaving_one_purchase_keeps_its_instants() -> None:
    into = CustomerState(
        events=1,
        first_seen=100 * DAY,
        purchase_count=1,
        purchase_value=10.0,
        purchase_days=[100],
        first_purchase=100 * DAY,
        first_purchase_day=100,
        last_purchase=100 * DAY,
    )
    entry = Ledger("id:device_id:00", 0, "login")
    combine(into, profile(), entry, **SETTINGS)  # type: ignore[arg-type]
    subtract(into, profile(), entry, HALF_LIFE)
    assert (into.purchase_count, into.first_purchase, into.first_purchase_day, into.last_purchase) == (
        1,
        100 * DAY,
        100,
        100 * DAY,
    )


def test_a_question_asked_at_the_first_second_of_1970_stays_open_without_an_answer() -> None:
    into = CustomerState(events=1, first_seen=1)
    asking = CustomerState(events=1, first_seen=1, inquiries_open={"conv-z": 1}, complaints_open={"tv-z": 0})
    combine(into, asking, Ledger("id:device_id:00", 0, "login"), **SETTINGS)  # type: ignore[arg-type]
    assert into.inquiries_open == {"conv-z": 1}
    assert into.complaints_open == {"tv-z": 0}


def test_a_profiles_older_feedback_counts_decayed_to_the_customers_later_instant() -> None:
    into = CustomerState(
        events=1, first_seen=DAY, satisfaction_sum=0.6, satisfaction_weight=1.0, satisfaction_at=200 * DAY
    )
    older = CustomerState(
        events=1,
        first_seen=DAY,
        satisfaction_sum=2.0,
        satisfaction_weight=2.0,
        satisfaction_at=200 * DAY - int(HALF_LIFE),
    )
    combine(into, older, Ledger("id:device_id:00", 0, "login"), **SETTINGS)  # type: ignore[arg-type]
    assert into.satisfaction_sum == pytest.approx(1.6), "her 0.6 and half of the profile's 2.0"
    assert into.satisfaction_weight == pytest.approx(2.0)
    assert into.satisfaction_at == 200 * DAY


def test_a_customer_whose_feedback_was_all_taken_back_takes_the_profiles_as_it_is() -> None:
    into = CustomerState(events=1, first_seen=DAY, satisfaction_at=300 * DAY)
    combine(into, profile(), Ledger("id:device_id:00", 0, "login"), **SETTINGS)  # type: ignore[arg-type]
    assert (into.satisfaction_sum, into.satisfaction_weight, into.satisfaction_at) == (
        0.9,
        1.0,
        122 * DAY + int(HALF_LIFE),
    )


def test_a_profile_whose_feedback_was_all_taken_back_adds_none_and_ages_none() -> None:
    into = CustomerState(
        events=1, first_seen=DAY, satisfaction_sum=0.6, satisfaction_weight=1.0, satisfaction_at=100 * DAY
    )
    emptied = CustomerState(events=1, first_seen=DAY, satisfaction_at=200 * DAY)
    combine(into, emptied, Ledger("id:device_id:00", 0, "login"), **SETTINGS)  # type: ignore[arg-type]
    assert (into.satisfaction_sum, into.satisfaction_weight, into.satisfaction_at) == (0.6, 1.0, 100 * DAY)
