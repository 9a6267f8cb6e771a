"""What the trust checks cost per event: the pure core (decode, track, partition clock) against a baseline.

    .venv/bin/python bench/trust_cost.py --events 50000 --runs 5 --against fbdc8a7

Times the work a worker does per raw record in its own code — decode (validation,
normalisation, the future bound), the journey step (exact deduplication, the age
bound) and the partition clock — over simulator records, in a fresh process per run.
With --against REV the same loop runs on that commit (checked out into a temporary
git worktree) in alternating runs, so both figures come from the same minutes of the
same machine; the difference is the cost of what changed. Also times the new checks
alone: event-id and content digests, the partition clock, NFC normalisation.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from common import ROOT, record

#: Runs in a child process with the tree under test first on sys.path; prints µs per event as JSON.
CHILD = textwrap.dedent(
    """
    import gc, itertools, json, sys, time
    from agents.config import default_config
    from agents.ingest.decode import Accepted, TouchpointDecoder
    from agents.journey.track import JourneyTracker
    from streams.sim import SimulationSpec, generate

    events = int(sys.argv[1])
    records = list(itertools.islice(generate(SimulationSpec(customers=events // 50, seed=5)), events))
    salt = b"bench"
    config = default_config()
    decoder = TouchpointDecoder(identity_salt=salt)
    try:
        from agents.journey.watermark import PartitionClock
        clock = PartitionClock(config.time.watermark_quorum)
        observe = clock.observe
    except ImportError:  # the baseline: the newest event seen
        newest = [0]
        def observe(customer, instant):
            newest[0] = max(newest[0], instant)
            return newest[0]
    received = time.time()
    tracker = JourneyTracker(config, salt)
    gc.disable()
    started = time.perf_counter()
    decoded = []
    for raw in records:
        try:
            outcome = decoder(raw, received)
        except TypeError:  # the baseline decoder takes no record timestamp
            outcome = decoder(raw)
        decoded.append(outcome)
    decode_seconds = time.perf_counter() - started
    states = {}
    started = time.perf_counter()
    for outcome in decoded:
        if isinstance(outcome, Accepted):
            step = tracker.track(states.get(outcome.customer_id), outcome.customer_id, outcome.event, 0)
            states[outcome.customer_id] = step.state
            if not step.duplicate:
                observe(outcome.customer_id, step.instant)
    track_seconds = time.perf_counter() - started
    print(json.dumps({"decode": decode_seconds / events * 1e6, "track": track_seconds / events * 1e6}))
    """
)

#: The new checks alone, on the tree under test.
PARTS = textwrap.dedent(
    """
    import itertools, json, sys, time, unicodedata
    from agents.config import default_config
    from agents.ingest.decode import Accepted, TouchpointDecoder
    from agents.journey.admission import content_digest
    from agents.journey.track import JourneyTracker
    from agents.journey.watermark import PartitionClock
    from streams.sim import SimulationSpec, generate

    events = int(sys.argv[1])
    records = list(itertools.islice(generate(SimulationSpec(customers=events // 50, seed=5)), events))
    decoder = TouchpointDecoder(identity_salt=b"bench")
    accepted = [o for o in map(decoder, records) if isinstance(o, Accepted)]
    tracker = JourneyTracker(default_config(), b"bench")
    def per_event(work):
        started = time.perf_counter()
        for outcome in accepted:
            work(outcome)
        return (time.perf_counter() - started) / len(accepted) * 1e6
    clock = PartitionClock(2)
    print(json.dumps({
        "event-id digest": per_event(lambda o: tracker.event_digest(o.event["event_id"])),
        "content digest": per_event(lambda o: content_digest(o.event)),
        "partition clock": per_event(lambda o: clock.observe(o.customer_id, int(o.occurred_at.timestamp()))),
        "NFC of customer id": per_event(lambda o: unicodedata.normalize("NFC", o.customer_id)),
    }))
    """
)


def run_child(source: Path, script: str, events: int) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", script, str(events)],
        capture_output=True,
        text=True,
        check=True,
        cwd=source,
        env={"PYTHONPATH": str(source), "PATH": "/usr/bin:/bin"},
    )
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--against", default=None, help="A commit to compare with, in alternating runs.")
    args = parser.parse_args()
    current: list[dict[str, float]] = []
    baseline: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="trust-cost-") as tmp:
        other = Path(tmp) / "baseline"
        if args.against:
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(other), args.against],
                cwd=ROOT,
                check=True,
                capture_output=True,
            )
        try:
            for _ in range(args.runs):
                current.append(run_child(ROOT, CHILD, args.events))
                if args.against:
                    baseline.append(run_child(other, CHILD, args.events))
            parts = run_child(ROOT, PARTS, args.events)
        finally:
            if args.against:
                subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, check=False)

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(run[key] for run in runs)

    lines = [
        f"this tree: decode {median(current, 'decode'):.1f} µs/record, track {median(current, 'track'):.1f}"
    ]
    result = lines[0]
    if baseline:
        decode_delta = median(current, "decode") - median(baseline, "decode")
        track_delta = median(current, "track") - median(baseline, "track")
        lines.append(
            f"{args.against}: decode {median(baseline, 'decode'):.1f} µs/record, track {median(baseline, 'track'):.1f}"
        )
        lines.append(
            f"difference: decode {decode_delta:+.1f} µs, track {track_delta:+.1f} µs, "
            f"total {decode_delta + track_delta:+.1f} µs per record (medians of {args.runs} alternating runs)"
        )
        result = "; ".join(lines)
    checks = ", ".join(f"{name} {value:.2f} µs" for name, value in parts.items())
    lines.append(f"the new checks alone, per accepted event: {checks}")
    result += f"; the new checks alone: {checks}"
    print("\n".join(lines))
    record(
        "trust checks cost",
        f"{args.events:,} simulator records, pure core in one process (no broker), GC off",
        result,
        f"python bench/trust_cost.py --events {args.events} --runs {args.runs}"
        + (f" --against {args.against}" if args.against else ""),
    )


if __name__ == "__main__":
    main()
