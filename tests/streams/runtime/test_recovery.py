"""Bulk state restore: the last record of each key, applied in offset order through Faust's own stores."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import faust
import pytest
from faust.types import TP
from hypothesis import given
from hypothesis import strategies as st

from agents.domain.state import CustomerState, summarize
from streams.runtime.recovery import LatestPerKey, _Change, _Decoding, _Message, apply_in_chunks
from streams.runtime.state_writer import stored_items
from streams.tables import customer_to_state
from tests.event_loop import turns_during

pytestmark = pytest.mark.unit

TOPIC = "t-kv-changelog"


@given(st.lists(st.tuples(st.sampled_from("abcdef"), st.integers()), max_size=60))
def test_latest_per_key_keeps_each_keys_last_item_in_the_order_those_arrived(
    items: list[tuple[str, int]],
) -> None:
    latest = LatestPerKey()
    for offset, (key, value) in enumerate(items):
        latest.add(key, (offset, key, value))
    kept = list(latest)
    last = {key: (offset, key, value) for offset, (key, value) in enumerate(items)}
    assert sorted(kept) == sorted(last.values())
    assert [offset for offset, _, _ in kept] == sorted(offset for offset, _, _ in kept)
    # Any prefix covers every key whose last item lies at or before the prefix's last offset.
    for cut in range(len(kept)):
        upto = kept[cut][0]
        assert {k for _, k, _ in kept[: cut + 1]} == {k for off, k, _ in last.values() if off <= upto}


def _table(tmp_path: Path, store: str) -> tuple[Any, Any]:
    app = faust.App(f"t-{store}", store=f"{store}://", autodiscover=False, datadir=str(tmp_path))
    table = app.Table("kv", partitions=4, default=None)
    return app, table


def _changes(app: Any, table: Any, records: list[tuple[int, int, bytes, bytes | None]]) -> list[Any]:
    decoding = _Decoding(table, app)
    latest = LatestPerKey()
    for partition, offset, key, value in records:
        latest.add(key, _Change(_Message(TP(TOPIC, partition), offset, key, value), decoding))
    return list(latest)


RECORDS = [
    (0, 0, b'"a"', b'{"n": 1}'),
    (0, 1, b'"b"', b'{"n": 2}'),
    (0, 2, b'"a"', b'{"n": 3}'),
    (0, 3, b'"c"', b'{"n": 4}'),
    (0, 4, b'"b"', None),  # a tombstone: b is gone
]


def test_the_memory_store_gets_decoded_keys_and_values_and_honours_tombstones(tmp_path: Path) -> None:
    app, table = _table(tmp_path, "memory")
    table.data.data[b"stale"] = "kept"  # what the store held before stays unless the log says otherwise
    asyncio.run(apply_in_chunks(table, _changes(app, table, RECORDS)))
    assert dict(table.data.data) == {b"stale": "kept", "a": {"n": 3}, "c": {"n": 4}}
    assert table.data._key_partition == {"a": 0, "c": 0}  # what on_recovery_completed prunes by


def test_the_rocksdb_store_gets_raw_bytes_and_the_last_offset_as_persisted(tmp_path: Path) -> None:
    app, table = _table(tmp_path, "rocksdb")
    asyncio.run(apply_in_chunks(table, _changes(app, table, RECORDS)))
    assert table.data.persisted_offset(TP(TOPIC, 0)) == 4
    assert table.data._get(b'"a"') == b'{"n": 3}'
    assert table.data._get(b'"b"') is None
    assert table.data._get(b'"c"') == b'{"n": 4}'


def test_large_restores_are_applied_in_chunks_that_let_the_event_loop_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("streams.runtime.recovery.APPLY_CHUNK", 2)
    app, table = _table(tmp_path, "memory")
    records: list[tuple[int, int, bytes, bytes | None]] = [
        (0, offset, f'"k{offset}"'.encode(), b"1") for offset in range(7)
    ]
    _, ticks = asyncio.run(turns_during(apply_in_chunks(table, _changes(app, table, records))))
    assert len(table.data.data) == 7
    assert ticks >= 3  # 7 keys in chunks of 2: the loop ran between chunks


def test_a_table_whose_values_restore_encoded_gets_the_changelog_bytes_in_memory(tmp_path: Path) -> None:
    class Encoded:
        restore_encoded = True

    app = faust.App("t-encoded", store="memory://", autodiscover=False, datadir=str(tmp_path))
    table = app.Table("kv", partitions=4, default=None, key_type=bytes, value_type=Encoded)
    asyncio.run(apply_in_chunks(table, _changes(app, table, [(1, 0, b"a", b"old"), (1, 1, b"a", b"new")])))
    store: Any = table.data  # the memory store, whose dict is its ``data``
    assert dict(store.data) == {b"a": b"new"}


def test_a_walk_over_a_rocksdb_table_gets_the_encoded_states(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = faust.App("t-walk", store="rocksdb://", autodiscover=False, datadir=str(tmp_path))
    table = customer_to_state(app, 4)
    changelog = TP("t-walk-customer_to_state-changelog", 2)
    monkeypatch.setattr(app.assignor, "assigned_actives", lambda: {changelog})  # the store walks only these
    state = CustomerState(partition=2, stage="loyal", wake_at=123, inquiries_open={"c": 1})
    record = _Message(changelog, 0, b"cust", state.encode())
    asyncio.run(apply_in_chunks(table, [_Change(record, _Decoding(table, app))]))
    stored = [*stored_items(table)]
    assert stored == [(b"cust", state.encode())]
    assert summarize(stored[0][1]) == summarize(state)
