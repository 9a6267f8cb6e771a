"""Dataclasses whose ``__init__`` is written out for the compiled core keep the contract their fields state.

The journey makes several of these for every touchpoint; compiled, a written-out constructor runs
natively where the dataclass's generated one runs interpreted. What it must do is what the fields say:
every default as declared, a fresh list where a field's default is a new one, and every field it takes
set as given. A frozen one stays frozen.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from agents.alerts.sla import Case
from agents.coordination.progress import Progress
from agents.detectors.base import Finding
from agents.detectors.usage_pattern import _Baseline
from agents.domain.alert import Alert
from agents.domain.identity import Claim, Conflict, Forward, IdentityRecord, Merge, MergeIn
from agents.domain.outputs import Outputs, Transition
from agents.domain.refusal import Rejected
from agents.domain.state import CustomerState
from agents.identity.merging import Ledger
from agents.identity.resolution import ClaimOutcome
from agents.ingest.decode import Accepted
from agents.journey.folding import Folded
from agents.journey.step import Change
from agents.journey.track import Step

pytestmark = pytest.mark.unit

STATE = CustomerState()
#: class → the arguments it must be given (its fields without a default).
REQUIRED: dict[type[Any], dict[str, Any]] = {
    CustomerState: {},
    Outputs: {},
    Step: {},
    Change: {"key": b"c-1", "partition": 3, "cause": "touchpoint", "state": STATE},
    Folded: {},
    Case: {
        "opened_at": 1,
        "deadline": 2,
        "warn_at": 3,
        "event_id": "e-1",
        "flags": 4,
        "channel": "chat",
        "location": None,
        "topic": None,
    },
    _Baseline: {"channels": {}, "hours": {}, "locations": {}, "other": 0, "currency": "", "amounts": []},
    Accepted: {
        "customer_id": "c-1",
        "occurred_at": datetime(2026, 1, 5, 19, 30, tzinfo=UTC),
        "occurred_seconds": 1_767_641_400.0,
        "event": {"event_id": "e-1"},
        "body": b"{}",
    },
    # Frozen: the journey makes these for its outputs, an alert also each time one is read back from
    # a customer's state. Frozen they stay: written out, they set their fields with object.__setattr__.
    Alert: {
        "alert_id": "long_wait/c-1/0123456789ab",
        "type": "long_wait",
        "severity": "warning",
        "customer_id": "c-1",
        "occurred_at": 10,
        "detected_at": 11,
        "summary": "waited",
        "reasons": ("queue",),
        "evidence": ("e-1",),
        "stage": "active",
        "value_tier": "gold",
        "suggested_action": "call back",
    },
    Transition: {
        "customer_id": "c-1",
        "from_stage": None,
        "to_stage": "prospect",
        "at": 5,
        "cause": "web_visit",
        "event_id": "e-1",
    },
    Finding: {
        "severity": "info",
        "evidence": ("e-1", "e-2"),
        "reasons": ("r",),
        "summary": "s",
        "suggested_action": "a",
        "occurred_at": 1,
        "detected_at": 2,
    },
    Claim: {"key": "id:email:ab", "customer": "c-1", "event_id": "e-1", "at": 3},
    MergeIn: {"into": "c-1", "from_key": "id:email:ab", "event_id": "e-1", "at": 3, "state": b"s"},
    Merge: {"action": "merge", "from_key": "id:email:ab", "into": "c-1", "event_id": None, "at": 3},
    Forward: {"key": "c-1"},
    Progress: {"partition": 2, "until": 100},
    ClaimOutcome: {"outcome": "linked"},
    IdentityRecord: {},
    Ledger: {"from_key": "id:email:ab", "at": 3, "event_id": "e-1"},
}
#: The classes above whose fields the tests below can give values of their own type.
WRITTEN_OUT = [
    CustomerState,
    Outputs,
    Folded,
    Case,
    _Baseline,
    Accepted,
    Alert,
    Transition,
    Finding,
    Claim,
    MergeIn,
    Merge,
    Forward,
    Progress,
    ClaimOutcome,
    IdentityRecord,
    Ledger,
]


def kind_of(item: dataclasses.Field[Any]) -> str:
    """The field's type as written: a string as annotated, or (compiled, where annotations are evaluated) its name."""
    if isinstance(item.type, str):
        return item.type
    return item.type.__name__ if isinstance(item.type, type) else str(item.type)


def declared_default(item: dataclasses.Field[Any]) -> Any:
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    return item.default


@pytest.mark.parametrize("cls", list(REQUIRED), ids=lambda cls: cls.__name__)
def test_the_defaults_are_the_declared_ones_and_each_list_a_new_one(cls: type[Any]) -> None:
    first, second = cls(**REQUIRED[cls]), cls(**REQUIRED[cls])
    for item in dataclasses.fields(cls):
        if item.name in REQUIRED[cls]:
            continue
        assert getattr(first, item.name) == declared_default(item), item.name
        if isinstance(getattr(first, item.name), list):
            assert getattr(first, item.name) is not getattr(second, item.name), f"{item.name} is shared"


def other_than_default(item: dataclasses.Field[Any]) -> Any:
    """A value of the field's type that its default is not (a new object where the default is one)."""
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    by_type = {
        "bool": not item.default,
        "int": 5,
        "float": 2.5,
        "str": "x",
        "bytes": b"x",
        "str | None": "x",
        "int | None": 9,
        "list[int] | None": [7, 1],
        "list[Any] | None": ["x", 1],
        "Rejected | None": Rejected("schema", "m", "field"),
        "tuple[tuple[str, str], ...]": (("a-1", "a-2"),),
        "tuple[tuple[str, ...], ...]": (("e-0",),),
        "dict[str, Any] | None": {"k": 1},
        "Conflict | None": Conflict("id:email:ab", ("c-1", "c-2"), "e-1", 3, "shared"),
        "Control | None": Claim("id:email:ab", "c-1", "e-1", 3),
    }
    return by_type.get(kind_of(item), item.default)


@pytest.mark.parametrize("cls", [Change, *WRITTEN_OUT], ids=lambda cls: cls.__name__)
def test_every_field_is_taken_by_name_and_set_as_given(cls: type[Any]) -> None:
    given = {item.name: other_than_default(item) for item in dataclasses.fields(cls)}
    given.update(REQUIRED[cls])
    made = cls(**given)
    for name, value in given.items():
        assert getattr(made, name) is value or (
            not isinstance(value, list | Outputs) and getattr(made, name) == value
        ), name
    assert dataclasses.replace(made) == made


def test_a_change_takes_its_first_fields_in_order() -> None:
    outputs = Outputs()
    change = Change(b"c-1", 3, "touchpoint", STATE, outputs, False, 2, -1)
    assert (change.key, change.partition, change.cause, change.state) == (b"c-1", 3, "touchpoint", STATE)
    assert (change.outputs, change.known, change.inquiries_opened, change.cases_opened) == (
        outputs,
        False,
        2,
        -1,
    )
    assert change.outputs is outputs


def test_a_step_takes_what_tracking_gives_it() -> None:
    state = CustomerState(partition=2)
    step = Step(state=state, duplicate=True, enriched=b"{}", unpriced=True, instant=7)
    assert (step.state, step.duplicate, step.enriched, step.unpriced, step.instant) == (
        state,
        True,
        b"{}",
        True,
        7,
    )
    assert step.refused is None
    assert Step().state == CustomerState()


def distinct_value(index: int, item: dataclasses.Field[Any]) -> Any:
    """A value of the field's type that no other field of its class is given (by its place, *index*)."""
    if item.default_factory is not dataclasses.MISSING:
        return {f"k{index}": index} if isinstance(item.default_factory(), dict) else [index]
    kind = kind_of(item)
    if kind == "bool":
        return not item.default
    for prefix, value in (("int", 1000 + index), ("float", 1000.5 + index), ("str", f"s{index}")):
        if kind.startswith(prefix):
            return value
    if kind.startswith("bytes"):
        return b"b%d" % index
    if kind == "datetime":
        return datetime.fromtimestamp(index, UTC)
    if kind.startswith("list"):
        return [index]
    if kind.startswith("dict"):
        return {f"k{index}": index}
    if kind.startswith("tuple"):
        return (f"t{index}",)
    if item.default is dataclasses.MISSING:
        return f"s{index}"  # compiled, an optional field shows no type: here only `str | None` ones
    return item.default


@pytest.mark.parametrize("cls", WRITTEN_OUT, ids=lambda cls: cls.__name__)
def test_every_field_is_taken_in_the_order_declared(cls: type[Any]) -> None:
    # A replay takes states back positionally (streams/replay/states.py): field order is the contract.
    given = [distinct_value(index, item) for index, item in enumerate(dataclasses.fields(cls))]
    made = cls(*given)
    for item, value in zip(dataclasses.fields(cls), given, strict=True):
        assert getattr(made, item.name) == value, item.name


@pytest.mark.parametrize(
    "cls",
    [cls for cls in REQUIRED if dataclasses.fields(cls) and cls.__dataclass_params__.frozen],
    ids=lambda cls: cls.__name__,
)
def test_a_frozen_one_stays_frozen(cls: type[Any]) -> None:
    made = cls(**REQUIRED[cls])
    first = dataclasses.fields(cls)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(made, first, getattr(made, first))
    assert made == cls(**REQUIRED[cls])
