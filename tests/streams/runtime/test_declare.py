"""Which topics a starting worker creates, and which existing ones stop it or earn a warning."""

from __future__ import annotations

import asyncio
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.runtime.declare import TopicSpec, _failures, plan_declaration

pytestmark = pytest.mark.unit

INPUT = TopicSpec("touchpoints.by-customer", 3, copartitioned=True)
OUTPUT = TopicSpec("alerts.long_wait", 3, config={"retention.ms": "1"})
ONE = TopicSpec("model.best-customers", 1, config={"cleanup.policy": "compact"})


def test_missing_topics_are_created_and_existing_ones_of_the_right_size_are_left_alone() -> None:
    plan = plan_declaration([INPUT, OUTPUT, ONE], {"alerts.long_wait": 3})
    assert plan.create == (INPUT, ONE)
    assert plan.mismatched == ()
    assert plan.refusals() == []
    assert plan.warnings() == []


def test_a_co_partitioned_input_of_another_size_is_a_reason_not_to_start() -> None:
    plan = plan_declaration([INPUT, OUTPUT], {INPUT.name: 4, OUTPUT.name: 3})
    assert plan.create == ()
    assert plan.refusals() == ["touchpoints.by-customer has 4 partitions, but the worker's tables have 3"]
    assert plan.warnings() == []


def test_an_output_of_another_size_is_only_a_warning() -> None:
    plan = plan_declaration([INPUT, OUTPUT, ONE], {INPUT.name: 3, OUTPUT.name: 1, ONE.name: 4})
    assert plan.refusals() == []
    assert plan.warnings() == [
        "alerts.long_wait has 1 partitions where the worker would create 3",
        "model.best-customers has 4 partitions where the worker would create 1",
    ]


def test_a_topic_named_twice_is_planned_once_and_the_co_partitioned_reading_wins() -> None:
    loose = TopicSpec(INPUT.name, 3)
    for order in ([loose, INPUT], [INPUT, loose]):
        plan = plan_declaration(order, {})
        assert plan.create == (INPUT,)
        assert plan_declaration(order, {INPUT.name: 2}).refusals() != []


@given(
    st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.integers(1, 5)),
    st.dictionaries(st.sampled_from(["a", "b", "c", "e"]), st.integers(1, 5)),
)
def test_every_topic_is_either_created_checked_or_fine(
    wanted: dict[str, int], existing: dict[str, int]
) -> None:
    specs = [TopicSpec(name, count) for name, count in wanted.items()]
    plan = plan_declaration(specs, existing)
    created = {spec.name for spec in plan.create}
    mismatched = {spec.name for spec, _ in plan.mismatched}
    assert created == wanted.keys() - existing.keys()
    assert mismatched == {name for name in wanted.keys() & existing.keys() if wanted[name] != existing[name]}
    assert all(existing[spec.name] == count for spec, count in plan.mismatched)


@pytest.mark.parametrize(
    ("errors", "expected"),
    [
        ([("a", 0, None), ("b", 36, "exists")], []),
        ([("a", 29, None)], [("a", "TopicAuthorizationFailedError (")]),
        (
            [("a", 37, "partitions must be positive")],
            [("a", "InvalidPartitionsError (partitions must be positive)")],
        ),
        ([("a", 0)], []),
    ],
)
def test_the_broker_s_refusals_name_the_topic_and_the_reason(
    errors: list[tuple[object, ...]], expected: list[tuple[str, str]]
) -> None:
    failures = _failures(errors)
    assert [name for name, _ in failures] == [name for name, _ in expected]
    for (_, reason), (_, start) in zip(failures, expected, strict=True):
        assert reason.startswith(start)


def test_a_topic_only_checked_is_never_created_but_refused_at_another_size() -> None:
    changelog = TopicSpec("touchpoint-customer_to_state-changelog", 3, copartitioned=True, create=False)
    assert plan_declaration([changelog], {}).create == ()
    assert plan_declaration([changelog], {changelog.name: 3}).refusals() == []
    assert plan_declaration([changelog], {changelog.name: 4}).refusals() == [
        "touchpoint-customer_to_state-changelog has 4 partitions, but the worker's tables have 3"
    ]


def test_a_client_only_notes_a_topic_it_may_not_create_and_warns_of_other_refusals(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from streams.runtime import declare

    refused = [
        ("alerts.actions", "TopicAuthorizationFailedError (not authorized)"),
        ("touchpoints", "InvalidReplicationFactorError (replication factor 3 larger than brokers 1)"),
    ]

    async def answer(specs: object, options: object) -> tuple[declare.DeclarationPlan, list[tuple[str, str]]]:
        return declare.DeclarationPlan((), ()), refused

    monkeypatch.setattr(declare, "_create_missing", answer)
    with caplog.at_level(logging.INFO, logger="streams.runtime.declare"):
        asyncio.run(declare.create_missing_topics([], {}))
    levels = {record.getMessage().split(";")[0]: record.levelname for record in caplog.records}
    assert levels == {
        "not allowed to create topic alerts.actions": "INFO",
        "could not create topic touchpoints: InvalidReplicationFactorError (replication factor 3 larger than "
        "brokers 1)": "WARNING",
    }
