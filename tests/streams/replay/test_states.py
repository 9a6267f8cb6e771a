"""A replay's states, the recent ones kept as objects and the rest encoded: the same replay either way."""

from __future__ import annotations

import enum
import itertools
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given

from agents.config import default_config
from agents.domain.state import CustomerState
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from streams.replay import OUTPUT_FILES, replay
from streams.replay.states import KeptStates, freeze, thaw
from streams.sim import SimulationSpec, generate
from tests.agents.domain.test_state import states

pytestmark = pytest.mark.unit

SALT = b"states"


@cache
def traffic() -> bytes:
    """Simulator traffic with identity records, merges, malformed records and redeliveries."""
    records = itertools.islice(generate(SimulationSpec(customers=200, seed=11)), 5000)
    return b"".join(record + b"\n" for record in records)


def replayed(tmp_path: Path, name: str, objects: int) -> tuple[dict[str, bytes], dict[str, bytes]]:
    source = tmp_path / "traffic.jsonl"
    if not source.exists():
        source.write_bytes(traffic())
    out = tmp_path / name
    decoder = TouchpointDecoder(identity_salt=SALT)
    summary = replay(source, out, decoder, JourneyTracker(default_config(), SALT), objects=objects)
    files = {file: (out / file).read_bytes() for file in OUTPUT_FILES.values()}
    return files, {key: state.encode() for key, state in summary.states.items()}


def test_a_replay_keeping_one_state_as_an_object_writes_the_bytes_of_one_keeping_them_all(
    tmp_path: Path,
) -> None:
    every_files, every_states = replayed(tmp_path, "every", objects=1_000_000)
    one_files, one_states = replayed(tmp_path, "one", objects=1)
    assert one_files == every_files
    assert one_states == every_states
    assert len(every_states) > 200, "customers, anonymous profiles and identifiers' records"


def state(events: int) -> CustomerState:
    return CustomerState(partition=0, events=events)


def test_states_beyond_the_recent_ones_are_kept_encoded_and_read_back_the_same() -> None:
    kept = KeptStates(objects=2)
    for number in range(5):
        kept[f"cust-{number}"] = state(number)
    assert len(kept) == 5
    assert kept.decoded == 0
    assert kept["cust-0"].events == 0
    assert kept.decoded == 1
    assert sorted(kept) == [f"cust-{number}" for number in range(5)]
    assert {key: value.events for key, value in kept.items()} == {f"cust-{n}": n for n in range(5)}
    assert [value.events for value in sorted(kept.states(), key=lambda s: s.events)] == list(range(5))


def test_a_state_in_use_is_changed_in_place_and_kept_with_its_changes() -> None:
    kept = KeptStates(objects=2)
    kept["cust-1"] = state(1)
    read = kept["cust-1"]
    read.events = 10
    kept["cust-2"] = state(2)
    kept["cust-3"] = state(3)  # cust-1, the least recently touched, is encoded with its change
    assert kept.peek("cust-1") == read
    assert kept["cust-1"].events == 10


def test_a_state_read_is_the_most_recent_and_stays_an_object() -> None:
    kept = KeptStates(objects=2)
    kept["cust-1"] = state(1)
    kept["cust-2"] = state(2)
    first = kept.get("cust-1")
    kept["cust-3"] = state(3)  # cust-2 goes, not cust-1 just read
    assert kept.get("cust-1") is first
    assert kept.decoded == 0
    assert kept.get("cust-2") == state(2)
    assert kept.decoded == 1


def test_a_state_written_again_is_the_most_recent_and_the_one_kept() -> None:
    kept = KeptStates(objects=2)
    kept["cust-1"] = state(1)
    kept["cust-2"] = state(2)
    again = state(10)
    kept["cust-1"] = again
    kept["cust-3"] = state(3)  # cust-2 goes, not cust-1 just written
    assert kept.get("cust-1") is again
    assert kept.decoded == 0
    assert kept.get("cust-2") == state(2)
    assert kept.decoded == 1
    assert len(kept) == 3


def test_a_deleted_state_is_gone_whether_an_object_or_encoded() -> None:
    kept = KeptStates(objects=1)
    kept["cust-1"] = state(1)
    kept["cust-2"] = state(2)
    del kept["cust-1"]
    del kept["cust-2"]
    assert len(kept) == 0
    assert kept.get("cust-1") is None
    assert "cust-2" not in kept
    with pytest.raises(KeyError):
        del kept["cust-1"]
    with pytest.raises(KeyError):
        kept["cust-2"]


def test_at_least_one_state_is_kept_as_an_object() -> None:
    with pytest.raises(ValueError, match="at least one"):
        KeptStates(objects=0)


@given(states)
def test_any_state_kept_encoded_reads_back_equal(state: CustomerState) -> None:
    assert thaw(freeze(state)) == state


def test_a_state_kept_encoded_reads_back_as_the_objects_it_was_made_of() -> None:
    # The changelog's MessagePack would read the tuple back as a list: a kept state is this process's
    # own, and comes back exactly as the journey left it.
    kept = CustomerState(
        partition=3,
        purchase_value=-0.0,
        recent_events=b"\xff" * 12,
        detector_memory={"usage_pattern": {"weeks": (1, 2.5, None, True), "seen": {"web", "app"}}},
    )
    back = thaw(freeze(kept))
    assert back == kept
    assert back.detector_memory["usage_pattern"]["weeks"] == (1, 2.5, None, True)
    assert str(back.purchase_value) == "-0.0"


class _Level(enum.IntEnum):
    HIGH = 2


def test_a_state_holding_what_marshal_cannot_write_is_kept_as_the_changelog_holds_it() -> None:
    state = CustomerState(partition=1, events=4, detector_memory={"plugin": {"level": _Level.HIGH}})
    back = thaw(freeze(state))
    assert back == CustomerState.decode(state.encode())
    assert back.detector_memory == {"plugin": {"level": 2}}
