"""``touchpoint produce`` of a compressed file or the standard input, on the embedded broker: its lines arrive."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.cli.records import LinesNotSent
from streams.files import LINE_LIMIT
from streams.kafka import UNCONFIRMED
from streams.local.broker import EmbeddedBroker
from tests.kafka_helpers import collect

pytestmark = pytest.mark.integration


def _lines(run: str, count: int) -> list[bytes]:
    return [
        b'{"schema_version":1,"event_id":"%s-%d","occurred_at":"2026-01-05T10:00:00Z","customer_id":"c-%d",'
        b'"channel":"web","type":"visit","actor":"customer"}' % (run.encode(), n, n % 7)
        for n in range(count)
    ]


def test_a_gzip_file_sends_its_lines_one_record_each(broker: EmbeddedBroker, tmp_path: Path) -> None:
    run = uuid.uuid4().hex
    topic = f"produce-gzip-{run}"
    lines = _lines(run, 300)
    source = tmp_path / "events.jsonl.gz"
    source.write_bytes(gzip.compress(b"\n".join(lines) + b"\n\n"))
    result = CliRunner().invoke(main, ["produce", str(source), "--broker", broker.url, "--topic", topic])
    assert result.exit_code == 0, result.output
    assert "sent 300 records" in result.output
    received = asyncio.run(collect(broker.bootstrap, topic, lambda _key, _value: True, len(lines)))
    assert sorted(value for _, value in received) == sorted(lines)


def test_the_standard_input_sends_its_lines(broker: EmbeddedBroker) -> None:
    run = uuid.uuid4().hex
    topic = f"produce-stdin-{run}"
    lines = _lines(run, 50)
    result = CliRunner().invoke(
        main, ["produce", "-", "--broker", broker.url, "--topic", topic], input=b"\n".join(lines) + b"\n"
    )
    assert result.exit_code == 0, result.output
    assert "sent 50 records" in result.output
    received = asyncio.run(collect(broker.bootstrap, topic, lambda _key, _value: True, len(lines)))
    assert sorted(value for _, value in received) == sorted(lines)


def test_a_gzip_file_cut_short_is_a_one_line_error_naming_it(broker: EmbeddedBroker, tmp_path: Path) -> None:
    run = uuid.uuid4().hex
    packed = gzip.compress(b"\n".join(_lines(run, 2000)) + b"\n")
    source = tmp_path / "cut.jsonl.gz"
    source.write_bytes(packed[: len(packed) // 2])
    result = CliRunner().invoke(
        main, ["produce", str(source), "--broker", broker.url, "--topic", f"produce-cut-{run}"]
    )
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {source}: the gzip data ends early: the file is cut short"]


def test_lines_too_large_for_one_kafka_record_are_named_and_every_other_line_is_sent(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex
    topic = f"produce-too-large-{run}"
    lines = _lines(run, 40)
    # One too long to be read whole (over LINE_LIMIT), one that is read and then refused by the producer (a
    # record batch's overhead takes it over the same limit).
    huge = b'{"note":"%s"}' % (b"x" * 2_000_000)
    near = b'{"note":"%s"}' % (b"x" * (LINE_LIMIT - 11 - 10))
    # Blank lines before and between, which are skipped: the errors name the lines as an editor numbers them.
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"\n\n" + b"\n".join([*lines[:10], huge, *lines[10:], b"", near]) + b"\n")

    result = CliRunner().invoke(main, ["produce", str(source), "--broker", broker.url, "--topic", topic])

    assert result.exit_code == 1
    assert "sent 40 records" in result.output
    assert result.output.strip().splitlines()[-1] == (
        "Error: 2 records were not sent, larger than Kafka takes in one record: "
        "line 13 (2,000,011 bytes), line 45 (1,048,566 bytes)"
    )
    assert "Traceback" not in result.output
    received = asyncio.run(collect(broker.bootstrap, topic, lambda _key, _value: True, len(lines)))
    assert sorted(value for _, value in received) == sorted(lines)


def test_a_refused_record_is_named_by_its_line_however_many_blank_lines_came_before() -> None:
    lines = LinesNotSent()
    numbered = ((number, b"{}") for number in range(0, 3 * UNCONFIRMED, 3))  # two blank lines after each
    taken = lines.records(numbered)
    for _ in range(UNCONFIRMED):
        next(taken)
    lines.too_large(0, 2_000_000)  # the oldest a delivery can still be waited on for
    lines.too_large(UNCONFIRMED - 1, 3_000_000)  # the one just taken
    assert lines.refused == [(1, 2_000_000), (3 * UNCONFIRMED - 2, 3_000_000)]
