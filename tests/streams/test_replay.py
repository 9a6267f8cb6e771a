"""Offline replay: event-time order, deterministic output, the same split as the worker."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from agents.config import default_config
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from streams.files import RecordFileError
from streams.replay import replay
from streams.replay.workdir import OutputInTheWay

pytestmark = pytest.mark.unit

DECODER = TouchpointDecoder(identity_salt=b"test")
TRACKER = JourneyTracker(default_config(), b"test")


def touchpoint(event_id: str, occurred_at: str) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_id": event_id,
            "occurred_at": occurred_at,
            "customer_id": "c-1",
            "channel": "web",
            "type": "visit",
            "actor": "customer",
        }
    )


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "history.jsonl"
    lines = [
        touchpoint("late", "2026-01-05T12:00:00+01:00"),  # 11:00 UTC
        b"not json",
        touchpoint("early", "2026-01-05T10:00:00Z"),  # 10:00 UTC
        b"",
        touchpoint("tie-a", "2026-01-05T13:00:00+00:00"),
        touchpoint("tie-b", "2026-01-05T14:00:00+01:00"),  # same instant as tie-a, later in the file
        b"[1]\r",
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_accepted_events_are_written_in_event_time_order_with_file_order_breaking_ties(
    history: Path, tmp_path: Path
) -> None:
    replay(history, tmp_path / "out", DECODER, TRACKER)
    ids = [
        orjson.loads(line)["event_id"]
        for line in (tmp_path / "out/by-customer.jsonl").read_bytes().splitlines()
    ]
    assert ids == ["early", "late", "tie-a", "tie-b"]


def test_rejections_carry_the_line_number(history: Path, tmp_path: Path) -> None:
    summary = replay(history, tmp_path / "out", DECODER, TRACKER)
    dead = [orjson.loads(line) for line in (tmp_path / "out/dead-letter.jsonl").read_bytes().splitlines()]
    assert [(d["reason"], d["source"]["offset"]) for d in dead] == [("not_json", 1), ("not_object", 6)]
    assert dead[0]["source"]["topic"] == "file:history.jsonl"
    assert dead[1]["payload"] == "[1]", "a Windows line ending is not part of the record"
    assert (summary.records, summary.accepted, dict(summary.rejected)) == (
        6,
        4,
        {"not_json": 1, "not_object": 1},
    )


def test_same_input_gives_byte_identical_output(history: Path, tmp_path: Path) -> None:
    replay(history, tmp_path / "one", DECODER, TRACKER)
    replay(history, tmp_path / "two", DECODER, TRACKER)
    for name in ("by-customer.jsonl", "dead-letter.jsonl"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_summary_names_every_output_file_and_reason(history: Path, tmp_path: Path) -> None:
    text = replay(history, tmp_path / "out", DECODER, TRACKER).describe()
    assert "by-customer.jsonl" in text
    assert "dead-letter.jsonl" in text
    assert "not_json" in text
    assert "not_object" in text


def test_replay_writes_enriched_events_and_transitions_too(history: Path, tmp_path: Path) -> None:
    summary = replay(history, tmp_path / "out", DECODER, TRACKER)
    enriched = (tmp_path / "out/enriched.jsonl").read_bytes().splitlines()
    transitions = [
        orjson.loads(line) for line in (tmp_path / "out/transitions.jsonl").read_bytes().splitlines()
    ]
    assert len(enriched) == 4
    assert [(t["from"], t["to"], t["cause"]) for t in transitions] == [(None, "prospect", "visit")]
    assert (summary.customers, dict(summary.stages)) == (1, {"prospect": 1})


def test_rejections_carry_the_event_time_two_customers_have_reached_in_file_order(tmp_path: Path) -> None:
    def visit(event_id: str, customer: str, occurred_at: str) -> bytes:
        document = orjson.loads(touchpoint(event_id, occurred_at))
        return orjson.dumps({**document, "customer_id": customer})

    path = tmp_path / "history.jsonl"
    lines = [
        b"not json",  # nothing attested yet: the epoch
        visit("a", "c-1", "2026-01-05T11:00:00+00:00"),
        visit("b", "c-2", "2026-01-05T10:30:00+00:00"),
        b"not json",  # both customers have reached 10:30
        visit("c", "c-1", "2099-01-01T00:00:00+00:00"),
        b"not json",  # one customer's 2099 moves nothing
        visit("d", "c-3", "2026-01-05T12:00:00+00:00"),
        b"not json",  # c-3 at 12:00 attests c-1's 11:00 and beyond: 12:00
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    replay(path, tmp_path / "out", DECODER, TRACKER)
    dead = [orjson.loads(line) for line in (tmp_path / "out/dead-letter.jsonl").read_bytes().splitlines()]
    assert [d["rejected_at"] for d in dead] == [
        "1970-01-01T00:00:00+00:00",
        "2026-01-05T10:30:00+00:00",
        "2026-01-05T10:30:00+00:00",
        "2026-01-05T12:00:00+00:00",
    ]


def _visit(event_id: str, customer: str, occurred_at: str) -> bytes:
    return orjson.dumps({**orjson.loads(touchpoint(event_id, occurred_at)), "customer_id": customer})


def test_replay_honours_erasures_nothing_about_the_customer_before_it_and_others_unchanged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.jsonl"
    lines = [
        _visit("gone-1", "c-gone", "2026-01-05T09:00:00+00:00"),
        _visit("kept-1", "c-kept", "2026-01-05T09:30:00+00:00"),
        _visit("gone-2", "c-gone", "2026-01-05T10:00:00+00:00"),
        _visit("kept-2", "c-kept", "2026-01-05T11:00:00+00:00"),
        _visit("back-1", "c-gone", "2026-01-05T12:00:00+00:00"),  # after the erasure: a new customer
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    erasure = {
        "schema_version": 1,
        "request_id": "dsr-1",
        "customer_id": "c-gone",
        "requested_at": "2026-01-05T10:30:00+00:00",
        "by": "privacy-office",
        "reason": "gdpr-art-17",
    }
    without = replay(path, tmp_path / "plain", DECODER, TRACKER)
    summary = replay(path, tmp_path / "erased", DECODER, TRACKER, erasures=[erasure])
    out = tmp_path / "erased"
    for name in ("by-customer.jsonl", "enriched.jsonl", "transitions.jsonl", "alerts.jsonl"):
        text = (out / name).read_text()
        assert "gone-1" not in text
        assert "gone-2" not in text
    assert "back-1" in (out / "enriched.jsonl").read_text()
    [confirmation] = [orjson.loads(line) for line in (out / "erasures.jsonl").read_bytes().splitlines()]
    assert (confirmation["customer_id"], confirmation["found"], confirmation["request_id"]) == (
        "c-gone",
        True,
        "dsr-1",
    )
    assert (summary.erased, summary.erased_touchpoints) == (1, 2)
    assert summary.states["c-gone"].events == 1, "only the touchpoint after the erasure"
    # The customer kept is untouched: the same lines as without the erasure.
    for name in ("enriched.jsonl", "transitions.jsonl"):

        def kept(root: Path, file: str = name) -> list[bytes]:
            return [line for line in (root / file).read_bytes().splitlines() if b"c-kept" in line]

        assert kept(out) == kept(tmp_path / "plain")
    assert without.erased == 0


def test_replay_erases_identity_links_too_the_device_of_an_erased_customer_stands_alone_again(
    tmp_path: Path,
) -> None:
    device = {"device_id": "066b6a26-b3b8-4451-b145-bad22bea452c"}

    def on_device(event_id: str, occurred_at: str, customer: str | None = None) -> bytes:
        event = {**orjson.loads(touchpoint(event_id, occurred_at)), "identifiers": device}
        if customer is None:
            del event["customer_id"]
        else:
            event["customer_id"] = customer
        return orjson.dumps(event)

    path = tmp_path / "history.jsonl"
    lines = [
        on_device("anonymous-1", "2026-01-05T08:00:00+00:00"),
        on_device("login", "2026-01-05T09:00:00+00:00", customer="c-gone"),  # merges the device's profile
        on_device("anonymous-2", "2026-01-05T09:30:00+00:00"),  # linked: goes to c-gone
        on_device("anonymous-3", "2026-01-05T11:00:00+00:00"),  # after the erasure
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    erasure = {
        "schema_version": 1,
        "request_id": "dsr-2",
        "customer_id": "c-gone",
        "requested_at": "2026-01-05T10:00:00+00:00",
        "by": "privacy-office",
        "reason": "gdpr-art-17",
    }
    plain = replay(path, tmp_path / "plain", DECODER, TRACKER)
    assert "c-gone" in (tmp_path / "plain" / "merges.jsonl").read_text(), (
        "the check below would prove nothing"
    )
    assert plain.states["c-gone"].events == 4, "linked: every use of the device is theirs"
    summary = replay(path, tmp_path / "erased", DECODER, TRACKER, erasures=[erasure])
    out = tmp_path / "erased"
    for name in ("enriched.jsonl", "transitions.jsonl", "alerts.jsonl", "merges.jsonl", "conflicts.jsonl"):
        assert "c-gone" not in (out / name).read_text(), name
    assert [key for key, state in summary.states.items() if b"c-gone" in state.encode()] == []
    [after] = [
        orjson.loads(line)
        for line in (out / "enriched.jsonl").read_bytes().splitlines()
        if b"anonymous-3" in line
    ]
    assert after["touchpoint"]["customer_id"].startswith("id:device_id:"), "a profile of its own again"


def test_the_erasures_file_takes_requests_and_confirmations_and_names_a_bad_line(tmp_path: Path) -> None:
    from streams.replay import read_erasures

    request = {
        "schema_version": 1,
        "request_id": "r",
        "customer_id": "c",
        "requested_at": "2026-01-05T10:30:00Z",
        "by": "x",
        "reason": "y",
    }
    confirmation = {**request, "erased_at": "2026-01-05T10:30:01+00:00", "found": True, "alerts_resolved": 0}
    good = tmp_path / "erasures.jsonl"
    good.write_bytes(orjson.dumps(request) + b"\n\n" + orjson.dumps(confirmation) + b"\n")
    assert len(read_erasures(good)) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(orjson.dumps(request) + b'\n{"customer_id": "c"}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not an erasure request or confirmation"):
        read_erasures(bad)
    # Each is judged as what it claims to be, so the message names the field that is wrong.
    leap = tmp_path / "leap.jsonl"
    leap.write_bytes(orjson.dumps({**request, "requested_at": "2026-06-30T23:59:60Z"}) + b"\n")
    with pytest.raises(ValueError, match=r"leap.jsonl:1: .*data.requested_at must be date-time"):
        read_erasures(leap)
    unfound = tmp_path / "unfound.jsonl"
    unfound.write_bytes(orjson.dumps({**confirmation, "found": "yes"}) + b"\n")
    with pytest.raises(ValueError, match=r"unfound.jsonl:1: .*data.found must be boolean"):
        read_erasures(unfound)


def test_a_history_of_utf16_text_is_refused_before_anything_is_written(history: Path, tmp_path: Path) -> None:
    # Read as UTF-8, every line would have been a dead letter: a replay of nothing, told as a success.
    utf16 = tmp_path / "history-utf16.jsonl"
    utf16.write_bytes(history.read_bytes().decode().encode("utf-16"))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RecordFileError, match="UTF-16 text, not UTF-8"):
        replay(utf16, out, DECODER, TRACKER)
    assert list(out.iterdir()) == []


def test_a_folder_named_as_an_output_stops_the_replay_before_it_starts(history: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "transitions.jsonl").mkdir(parents=True)
    (out / "alerts.jsonl").write_bytes(b"earlier\n")
    with pytest.raises(OutputInTheWay, match=r"transitions\.jsonl is a folder, where the replay writes its"):
        replay(history, out, DECODER, TRACKER)
    assert sorted(path.name for path in out.iterdir()) == ["alerts.jsonl", "transitions.jsonl"]
    assert (out / "alerts.jsonl").read_bytes() == b"earlier\n"
