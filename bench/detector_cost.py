"""Cost per event of all detectors, and each detector's alert rate, on the simulator's default traffic.

    .venv/bin/python bench/detector_cost.py --events 100000 --runs 3

Decodes the traffic once, then tracks it in event-time order with the journey core
twice per run, in the same process: all detectors on, and all off. The cost is the
difference in microseconds per event (median of the runs); the alert rates are new
alerts per 1,000 accepted events, by type, with every rule and the lifecycle running.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
from collections import Counter

from common import record

from agents.config import default_config
from agents.domain.state import CustomerState
from agents.ingest.decode import Accepted, TouchpointDecoder
from agents.journey.deadlines import DeadlineIndex
from agents.journey.track import JourneyTracker
from streams.settings import Settings
from streams.sim import SimulationSpec, generate


def run(events: list[Accepted], tracker: JourneyTracker) -> tuple[float, Counter[str]]:
    states: dict[str, CustomerState] = {}
    index = DeadlineIndex()
    raised: Counter[str] = Counter()
    lateness = int(tracker.config.deadlines.allowed_lateness_seconds)
    watermark = 0
    started = time.perf_counter()
    for item in events:
        step = tracker.track(states.get(item.customer_id), item.customer_id, item.event, 0)
        if step.duplicate:
            continue
        states[item.customer_id] = step.state
        raised.update(alert.type for alert in step.alerts if alert.status_changed_at is None)
        index.schedule(0, item.customer_id.encode(), step.state.wake_at)
        watermark = max(watermark, step.instant)
        for key, _ in index.pop_due(0, watermark - lateness):
            state = states[key.decode()]
            fired = tracker.advance(state, key.decode(), watermark - lateness)
            raised.update(alert.type for alert in fired.alerts if alert.status_changed_at is None)
            index.schedule(0, key, state.wake_at)
    return (time.perf_counter() - started) / len(events) * 1e6, raised


def arguments(description: str | None) -> argparse.Namespace:
    """--events, --runs and --no-record, shared by the benchmarks of the journey core."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-record", action="store_true")
    return parser.parse_args()


def simulated_events(count: int, salt: bytes) -> list[Accepted]:
    """The first *count* simulator records, decoded once, accepted ones in event-time order."""
    decoder = TouchpointDecoder(identity_salt=salt)
    outcomes = (decoder(r) for r in itertools.islice(generate(SimulationSpec()), count))
    return sorted((o for o in outcomes if isinstance(o, Accepted)), key=lambda o: o.occurred_at)


def main() -> None:
    args = arguments(__doc__)
    salt = Settings.from_env().identity_key
    events = simulated_events(args.events, salt)
    with_all, without, rates = [], [], Counter[str]()
    for _ in range(args.runs):
        on = JourneyTracker(default_config(), salt)
        off = JourneyTracker(default_config(), salt)
        off.detection.detectors = []
        cost_on, rates = run(events, on)
        cost_off, _ = run(events, off)
        with_all.append(cost_on)
        without.append(cost_off)
    extra = statistics.median(a - b for a, b in zip(with_all, without, strict=True))
    print(
        f"{len(events):,} accepted events; journey + SLA {statistics.median(without):.1f} µs/event, "
        f"with all detectors {statistics.median(with_all):.1f} µs/event: detectors cost {extra:.1f} µs/event"
    )
    per_thousand = {kind: count * 1000 / len(events) for kind, count in sorted(rates.items())}
    for kind, rate in per_thousand.items():
        print(f"  {kind:<28} {rates[kind]:>6,} alerts  {rate:6.2f} per 1,000 events")
    if not args.no_record:
        summary = ", ".join(f"{kind} {rate:.2f}" for kind, rate in per_thousand.items())
        record(
            "detector cost",
            f"{len(events):,} accepted simulator events (default spec)",
            f"all detectors {extra:.1f} µs/event (journey + SLA alone {statistics.median(without):.1f} µs/event); "
            f"alerts per 1,000 events: {summary}",
            f"python bench/detector_cost.py --events {args.events} --runs {args.runs}",
        )


if __name__ == "__main__":
    main()
