"""Mutation testing of the pure core: each module of agents/ against its own unit tests.

Run it through ``scripts/mutation`` (it makes the separate ``.venv-mutation`` this needs):

    scripts/mutation                                  # every module (long: an hour or more on 2 cores)
    scripts/mutation agents/journey/lifecycle.py      # one module (or several)
    scripts/mutation --jobs 2 --list                  # the modules and the tests each is held to

For each module, mutmut (3.x) mutates only that module and runs only the tests listed for it
below. mutmut swaps mutants inside one test process, so objects the tests build at import time
can hide a kill; every mutant it reports as surviving (or as reached by no test) is therefore
applied to a copy of the source on disk and the module's tests run again in a fresh process
before it counts as a survivor. Mutants listed in EQUIVALENT (no test can tell them from the
original) are left out of the score, with the reason shown.

Results: bench/mutation.json (per module, updated by each run) and bench/MUTATION.md (the table
and every survivor, rendered from it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / "out" / "mutation"
STATE = ROOT / "bench" / "mutation.json"
REPORT = ROOT / "bench" / "MUTATION.md"
VENV = ROOT / ".venv-mutation"
#: What the pure core's tests import (streams only for tests/conftest.py's helpers).
COPIED = ("agents", "schemas", "streams", "tests")
TARGET_SCORE = 85.0


@dataclass(frozen=True)
class Target:
    """A module and the tests it is held to: its own, plus ``extra`` where named in the report's "with"."""

    module: str
    tests: tuple[str, ...]
    extra: tuple[str, ...] = ()
    #: Tests left out, with why (said where the target is listed): they need the stream engine, which
    #: the mutation venv does not have, or they replay simulator traffic for a statistical bound that
    #: the module's unit tests pin exactly (seconds per mutant, on every mutant of the module).
    deselect: tuple[str, ...] = ()


def _own(module: str, test: str | None = None) -> Target:
    path = Path(module)
    name = test or f"tests/{path.parent.as_posix()}/test_{path.stem}.py"
    return Target(module, (name,))


#: The tracker's tests: the modules split out of the journey tracker (admission, folding, detection,
#: retention, alert gating and actions) have no tests of their own and are told through the tracker.
TRACKER = (
    "tests/agents/journey/test_track.py",
    "tests/agents/journey/test_step.py",
    "tests/agents/alerts/test_sla.py",
    "tests/agents/detectors/test_framework.py",
)

#: Identity resolution's tests: the graph, the journeys it changes, erasure's unlinks and the merge properties.
IDENTITY = (
    "tests/agents/identity/test_graph.py",
    "tests/agents/identity/test_journeys.py",
    "tests/agents/identity/test_erasure.py",
    "tests/agents/identity/test_merge_properties.py",
)

#: Replays simulator traffic (13 s) for the share of best customers, 5-15 %: a statistical bound, left out
#: of mutation runs; the population's and the coordination's unit tests pin the same code exactly.
SIMULATED_SHARE = (
    "tests/agents/models/test_population.py::"
    "test_on_simulator_traffic_between_five_and_fifteen_percent_of_buyers_are_best_customers"
)

#: Any week of questions, replies and operator actions (hypothesis, 120 scripts): seconds per mutant, and minutes
#: shrinking on every mutant it kills. Left out of the SLA modules' runs: their example tests pin the same
#: properties one by one (each alert checked against the contract and its id on the way out, a redelivered
#: question raising nothing twice, nothing changed after a resolution, the deadline in the facts, the
#: bounded state); the other modules told through the SLA tests keep it.
SLA_PROPERTY = (
    "tests/agents/alerts/test_sla.py::"
    "test_any_week_of_questions_and_replies_gives_valid_alerts_each_raised_once"
)

#: Any order of touchpoints and merges gives the state of all the touchpoints: a property over histories.
MERGE_ORDER = (
    "tests/agents/identity/test_merge_properties.py::"
    "test_any_order_of_touchpoints_and_merges_gives_each_customer_the_state_of_all_its_touchpoints"
)

#: Each detector's memories merging when a profile merges into its customer.
MERGE = "tests/agents/detectors/test_merge.py"
#: Each detector's alerts ending when their cause clears (its ``clears``), told through the tracker.
CLOSING = "tests/agents/alerts/test_closing.py"


def _properties(module: str, *names: str) -> tuple[str, ...]:
    """Tests of one test module, by name (for ``deselect``)."""
    return tuple(f"{module}::{name}" for name in names)


#: Every module of the pure core. Left out: the thin Faust agents (agents/*/agent.py), which do I/O
#: only and are exercised by the integration tests, and agents/ports.py, Protocols with no code to mutate.
NOT_MUTATED = ("agents/ports.py",)
TARGETS: tuple[Target, ...] = (
    # The bottom layer.
    _own("agents/domain/alert.py"),
    _own("agents/domain/errors.py"),
    _own("agents/domain/instants.py"),
    _own("agents/domain/keyed_hash.py"),
    _own("agents/domain/outputs.py"),
    Target(
        "agents/domain/refusal.py",
        ("tests/agents/domain/test_refusal.py",),
        # The reason codes against the dead-letter contract's enumeration.
        ("tests/schemas/test_contracts.py",),
    ),
    _own("agents/domain/state.py"),
    Target("agents/domain/identity.py", ("tests/agents/domain/test_identity.py",), IDENTITY),
    # Rules, calendars, the stage machine, which detectors exist.
    _own("agents/calendar.py"),
    _own("agents/catalogue.py"),
    _own("agents/config.py"),
    _own("agents/lifecycle.py"),
    # The models.
    _own("agents/models/bgnbd.py"),
    _own("agents/models/customer.py"),
    _own("agents/models/fitting.py"),
    _own("agents/models/gamma_gamma.py"),
    _own("agents/models/history.py"),
    _own("agents/models/params.py"),
    Target(
        "agents/models/population.py",
        ("tests/agents/models/test_population.py",),
        # The best-customer threshold's life from a customer's purchase to the coordinator's merge.
        ("tests/agents/coordination/test_progress.py",),
        deselect=(SIMULATED_SHARE,),
    ),
    # Where the partitions meet: told through the digests and the population threshold they publish.
    Target(
        "agents/coordination/coordinator.py",
        ("tests/agents/coordination/test_coordinator.py",),
        ("tests/agents/alerts/test_digests.py", "tests/agents/models/test_population.py"),
        deselect=(SIMULATED_SHARE,),
    ),
    Target(
        "agents/coordination/progress.py",
        ("tests/agents/coordination/test_progress.py",),
        ("tests/agents/alerts/test_digests.py", "tests/agents/models/test_population.py"),
        deselect=(SIMULATED_SHARE,),
    ),
    # An alert's life in the customer's state.
    Target("agents/alerts/sla.py", ("tests/agents/alerts/test_sla.py",), deselect=(SLA_PROPERTY,)),
    Target("agents/alerts/sla_cases.py", ("tests/agents/alerts/test_sla.py",), deselect=(SLA_PROPERTY,)),
    Target(
        "agents/alerts/closing.py",
        ("tests/agents/alerts/test_closing.py",),
        # The first-response cases' ends, and the oracle that no alert is left open past its clearing.
        ("tests/agents/alerts/test_sla.py", "tests/streams/test_alert_lifecycle.py"),
    ),
    # Its kept records (records, changes, restore) are told through the coordinator that keeps them.
    Target(
        "agents/alerts/digests.py",
        ("tests/agents/alerts/test_digests.py",),
        ("tests/agents/coordination/test_coordinator.py",),
    ),
    # Split out of the tracker: told through it, by the tracker's own tests.
    Target("agents/alerts/gating.py", TRACKER),
    Target("agents/alerts/actions.py", TRACKER),
    # Alerts moved by a merge or a split: their own tests, and the journeys of identity resolution.
    Target("agents/alerts/moves.py", ("tests/agents/alerts/test_moves.py",), IDENTITY),
    # The detectors.
    _own("agents/detectors/base.py", "tests/agents/detectors/test_framework.py"),
    _own("agents/detectors/registry.py"),
    # Merging two customers' memories, and the alerts ending when their cause clears, are told for every
    # detector in one place each. Left out: the detectors' property tests over generated histories (seconds
    # per mutant); each is pinned by an example of the same rule, named beside it.
    Target(
        "agents/detectors/advocate.py",
        ("tests/agents/detectors/test_advocate.py",),
        (MERGE, CLOSING),
        # By the loyal customer who never gave feedback, and the thousand promoter scores.
        deselect=_properties(
            "tests/agents/detectors/test_advocate.py",
            "test_nothing_is_raised_on_any_history_without_feedback",
            "test_memory_is_at_most_one_instant_on_any_history",
        ),
    ),
    Target(
        "agents/detectors/best_customer.py", ("tests/agents/detectors/test_churn_risk.py",), (MERGE, CLOSING)
    ),
    Target(
        "agents/detectors/churn_risk.py", ("tests/agents/detectors/test_churn_risk.py",), (MERGE, CLOSING)
    ),
    Target("agents/detectors/long_wait.py", ("tests/agents/detectors/test_long_wait.py",), (MERGE,)),
    Target(
        "agents/detectors/repeat_contact.py",
        ("tests/agents/detectors/test_repeat_contact.py",),
        (MERGE, CLOSING),
        # By the events that are not contacts, and the thresholds from the rules file.
        deselect=_properties(
            "tests/agents/detectors/test_repeat_contact.py",
            "test_a_history_without_contacts_raises_nothing_and_keeps_nothing",
            "test_no_issue_raises_before_it_has_the_threshold_of_contacts",
        ),
    ),
    Target(
        "agents/detectors/sales_in_service.py",
        ("tests/agents/detectors/test_sales_in_service.py",),
        (CLOSING,),
        # By the events other than offers, and the offer with nothing open.
        deselect=_properties(
            "tests/agents/detectors/test_sales_in_service.py",
            "test_a_history_without_offers_raises_nothing",
            "test_offers_to_customers_with_no_complaint_and_no_question_raise_nothing",
        ),
    ),
    Target(
        "agents/detectors/service_recovery.py",
        ("tests/agents/detectors/test_service_recovery.py",),
        (MERGE, CLOSING),
        # By the events that are no failure.
        deselect=_properties(
            "tests/agents/detectors/test_service_recovery.py",
            "test_a_history_without_complaints_or_feedback_raises_nothing",
        ),
    ),
    Target("agents/detectors/transfers.py", ("tests/agents/detectors/test_transfers.py",), (MERGE,)),
    _own("agents/detectors/usage_pattern.py"),
    # Identity resolution.
    Target("agents/identity/blocked.py", IDENTITY),
    Target("agents/identity/control.py", IDENTITY),
    Target("agents/identity/keys.py", IDENTITY),
    Target(
        "agents/identity/merging.py",
        ("tests/agents/identity/test_merging.py",),
        IDENTITY,
        # The merge-order property (32 s a run, minutes shrinking a failure) is left out: test_merging.py
        # pins how each field combines and is taken back, on hand-made states, exactly.
        deselect=(MERGE_ORDER,),
    ),
    Target("agents/identity/resolution.py", IDENTITY),
    # Ingest.
    Target(
        "agents/ingest/decode.py",
        ("tests/agents/ingest/test_decode.py",),
        ("tests/schemas/test_contracts.py",),
    ),
    _own("agents/ingest/dead_letter.py"),
    _own("agents/ingest/identity.py"),
    # The journey.
    Target("agents/journey/admission.py", ("tests/agents/journey/test_admission.py",), TRACKER),
    Target(
        "agents/journey/after_hours.py",
        ("tests/agents/journey/test_after_hours.py",),
        # Checks the labels against streams.metrics, which imports Faust: not in the mutation venv.
        deselect=(
            "tests/agents/journey/test_after_hours.py::test_labels_are_the_bounded_sets_the_metric_pre_creates",
        ),
    ),
    _own("agents/journey/control.py"),
    _own("agents/journey/deadlines.py"),
    _own("agents/journey/rebuild.py"),
    Target(
        "agents/journey/detection.py",
        TRACKER,
        # Alerts whose cause clears, and detector memories folded together when profiles merge.
        ("tests/agents/alerts/test_closing.py", MERGE),
    ),
    Target(
        "agents/journey/erasure.py",
        ("tests/agents/journey/test_erasure.py",),
        # Erasure in the journey step, and its unlinks reaching the identity graph.
        ("tests/agents/identity/test_erasure.py", "tests/agents/journey/test_step.py"),
    ),
    _own("agents/journey/enriched.py"),
    Target("agents/journey/folding.py", ("tests/agents/journey/test_folding.py",), TRACKER),
    Target("agents/journey/retention.py", ("tests/agents/journey/test_retention.py", *TRACKER)),
    Target(
        "agents/journey/step.py",
        ("tests/agents/journey/test_step.py", "tests/agents/journey/test_step_identity.py"),
        # Identity's records, merges, splits and erasure, and moved alerts, go through the step.
        (*IDENTITY, "tests/agents/alerts/test_moves.py"),
        deselect=(MERGE_ORDER,),
    ),
    Target(
        "agents/journey/track.py",
        ("tests/agents/journey/test_track.py",),
        # The tracker's SLA cases, alert lifecycle and detector gating are told in these, through the
        # tracker; its merges, splits and erasure in identity's stories and the journey step's.
        (
            "tests/agents/alerts/test_sla.py",
            "tests/agents/detectors/test_framework.py",
            *IDENTITY,
            "tests/agents/journey/test_step_identity.py",
        ),
        deselect=(MERGE_ORDER,),
    ),
    _own("agents/journey/watermark.py"),
)

#: Mutants no test can tell from the original, by mutmut's name, with why. Left out of the score.
#: A name that no longer exists (the code moved on) is reported, so this list cannot silently rot.
EQUIVALENT: dict[str, str] = {
    "agents.lifecycle.x_inactivity_thresholds__mutmut_27": (
        "lapsed_multiplier * gap never exceeds at_risk_days * ratio (at_risk_days >= at_risk_multiplier * gap "
        "unless capped by lapse_window_days, which then caps lapsed_days too), so no value of that term, "
        "divided or multiplied, can change the result"
    ),
    "agents.domain.alert.xǁAlertǁfrom_compact__mutmut_7": (
        "compact() writes 11 facts, or 13 with the text: a slice to 14 of 13 items is the same 2 items"
    ),
    "agents.domain.state.xǁCustomerStateǁdecode__mutmut_26": (
        "the packed window unpacks as (digest, content) pairs: the two halves are always the same length, "
        "so strict never has anything to refuse"
    ),
    "agents.domain.state.xǁCustomerStateǁdecode__mutmut_29": "as decode__mutmut_26: strict left out",
    "agents.domain.state.xǁCustomerStateǁdecode__mutmut_33": "as decode__mutmut_26: strict=False",
    "agents.journey.deadlines.xǁDeadlineIndexǁschedule__mutmut_10": (
        "only a shortcut: the same deadline pushed twice is one live entry, the second is skipped when popped"
    ),
    "agents.journey.deadlines.xǁDeadlineIndexǁschedule__mutmut_22": (
        "when the heap is compacted: memory, not results (compaction rebuilds the same live deadlines)"
    ),
    "agents.journey.deadlines.xǁDeadlineIndexǁschedule__mutmut_23": "as schedule__mutmut_22: when to compact",
    "agents.journey.deadlines.xǁDeadlineIndexǁschedule__mutmut_24": "as schedule__mutmut_22: when to compact",
    "agents.journey.deadlines.xǁDeadlineIndexǁschedule__mutmut_26": "as schedule__mutmut_22: when to compact",
    "agents.journey.deadlines.xǁDeadlineIndexǁnext_due__mutmut_5": (
        "a partition has a heap only after schedule() made its dict, so the default is never used"
    ),
    "agents.journey.deadlines.xǁDeadlineIndexǁnext_due__mutmut_7": "as next_due__mutmut_5",
    "agents.journey.watermark.xǁPartitionClockǁobserve__mutmut_4": (
        "the same customer at the same instant: the entry is replaced by an equal one"
    ),
    "agents.journey.watermark.xǁPartitionClockǁobserve__mutmut_6": (
        "sorting by the whole (instant, customer) only orders tied instants differently; which of the tied "
        "customers is kept changes no quorum-th latest clock (checked by the property test)"
    ),
    "agents.journey.watermark.xǁPartitionClockǁobserve__mutmut_8": "as observe__mutmut_6",
    "agents.journey.watermark.xǁPartitionClockǁobserve__mutmut_15": (
        "a new customer tied with the last kept one replaces it with an equal instant"
    ),
    "agents.journey.watermark.xǁPartitionClockǁobserve__mutmut_22": "as observe__mutmut_6",
    "agents.journey.watermark.xǁPartitionClockǁobserve__mutmut_24": "as observe__mutmut_6",
    "agents.journey.watermark.xǁPartitionClockǁcombined__mutmut_2": (
        "the same customer at the same instant in two parts: its latest is replaced by an equal one"
    ),
    "agents.journey.watermark.xǁPartitionClockǁcombined__mutmut_8": (
        "the default is read only for a customer not seen yet: any value below the instant keeps it alike"
    ),
    "agents.journey.detection.xǁDetectionǁclear__mutmut_5": (
        "only a shortcut: with no open alert the loop has nothing to close, and with a touchpoint no detector is "
        "cleared by every alert is skipped"
    ),
    "agents.journey.detection.xǁDetectionǁclear__mutmut_23": (
        "the alerts a detector clears are its own, which keep their text: revive reads no calendar for them"
    ),
    "agents.journey.track.xǁJourneyTrackerǁtrack__mutmut_31": (
        "a duplicate is known only from a customer's state, so the new state after `or` is never built"
    ),
    "agents.journey.track.xǁJourneyTrackerǁtrack__mutmut_52": (
        "a new customer's last_seen is 0, so max(last_seen, instant) is the instant either way"
    ),
    "agents.journey.track.xǁJourneyTrackerǁact__mutmut_10": (
        "recomputing the wake-up after a refused action, which changed nothing, gives the same one"
    ),
    "agents.journey.track.xǁJourneyTrackerǁact__mutmut_11": (
        "an action only takes deadlines away: the wake-up left earlier finds nothing due, fires nothing and is "
        "recomputed then (only the stored wake-up instant differs)"
    ),
    "agents.journey.track.xǁJourneyTrackerǁact__mutmut_12": "as act__mutmut_11",
    "agents.alerts.actions.xǁAlertActionsǁapply__mutmut_21": (
        "an action is refused only when its at is more than the skew from its record, never equal to it"
    ),
    "agents.alerts.actions.xǁAlertActionsǁapply__mutmut_126": (
        "a snooze's end is an instant after 1970: max with 0 or with 1 gives it alike"
    ),
    "agents.alerts.gating.xǁAlertGateǁraise_alert__mutmut_15": (
        "an alert is detected after 1970: a missing snooze read as 0 or as 1 holds nothing back alike"
    ),
    "agents.models.params.x_load_params__mutmut_18": (
        "the parameter file's field names are lower-case: stripping 'X' as well as '.' changes none"
    ),
    "agents.models.params.x_best_customer_threshold__mutmut_34": (
        "round() keeps nan as nan and an infinite threshold infinite; its one caller refuses any non-finite "
        "threshold with the same words"
    ),
    "agents.journey.control.xǁVerdictsǁapplied__mutmut_9": (
        "memory, not results: one mark more kept before they are forgotten; a mark not kept is read by its MAC"
    ),
    "agents.journey.control.xǁVerdictsǁapplied__mutmut_10": (
        "a mark kept with no bytes never matches, so every copy is read by its MAC: the same verdict, at its cost"
    ),
    "agents.journey.control.xǁVerdictsǁread__mutmut_7": (
        "looking up no mark never matches, so every copy is read by its MAC: the same verdict, at its cost"
    ),
    "agents.domain.keyed_hash.x_keyed_blake2b__mutmut_4": (
        "memory, not results: one prepared hash more kept; a hash made afresh gives the same bytes"
    ),
    "agents.domain.keyed_hash.x_hmac_sha256__mutmut_4": (
        "memory, not results: one prepared HMAC more kept; one made afresh gives the same bytes"
    ),
    "agents.domain.instants.x_iso__mutmut_1": (
        "every instant through datetime.isoformat: the same text as the fast path writes (a property test holds it)"
    ),
    "agents.domain.instants.x_iso__mutmut_2": (
        "instants are ints (the compiled build refuses any other type at the call, and the suite runs it): the branch for other numbers is never taken"
    ),
    "agents.domain.instants.x_iso__mutmut_3": (
        "instants are ints (the compiled build refuses any other type at the call, and the suite runs it): the branch for other numbers is never taken"
    ),
    "agents.domain.instants.x_iso__mutmut_4": (
        "instants are ints (the compiled build refuses any other type at the call, and the suite runs it): the branch for other numbers is never taken"
    ),
    "agents.domain.instants.x_iso__mutmut_5": (
        "instants are ints (the compiled build refuses any other type at the call, and the suite runs it): the branch for other numbers is never taken"
    ),
    "agents.domain.instants.x_iso__mutmut_6": (
        "instants are ints (the compiled build refuses any other type at the call, and the suite runs it): the branch for other numbers is never taken"
    ),
    "agents.domain.instants.x_iso__mutmut_7": "the kept text never looked up: written again, the same text",
    "agents.domain.instants.x_iso__mutmut_8": "the kept text never looked up: written again, the same text",
    "agents.domain.instants.x_iso__mutmut_33": "no text kept: written again when next asked, the same text",
    "agents.domain.instants.x_sooner__mutmut_4": "for equal instants either one is the sooner: the same value",
    "agents.domain.instants.x_local_time__mutmut_9": (
        "a calendar's zone is a ZoneInfo or a fixed offset, and both always name themselves: tzname() is never None"
    ),
    "agents.journey.rebuild.x_owned_summaries__mutmut_4": (
        "counting from 0 instead of 1 moves each turn by one state: as many turns, between other states"
    ),
    "agents.journey.rebuild.x_owned_summaries__mutmut_6": (
        "counting from 2 instead of 1 moves each turn by one state: as many turns, between other states"
    ),
    "agents.journey.rebuild.x_owned_summaries__mutmut_9": (
        "a turn at each count of 1 modulo the batch instead of 0: as many turns, one state earlier"
    ),
    "agents.journey.control.x_verify_tick__mutmut_4": "no value and b'XXXX' are both not JSON: the same refusal",
    "agents.journey.control.x_verify_tick__mutmut_25": "None is false like False: the same refusal",
    "agents.journey.control.x_verify_tick__mutmut_46": (
        "an offset of 0 is never beyond the skew bound, so >= and > pick the same side"
    ),
    "agents.journey.control.x_verify_tick__mutmut_47": (
        "the skew bound is at least 1 s (schemas/config.v1.json), so a refused tick ahead is more than 1 s ahead"
    ),
    "agents.journey.control.x_verify_tick__mutmut_57": (
        "a tick accepted is within the skew of a clock after 1970: its positive milliseconds truncate "
        "the same with / as with //"
    ),
    "agents.models.params.x_fit_problem__mutmut_11": (
        "rstrip('XX.XX') strips the same set of characters plus 'X': it differs only for an optimiser "
        "message ending in a capital X, which neither scipy optimiser writes"
    ),
    "agents.calendar.x_parse_interval__mutmut_30": "start == end is refused just before, so `end < start` and `end <= start` agree",
    "agents.calendar.xǁBusinessCalendarǁ__post_init____mutmut_38": "only a shortcut: a never-open calendar walks the ten-year horizon and still finds nothing",
    "agents.calendar.xǁBusinessCalendarǁnext_opening__mutmut_8": "when the span starts at the instant, either branch returns that instant",
    "agents.calendar.xǁBusinessCalendarǁbusiness_seconds__mutmut_4": "for equal instants the mutant returns -0.0, which equals 0.0",
    "agents.calendar.xǁBusinessCalendarǁadd_business_time__mutmut_2": "a timedelta is whole microseconds: true division gives the same number as a float, exact below 2**53",
    "agents.calendar.xǁBusinessCalendarǁadd_business_time__mutmut_14": "a span ending at the instant leaves 0 to count either way",
    "agents.calendar.xǁBusinessCalendarǁadd_business_time__mutmut_19": "when the span starts at the instant, either branch begins there",
    "agents.calendar.xǁBusinessCalendarǁ_open_micros__mutmut_10": "a bucket past the range contributes no positive overlap",
    "agents.calendar.xǁBusinessCalendarǁ_open_micros__mutmut_11": "a cache miss: the bucket is computed again, the same",
    "agents.calendar.xǁBusinessCalendarǁ_open_micros__mutmut_12": "a cache miss: the bucket is computed again, the same",
    "agents.calendar.xǁBusinessCalendarǁ_open_micros__mutmut_20": "when the span ends at the range's end, either branch gives it",
    "agents.calendar.xǁBusinessCalendarǁ_open_micros__mutmut_23": "when the span starts at the range's start, either branch gives it",
    "agents.calendar.xǁBusinessCalendarǁ_open_micros__mutmut_24": "adding an overlap of 0 changes no total",
    "agents.calendar.xǁBusinessCalendarǁ_bucket__mutmut_15": "one more local day of slack: its spans are clipped to the bucket, nothing reaches it",
    "agents.calendar.xǁBusinessCalendarǁ_bucket__mutmut_17": "one more local day of slack: its spans are clipped to the bucket, nothing reaches it",
    "agents.calendar.xǁBusinessCalendarǁ_bucket__mutmut_21": "touching spans kept apart instead of merged: every query answers the same over two adjacent spans",
    "agents.calendar.xǁBusinessCalendarǁ_bucket__mutmut_48": "a span starting at the bucket's end is clipped to zero length, which no query counts",
    "agents.calendar.xǁBusinessCalendarǁ_bucket__mutmut_49": "a span ending at the bucket's start is clipped to zero length, which no query counts",
    "agents.calendar.xǁBusinessCalendarǁ_bucket__mutmut_50": "the cache is cleared one entry later: memory, not results",
    "agents.calendar.xǁBusinessCalendarǁ_bucket__mutmut_51": "a cached None is a miss: the bucket is computed again, the same",
    "agents.calendar.xǁBusinessCalendarǁ_own_spans__mutmut_1": "a cache miss: the day is computed again, the same",
    "agents.calendar.xǁBusinessCalendarǁ_own_spans__mutmut_2": "a cache miss: the day is computed again, the same",
    "agents.calendar.xǁBusinessCalendarǁ_own_spans__mutmut_27": "an interval wholly in a spring-forward gap becomes a zero-length span, which no query counts",
    "agents.calendar.xǁBusinessCalendarǁ_own_spans__mutmut_31": "the cache is cleared one entry later: memory, not results",
    "agents.calendar.xǁBusinessCalendarǁ_own_spans__mutmut_32": "a cached None is a miss: the day is computed again, the same",
    "agents.calendar.xǁBusinessCalendarǁ_local__mutmut_3": "wall times are whole minutes: the float has the same value, exact below 2**53",
    "agents.calendar.xǁBusinessCalendarǁ_local__mutmut_6": "the check fails and the search finds the same instant the direct path gives, to the second",
    "agents.calendar.xǁBusinessCalendarǁ_local__mutmut_7": "the check fails and the search finds the same instant the direct path gives, to the second",
    "agents.calendar.xǁBusinessCalendarǁ_local__mutmut_11": "whole seconds: the float bound has the same value",
    "agents.calendar.xǁBusinessCalendarǁ_local__mutmut_12": "whole seconds: the float bound has the same value",
    "agents.calendar.xǁBusinessCalendarǁ_local__mutmut_21": "whole seconds: the float bound has the same value",
    "agents.calendar.xǁBusinessCalendarǁ_local__mutmut_27": "a float midpoint still halves the interval; the search ends on the same whole second",
    "agents.calendar.xǁBusinessCalendarǁ_local__mutmut_34": "a wall time in a gap is never shown by the clock, so >= and > agree",
    "agents.calendar.x__calendar__mutmut_6": "the only default of a calendar's keys is closures = [], which the code also falls back to",
    "agents.calendar.x__calendar__mutmut_7": "the only default of a calendar's keys is closures = [], which the code also falls back to",
    "agents.calendar.x__calendar__mutmut_95": "unreachable: the country and subdivision are checked against the holidays library's own lists first",
    "agents.config.x_config_from_mapping__mutmut_9": "both names are reassigned or a problem is raised before either is read",
    "agents.config.x_config_from_mapping__mutmut_26": "calendars or model is None only after its ConfigError added a problem, so `problems` alone decides",
    "agents.config.x_config_from_mapping__mutmut_77": "the compiled validator fills every channel's `enabled` (default true) first, so the fallback is never used",
    "agents.config.x_config_from_mapping__mutmut_79": "the compiled validator fills every channel's `enabled` (default true) first, so the fallback is never used",
    "agents.config.x_config_from_mapping__mutmut_82": "the compiled validator fills every channel's `enabled` (default true) first, so the fallback is never used",
    "agents.config.x_load_config__mutmut_8": (
        "no encoding means the locale's, which is UTF-8 here (C.UTF-8) and in the image: the same decoding"
    ),
    "agents.config.x_model_config__mutmut_11": (
        "joining an absolute path returns it, and Path('<defaults>').parent is '.': either way the same path"
    ),
    "agents.config.x_model_config__mutmut_14": "as model_config__mutmut_11: Path('<defaults>').parent is '.'",
    "agents.config.x_model_config__mutmut_15": "as model_config__mutmut_11: Path('<defaults>').parent is '.'",
    "agents.config.x__describe__mutmut_20": (
        "a propertyNames schema without a pattern: no meaning is found under '', None or 'XXXX' alike"
    ),
    "agents.config.x__describe__mutmut_22": "as _describe__mutmut_20",
    "agents.config.x__describe__mutmut_25": "as _describe__mutmut_20",
    "agents.config.x_load_config__mutmut_10": "codec names are case-insensitive: 'UTF-8' is 'utf-8'",
    "agents.catalogue.x_load_class__mutmut_3": "an entry point's value has one colon, so partition and rpartition split it alike",
    "agents.identity.keys.x_is_identifier_key__mutmut_6": (
        "every key under id: has exactly two colons (its kind or scope, then a hex digest): partition and "
        "rpartition split off the same kind"
    ),
    "agents.identity.merging.x__cents__mutmut_5": (
        "every amount in a state is whole cents (folding rounds them): a sum or difference of two is the same "
        "double rounded to 2 places or to 3"
    ),
    "agents.identity.merging.x__close_answered__mutmut_6": (
        "instants are epoch seconds, never negative: no open item is at or before -1, nor -2"
    ),
    "agents.identity.merging.x__add_satisfaction__mutmut_6": "sign is 1 or -1, never 0: > 0 and >= 0 agree",
    # The models: numbers in, numbers out.
    "agents.models.bgnbd.x__arrays__mutmut_9": (
        "the summary arrives as numbers (float arrays, ints, floats): numpy computes the same in their own dtype"
    ),
    "agents.models.bgnbd.x__arrays__mutmut_11": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.bgnbd.x__arrays__mutmut_13": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.bgnbd.x__arrays__mutmut_15": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.bgnbd.x__arrays__mutmut_17": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.bgnbd.x__arrays__mutmut_19": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.bgnbd.x_expected_purchases__mutmut_10": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.bgnbd.x_expected_purchases__mutmut_12": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.bgnbd.x_expected_purchases_new__mutmut_3": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.bgnbd.x_expected_purchases_new__mutmut_5": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.bgnbd.x_simulate__mutmut_3": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.bgnbd.x_simulate__mutmut_5": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.bgnbd.x__compress__mutmut_19": "astype(None) is float64, numpy's default",
    "agents.models.bgnbd.x__log_likelihood__mutmut_11": (
        "the stand-in x for customers without a repeat purchase only keeps a term defined that is masked out"
    ),
    "agents.models.bgnbd.x_p_alive__mutmut_19": "as _log_likelihood__mutmut_11: a masked stand-in",
    "agents.models.bgnbd.x__expected_given_alive__mutmut_9": (
        "a - 1 is a multiple of 2**-52 near 1 and the double 1e-6 is not: no a makes them equal"
    ),
    "agents.models.bgnbd.x_expected_purchases_new__mutmut_24": (
        "np.zeros_like(None) is a 0 that broadcasts like the array of zeros: the same numbers"
    ),
    "agents.models.bgnbd.x_expected_purchases_new__mutmut_25": "as expected_purchases_new__mutmut_24",
    "agents.models.bgnbd.x_fit__mutmut_109": (
        "with bounds and no constraints scipy's minimize picks L-BFGS-B itself"
    ),
    "agents.models.bgnbd.x_fit__mutmut_113": "as fit__mutmut_109: L-BFGS-B picked for a bounded problem",
    "agents.models.bgnbd.x_fit__mutmut_116": "scipy's method names are case-insensitive",
    "agents.models.bgnbd.x_fit__mutmut_132": "scipy's method names are case-insensitive",
    "agents.models.bgnbd.x_fit__mutmut_133": "scipy's method names are case-insensitive",
    "agents.models.bgnbd.x_fit__mutmut_145": (
        "Nelder-Mead starts from L-BFGS-B's point and keeps its best vertex: it never ends worse than that"
    ),
    "agents.models.bgnbd.x_fit__mutmut_44": "numpy ignores underflow unless told otherwise: None keeps that",
    "agents.models.bgnbd.x_fit__mutmut_48": "numpy ignores underflow unless told otherwise: left out keeps that",
    "agents.models.bgnbd.x_simulate__mutmut_35": (
        "a rate of exactly 0 gives an exponential wait of 1/0 = inf in numpy: that customer never buys either way"
    ),
    "agents.models.bgnbd.x_simulate__mutmut_39": "as simulate__mutmut_35: a zero rate never buys",
    "agents.models.bgnbd.x_simulate__mutmut_41": "continuous time: a purchase falls exactly on T with probability 0",
    "agents.models.bgnbd.x_simulate__mutmut_47": "a uniform draw equals a continuous dropout p with probability 0",
    "agents.models.customer.xǁCustomerModelǁsummary__mutmut_21": (
        "with at most one purchase day counted the last is the first (or none is listed): t_x is 0 either way"
    ),
    "agents.models.customer.xǁCustomerModelǁexpected_purchases__mutmut_1": (
        "in no time the series gives P(alive) times -0.0, which equals 0.0"
    ),
    "agents.models.customer.xǁCustomerModelǁ_given_alive__mutmut_5": "as bgnbd._expected_given_alive__mutmut_9",
    "agents.models.customer.xǁCustomerModelǁclv__mutmut_6": (
        "a first purchase day is day 1 or later, so day 0 and day 1 both read as before it: T is t_x either way"
    ),
    "agents.models.customer.xǁCustomerModelǁclv__mutmut_19": (
        "with no purchase day counted x is 0, and x = 0 spends the population's mean whatever mean is given"
    ),
    "agents.models.customer.xǁCustomerModelǁclv__mutmut_31": "a period k = 0 lasts no time: it adds (±0 - 0) / 1",
    "agents.models.gamma_gamma.x__arrays__mutmut_7": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.gamma_gamma.x__arrays__mutmut_9": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.gamma_gamma.x__arrays__mutmut_11": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.gamma_gamma.x__arrays__mutmut_13": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.gamma_gamma.x_simulate__mutmut_3": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.gamma_gamma.x_simulate__mutmut_5": "as bgnbd._arrays__mutmut_9: the dtype of numbers",
    "agents.models.gamma_gamma.x_expected_spend__mutmut_18": (
        "where x is 0 the stand-in m_x is multiplied by x: any finite one gives the population mean"
    ),
    "agents.models.gamma_gamma.x_clv__mutmut_37": "E[Y(0)] is 0: a period 0 adds nothing and leaves the cumulative at 0",
    "agents.models.gamma_gamma.x_simulate__mutmut_26": (
        "the draw for a customer with x = 0 is thrown away (NaN); another stand-in shape changes which random "
        "numbers the others get, not their distribution"
    ),
    "agents.models.gamma_gamma.x_simulate__mutmut_29": "as simulate__mutmut_26: a stand-in thrown away",
    "agents.models.gamma_gamma.x_simulate__mutmut_49": "for x = 1, dividing by x or by the stand-in 1.0 is the same",
    "agents.models.gamma_gamma.x_simulate__mutmut_50": "the stand-in divisor for x = 0 gives a value thrown away (NaN)",
    "agents.models.gamma_gamma.x_fit__mutmut_90": "as bgnbd.fit__mutmut_109: L-BFGS-B picked for a bounded problem",
    "agents.models.gamma_gamma.x_fit__mutmut_94": "as bgnbd.fit__mutmut_109: L-BFGS-B picked for a bounded problem",
    "agents.models.gamma_gamma.x_fit__mutmut_97": "scipy's method names are case-insensitive",
    "agents.models.gamma_gamma.x_fit__mutmut_113": "scipy's method names are case-insensitive",
    "agents.models.gamma_gamma.x_fit__mutmut_114": "scipy's method names are case-insensitive",
    "agents.models.gamma_gamma.x_fit__mutmut_126": "as bgnbd.fit__mutmut_145: the polish never ends worse",
    "agents.models.history.x__detect__mutmut_13": (
        "read_transactions reads as CSV only a format named 'csv': any other name reads as JSON lines"
    ),
    "agents.models.history.x__detect__mutmut_14": "as _detect__mutmut_13: not 'csv' reads as JSON lines",
    "agents.models.history.x__detect__mutmut_35": "as _detect__mutmut_13: not 'csv' reads as JSON lines",
    "agents.models.history.x__detect__mutmut_36": "as _detect__mutmut_13: not 'csv' reads as JSON lines",
    "agents.models.history.x__detect__mutmut_30": (
        "only how much of the file is read to find its first non-blank byte: the same byte"
    ),
    "agents.models.history.x__detect__mutmut_31": "as _detect__mutmut_30: 4097 bytes or 4096, the same first byte",
    "agents.models.history.x_read_transactions__mutmut_25": "None is false like False: no header seen yet",
    "agents.models.history.x_read_transactions__mutmut_70": "codec names are case-insensitive: 'UTF-8-SIG' is 'utf-8-sig'",
    "agents.models.history.x_read_transactions__mutmut_74": "codec names are case-insensitive: 'UTF-8' is 'utf-8'",
    "agents.models.history.x_read_transactions__mutmut_90": "codec names are case-insensitive: 'UTF-8' is 'utf-8'",
    "agents.models.history.x_load_history__mutmut_15": "an equal day replaces the span's first day with the same day",
    "agents.models.history.x_load_history__mutmut_25": "an equal day replaces the span's last day with the same day",
    "agents.journey.admission.xǁAdmissionǁevent_digest__mutmut_12": (
        "int.from_bytes is big-endian by default since Python 3.11, the oldest the project runs on"
    ),
    "agents.journey.admission.x_content_digest__mutmut_9": "as event_digest__mutmut_12: big-endian by default",
    "agents.detectors.transfers.xǁExcessiveTransfersǁ_judge__mutmut_30": (
        "a count equal to the threshold is taken by the branch before, so < and <= agree here"
    ),
    "agents.detectors.transfers.xǁExcessiveTransfersǁ_judge__mutmut_34": (
        "COLD_RAISED is the only flag: setting it and or-ing it in are the same"
    ),
    "agents.calendar.x__calendar__mutmut_69": "as _calendar__mutmut_6: the validator fills closures = [] first",
    "agents.calendar.x__calendar__mutmut_71": "as _calendar__mutmut_6: the validator fills closures = [] first",
    "agents.identity.control.x_decode_control__mutmut_49": (
        "the ValueError is caught a line below and its message never read: the same refusal"
    ),
    "agents.detectors.registry.x_build_detectors__mutmut_32": "None and False are both false: a class without uses_models is built without models either way",
    "agents.detectors.best_customer.xǁBestCustomerAtRiskǁobserve__mutmut_5": "keep_evidence=None is false like False: the same memory",
    "agents.detectors.best_customer.xǁBestCustomerAtRiskǁobserve__mutmut_10": "the memory also keeps the purchase's event id, which this detector never reads (it reads churn_risk's): only bytes differ",
    "agents.detectors.best_customer.xǁBestCustomerAtRiskǁfire__mutmut_17": "P(alive) is known for every customer with a purchase day, and only those have a due day to fire on",
    "agents.detectors.best_customer.xǁBestCustomerAtRiskǁfire__mutmut_23": "P(alive) is known for every customer with a purchase day, and only those have a due day to fire on",
    "agents.detectors.best_customer.xǁBestCustomerAtRiskǁfire__mutmut_20": "as fire__mutmut_17: P(alive) is always in the details when it fires",
    "agents.detectors.best_customer.xǁBestCustomerAtRiskǁfire__mutmut_26": "as fire__mutmut_17: P(alive) is always in the details when it fires",
    "agents.detectors.best_customer.xǁBestCustomerAtRiskǁclears__mutmut_55": (
        "an NPS exactly at the detractor maximum is also a detractor's (sad), which keeps the alert either way"
    ),
    "agents.detectors.best_customer.xǁBestCustomerAtRiskǁclears__mutmut_58": "as clears__mutmut_55, for a CSAT exactly at the detractor maximum",
    "agents.detectors.best_customer.x__rounded__mutmut_1": (
        "a best customer is one only under a threshold, so the threshold told in the alert is never None"
    ),
    "agents.detectors.churn_risk.x_pending__mutmut_5": (
        "a due instant is a real time after 1970 or 0 (nothing due) or -1 (fired), never exactly 1 s"
    ),
    "agents.detectors.repeat_contact.xǁRepeatContactUnresolvedǁmerge__mutmut_15": (
        "an issue's contacts have distinct event ids (counted once by id), so sorting the whole "
        "[instant, id, marker] never reaches the marker: the same order as by (instant, id)"
    ),
    "agents.detectors.repeat_contact.xǁRepeatContactUnresolvedǁ_contact__mutmut_33": "as merge__mutmut_15: a contact already known by its event id is not added",
    "agents.detectors.repeat_contact.xǁRepeatContactUnresolvedǁ_contact__mutmut_61": (
        "a contact that makes the count exactly the threshold is at most the threshold-th kept, so it has "
        "no threshold contacts before it to supersede"
    ),
    "agents.detectors.repeat_contact.xǁRepeatContactUnresolvedǁ_finding__mutmut_15": "as merge__mutmut_15: the evidence's event ids are distinct",
    "agents.detectors.repeat_contact.xǁRepeatContactUnresolvedǁ_finding__mutmut_17": "as merge__mutmut_15: the evidence's event ids are distinct",
    "agents.detectors.repeat_contact.xǁRepeatContactUnresolvedǁ_finding__mutmut_23": (
        "without escalation only the contact that reaches the threshold raises, so count - threshold is 0 "
        "and the severity a warning either way"
    ),
    "agents.detectors.repeat_contact.xǁRepeatContactUnresolvedǁ_finding__mutmut_101": "an issue that is not a topic has no topic prefix to remove",
    "agents.detectors.repeat_contact.x__issue__mutmut_24": (
        "the touchpoint contract makes issue_id a non-empty string when present: `or` and `and` agree"
    ),
    "agents.detectors.repeat_contact.x__issue__mutmut_32": "the touchpoint contract gives every complaint an issue_id, so no complaint reaches the topic",
    "agents.detectors.repeat_contact.x__issue__mutmut_33": "as _issue__mutmut_32",
    "agents.detectors.repeat_contact.x__issue__mutmut_42": "the SLA cases are keyed by conversation id strings: looking up None finds none either way",
    "agents.detectors.service_recovery.xǁServiceRecoveryǁobserve__mutmut_33": "the touchpoint contract makes every resolution's issue_id a string",
    "agents.detectors.service_recovery.xǁServiceRecoveryǁobserve__mutmut_68": (
        "the touchpoint contract makes issue_id a non-empty string when present: `or` and `and` agree"
    ),
    "agents.detectors.service_recovery.xǁServiceRecoveryǁ_refund__mutmut_14": (
        "the touchpoint contract gives every refund a numeric amount and a currency, so the amount is "
        "always a number"
    ),
    "agents.detectors.service_recovery.xǁServiceRecoveryǁ_refund__mutmut_15": "as _refund__mutmut_14: with a currency there is no trailing space to strip",
    "agents.detectors.service_recovery.xǁServiceRecoveryǁ_refund__mutmut_17": "as _refund__mutmut_14: the currency is always there, the default never used",
    "agents.detectors.service_recovery.xǁServiceRecoveryǁ_refund__mutmut_19": "as _refund__mutmut_17",
    "agents.detectors.service_recovery.xǁServiceRecoveryǁ_refund__mutmut_22": "as _refund__mutmut_17",
    "agents.detectors.service_recovery.xǁServiceRecoveryǁ_refund__mutmut_23": "as _refund__mutmut_14: the words for a refund without an amount are never used",
    "agents.detectors.service_recovery.xǁServiceRecoveryǁ_refund__mutmut_24": "as _refund__mutmut_23",
    "agents.alerts.digests.xǁWarningDigestsǁadvance__mutmut_12": (
        "the pending intervals are visited earliest first: once one has not ended, no later one has"
    ),
    "agents.alerts.digests.xǁWarningDigestsǁ_digest__mutmut_13": (
        "the default stands for 'not answered': end + 1 and end + 2 are both after the interval's end"
    ),
    "agents.alerts.digests.xǁWarningDigestsǁ_settle__mutmut_10": (
        "the default stands for 'not answered': deadline + 1 and deadline + 2 are both after the deadline"
    ),
    "agents.alerts.digests.xǁWarningDigestsǁload__mutmut_41": (
        "a horizon of 1 s or 0 s holds no interval back: an item's interval start is rounded down to a whole one"
    ),
    "agents.alerts.digests.xǁWarningDigestsǁanswer__mutmut_8": (
        "None for False as 'not kept': changes() only tests it for truth (elif kept), and both are false"
    ),
    "agents.alerts.digests.xǁWarningDigestsǁ_publish__mutmut_4": "as answer__mutmut_8",
    "agents.alerts.digests.xǁWarningDigestsǁ_publish__mutmut_9": "as answer__mutmut_8",
    "agents.alerts.digests.xǁWarningDigestsǁload__mutmut_44": "as answer__mutmut_8",
    "agents.alerts.digests.xǁWarningDigestsǁload__mutmut_46": "as answer__mutmut_8: dict.fromkeys defaults to None",
    "agents.coordination.progress.xǁPartitionProgressǁbuyer__mutmut_17": (
        "values before the last boundary reported, but the latest of them, are dropped only to bound memory: "
        "no later boundary reads them (the latest 64 values are kept either way)"
    ),
    "agents.coordination.progress.xǁPartitionProgressǁbuyer__mutmut_18": "as buyer__mutmut_17: memory only",
    "agents.coordination.progress.xǁPartitionProgressǁbuyer__mutmut_22": (
        "a value at the reported boundary itself is kept twice: the same instant and CLV, read the same"
    ),
    "agents.coordination.progress.xǁPartitionProgressǁbuyer__mutmut_27": (
        "as buyer__mutmut_17: one more value from before the reported boundary, which no later one reads"
    ),
    "agents.coordination.progress.xǁPartitionProgressǁpassed__mutmut_5": (
        "the same clock reading again: every mark and boundary it passed was reported, nothing changes"
    ),
    "agents.coordination.progress.xǁPartitionProgressǁpassed__mutmut_57": (
        "boundaries are at least an hour apart: no boundary lies between boundary + 1 and boundary + 2"
    ),
    "agents.coordination.coordinator.xǁCoordinatorǁpassed__mutmut_14": (
        "a partition reports its sketches and when it had no buyer together or neither (PartitionProgress.passed)"
    ),
    "agents.coordination.coordinator.xǁCoordinatorǁpassed__mutmut_15": (
        "a report with neither sketches nor an empty-before changes no boundary: merging it again finds nothing new"
    ),
    "agents.models.population.xǁValueSketchǁquantile__mutmut_16": (
        "unreachable: the counts add up to count, so the loop returns at the rank"
    ),
    "agents.models.population.xǁValueSketchǁquantile__mutmut_17": "as quantile__mutmut_16: unreachable",
    "agents.models.population.xǁPopulationThresholdǁat__mutmut_5": (
        "the wanted boundary is not known when earlier ones are looked for, so < and <= pick the same"
    ),
    "agents.models.population.xǁPopulationMergeǁreport__mutmut_27": (
        "a partition reports in the order of its clock: a report's latest boundary is never before its last one"
    ),
    "agents.models.population.xǁPopulationMergeǁreport__mutmut_45": (
        "boundaries are instants after 1970: a partition with no empty-before is waited for at -1, +1 or -2 alike"
    ),
    "agents.models.population.xǁPopulationMergeǁreport__mutmut_46": "as report__mutmut_45",
    "agents.models.population.xǁPopulationMergeǁ_forget_incomplete__mutmut_13": "as report__mutmut_45",
    "agents.models.population.xǁPopulationMergeǁ_forget_incomplete__mutmut_14": "as report__mutmut_45",
    "agents.models.population.xǁPopulationMergeǁ_forget_incomplete__mutmut_23": (
        "a boundary older than every merged one waits only for partitions that have reported later ones (they "
        "completed those), so it is dropped as skipped already"
    ),
    "agents.models.population.xǁPopulationMergeǁ_forget_incomplete__mutmut_24": (
        "a report of a boundary merged already is never kept, so none waiting equals the oldest merged"
    ),
    "agents.alerts.closing.x_close__mutmut_3": (
        "every caller closes an alert the customer has open (detection, supersede, expire_due, make_room): "
        "the default of pop is never needed"
    ),
    "agents.alerts.sla.x_case_alert__mutmut_47": (
        "describe() fills in the summary before the alert is returned: its placeholder is never read"
    ),
    "agents.alerts.sla.x_case_alert__mutmut_52": "as case_alert__mutmut_47: the suggested action's placeholder",
    "agents.alerts.sla.x_case_alert__mutmut_77": "as case_alert__mutmut_47: the summary's placeholder",
    "agents.alerts.sla.x_case_alert__mutmut_79": "as case_alert__mutmut_47: the suggested action's placeholder",
    "agents.alerts.sla.x_open_case__mutmut_38": (
        "on call, the deadline is set in wall time and `due` is read only under the other policies"
    ),
    "agents.alerts.sla.x_revive__mutmut_29": (
        "a first-response alert always has its inquiry's channel (the touchpoint contract requires one), and "
        "detector alerts return before: the fallback channel is never read"
    ),
    "agents.alerts.sla.x_revive__mutmut_30": "as revive__mutmut_29: the fallback channel is never read",
    "agents.alerts.sla_cases.xǁFirstResponseCasesǁclose__mutmut_82": (
        "a follow-up case without a topic gets {'topic': None}: read as no topic by the case and its text alike"
    ),
    "agents.alerts.sla_cases.xǁFirstResponseCasesǁfire__mutmut_1": (
        "None is false like False: a case reported unchanged is not written back, the same"
    ),
    "agents.alerts.sla_cases.xǁFirstResponseCasesǁfire__mutmut_2": (
        "a case reported changed when it is not is written back as it was: the same state"
    ),
    "agents.alerts.sla_cases.xǁFirstResponseCasesǁfire__mutmut_5": "as fire__mutmut_2: written back unchanged",
    "agents.alerts.sla_cases.xǁFirstResponseCasesǁhandled__mutmut_4": (
        "an alert's evidence names one inquiry, whose case is the only one it can match: nothing is left to visit"
    ),
    "agents.ingest.dead_letter.x_dead_letter_record__mutmut_29": "codec names are case-insensitive: 'ASCII' is 'ascii'",
    "agents.ingest.dead_letter.x__as_text__mutmut_3": "codec names are case-insensitive: 'UTF-8' is 'utf-8'",
    "agents.ingest.dead_letter.x__as_text__mutmut_10": "codec names are case-insensitive: 'UTF-8' is 'utf-8'",
    "agents.ingest.decode.x__not_json__mutmut_3": "codec names are case-insensitive: 'UTF-8' is 'utf-8'",
    "agents.ingest.decode.xǁTouchpointDecoderǁ_normalise__mutmut_36": (
        "None is false like False: an event is checked again only when normalising changed it"
    ),
    "agents.ingest.decode.xǁTouchpointDecoderǁ_normalise__mutmut_37": (
        "checking an unchanged event again, already valid, finds nothing: only time"
    ),
    "agents.ingest.decode.xǁTouchpointDecoderǁ_normalise__mutmut_58": (
        "as _normalise__mutmut_37: the event is checked again, and only a changed one can fail"
    ),
    "agents.ingest.decode.xǁTouchpointDecoderǁ_normalise__mutmut_89": (
        "after normalisation only identifiers and customer_id can fail, and their rejection never reads the document"
    ),
    "agents.ingest.decode.x_canonical_instant__mutmut_15": (
        "the character tested is a digit (the contract's pattern), never an X: the same set of digits"
    ),
    "agents.ingest.decode.x__unsafe_message__mutmut_17": (
        "the message is made only for a value with an unsafe character or a reserved prefix: the default "
        "prefix is never used"
    ),
    "agents.ingest.decode.x__unsafe_message__mutmut_19": "as _unsafe_message__mutmut_17",
    "agents.ingest.decode.x__unsafe_message__mutmut_21": "as _unsafe_message__mutmut_17",
    "agents.ingest.decode.x__schema_rejection__mutmut_124": (
        "rpartition('.') of a name without a dot gives the name itself: the same key"
    ),
    "agents.ingest.decode.x__schema_rejection__mutmut_126": (
        "fields with a pattern are at most one level deep (identifiers.phone): partition and rpartition agree"
    ),
    "agents.ingest.decode.x__schema_rejection__mutmut_18": (
        "fastjsonschema names the failing field once in its message, so replacing every occurrence or "
        "the first is the same"
    ),
    "agents.ingest.decode.x__schema_rejection__mutmut_19": "as mutmut_18: the name occurs once, count 1 or 2",
    "agents.ingest.decode.x__schema_rejection__mutmut_50": (
        "every anyOf on a field in touchpoint.v1 (feedback's csat/nps) lists required fields only, so "
        "all() over the options and over none are both true"
    ),
    "agents.ingest.decode.x__schema_rejection__mutmut_77": (
        "a 'required' error always names a missing field, so with a field `field and missing` and "
        "`field or missing` agree"
    ),
    "agents.detectors.usage_pattern.xǁ_Baselineǁrecord__mutmut_35": "_amount gives an amount and a currency together or neither, so `and` and `or` agree",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁobserve__mutmut_22": "a touchpoint always has a channel (required by touchpoint.v1), so the default is never used",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁobserve__mutmut_24": "as observe__mutmut_22: the channel's default",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁobserve__mutmut_27": "as observe__mutmut_22: the channel's default",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_judge__mutmut_15": "new_location is only read as a truth value: None and False alike",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_5": "as observe__mutmut_22: the channel's default",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_7": "as observe__mutmut_22: the channel's default",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_10": "as observe__mutmut_22: the channel's default",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_17": "a touchpoint's location is absent or a non-empty string (touchpoint.v1): both conditions hold whenever it is there",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_18": "as _finding__mutmut_17",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_32": "every channel of touchpoint.v1 has its words in _ON_CHANNEL, so the fallback for another is never used",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_34": "as _finding__mutmut_32: the fallback wording",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_36": "a purchase is judged only once the baseline holds min_history (at least 3) touchpoints, so it has a usual channel",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_38": "as _finding__mutmut_32: the fallback wording",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_39": "as _finding__mutmut_32: the fallback wording",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_40": "as _finding__mutmut_32: the fallback wording",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_50": "as _finding__mutmut_32: the fallback wording",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_52": "as _finding__mutmut_32: the fallback wording",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_54": "as _finding__mutmut_32: the fallback wording",
    "agents.detectors.usage_pattern.xǁUsagePatternChangeǁ_finding__mutmut_55": "as _finding__mutmut_32: the fallback wording",
    "agents.detectors.usage_pattern.x__short__mutmut_7": "at exactly 10 both branches keep 10",
    "agents.detectors.usage_pattern.x__short__mutmut_8": "at exactly 1000 both branches keep 1000",
    "agents.detectors.usage_pattern.x__clock__mutmut_5": "a touchpoint always has occurred_at (required by touchpoint.v1): no KeyError to suppress",
    "agents.detectors.usage_pattern.x__money__mutmut_2": "_money is only given numbers (a median and an amount)",
    "agents.detectors.usage_pattern.x__money__mutmut_4": 'at exactly 100 both read "100"',
    "agents.detectors.usage_pattern.x__money__mutmut_10": "a formatted number has no X: stripping X as well as 0 strips the same",
    "agents.detectors.usage_pattern.x__money__mutmut_11": "a formatted number has no X: stripping X as well as . strips the same",
}


@dataclass
class Outcome:
    module: str
    tests: list[str]
    extra: list[str]
    mutants: int = 0
    killed: int = 0
    #: Reported surviving (or untested) in-process, killed when re-run in a fresh process.
    killed_fresh: int = 0
    #: False when the survivors were not re-run (the score in-process already reached --fresh-below):
    #: the score is then a lower bound, and some listed survivors may be killed in a fresh process.
    rerun: bool = True
    equivalent: list[dict[str, str]] = field(default_factory=list)
    survivors: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    date: str = ""
    commit: str = ""
    mutmut: str = ""
    machine: str = ""

    @property
    def counted(self) -> int:
        return self.mutants - len(self.equivalent)

    @property
    def score(self) -> float:
        return 100.0 * (self.killed + self.killed_fresh) / self.counted if self.counted else 100.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "modules", nargs="*", help="Modules to test, e.g. agents/journey/lifecycle.py (default: all)."
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="Mutants tested in parallel.")
    parser.add_argument("--list", action="store_true", help="Show the modules and their tests, then stop.")
    parser.add_argument(
        "--report-only", action="store_true", help="Re-render bench/MUTATION.md from the results."
    )
    parser.add_argument(
        "--fresh-below",
        type=float,
        default=101.0,
        metavar="SCORE",
        help="Re-run survivors in a fresh process only when the in-process score is below SCORE "
        "(default: always); above it the score is a lower bound.",
    )
    args = parser.parse_args()
    known = {target.module: target for target in TARGETS}
    if args.list:
        for target in TARGETS:
            print(f"{target.module:38} {' '.join(target.tests + target.extra)}")
        return
    pure = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "agents").rglob("*.py")
        if path.name not in ("__init__.py", "agent.py")
    } - set(NOT_MUTATED)
    for module in sorted(pure - set(known)):
        print(f"warning: {module} is not in TARGETS: add it with the tests it is held to", file=sys.stderr)
    unknown = [module for module in args.modules if module not in known]
    if unknown:
        parser.error(f"not a pure-core module: {', '.join(unknown)} (see --list)")
    state = _load_state()
    if not args.report_only:
        for module in args.modules or list(known):
            target = known[module]
            missing = [test for test in (*target.tests, *target.extra) if not (ROOT / test).exists()]
            if missing:
                print(f"warning: {module} skipped: no {', '.join(missing)}", file=sys.stderr)
                continue
            outcome = run_target(target, args.jobs, args.fresh_below)
            state[module] = outcome.__dict__
            _save_state(state)
            _render(state)
            print(
                f"{module}: {outcome.score:.1f} % ({outcome.killed} killed, {outcome.killed_fresh} on re-run, "
                f"{len(outcome.survivors)} survivors, {len(outcome.equivalent)} equivalent, "
                f"{outcome.mutants} mutants, {outcome.seconds:.0f} s)",
                flush=True,
            )
    _render(state)


def run_target(target: Target, jobs: int, fresh_below: float = 101.0) -> Outcome:
    started = time.monotonic()
    commit = _commit()
    work = WORK / target.module.removesuffix(".py").replace("/", "_")
    _prepare(work, target)
    tests = [*target.tests, *target.extra, *(f"--deselect={test}" for test in target.deselect)]
    mutmut = str(VENV / "bin" / "mutmut")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run(
        [mutmut, "run", "--max-children", str(jobs)],
        cwd=work,
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
    )
    statuses = _statuses(work, mutmut)
    outcome = Outcome(target.module, list(target.tests), list(target.extra), mutants=len(statuses))
    suspects = []
    for name, status in statuses.items():
        if status in ("killed", "timeout", "segfault", "caught by type check", "suspicious"):
            outcome.killed += 1
        elif name in EQUIVALENT:
            outcome.equivalent.append(
                {"mutant": name, "why": EQUIVALENT[name], "diff": _diff(work, mutmut, name)}
            )
        else:
            suspects.append(name)
    if outcome.score >= fresh_below:
        outcome.rerun = False
        outcome.survivors = [
            {"mutant": name, "status": statuses[name], "diff": _diff(work, mutmut, name)} for name in suspects
        ]
        suspects = []
    baseline = _fresh_run(work, tests, timeout=None)
    if baseline[0] != 0:
        raise SystemExit(f"{target.module}: its tests fail without any mutant:\n{baseline[1][-2000:]}")
    limit = max(30.0, 10 * baseline[2])
    pristine = (ROOT / target.module).read_text()
    # Each re-run gets a copy of its own, so several run at once; mutmut writes each mutant out here first.
    slots: queue.Queue[Path] = queue.Queue()
    for index in range(max(1, min(jobs, len(suspects)))):
        copy = work.parent / f"{work.name}-fresh-{index}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(work, copy, ignore=shutil.ignore_patterns("mutants", "__pycache__"))
        slots.put(copy)

    def rerun(source: str) -> int:
        copy = slots.get()
        try:
            (copy / target.module).write_text(source)
            return _fresh_run(copy, tests, timeout=limit)[0]
        finally:
            (copy / target.module).write_text(pristine)
            slots.put(copy)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        codes = {}
        for name in suspects:
            try:
                subprocess.run([mutmut, "apply", name], cwd=work, env=env, check=True, capture_output=True)
                codes[name] = pool.submit(rerun, (work / target.module).read_text())
            finally:
                (work / target.module).write_text(pristine)
        for name, code in codes.items():
            if code.result() != 0:
                outcome.killed_fresh += 1
            else:
                outcome.survivors.append(
                    {"mutant": name, "status": statuses[name], "diff": _diff(work, mutmut, name)}
                )
    stale = [name for name in EQUIVALENT if name.startswith(_prefix(target.module)) and name not in statuses]
    for name in stale:
        print(f"warning: {name} is listed as equivalent but no longer exists", file=sys.stderr)
    outcome.seconds = time.monotonic() - started
    outcome.date = datetime.now(UTC).date().isoformat()
    outcome.commit = commit
    outcome.mutmut = subprocess.run(
        [mutmut, "--version"], capture_output=True, text=True, cwd=work, check=False
    ).stdout.strip()
    outcome.machine = f"{platform.machine()}, {os.cpu_count()} cores"
    return outcome


def _commit() -> str:
    """The commit the copy is taken from, with "+changes" when the copied folders differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, cwd=ROOT, check=False
        ).stdout.strip()

    changed = git("status", "--porcelain", "--", *COPIED)
    return git("rev-parse", "--short", "HEAD") + ("+changes" if changed else "")


def _prefix(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".") + "."


def _prepare(work: Path, target: Target) -> None:
    """A copy of the project with a mutmut configuration for *target* alone (mutmut reads ./pyproject.toml)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # Never a compiled module: it would be imported instead of the mutated source.
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so")
    for name in COPIED:
        shutil.copytree(ROOT / name, work / name, ignore=ignore)
    config = {
        "source_paths": ["agents"],
        "only_mutate": [target.module],
        "also_copy": [name for name in COPIED if name not in ("agents", "tests")],
        "pytest_add_cli_args_test_selection": [*target.tests, *target.extra],
        "pytest_add_cli_args": [
            "-p",
            "no:cacheprovider",
            *(f"--deselect={test}" for test in target.deselect),
        ],
        "use_git_change_detection": False,
    }
    lines = ["", "[tool.mutmut]", *(f"{key} = {json.dumps(value)}" for key, value in config.items())]
    (work / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + "\n".join(lines) + "\n")


def _statuses(work: Path, mutmut: str) -> dict[str, str]:
    listed = subprocess.run(
        [mutmut, "results", "--all", "true"], cwd=work, capture_output=True, text=True, check=True
    )
    statuses = {}
    for line in listed.stdout.splitlines():
        name, separator, status = line.strip().rpartition(": ")
        if separator and "__mutmut_" in name:
            statuses[name] = status
    return statuses


def _fresh_run(work: Path, tests: list[str], timeout: float | None) -> tuple[int, str, float]:
    """The tests in a new interpreter, against the source on disk: (exit code, output, seconds)."""
    started = time.monotonic()
    command = [str(VENV / "bin" / "python"), "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        done = subprocess.run(
            command, cwd=work, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return -1, "timed out", time.monotonic() - started  # a mutant that hangs the tests is caught
    return done.returncode, done.stdout + done.stderr, time.monotonic() - started


def _diff(work: Path, mutmut: str, name: str) -> str:
    """The changed lines of a mutant, as ``- old`` / ``+ new``."""
    shown = subprocess.run(
        [mutmut, "show", name], cwd=work, capture_output=True, text=True, check=False
    ).stdout
    changed = [
        line.rstrip()
        for line in shown.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return "\n".join(changed)


def _load_state() -> dict[str, dict[str, object]]:
    """The results so far, of the modules that still exist (a module moved or gone leaves the report)."""
    state = json.loads(STATE.read_text()) if STATE.exists() else {}
    known = {target.module for target in TARGETS}
    return {module: data for module, data in state.items() if module in known}


def _save_state(state: dict[str, dict[str, object]]) -> None:
    STATE.write_text(json.dumps(dict(sorted(state.items())), indent=1, ensure_ascii=False) + "\n")


def _render(state: dict[str, dict[str, object]]) -> None:
    outcomes = [_outcome(data) for _, data in sorted(state.items())]
    lines = [
        "# Mutation testing of the pure core",
        "",
        "Written by `scripts/mutation` (bench/mutation.py): mutmut mutates one module of `agents/` at a",
        "time and runs the tests it is held to; every mutant that survives inside mutmut's process is",
        "applied on disk and re-run in a fresh process before it counts. Score = killed / (mutants -",
        f'equivalent). Target: at least {TARGET_SCORE:.0f} % for every module. A `-` under "killed on',
        're-run": run with `--fresh-below`, the module reached that score in-process and its survivors were',
        "not re-run; its score is a lower bound. A commit with `+changes`: measured on that commit plus",
        "uncommitted changes to the copied folders.",
        "",
        "| module | score | mutants | killed | killed on re-run | survivors | equivalent | with | date, commit |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for o in outcomes:
        extra = ", ".join(f"`{Path(test).name}`" for test in o.extra)
        lines.append(
            f"| `{o.module}` | {o.score:.1f} % | {o.mutants} | {o.killed} | {o.killed_fresh if o.rerun else '-'} | "
            f"{len(o.survivors)} | {len(o.equivalent)} | {extra} | {o.date}, {o.commit} |"
        )
    unmeasured = [target.module for target in TARGETS if target.module not in state]
    if unmeasured:
        lines += ["", "Not measured yet: " + ", ".join(f"`{module}`" for module in unmeasured) + "."]
    total = sum(o.counted for o in outcomes)
    killed = sum(o.killed + o.killed_fresh for o in outcomes)
    if total:
        lines += [
            "",
            f"The modules measured: {100 * killed / total:.1f} % of {total:,} mutants ({outcomes[0].mutmut}).",
        ]
    for title, key in (("Equivalent mutants", "equivalent"), ("Survivors", "survivors")):
        entries = [(o.module, entry) for o in outcomes for entry in getattr(o, key)]
        if not entries:
            continue
        lines += ["", f"## {title}", ""]
        for module, entry in entries:
            why = entry.get("why") or entry.get("status", "")
            lines += [f"- `{entry['mutant']}` ({module}): {why}", "", "  ```diff"]
            lines += [f"  {line}" for line in entry["diff"].splitlines()] + ["  ```", ""]
    REPORT.write_text("\n".join(lines).rstrip() + "\n")


def _outcome(data: dict[str, Any]) -> Outcome:
    outcome = Outcome(str(data["module"]), list(data["tests"]), list(data["extra"]))
    for key, value in data.items():
        setattr(outcome, key, value)
    # A survivor judged equivalent after its run is shown as such: the judgement, not the measurement, changed.
    judged = [entry for entry in outcome.survivors if entry["mutant"] in EQUIVALENT]
    outcome.survivors = [entry for entry in outcome.survivors if entry["mutant"] not in EQUIVALENT]
    outcome.equivalent = [
        *outcome.equivalent,
        *(
            {"mutant": entry["mutant"], "why": EQUIVALENT[entry["mutant"]], "diff": entry["diff"]}
            for entry in judged
        ),
    ]
    return outcome


if __name__ == "__main__":
    main()
