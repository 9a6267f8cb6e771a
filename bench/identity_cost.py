"""What identity resolution costs per event: the pure core with it on and off, by kind of event.

    .venv/bin/python bench/identity_cost.py --events 50000 --runs 5

Times (CPU time of the thread, so that a busy machine does not count) the work a worker does in its own code per raw record — decode (with the claims and the
placeholder check), the journey step, and whatever the step sends on (a touchpoint routed to its
customer, a claim, a profile merging into its customer, applied at once as replay does) — over
simulator records (no malformed ones), with ``identity.enabled`` on and off in alternating runs of the same process,
so both figures come from the same minutes of the same machine. Events are timed one by one and
summed by kind:

- identified: the event names its customer and carries no identifier (most traffic);
- identified with identifiers: it names its customer and claims what it carries (log-ins);
- anonymous: identifiers only (routed to its customer once linked, else to its own profile).

Beside the CPU time, the records identity adds to ``touchpoints.by-customer`` per raw record
(claims, routed touchpoints, profiles merging in): each is one more consume for the worker, the
larger cost on a live worker (about 90 µs per consume in Faust, bench/send_cost.py).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import statistics
import time
from collections import Counter, deque
from typing import Any

import orjson
from common import record

from agents.config import config_from_mapping
from agents.domain.identity import Forward
from agents.domain.state import CustomerState
from agents.ingest.decode import Accepted, TouchpointDecoder
from agents.journey.step import JourneyStep
from agents.journey.track import JourneyTracker
from streams.sim import SimulationSpec, generate

KINDS = ("identified", "identified with identifiers", "anonymous")


def kind_of(event: dict[str, Any]) -> str:
    if "customer_id" not in event:
        return KINDS[2]
    return KINDS[1] if event.get("identifiers") else KINDS[0]


def run(records: list[bytes], enabled: bool) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """(ns per kind, events per kind, records sent on by kind) for one pass over *records*."""
    salt = b"bench"
    config = config_from_mapping({"identity": {"enabled": enabled}})
    decoder = TouchpointDecoder(identity_salt=salt, identity=config.identity)
    states: dict[str, CustomerState] = {}
    step = JourneyStep(JourneyTracker(config, salt), lambda key: states.get(key.decode()))
    waiting: deque[Forward] = deque()
    spent: Counter[str] = Counter()
    counted: Counter[str] = Counter()
    sent: Counter[str] = Counter()
    kinds = [kind_of(orjson.loads(raw)) for raw in records]
    gc.disable()
    try:
        for raw, kind in zip(records, kinds, strict=True):
            started = time.thread_time_ns()
            outcome = decoder(raw)
            if isinstance(outcome, Accepted):
                changes = [step.touchpoint(outcome.customer_id.encode(), 0, outcome.event)]
                changes.extend(step.due(0))
                changes.extend(step.identity(claim.key.encode(), 0, claim) for claim in outcome.claims)
                sent["claims"] += len(outcome.claims)
                while changes:
                    change = changes.pop()
                    if change.refused is None and change.cause != "routed":
                        states[change.key.decode()] = change.state
                    waiting.extend(change.outputs.forwards)
                    while waiting:
                        forward = waiting.popleft()
                        if forward.touchpoint is not None:
                            sent["routed"] += 1
                            changes.append(step.touchpoint(forward.key.encode(), 0, forward.touchpoint))
                        elif forward.control is not None:
                            sent["merging"] += 1
                            changes.append(step.identity(forward.key.encode(), 0, forward.control))
            spent[kind] += time.thread_time_ns() - started
            counted[kind] += 1
    finally:
        gc.enable()
    return spent, counted, sent


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    spec = SimulationSpec(customers=max(100, args.events // 50), seed=5, malformed_share=0.0)
    records = list(itertools.islice(generate(spec), args.events))
    per_kind: dict[bool, dict[str, list[float]]] = {True: {}, False: {}}
    totals: dict[bool, list[float]] = {True: [], False: []}
    sent: Counter[str] = Counter()
    counted: Counter[str] = Counter()
    for number in range(args.runs):
        for enabled in (False, True) if number % 2 == 0 else (True, False):
            spent, counted, extra = run(records, enabled)
            for kind in KINDS:
                per_kind[enabled].setdefault(kind, []).append(spent[kind] / max(counted[kind], 1) / 1000)
            totals[enabled].append(sum(spent.values()) / max(sum(counted.values()), 1) / 1000)
            if enabled:
                sent = extra
    lines = []
    for kind in KINDS:
        off, on = statistics.median(per_kind[False][kind]), statistics.median(per_kind[True][kind])
        share = 100 * counted[kind] / max(sum(counted.values()), 1)
        lines.append(f"{kind} ({share:.1f} % of events): {off:.1f} → {on:.1f} µs ({on - off:+.1f})")
    off, on = statistics.median(totals[False]), statistics.median(totals[True])
    lines.append(f"all events: {off:.1f} → {on:.1f} µs ({on - off:+.1f}, {on / off:.3f}×)")
    added = {name: count / len(records) for name, count in sent.items()}
    lines.append(
        "records identity adds to touchpoints.by-customer per raw record: "
        + ", ".join(f"{name} {value:.4f}" for name, value in sorted(added.items()))
        + f" (total {sum(added.values()):.4f})"
    )
    for line in lines:
        print(line)
    if not args.no_record:
        record(
            "identity cost",
            f"{args.events:,} simulator records, pure core in one process (no broker), GC off; "
            f"identity off → on, medians of {args.runs} alternating runs, CPU µs per event",
            "; ".join(lines),
            f"python bench/identity_cost.py --events {args.events} --runs {args.runs}",
        )


if __name__ == "__main__":
    main()
