"""Replay in several processes: the same bytes as one process, whatever the number.

And the partitions (each with its own clock) change only when a deadline's outputs are
written, never what any output says: a touchpoint sees every deadline before it fired either
way, and at the end deadlines fire up to the clock of all partitions together.
"""

from __future__ import annotations

import bz2
import dataclasses
import gzip
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

import orjson
import pytest

from agents.config import default_config
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from agents.models.population import PopulationThreshold
from streams.partitioner import partition_for
from streams.replay import OUTPUT_FILES, PARTITIONS, replay
from tests.streams.replay.traffic import traffic

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

pytestmark = pytest.mark.unit

SALT = b"processes"
DECODER = TouchpointDecoder(identity_salt=SALT)


def tracker() -> JourneyTracker:
    """A fresh tracker for each replay: the population's thresholds it learns are state."""
    return JourneyTracker(default_config(), SALT)


def outputs(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in OUTPUT_FILES.values()}


@pytest.mark.parametrize("as_of", [None, date(2026, 1, 20)], ids=["to the end", "as of a day"])
def test_any_number_of_processes_writes_the_bytes_one_process_writes(
    tmp_path: Path, as_of: date | None
) -> None:
    source = tmp_path / "traffic.jsonl"
    source.write_bytes(traffic())
    one = replay(source, tmp_path / "one", DECODER, tracker(), as_of)
    expected = outputs(tmp_path / "one")
    assert one.accepted
    assert sum(one.alerts.values())
    assert one.transitions
    for processes in (2, 3, 4):
        out = tmp_path / f"processes-{processes}"
        summary = replay(source, out, DECODER, tracker(), as_of, processes=processes)
        assert outputs(out) == expected, f"{processes} processes"
        counts = (
            "records",
            "accepted",
            "duplicates",
            "transitions",
            "alerts",
            "customers",
            "stages",
            "rejected",
        )
        assert {c: getattr(summary, c) for c in counts} == {c: getattr(one, c) for c in counts}
    assert not list(tmp_path.glob("*/.replay-*")), "the runs and parts are removed"


@pytest.mark.parametrize(
    "compress", [gzip.compress, bz2.compress, zstd.compress], ids=["gzip", "bzip2", "zstd"]
)
def test_a_compressed_file_is_replayed_as_its_lines_by_any_number_of_processes(
    tmp_path: Path, compress: Callable[[bytes], bytes]
) -> None:
    # The same name in two folders: the outputs name their source file, and only the bytes differ.
    (tmp_path / "plain").mkdir()
    (tmp_path / "packed").mkdir()
    plain, packed = tmp_path / "plain/traffic.jsonl", tmp_path / "packed/traffic.jsonl"
    plain.write_bytes(traffic())
    packed.write_bytes(compress(traffic()))
    one = replay(plain, tmp_path / "one", DECODER, tracker())
    stages: list[str] = []
    writing: list[tuple[int, int]] = []

    def progress(stage: str, done: int, total: int) -> None:
        stages.append(stage)
        if stage == "writing":
            writing.append((done, total))

    for processes in (1, 2):
        out = tmp_path / f"packed-{processes}"
        summary = replay(
            packed,
            out,
            DECODER,
            tracker(),
            processes=processes,
            progress=progress,
        )
        assert outputs(out) == outputs(tmp_path / "one"), f"{processes} processes"
        assert (summary.records, summary.accepted, summary.alerts) == (one.records, one.accepted, one.alerts)
        assert not list(out.glob(".replay-*")), "the unpacked lines go with the working folder"
    assert stages[0] == "unpacking"
    assert {"reading", "applying", "writing"} <= set(stages)
    # The parts merged in two processes, told as they go, up to their size.
    assert writing[-1][0] == writing[-1][1] > 0
    assert [done for done, _ in writing] == sorted(done for done, _ in writing)


def test_the_partitions_move_when_deadline_outputs_are_written_never_what_they_say(tmp_path: Path) -> None:
    source = tmp_path / "traffic.jsonl"
    source.write_bytes(traffic())
    replay(source, tmp_path / "one", DECODER, tracker(), partitions=1)
    replay(source, tmp_path / "four", DECODER, tracker(), partitions=4)
    one, four = outputs(tmp_path / "one"), outputs(tmp_path / "four")
    for name in ("by-customer.jsonl", "enriched.jsonl", "customers.jsonl"):
        assert four[name] == one[name], name
    for name in ("transitions.jsonl", "alerts.jsonl"):
        assert sorted(four[name].splitlines()) == sorted(one[name].splitlines()), name


def independent_partitions(digest_minutes: float = 0, fixed: float | None = 300.0) -> JourneyTracker:
    """A tracker without identity resolution, so the partitions are applied in parallel, and a *fixed*
    best-customer threshold (None: the population's, from 10 buyers on). Warning digests (every
    *digest_minutes*, 0: none) gather every partition's warnings, and the merge makes them; the
    population's thresholds gather every partition's buyers, and the processes exchange them."""
    config = default_config()
    model = config.model
    config = dataclasses.replace(
        config,
        identity=dataclasses.replace(config.identity, enabled=False),
        sla=dataclasses.replace(config.sla, warning_digest_minutes=digest_minutes),
        model=dataclasses.replace(
            model,
            best_customers=dataclasses.replace(model.best_customers, fixed=fixed, min_buyers=10),
        ),
    )
    tracker = JourneyTracker(config, SALT)
    assert tracker.resolver is None
    return tracker


def partition_of(item: dict[str, str]) -> int:
    return partition_for(item["customer_id"].encode(), PARTITIONS)


@pytest.mark.parametrize(
    "digest_minutes", [0, 5, 15], ids=["no digests", "5-minute digests", "15-minute digests"]
)
def test_partitions_applied_in_parallel_write_the_bytes_one_process_writes(
    tmp_path: Path, digest_minutes: float
) -> None:
    source = tmp_path / "traffic.jsonl"
    source.write_bytes(traffic())
    tracker = independent_partitions(digest_minutes)
    decoder = TouchpointDecoder(identity_salt=SALT, identity=tracker.config.identity)
    one = replay(source, tmp_path / "one", decoder, tracker)
    expected = outputs(tmp_path / "one")
    assert sum(one.alerts.values())
    assert one.transitions
    digests = [
        alert
        for alert in map(orjson.loads, expected["alerts.jsonl"].splitlines())
        if alert["customer_id"].startswith("queue:")
    ]
    if digest_minutes:
        # Digests of warnings from customers of several partitions: made where every partition meets.
        assert len({alert["alert_id"] for alert in digests}) > 1
        listed = [{partition_of(item) for item in alert["details"]["items"]} for alert in digests]
        assert len(set().union(*listed)) > 1
        if digest_minutes == 5:
            assert any(len(partitions) > 1 for partitions in listed), "one digest lists several partitions"
    else:
        assert not digests
    for processes in (2, 4):
        out = tmp_path / f"processes-{processes}"
        summary = replay(source, out, decoder, independent_partitions(digest_minutes), processes=processes)
        assert outputs(out) == expected, f"{processes} processes"
        assert summary.alerts == one.alerts, f"{processes} processes"


@pytest.mark.parametrize("as_of", [None, date(2026, 1, 20)], ids=["to the end", "as of a day"])
def test_with_the_populations_threshold_the_processes_exchange_their_buyers_and_write_the_same_bytes(
    tmp_path: Path, as_of: date | None
) -> None:
    source = tmp_path / "traffic.jsonl"
    source.write_bytes(traffic())
    tracker = independent_partitions(5, fixed=None)
    decoder = TouchpointDecoder(identity_salt=SALT, identity=tracker.config.identity)
    one = replay(source, tmp_path / "one", decoder, tracker, as_of)
    expected = outputs(tmp_path / "one")
    thresholds = tracker.best_customers
    assert isinstance(thresholds, PopulationThreshold)
    assert any(value is not None for value in thresholds.known.values()), "the population has a top decile"
    customers = [orjson.loads(line) for line in expected["customers.jsonl"].splitlines()]
    assert {customer["best_customer_clv"] for customer in customers} != {None}
    assert any(customer["best_customer"] for customer in customers)
    for processes in (2, 4):
        out = tmp_path / f"processes-{processes}"
        summary = replay(
            source, out, decoder, independent_partitions(5, fixed=None), as_of, processes=processes
        )
        assert outputs(out) == expected, f"{processes} processes"
        assert summary.alerts == one.alerts, f"{processes} processes"
