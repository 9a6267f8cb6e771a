"""Warning digests of a replay applied by several processes: logged in each part, made where the merge meets them."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import orjson
import pytest

from agents.config import default_config
from agents.coordination.coordinator import Coordinator
from agents.coordination.progress import Progress
from streams.replay.parts import TAG_BYTES, Lines
from streams.replay.shard import ALERTS
from streams.replay.signals import SIGNAL, SignalLog, merge_alerts
from tests.agents.coordination.test_coordinator import T0, warning

pytestmark = pytest.mark.unit

SECOND = 1_000_000  # tags are in µs


def coordinator() -> Coordinator:
    config = default_config()
    assert config.sla.warning_digest_minutes == 5
    return Coordinator(config, partitions=2)


def test_a_digest_is_written_where_the_last_partition_passes_its_interval(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    with first.open("wb") as a_file, second.open("wb") as b_file:
        a, b = Lines({ALERTS: a_file}, tagged=True), Lines({ALERTS: b_file}, tagged=True)
        a_log, b_log = SignalLog(partial(a.write, ALERTS)), SignalLog(partial(b.write, ALERTS))
        a.at((T0 + 100) * SECOND, 1)
        a_log.due_soon(warning("cust-a", T0 + 100))
        b.at((T0 + 120) * SECOND, 2)
        b_log.due_soon(warning("cust-b", T0 + 120))
        b.write(ALERTS, b'{"line":"b before"}')
        # Partition 0 passes the interval's end first: nothing can be published yet.
        a.at((T0 + 400) * SECOND, 3)
        a_log.passed(Progress(0, T0 + 400))
        a.write(ALERTS, b'{"line":"a after"}')
        # Partition 1 passes it at line 4: the digest belongs there, before what line 4 writes next.
        # (Its buyers' sketches are not logged: this one would not even read as a sketch.)
        b.at((T0 + 500) * SECOND, 4)
        b_log.passed(Progress(1, T0 + 500, sketches={0: {"ignored": True}}))
        b.write(ALERTS, b'{"line":"b after"}')
    assert all(line[TAG_BYTES : TAG_BYTES + 1] in (b"{", SIGNAL) for line in first.read_bytes().splitlines())

    out = tmp_path / "alerts.jsonl"
    with out.open("wb") as handle:
        counts = merge_alerts([first, second], handle, coordinator())

    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [line.get("line", line.get("type")) for line in lines] == [
        "b before",
        "a after",
        "first_response_due_soon",
        "b after",
    ]
    digest = lines[2]
    assert digest["customer_id"].startswith("queue:chat:")
    assert [item["customer_id"] for item in digest["details"]["items"]] == ["cust-a", "cust-b"]
    assert counts == {"first_response_due_soon open": 1}


def test_an_answer_logged_before_the_interval_ends_keeps_its_inquiry_out_of_the_digest(
    tmp_path: Path,
) -> None:
    part = tmp_path / "part"
    with part.open("wb") as handle:
        lines = Lines({ALERTS: handle}, tagged=True)
        log = SignalLog(partial(lines.write, ALERTS))
        lines.at((T0 + 100) * SECOND, 1)
        log.due_soon(warning("cust-a", T0 + 100))
        log.due_soon(warning("cust-b", T0 + 110))
        lines.at((T0 + 200) * SECOND, 2)
        log.answered("first_response_due_soon/cust-a/ev-cust-a", T0 + 200)
        lines.at((T0 + 400) * SECOND, 3)
        log.passed(Progress(0, T0 + 400))
        log.passed(Progress(1, T0 + 400))
    out = tmp_path / "alerts.jsonl"
    with out.open("wb") as handle:
        merge_alerts([part], handle, coordinator())
    (digest,) = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert [item["customer_id"] for item in digest["details"]["items"]] == ["cust-b"]
