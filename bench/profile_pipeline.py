"""Where the worker's CPU goes per record, and what Faust's logging set-up costs.

    .venv/bin/python bench/profile_pipeline.py --events 30000 --rounds 1

Needs py-spy (``pip install py-spy``). Two parts, each on a fresh embedded broker with
--events simulator records pre-produced to `touchpoints`, as in bench/pipeline_vs_references.py:

1. Profile: one worker, sampled by ``py-spy record --nonblocking --gil`` (the thread holding the GIL: Python CPU work) from its first processed
   record to its last; every log record the worker creates is counted by logger, level and
   message (bench/hooks/sitecustomize.py). Samples are put in exclusive categories (the first
   rule that matches a sample's stack wins: logging, the benchmark's own /metrics scrapes, the
   producer's request path, changelog writes, output sends, our decode, our journey core, …)
   and converted to CPU µs per raw record with the worker's measured CPU time.
2. Variants, --rounds times each: the worker as it is, and with its root logger (DEBUG, as
   Faust's worker sets it for its terminal spinner, so every debug call builds a LogRecord; or
   WARNING) and Faust's producer linger (0, Faust's default: about one produce request per
   record; or 5 ms) forced both ways. Worker and broker CPU µs per record, medians.

With --native, py-spy also unwinds native frames (blocking sampling, which --native needs): the
compiled core's functions (mypyc's ``CPyDef_<module>___<function>``) are counted as ours, and own
time goes to the innermost Python or compiled function, not to the interpreter's C functions.
Without it, a compiled core is invisible: its time lands on the Python frame that called it.

Writes the summary to bench/PROFILE.md (regenerated; notes after its notes marker are kept) and,
with --keep, the raw samples next to it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from common import COMPILED_PREFIXES, ROOT
from harness import (
    FAUST_DEBUG_ROOT,
    LINGER_5MS,
    NO_LINGER,
    WARNING_ROOT,
    Span,
    Stream,
    hooked_env,
    measure_worker,
    preproduce,
    simulator_records,
    worker_config,
)

from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerProcess

#: Everything after this line in --out is kept when the file is regenerated.
NOTES = "<!-- notes: kept when this file is regenerated -->"
PROFILE = ROOT / "bench" / "PROFILE.md"

#: Operations, by priority: a sample whose stack passes through one of these frames is charged to it.
OPERATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging: LogRecords built for debug calls", ("(logging/", "mode/utils/logging", "sitecustomize.py")),
    ("the benchmark's /metrics scrapes (measurement, not product)", ("streams/web.py", "(aiohttp/")),
    (
        "producer requests: batches encoded, written to the socket, responses (aiokafka sender)",
        ("aiokafka/producer/sender.py",),
    ),
    ("table changelog writes (table[key] = state)", ("Table.on_key_set", "send_changelog")),
    (
        "output and changelog sends: DirectTopic.send / Faust Topic.send → aiokafka accumulator",
        (
            "Topic.send (",
            "publish_message",
            "faust/transport/producer.py",
            "aiokafka/producer/",
            "streams/runtime/direct.py",
            "streams/runtime/outbox.py",
        ),
    ),
    ("ingest decode, validate, normalise (ours)", ("TouchpointDecoder", "(agents/ingest/decode.py")),
    (
        "journey core: state, lifecycle, SLAs, detectors, identity (ours)",
        (
            "JourneyTracker",
            "JourneyStep",  # a compiled step's functions (CPyDef_step___JourneyStep___…)
            # The step around the tracker (identity, erasure, deadlines), not the Faust agent beside it.
            "(agents/journey/step.py",
            "(agents/identity/",
        ),
    ),
    ("prometheus counters and histograms (ours)", ("prometheus_client/",)),
)
#: Otherwise the deepest frame of one of these packages owns the sample (stdlib frames are skipped).
OWNERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "agents' own code: JSON, dedupe, deadlines, alert encoding (ours)",
        ("(agents/", "(streams/", "(schemas/", *COMPILED_PREFIXES),
    ),
    ("Faust: streams, agents, conductor, consumer hand-off", ("(faust/",)),
    ("aiokafka: fetcher, client, connections", ("(aiokafka/",)),
    ("mode: services, timers, threads", ("(mode/",)),
)
LOOP_CALLBACK = "Handle._run (asyncio/events.py"
ROOT_FRAMES = (
    "<frozen runpy>",
    "(click/",
    "streams/cli/",
    "streams/worker.py",
    "mode/worker.py",
    "mode/threads.py",
)
OTHER = "asyncio event loop (callbacks, tasks, select) and other"


@dataclass
class Profile:
    span: Span
    samples: Counter[str]
    log_counts: list[dict[str, object]]
    #: What py-spy sampled.
    sampled: str
    #: The worker's garbage-collector passes (bench/hooks: TOUCHPOINT_BENCH_GC_TIMES), if written.
    collector: dict[str, Any] | None = None


def _worker(broker: EmbeddedBroker, workdir: Path, env: dict[str, str]) -> WorkerProcess:
    return WorkerProcess(broker.url, free_port(), workdir, extra_env=hooked_env(env)).start()


def profile(records: list[bytes], stream: Stream, rate: int, gil: bool, native: bool = False) -> Profile:
    spy_bin = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory(prefix="tp-bench-") as tmp, EmbeddedBroker() as broker:
        workdir = Path(tmp)
        preproduce(broker.bootstrap, records)
        counts = workdir / "log-counts.json"
        raw = workdir / "samples.txt"
        collector = workdir / "gc-times.json"
        env = {"TOUCHPOINT_BENCH_LOG_COUNTS": str(counts), "TOUCHPOINT_BENCH_GC_TIMES": str(collector)}
        worker = _worker(broker, workdir / "worker", env)
        spy: list[subprocess.Popen[bytes]] = []

        def start_spy() -> None:
            command = [spy_bin, "record", "--pid", str(worker.pid), "--format", "raw", "--threads"]
            command += ["--native"] if native else ["--nonblocking"]
            command += ["--rate", str(rate), "--output", str(raw)]
            if gil:
                command.append("--gil")
            spy.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        try:
            span = measure_worker(worker, stream, broker.pid, on_start=start_spy)
        finally:
            for process in spy:
                process.send_signal(signal.SIGINT)
                process.wait(60)
            worker.stop()
        samples: Counter[str] = Counter()
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            samples[stack] += int(count)
        log_counts = json.loads(counts.read_text()) if counts.exists() else []
        sampled = "the thread holding the GIL" if gil else "every running thread (waits for the CPU included)"
        passes = json.loads(collector.read_text()) if collector.exists() else None
        return Profile(span, samples, log_counts, sampled, passes)


#: Worker variants compared per record: the worker as it is, and the two logging and linger settings
#: forced both ways (so the comparison holds whatever the worker's own defaults are).
FAUST_DEFAULTS = "Faust's defaults: root logger DEBUG, linger 0"
VARIANTS: dict[str, dict[str, str]] = {
    "as it is": {},
    FAUST_DEFAULTS: {**FAUST_DEBUG_ROOT, **NO_LINGER},
    "root logger WARNING, linger 0": {**WARNING_ROOT, **NO_LINGER},
    "root logger DEBUG, linger 5 ms": {**FAUST_DEBUG_ROOT, **LINGER_5MS},
    "root logger WARNING, linger 5 ms": {**WARNING_ROOT, **LINGER_5MS},
}


@dataclass
class Variant:
    spans: list[Span]
    #: Log records the worker created per raw record (start-up included), one per run.
    log_records: list[float]


def _log_records(path: Path) -> float:
    return sum(int(row["count"]) for row in json.loads(path.read_text())) if path.exists() else 0.0


def compare(records: list[bytes], stream: Stream, runs: int) -> dict[str, Variant]:
    """Each variant once per round on a fresh broker, in rotating order."""
    results = {name: Variant([], []) for name in VARIANTS}
    names = list(VARIANTS)
    for number in range(runs):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            with tempfile.TemporaryDirectory(prefix="tp-bench-") as tmp, EmbeddedBroker() as broker:
                preproduce(broker.bootstrap, records)
                counts = Path(tmp) / "log-counts.json"
                env = {**VARIANTS[name], "TOUCHPOINT_BENCH_LOG_COUNTS": str(counts)}
                worker = _worker(broker, Path(tmp) / "worker", env)
                try:
                    span = measure_worker(worker, stream, broker.pid)
                finally:
                    worker.stop()
                logs = _log_records(counts) / stream.records
            results[name].spans.append(span)
            results[name].log_records.append(logs)
            print(
                f"  {name}: {span.rate:,.0f} records/s, worker {span.cpu_us:.0f} µs CPU/record,"
                f" broker {span.other_cpu_us:.0f} µs, {logs:.1f} log records per record",
                flush=True,
            )
    return results


def categorise(samples: Counter[str]) -> Counter[str]:
    """Each sample to one category: the first operation on its stack, else the owner of its deepest frame."""
    shares: Counter[str] = Counter()
    for stack, count in samples.items():
        frames = stack.split(";")[1:]  # the first is the thread
        # Only what runs inside an event-loop callback: the frames below it are the same for every sample.
        # (py-spy's non-blocking samples are sometimes cut short above the loop: then drop the known roots.)
        runs = [i for i, frame in enumerate(frames) if frame.startswith(LOOP_CALLBACK)]
        if runs:
            frames = frames[runs[-1] + 1 :]
        else:
            frames = [f for f in frames if not any(r in f for r in ROOT_FRAMES)]
        name = next((n for n, patterns in OPERATIONS if any(p in f for f in frames for p in patterns)), None)
        if name is None:
            name = next(
                (
                    n
                    for frame in reversed(frames)
                    for n, patterns in OWNERS
                    if any(p in frame for p in patterns)
                ),
                OTHER,
            )
        shares[name] += count
    return shares


def _callable(frame: str) -> bool:
    """A Python function's frame or a compiled one's (mypyc), not one of the interpreter's C functions."""
    return ".py:" in frame or frame.startswith(COMPILED_PREFIXES)


def _own(frames: list[str]) -> str:
    """The frame a sample's own time goes to: the innermost Python or compiled function."""
    return next((frame for frame in reversed(frames) if _callable(frame)), frames[-1])


def _frame(text: str) -> str:
    return text.replace("|", "\\|")


def _collector(passes: dict[str, Any] | None) -> list[str]:
    """The garbage collector's share of the worker's CPU, from bench/hooks' timing of its passes."""
    if passes is None:
        return []
    seconds, counts = passes["seconds"], passes["passes"]
    spent = sum(seconds)
    generations = ", ".join(
        f"{name} {count:,} passes {time:.2f} s"
        for name, count, time in zip(("young", "middle", "full"), counts, seconds, strict=True)
    )
    return [
        "## Garbage collector",
        "",
        f"The worker's whole run, start-up included, thresholds {tuple(passes['thresholds'])}: {generations};"
        f" {spent:.2f} s of the process's {passes['process_seconds']:.1f} s of CPU"
        f" ({spent / max(passes['process_seconds'], 1e-9):.1%}). Objects frozen out of every pass: {passes['frozen']:,}.",
    ]


def summary(prof: Profile, variants: dict[str, Variant], stream: Stream, command: str) -> str:
    total = sum(prof.samples.values())
    cpu_us = prof.span.cpu_us
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    for stack, count in prof.samples.items():
        frames = stack.split(";")
        threads[frames[0].split(": ", 1)[-1]] += count
        leaf[_own(frames)] += count
        for frame in {frame for frame in frames[1:] if _callable(frame)}:
            inclusive[frame] += count
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    logs_total = sum(int(str(r["count"])) for r in prof.log_counts)
    by_level: Counter[str] = Counter()
    by_message: Counter[tuple[str, str, str]] = Counter()
    for row in prof.log_counts:
        by_level[str(row["level"])] += int(str(row["count"]))
        by_message[(str(row["logger"]), str(row["level"]), str(row["message"]))] += int(str(row["count"]))
    lines = [
        "# Worker profile",
        "",
        f"Generated by `{command}` on {datetime.now(UTC):%Y-%m-%d}, commit {commit or '-'},"
        f" {os.cpu_count()} cores (shared: other work was running). Regenerate with the same command.",
        "",
        f"Workload: {stream.records:,} simulator records ({stream.mean_bytes:.0f} B mean, {stream.customers:,}"
        f" customers) pre-produced to `touchpoints`; one worker (ingest → journey → all detectors → every"
        f" output) on the embedded broker; {worker_config()}. Profiled span: {prof.span.records:,.0f} records in"
        f" {prof.span.seconds:.1f} s = {prof.span.rate:,.0f} records/s; worker CPU {cpu_us:.0f} µs per record"
        f" ({prof.span.system_seconds / max(prof.span.cpu_seconds, 1e-9):.0%} of it in the kernel), broker"
        f" {prof.span.other_cpu_us:.0f} µs per record. py-spy: {total:,} samples of {prof.sampled}"
        " (µs below = share × the worker's CPU µs per record).",
        "",
        "## Where the time goes (exclusive categories)",
        "",
        "| category | share | µs per record |",
        "| --- | ---: | ---: |",
    ]
    for name, count in categorise(prof.samples).most_common():
        lines.append(f"| {name} | {count / total:.1%} | {count / total * cpu_us:.0f} |")
    lines += ["", "Threads: " + ", ".join(f"{t} {c / total:.1%}" for t, c in threads.most_common()), ""]
    lines += ["## Top frames by own time", "", "| own | frame |", "| ---: | --- |"]
    lines += [f"| {c / total:.1%} | `{_frame(f)}` |" for f, c in leaf.most_common(25)]
    lines += ["", "## Top frames including callees (below the event loop)", "", "| total | frame |"]
    lines += ["| ---: | --- |"]
    skip = ("(asyncio/", "(click/", "<frozen runpy>", "streams/cli/", "streams/worker.py", "mode/worker.py")
    shown = [(f, c) for f, c in inclusive.most_common() if not any(s in f for s in skip)]
    lines += [f"| {c / total:.1%} | `{_frame(f)}` |" for f, c in shown[:30]]
    lines += ["", *_collector(prof.collector)]
    lines += [
        "",
        "## Logging",
        "",
    ]
    if logs_total:
        lines += [
            f"Log records the worker created during the whole run (start-up included): {logs_total:,}, that"
            f" is {logs_total / stream.records:.1f} per raw record ("
            + ", ".join(f"{lv} {c:,}" for lv, c in by_level.most_common())
            + "). Most frequent:",
            "",
            "| records | per raw record | logger | level | message |",
            "| ---: | ---: | --- | --- | --- |",
        ]
        lines += [
            f"| {c:,} | {c / stream.records:.2f} | {n} | {lv} | `{_frame(m)}` |"
            for (n, lv, m), c in by_message.most_common(12)
        ]
    else:
        lines.append(
            "The worker created no log record during the whole run: its root logger stays at its level, so"
            " debug calls stop at `isEnabledFor`. The variants below count them under Faust's set-up."
        )
    if variants and all(v.spans for v in variants.values()):
        base = statistics.median(s.cpu_us for s in variants[FAUST_DEFAULTS].spans)
        lines += [
            "",
            "## Variants: the logging and linger settings",
            "",
            f"{len(variants[FAUST_DEFAULTS].spans)} worker(s) each on a fresh broker, same records, rotating"
            " order. Faust's worker sets the root logger to DEBUG for its terminal spinner, even at"
            " `-l warning`; the root level is forced here by bench/hooks. The linger is Faust's"
            " `producer_linger`, forced by its environment variable `PRODUCER_LINGER` (Faust's default is"
            " 0). Log records are counted by the hook (about 0.5 µs each, included).",
            "",
            "| worker | records/s (median) | worker CPU µs/record (median) | vs Faust's defaults"
            " | broker CPU µs/record | log records per record | runs (worker µs) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for name, variant in variants.items():
            spans = variant.spans
            cpu = statistics.median(s.cpu_us for s in spans)
            lines.append(
                f"| {name} | {statistics.median(s.rate for s in spans):,.0f} | {cpu:.0f} | {cpu - base:+.0f} |"
                f" {statistics.median(s.other_cpu_us for s in spans):.0f} |"
                f" {statistics.median(variant.log_records):.1f} | "
                + ", ".join(f"{s.cpu_us:.0f}" for s in spans)
                + " |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--rounds", type=int, default=1, help="runs of each worker variant (0: none)")
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument(
        "--all-threads",
        action="store_true",
        help="sample every running thread, not only the one holding the GIL (counts waits for CPU too)",
    )
    parser.add_argument(
        "--native",
        action="store_true",
        help="also sample native frames: the compiled core's functions (blocking sampling)",
    )
    parser.add_argument("--out", type=Path, default=PROFILE)
    parser.add_argument("--keep", action="store_true", help="also write the raw samples beside --out")
    args = parser.parse_args()
    records, stream = simulator_records(args.events, seed=1)
    prof = profile(records, stream, args.rate, gil=not args.all_threads, native=args.native)
    print(f"profiled: {prof.span.rate:,.0f} records/s, {prof.span.cpu_us:.0f} µs CPU/record", flush=True)
    variants = compare(records, stream, args.rounds) if args.rounds else {}
    command = f"python bench/profile_pipeline.py --events {args.events} --rounds {args.rounds}"
    command += " --native" if args.native else ""
    text = summary(prof, variants, stream, command)
    # Hand-written notes below the marker survive a regeneration.
    previous = args.out.read_text() if args.out.exists() else ""
    if NOTES in previous:
        text += "\n" + NOTES + previous.split(NOTES, 1)[1]
    args.out.write_text(text)
    if args.keep:
        samples = args.out.with_suffix(".samples.txt")
        samples.write_text("".join(f"{s} {c}\n" for s, c in prof.samples.items()))
    print(text)


if __name__ == "__main__":
    main()
