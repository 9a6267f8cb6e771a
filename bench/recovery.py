"""State recovery: one worker rebuilds its customer table from the changelog, and the result is checked.

    .venv/bin/python bench/recovery.py --customers 1000000
    .venv/bin/python bench/recovery.py --customers 1000000 --store rocksdb
    .venv/bin/python bench/recovery.py --customers 20000 --no-record      # a quick end-to-end check

Realistic states come from the offline replay core (`streams.replay`) over simulator traffic
(--pool-events events of --pool-customers customers), run once. Customer i gets a key like the
real ones (``cust-0000042``, or ``id:<kind>:<hash>`` where its pool state belongs to an
anonymous visitor) and --records-per-customer changelog records: older versions (other pool
states) and then its final state, each with the ``partition`` field of its key under Kafka's
default partitioner. Versions of one customer lie a tenth of the log apart, so older versions
of some customers come after the final versions of others, as in a real changelog.

Each restore path (--restore: the worker's env TOUCHPOINT_STATE_RESTORE, ``bulk`` or
``per-record``; ``both`` measures both in the same invocation) gets, per run, a fresh
embedded broker with the changelog topic `touchpoint-customer_to_state-changelog` (4
partitions, as the worker would create it), produced from one aiokafka producer in explicit
batches (the produce time is printed, not part of the result); then one worker with a fresh
data dir (deadlines on event time only, so nothing changes a state after recovery). Measured:

* recovery: Faust's "Highwater for active changelog partitions" to "Recovery complete" in the
  worker's log (the first recovery that read the changelog), as customers/s and records/s;
* ready: from starting the worker process to its /ready (start-up, group join, recovery and
  the journey's rebuild of timers and gauges over the table);
* the worker's peak RSS (VmHWM) once ready.

Then exactness, which fails the benchmark (exit status 1) when anything differs: the table key
gauge equals --customers, the customers-per-stage gauge equals the stages of the final states,
and --sample random customers read through the worker's /customers/{id} equal their final state
(every field but the model's reading, which depends on the day).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import murmur2
from common import record

from agents.config import default_config
from agents.domain.state import CustomerState
from agents.ingest.decode import TouchpointDecoder
from agents.ingest.identity import derived_customer_id
from agents.journey.track import JourneyTracker
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import Recovery, WorkerFailed, WorkerProcess
from streams.replay import replay
from streams.settings import Settings
from streams.sim import SimulationSpec, generate

APP_ID = "touchpoint"
TABLE = "customer_to_state"
CHANGELOG = f"{APP_ID}-{TABLE}-changelog"
PARTITIONS = Settings().partitions
RESTORES = ("bulk", "per-record")
#: Deterministic work: deadlines fire on event time only, and no event arrives, so no state changes.
RULES = "[deadlines]\nwall_clock_sweep = false\n"
#: Bytes per producer batch: large batches, few requests.
BATCH_BYTES = 256 * 1024
#: Seconds between progress lines while waiting for the worker.
PROGRESS_S = 30.0


def partition_of(key: bytes) -> int:
    """The partition of a customer key on every customer-keyed topic (the Kafka client's default)."""
    return int(murmur2(key) & 0x7FFFFFFF) % PARTITIONS


@dataclass
class Workload:
    """The changelog to produce and the state it must recover to; keys and records built on demand."""

    customers: int
    records_per_customer: int
    #: Pool customer ids (what kind of key each pool state belongs to) and their states.
    pool_ids: list[str]
    pool: list[CustomerState]
    #: Pool state index → partition → encoded state with that partition field.
    encoded: list[list[bytes]]
    #: Customer → pool index of its final state; customer * (R - 1) + version → pool index of an older one.
    final: array[int]
    older: array[int]
    #: Customer → partition of its key.
    partitions: array[int]
    salt: bytes
    #: The expected customers per stage, from the final states.
    stages: Counter[str] = field(default_factory=Counter)

    @property
    def records(self) -> int:
        return self.customers * self.records_per_customer

    def key(self, customer: int) -> str:
        pool_id = self.pool_ids[self.final[customer]]
        if pool_id.startswith("id:"):
            kind = pool_id.split(":")[1]
            return derived_customer_id({kind: f"bench-{customer}"}, self.salt)
        return f"cust-{customer:07d}"

    def expected(self, customer: int) -> CustomerState:
        return CustomerState.decode(self.encoded[self.final[customer]][self.partitions[customer]])

    def log(self) -> Iterator[tuple[bytes, int, bytes]]:
        """(key, partition, value) in changelog order: customer i's version v at slot i + v * stride."""
        versions = self.records_per_customer
        stride = max(1, self.customers // 10)
        for slot in range(self.customers + (versions - 1) * stride):
            for version in range(versions):
                customer = slot - version * stride
                if not 0 <= customer < self.customers:
                    continue
                partition = self.partitions[customer]
                index = (
                    self.final[customer]
                    if version == versions - 1
                    else self.older[customer * (versions - 1) + version]
                )
                yield self.key(customer).encode(), partition, self.encoded[index][partition]


def build_workload(args: argparse.Namespace) -> Workload:
    salt = Settings.from_env().identity_key
    started = time.perf_counter()
    print(
        f"building the state pool: replay of {args.pool_events:,} simulator events"
        f" ({args.pool_customers:,} customers) …",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as workdir:
        source = Path(workdir) / "traffic.jsonl"
        spec = SimulationSpec(customers=args.pool_customers, seed=args.seed)
        with source.open("wb") as handle:
            for value in itertools.islice(generate(spec), args.pool_events):
                handle.write(value.replace(b"\n", b" ") + b"\n")
        summary = replay(
            source,
            Path(workdir) / "out",
            TouchpointDecoder(identity_salt=salt),
            JourneyTracker(default_config(), salt),
        )
    pool_ids = sorted(summary.states)
    pool = [summary.states[customer_id] for customer_id in pool_ids]
    encoded = []
    for state in pool:
        by_partition = []
        for partition in range(PARTITIONS):
            state.partition = partition
            by_partition.append(state.encode())
        encoded.append(by_partition)
    sizes = sorted(len(e[0]) for e in encoded)
    print(
        f"  {len(pool):,} pool states in {time.perf_counter() - started:.1f}s: median {sizes[len(sizes) // 2]:,} B,"
        f" max {sizes[-1]:,} B; {sum(i.startswith('id:') for i in pool_ids):,} anonymous (id:…) keys",
        flush=True,
    )
    rng = random.Random(args.seed)
    count = len(pool)
    final = array("I", (rng.randrange(count) for _ in range(args.customers)))
    # Older versions: other pool states than the final one.
    older = array(
        "I",
        (
            (final[customer] + 1 + rng.randrange(max(count - 1, 1))) % count
            for customer in range(args.customers)
            for _ in range(args.records_per_customer - 1)
        ),
    )
    workload = Workload(
        customers=args.customers,
        records_per_customer=args.records_per_customer,
        pool_ids=pool_ids,
        pool=pool,
        encoded=encoded,
        final=final,
        older=older,
        partitions=array("B"),
        salt=salt,
    )
    workload.partitions = array("B", (partition_of(workload.key(i).encode()) for i in range(args.customers)))
    # The worker counts customers per stage; a key with no stage (an identifier's record alone) is no customer.
    workload.stages = Counter(pool[index].stage for index in final if pool[index].stage)
    return workload


@dataclass
class Produced:
    records: int
    bytes: int
    seconds: float
    #: Partition → records written (offsets 0 .. n-1 on the fresh topic).
    per_partition: dict[int, int]


async def produce(bootstrap: str, workload: Workload) -> Produced:
    """Create the changelog topic with the worker's partition count, then send the whole log."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(CHANGELOG, PARTITIONS, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        linger_ms=20,
        max_batch_size=BATCH_BYTES,
        acks=1,
        request_timeout_ms=120_000,
    )
    await producer.start()
    partitions = await producer.partitions_for(CHANGELOG)
    if partitions != set(range(PARTITIONS)):
        await producer.stop()
        raise SystemExit(f"{CHANGELOG} has partitions {sorted(partitions)}, expected 0..{PARTITIONS - 1}")
    started = time.perf_counter()
    per_partition = dict.fromkeys(range(PARTITIONS), 0)
    size = 0
    pending: list[asyncio.Future[Any]] = []
    batches = {p: producer.create_batch() for p in range(PARTITIONS)}
    step = max(workload.records // 10, 100_000)
    try:
        for number, (key, partition, value) in enumerate(workload.log(), 1):
            batch = batches[partition]
            if batch.append(key=key, value=value, timestamp=None) is None:
                pending.append(await producer.send_batch(batch, CHANGELOG, partition=partition))
                batch = batches[partition] = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise SystemExit(f"a record of {len(value):,} B does not fit a {BATCH_BYTES:,} B batch")
            per_partition[partition] += 1
            size += len(key) + len(value)
            if number % step == 0:
                print(f"  produced {number:,} of {workload.records:,} records", flush=True)
                await asyncio.gather(*pending)
                pending.clear()
        for partition, batch in batches.items():
            if batch.record_count():
                pending.append(await producer.send_batch(batch, CHANGELOG, partition=partition))
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return Produced(sum(per_partition.values()), size, time.perf_counter() - started, per_partition)


@dataclass
class Result:
    restore: str
    recovery_s: float
    ready_s: float
    #: "Recovery complete" → the journey's rebuild over the table logged its end.
    rebuild_s: float | None
    records: int
    customers: int
    rss_mb: float
    recoveries: int

    @property
    def customers_per_s(self) -> float:
        return self.customers / max(self.recovery_s, 1e-3)

    @property
    def records_per_s(self) -> float:
        return self.records / max(self.recovery_s, 1e-3)


class NotExact(SystemExit):
    """The recovered state differs from what was written."""


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}


def _status_kb(pid: int | None, name: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{name}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _last_log_line(worker: WorkerProcess) -> str:
    lines = [line for line in worker.log_tail(20).splitlines() if line.startswith("[")]
    return lines[-1][:160] if lines else "(nothing logged yet)"


def wait_ready(worker: WorkerProcess, limit: float) -> None:
    """Block until the worker is ready, printing progress; exit with its log's tail otherwise."""
    started = time.monotonic()
    while True:
        try:
            worker.wait_ready(timeout=PROGRESS_S)
            return
        except WorkerFailed as exc:
            elapsed = time.monotonic() - started
            if not _alive(worker.pid) or elapsed >= limit:
                raise SystemExit(
                    f"worker not ready after {elapsed:.0f}s ({worker.log_path}): {exc}"
                ) from None
            rss = _status_kb(worker.pid, "VmRSS") / 1024
            print(
                f"  waiting for recovery: {elapsed:.0f}s, worker RSS {rss:,.0f} MB; {_last_log_line(worker)}",
                flush=True,
            )


def _journey_rebuilt_at(worker: WorkerProcess, after: float) -> float | None:
    """When the journey's recovery hook logged its end ("journey: N customers …"), first after *after*."""
    try:
        lines = worker.log_path.read_text("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in lines:
        if "] journey: " in line and " customers, " in line:
            at = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if at >= after:
                return at
    return None


def _first_full_recovery(worker: WorkerProcess) -> tuple[Recovery, int]:
    recoveries = worker.recoveries()
    reading = [r for r in recoveries if any(topic == CHANGELOG for topic, _ in r.ranges)]
    if not reading:
        raise SystemExit(
            f"no completed recovery that read {CHANGELOG} in {worker.log_path}"
            f" ({len(recoveries)} completed recoveries; is the worker logging at info level, and does"
            " the restore path log Faust's 'Highwater for active changelog partitions' and 'Recovery complete'?)"
        )
    return reading[0], len(recoveries)


def check_metrics(worker: WorkerProcess, workload: Workload) -> None:
    metrics = worker.metrics()
    keys = metrics.get(f'touchpoint_table_keys{{table="{TABLE}"}}')
    if keys != workload.customers:
        raise NotExact(f"NOT EXACT: touchpoint_table_keys is {keys}, expected {workload.customers:,}")
    prefix = 'touchpoint_customers{stage="'
    gauges = {name[len(prefix) : -2]: value for name, value in metrics.items() if name.startswith(prefix)}
    stages = set(gauges) | set(workload.stages)
    wrong = {
        s: (gauges.get(s, 0.0), workload.stages.get(s, 0))
        for s in stages
        if gauges.get(s, 0.0) != workload.stages.get(s, 0)
    }
    if wrong:
        details = ", ".join(
            f"{s}: {got:,.0f} (expected {want:,})" for s, (got, want) in sorted(wrong.items())
        )
        raise NotExact(f"NOT EXACT: customers per stage differ: {details}")


def _fetch(worker: WorkerProcess, customer_id: str) -> dict[str, Any]:
    url = f"{worker.base_url}/customers/{urllib.parse.quote(customer_id, safe='')}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            document: dict[str, Any] = orjson.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise NotExact(f"NOT EXACT: GET {url} answered {exc.code}: {exc.read()[:200]!r}") from None
    return document


def check_sample(worker: WorkerProcess, workload: Workload, sample: int, seed: int) -> int:
    """Compare *sample* random customers' states read through the worker with the final states."""
    # Customers only: an identifier's record alone answers 404 there (it names its customer instead).
    draw = random.Random(seed).sample(range(workload.customers), workload.customers)
    chosen = list(itertools.islice((c for c in draw if workload.expected(c).is_profile), sample))
    for customer in chosen:
        customer_id = workload.key(customer)
        got = _fetch(worker, customer_id)
        got.pop("model", None)
        expected = orjson.loads(
            orjson.dumps({"customer_id": customer_id, **workload.expected(customer).to_json()})
        )
        if got != expected:
            fields = sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))
            shown = "; ".join(f"{k}: got {got.get(k)!r}, expected {expected.get(k)!r}" for k in fields[:5])
            raise NotExact(f"NOT EXACT: customer {customer_id} differs in {', '.join(fields)}: {shown}")
    return len(chosen)


def one_path(args: argparse.Namespace, workload: Workload, restore: str, run: int) -> tuple[Result, int]:
    """One fresh broker and worker for *restore*: produce, recover, measure, check; (result, sampled)."""
    env = {"TOUCHPOINT_STATE_RESTORE": restore, "TOUCHPOINT_STORE": args.store}
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as workdir, EmbeddedBroker() as broker:
        rules = Path(workdir) / "rules.toml"
        rules.write_text(RULES)
        print(
            f"run {run} {restore}: producing {workload.records:,} changelog records for"
            f" {workload.customers:,} customers …",
            flush=True,
        )
        produced = asyncio.run(produce(broker.bootstrap, workload))
        print(
            f"  produced {produced.records:,} records ({produced.bytes / 1e6:,.0f} MB) in {produced.seconds:.1f}s"
            f" ({produced.records / max(produced.seconds, 1e-3):,.0f} records/s; not part of the result)",
            flush=True,
        )
        worker = WorkerProcess(
            broker.url,
            free_port(),
            Path(workdir) / "worker",
            app_id=APP_ID,
            extra_env=env,
            extra_args=["--config", str(rules), "--log-level", "info"],
        )
        print(f"  worker (TOUCHPOINT_STATE_RESTORE={restore}, store {args.store}) recovering …", flush=True)
        started = time.monotonic()
        worker.start()
        try:
            wait_ready(worker, args.ready_timeout)
            ready_s = time.monotonic() - started
            rss_mb = _status_kb(worker.pid, "VmHWM") / 1024
            recovery, completed = _first_full_recovery(worker)
            rebuilt = _journey_rebuilt_at(worker, recovery.ended_at)
            read = {
                p: last - first + 1
                for (topic, p), (first, last) in recovery.ranges.items()
                if topic == CHANGELOG
            }
            if read != {p: n for p, n in produced.per_partition.items() if n}:
                print(
                    f"  note: recovery read {read} records per partition, produced {produced.per_partition}",
                    flush=True,
                )
            result = Result(
                restore=restore,
                recovery_s=recovery.seconds,
                ready_s=ready_s,
                rebuild_s=None if rebuilt is None else rebuilt - recovery.ended_at,
                records=sum(read.values()),
                customers=workload.customers,
                rss_mb=rss_mb,
                recoveries=completed,
            )
            print(f"  {describe(result)}; checking exactness …", flush=True)
            check_metrics(worker, workload)
            sampled = check_sample(worker, workload, args.sample, seed=args.seed + run)
            print(
                f"  exact: {workload.customers:,} keys, stage counts, {sampled:,} sampled states equal",
                flush=True,
            )
            return result, sampled
        finally:
            worker.stop()
            kept = _keep_log(worker, args.log_dir, f"{restore}-run{run}")
            if kept is not None:
                print(f"  worker log kept in {kept}", flush=True)


def _keep_log(worker: WorkerProcess, log_dir: Path | None, name: str) -> Path | None:
    """Copy the worker's log out of the temporary directory: into *log_dir*, or to /tmp on a failure."""
    failing = sys.exc_info()[0] is not None
    if log_dir is None and not failing:
        return None
    directory = log_dir or Path(tempfile.gettempdir())
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"recovery-{name}-{os.getpid()}.log"
    try:
        shutil.copyfile(worker.log_path, target)
    except OSError:
        return None
    return target


def describe(result: Result) -> str:
    rebuild = "" if result.rebuild_s is None else f", then {result.rebuild_s:.1f} s of journey rebuild"
    extra = f"; {result.recoveries} recoveries completed" if result.recoveries > 1 else ""
    return (
        f"recovery {result.recovery_s:.1f} s → {result.customers_per_s:,.0f} customers/s"
        f" ({result.records_per_s:,.0f} records/s){rebuild}, ready after {result.ready_s:.1f} s,"
        f" peak RSS {result.rss_mb:,.0f} MB{extra}"
    )


def _median_row(restore: str, results: list[Result]) -> str:
    rate = statistics.median(r.customers_per_s for r in results)
    records = statistics.median(r.records_per_s for r in results)
    seconds = statistics.median(r.recovery_s for r in results)
    ready = statistics.median(r.ready_s for r in results)
    rss = statistics.median(r.rss_mb for r in results)
    runs = f" (runs: {', '.join(f'{r.recovery_s:.1f}' for r in results)} s)" if len(results) > 1 else ""
    return (
        f"{restore} {seconds:.1f} s → {rate:,.0f} customers/s ({records:,.0f} records/s){runs},"
        f" ready after {ready:.1f} s, peak RSS {rss:,.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--records-per-customer", type=int, default=2, help="changelog records per customer")
    parser.add_argument("--store", choices=("memory", "rocksdb"), default="memory")
    parser.add_argument("--restore", choices=(*RESTORES, "both"), default="both")
    parser.add_argument("--runs", type=int, default=1, help="runs per restore path; medians are reported")
    parser.add_argument(
        "--sample", type=int, default=2000, help="customers read back through /customers/{id}"
    )
    parser.add_argument("--pool-events", type=int, default=40_000, help="simulator events for the state pool")
    parser.add_argument("--pool-customers", type=int, default=2_000, help="simulator customers for the pool")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--ready-timeout", type=float, default=1800, help="seconds a worker may take to become ready"
    )
    parser.add_argument(
        "--log-dir",
        type=Path,
        default=None,
        help="keep each worker's log here (default: only on a failure, in /tmp)",
    )
    parser.add_argument("--no-record", action="store_true", help="do not append to bench/RESULTS.md")
    args = parser.parse_args()
    if args.customers < 1 or args.records_per_customer < 1 or args.runs < 1:
        parser.error("--customers, --records-per-customer and --runs must be at least 1")
    restores = RESTORES if args.restore == "both" else (args.restore,)
    workload = build_workload(args)
    results: dict[str, list[Result]] = {restore: [] for restore in restores}
    sampled = 0
    try:
        for run in range(1, args.runs + 1):
            # Alternate the order, so neither path always runs on a machine warmed up by the other.
            for restore in restores if run % 2 else tuple(reversed(restores)):
                result, sampled = one_path(args, workload, restore, run)
                results[restore].append(result)
    except NotExact as exc:
        raise SystemExit(f"{exc}\n(recovery is not exact: no result recorded)") from None
    parts = [_median_row(restore, results[restore]) for restore in restores]
    if len(restores) == 2:
        bulk = statistics.median(r.customers_per_s for r in results["bulk"])
        per_record = statistics.median(r.customers_per_s for r in results["per-record"])
        parts.append(f"bulk/per-record {bulk / per_record:.2f}×")
    parts.append(
        f"exact: {args.customers:,} keys, stage counts, {sampled:,} sampled states equal"
        f"{' in every run' if args.runs > 1 or len(restores) > 1 else ''}"
    )
    summary = "; ".join(parts)
    print(summary)
    if not args.no_record:
        mean_bytes = statistics.fmean(len(workload.encoded[i][0]) for i in workload.final)
        workload_text = (
            f"{args.customers:,} customers × {args.records_per_customer} changelog records"
            f" ({workload.records:,} records, final states {mean_bytes:,.0f} B on average, from"
            f" {args.pool_events:,} simulator events replayed); 1 worker, fresh data dir, store {args.store}"
        )
        command = (
            f"python bench/recovery.py --customers {args.customers} --records-per-customer"
            f" {args.records_per_customer} --store {args.store} --restore {args.restore} --runs {args.runs}"
            f" --sample {args.sample} --pool-events {args.pool_events} --pool-customers {args.pool_customers}"
            f" --seed {args.seed}"
        )
        record("state recovery", workload_text, summary, command)


if __name__ == "__main__":
    main()
