"""Held-back state writes: readable at once, in the changelog only after their outputs, in order."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import faust
import pytest

from streams.runtime.outbox import Sent
from streams.runtime.state_writer import StateWriter, drain_all

pytestmark = pytest.mark.unit


@dataclass
class Value:
    text: str

    def encode(self) -> bytes:
        return self.text.encode()


@dataclass
class Table:
    """The two things a StateWriter uses of a Faust table: its local store and its changelog."""

    data: dict[bytes, Any] = field(default_factory=dict)
    changelog: list[tuple[int, bytes, bytes | None]] = field(default_factory=list)
    send_delays: list[int] = field(default_factory=list)

    def get(self, key: bytes) -> Any:
        return self.data.get(key)

    def items(self) -> Any:
        return self.data.items()

    async def send_changelog(self, partition: int, key: bytes, value: bytes | None) -> None:
        # A real send can yield, for longer on some calls than on others: the order must hold anyway.
        for _ in range(self.send_delays.pop(0) if self.send_delays else 1):
            await asyncio.sleep(0)
        self.changelog.append((partition, key, value))


class DurableStore:
    """Shaped like Faust's RocksDB store: one database per partition and a key → partition index."""

    def __init__(self) -> None:
        self.dbs: dict[int, dict[bytes, bytes]] = {}
        self._key_index: dict[bytes, int] = {}

    def _db_for_partition(self, partition: int) -> Any:
        db = self.dbs.setdefault(partition, {})

        class Db:
            def put(self, key: bytes, value: bytes) -> None:
                db[key] = value

            def delete(self, key: bytes) -> None:
                db.pop(key, None)

        return Db()

    def get(self, key: bytes) -> Any:
        return None


class App:
    pass


def writer(table: Any, app: Any = None) -> StateWriter[Value]:
    return StateWriter(app or App(), table, Value.encode, table.send_changelog)  # type: ignore[arg-type]


async def test_a_write_is_readable_at_once_and_reaches_the_changelog_only_after_its_outputs() -> None:
    table = Table()
    states = writer(table)
    alert, enriched = asyncio.get_running_loop().create_future(), asyncio.get_running_loop().create_future()
    value = Value("v1")
    await states.put(b"c1", value, 3, [alert, enriched])
    assert states.get(b"c1") is value
    assert table.changelog == []
    assert table.data == {}
    enriched.set_result(None)
    assert await states.release() == 0, "one output is still in flight"
    alert.set_result(None)
    assert await states.release() == 1
    assert table.changelog == [(3, b"c1", b"v1")]
    assert table.data == {b"c1": value}
    assert len(states) == 0


async def test_the_changelog_gets_the_value_as_it_was_when_written() -> None:
    table = Table()
    states = writer(table)
    output = asyncio.get_running_loop().create_future()
    value = Value("before")
    await states.put(b"c1", value, 0, [output])
    value.text = "after"  # the tracker mutates states in place for later events
    output.set_result(None)
    await states.release()
    assert table.changelog == [(0, b"c1", b"before")]


async def test_writes_are_released_in_the_order_they_were_made() -> None:
    table = Table()
    states = writer(table)
    loop = asyncio.get_running_loop()
    slow, fast = loop.create_future(), loop.create_future()
    await states.put(b"c1", Value("first"), 0, [slow])
    await states.put(b"c1", Value("second"), 0, [fast])
    fast.set_result(None)
    assert await states.release() == 0
    assert states.get(b"c1") == Value("second")
    slow.set_result(None)
    assert await states.release() == 2
    assert [value for _, _, value in table.changelog] == [b"first", b"second"]


async def test_a_write_without_outputs_follows_the_writes_before_it() -> None:
    table = Table()
    states = writer(table)
    pending = asyncio.get_running_loop().create_future()
    await states.put(b"c1", Value("a"), 0, [pending])
    await states.put(b"c2", Value("b"), 1)
    assert table.changelog == []
    pending.set_result(None)
    await states.release()
    assert [key for _, key, _ in table.changelog] == [b"c1", b"c2"]


async def test_drain_waits_for_the_outputs_of_the_writes_queued_when_called() -> None:
    table = Table()
    app = App()
    states = writer(table, app)
    loop = asyncio.get_running_loop()
    output = loop.create_future()
    await states.put(b"c1", Value("a"), 0, [output])
    late = loop.create_future()

    async def write_while_draining() -> None:
        await asyncio.sleep(0)
        await states.put(b"c2", Value("b"), 0, [late])
        # Only now is c1's output delivered: the drain, not this put, must be the one to write c1
        # (a timer here let a loaded machine deliver it first, and the put wrote c1 itself).
        output.set_result(None)

    written, _ = await asyncio.gather(drain_all(app), write_while_draining())  # type: ignore[arg-type]
    assert written == 1
    assert [key for _, key, _ in table.changelog] == [b"c1"]
    assert len(states) == 1, "a write made during the drain is left for the next one"
    late.set_result(None)
    assert await states.drain() == 1


async def test_a_failed_output_holds_the_state_back() -> None:
    table = Table()
    states = writer(table)
    output = asyncio.get_running_loop().create_future()
    await states.put(b"c1", Value("a"), 0, [output])
    output.set_exception(RuntimeError("broker gone"))
    assert await states.release() == 0
    with pytest.raises(RuntimeError, match="not delivered"):
        await states.drain()
    assert table.changelog == []


async def test_retain_drops_the_writes_of_partitions_no_longer_owned() -> None:
    table = Table()
    table.data[b"c2"] = Value("restored")
    states = writer(table)
    loop = asyncio.get_running_loop()
    outputs = [loop.create_future(), loop.create_future()]
    await states.put(b"c1", Value("mine"), 0, [outputs[0]])
    await states.put(b"c2", Value("theirs"), 1, [outputs[1]])
    states.retain({0})
    assert states.get(b"c2") == Value("restored")
    for output in outputs:
        output.set_result(None)
    await states.release()
    assert table.changelog == [(0, b"c1", b"mine")]


async def test_a_durable_store_gets_the_bytes_in_the_partition_of_the_write() -> None:
    store = DurableStore()
    table = Table()
    table.data = store  # type: ignore[assignment]
    states = writer(table)
    await states.put(b"c1", Value("a"), 2)
    assert store.dbs == {2: {b"c1": b"a"}}
    assert store._key_index == {b"c1": 2}


async def test_concurrent_releases_send_in_queue_order() -> None:
    table = Table(send_delays=[5, 4, 3, 2, 1])  # each send is quicker than the one before it
    states = writer(table)
    pending = asyncio.get_running_loop().create_future()
    for number in range(5):
        await states.put(f"c{number}".encode(), Value(str(number)), 0, [pending] if number == 0 else [])
    pending.set_result(None)
    # The agent's release and a commit's drain can run at once; each send yields to the other.
    await asyncio.gather(states.release(), states.drain(), states.release())
    assert [value for _, _, value in table.changelog] == [b"0", b"1", b"2", b"3", b"4"]


async def test_a_value_kept_encoded_in_the_store_is_decoded_on_its_first_read_only() -> None:
    table = Table(data={b"c1": b"restored"})  # what a bulk restore leaves in a memory store
    decoded: list[bytes] = []

    def decode(raw: bytes) -> Value:
        decoded.append(raw)
        return Value(raw.decode())

    states = StateWriter(App(), table, Value.encode, table.send_changelog, decode=decode)  # type: ignore[arg-type]
    first = states.get(b"c1")
    assert first == Value("restored")
    assert states.get(b"c1") is first
    assert decoded == [b"restored"]
    assert table.data == {b"c1": first}  # cached in the store, and nothing written to the changelog
    assert table.changelog == []


# --- a batch of records applied together: each key written once, after the batch's outputs ------------


def sent(future: asyncio.Future[Any]) -> Sent:
    return Sent("touchpoints.enriched", 0, 1, future)


async def test_a_key_staged_several_times_in_a_batch_is_written_once_as_it_ends() -> None:
    table = Table()
    states = writer(table)
    value = Value("v1")
    states.stage(b"c1", value, 2)
    assert states.get(b"c1") is value, "readable at once"
    value.text = "v2"
    states.stage(b"c1", value, 2)
    states.stage(b"c2", Value("w"), 3)
    output = asyncio.get_running_loop().create_future()
    await states.write_staged([sent(output)])
    assert table.changelog == [], "held back until the batch's outputs are acknowledged"
    output.set_result(None)
    assert await states.release() == 2
    assert table.changelog == [(2, b"c1", b"v2"), (3, b"c2", b"w")]


async def test_a_staged_key_stays_readable_while_an_older_write_of_it_is_released() -> None:
    table = Table()
    table.data = DurableStore()  # type: ignore[assignment]  # a store that gives back nothing decoded
    states = writer(table)
    output = asyncio.get_running_loop().create_future()
    await states.put(b"c1", Value("old"), 0, [output])
    newer = Value("new")
    states.stage(b"c1", newer, 0)
    output.set_result(None)
    assert await states.release() == 1
    assert states.get(b"c1") is newer
    await states.write_staged()  # no outputs to wait for: written at once
    assert [value for _, _, value in table.changelog] == [b"old", b"new"]


async def test_a_batch_whose_outputs_failed_writes_none_of_its_states() -> None:
    table = Table()
    states = writer(table)
    states.stage(b"c1", Value("a"), 0)
    output = asyncio.get_running_loop().create_future()
    await states.write_staged([sent(output)])
    output.set_exception(RuntimeError("broker gone"))
    assert await states.release() == 0
    with pytest.raises(RuntimeError, match="not delivered"):
        await states.drain()
    assert table.changelog == []


async def test_a_deletion_is_gone_at_once_and_a_tombstone_follows_its_outputs_in_order() -> None:
    table = Table()
    states = writer(table)
    confirmation = asyncio.get_running_loop().create_future()
    await states.put(b"c1", Value("kept until erased"), 1)
    assert table.data == {b"c1": Value("kept until erased")}
    await states.delete(b"c1", 1, [confirmation])
    assert states.get(b"c1") is None, "gone for every read from now on"
    assert table.data == {b"c1": Value("kept until erased")}, "held back until the confirmation is sent"
    confirmation.set_result(None)
    assert await states.drain() == 1
    assert table.data == {}
    assert table.changelog == [(1, b"c1", b"kept until erased"), (1, b"c1", None)]
    await states.put(b"c1", Value("a new customer"), 1)
    assert states.get(b"c1") == Value("a new customer")


async def test_a_deletion_leaves_a_durable_store_too() -> None:
    store = DurableStore()
    table = Table()
    table.data = store  # type: ignore[assignment]
    states = writer(table)
    await states.put(b"c1", Value("a"), 2)
    await states.delete(b"c1", 2)
    assert store.dbs == {2: {}}
    assert store._key_index == {}


async def test_a_table_on_faust_memory_store_reads_alike_through_the_writer() -> None:
    # The writer reads the memory store's dict itself (a table read costs a few µs); it must answer
    # as the table does: the value, None for a missing key, a restored encoded value decoded once.
    app = faust.App("state-writer-test", broker="kafka://127.0.0.1:1", store="memory://")
    table = app.Table("states", partitions=1, key_type=bytes)
    changelog: list[tuple[int, bytes, bytes | None]] = []

    async def send(partition: int, key: bytes, value: bytes | None) -> None:
        changelog.append((partition, key, value))

    states = StateWriter(app, table, Value.encode, send, decode=lambda raw: Value(raw.decode()))
    table.data[b"kept"] = Value("kept")
    table.data[b"restored"] = b"restored"
    assert states.get(b"missing") is None
    assert states.get(b"kept") is table.get(b"kept")
    restored = states.get(b"restored")
    assert restored == Value("restored")
    assert table.get(b"restored") is restored
    await states.put(b"new", Value("new"), 0)
    assert states.get(b"new") == Value("new")
    assert table.get(b"new") == Value("new")  # released at once: no outputs to wait for
    assert changelog == [(0, b"new", b"new")]


async def test_items_are_every_keys_newest_value_written_or_held_back_without_the_deleted() -> None:
    table = Table()
    states = writer(table)
    await states.put(b"written", Value("w"), 0)
    await states.put(b"erased", Value("e"), 0)
    states.stage(b"written", Value("w2"), 0)
    states.stage(b"new", Value("n"), 0)
    states.stage_delete(b"erased", 0)
    assert dict(states.items()) == {b"written": Value("w2"), b"new": Value("n")}
    await states.write_staged()
    assert dict(states.items()) == {b"written": Value("w2"), b"new": Value("n")}
    assert table.data == {b"written": Value("w2"), b"new": Value("n")}
