"""Identity resolution against the simulator's ground truth: one person, one profile?

    .venv/bin/python bench/identity_quality.py                      # 100,000 records, 2,000 customers
    .venv/bin/python bench/identity_quality.py --events 50000 --customers 1000
    .venv/bin/python bench/identity_quality.py --traffic in.jsonl --persons persons.jsonl

Generates simulator traffic together with the person who made each event (the side file of
``touchpoint simulate --persons``; households share a tablet), replays it through the worker's
core (``touchpoint replay``) and compares where each event ended up with who made it. Where the
rules file has an ``identity`` section, the same traffic is replayed twice in the same run, with
identity resolution off (events keyed by their strongest identifier, as before it existed) and on,
so the throughput cost is a same-run ratio.

Where an event ends up: the profile it was applied to (the customer id of its enriched event),
followed through every merge on ``identity.merges`` (merges.jsonl) to the profile that holds it at
the end. The person of a profile named by a customer id is the person whose events carry that id;
of an anonymous profile, the person who made most of its events. A person's home is their customer
profile once any event names their customer id (an *identified* person), else the profile holding
most of their events.

- profiles per person: the final profiles holding an identified person's events, averaged (target
  ≤ 1.02). Persons who never identify are counted beside it: their identifiers (a device, an e-mail
  a newsletter went to) never appear together in one event, so nothing can join them;
- attributed right: events whose final profile is their person's home (target ≥ 99 %);
- false merges: merges into a customer of a profile whose events are mostly another person's (target 0);
  beside it, merged profiles holding any other person's event at all;
- alerts on an identified hash: alerts raised on an anonymous profile ``id:<kind>:<hash>`` after an
  event naming a customer had claimed that very identifier (target 0); beside it, alerts raised on an
  anonymous profile of a person who was a known customer by then through any identifier;
- throughput: replay records/s with and without identity resolution, and their ratio.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from common import record

from agents.config import config_from_mapping, config_schema
from agents.ingest.decode import TouchpointDecoder
from agents.ingest.identity import derived_customer_id, normalise_identifier
from agents.journey.track import JourneyTracker
from streams.replay import replay
from streams.settings import Settings
from streams.sim import SimulationSpec, generate_with_persons

#: Files of a replay's output directory this benchmark reads.
ENRICHED, ALERTS, MERGES = "enriched.jsonl", "alerts.jsonl", "merges.jsonl"


@dataclass
class Quality:
    """What one replay made of the traffic, against the ground truth."""

    label: str
    records: int = 0
    seconds: float = 0.0
    events: int = 0
    anonymous: int = 0
    persons: int = 0
    #: Persons some event names by their customer id: the ones identity resolution can join.
    identified: int = 0
    profiles: int = 0
    #: Over identified persons; over every person (some never identify, and nothing links their identifiers).
    profiles_per_person: float = 0.0
    profiles_per_any_person: float = 0.0
    best_profiles_per_person: float = 0.0
    split_persons: int = 0
    unidentified_split: int = 0
    attributed_right: int = 0
    #: Right under the best possible resolution: every identifier joined to its first claimant from the start.
    best_attributed_right: int = 0
    identified_events: int = 0
    identified_right: int = 0
    merges: int = 0
    false_merges: int = 0
    #: Anonymous profiles mostly another person's than their identifier's first claimant: false under any rule
    #: that joins an identifier to the customer who claims it.
    forced_false_merges: int = 0
    mixed_merges: int = 0
    customer_merges: int = 0
    alerts_raised: int = 0
    alerts_on_hashes: int = 0
    alerts_on_linked_hash: int = 0
    alerts_on_known_person: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--traffic", type=Path, help="a JSONL file to measure instead of simulator traffic")
    parser.add_argument("--persons", type=Path, help="its ground truth (touchpoint simulate --persons)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    if (args.traffic is None) != (args.persons is None):
        parser.error("--traffic and --persons go together")
    salt = Settings.from_env().identity_key
    with tempfile.TemporaryDirectory(prefix="tp-identity-") as workdir:
        work = Path(workdir)
        if args.traffic is None:
            traffic, persons = work / "traffic.jsonl", work / "persons.jsonl"
            spec = SimulationSpec(customers=args.customers, seed=args.seed)
            write_traffic(spec, args.events, traffic, persons)
            workload = f"{args.events:,} simulator records, {args.customers:,} customers, seed {args.seed}"
        else:
            traffic, persons = args.traffic, args.persons
            workload = f"{traffic.name} ({sum(1 for _ in traffic.open('rb')):,} records)"
        truth = read_persons(persons)
        modes = [("without identity", {"identity": {"enabled": False}}), ("with identity", {})]
        if "identity" not in config_schema()["properties"]:
            modes = [("no identity resolution", {})]
        results = []
        for label, rules in modes:
            out = work / label.replace(" ", "-")
            config = config_from_mapping(rules)
            decoder = TouchpointDecoder(identity_salt=salt, identity=config.identity)
            summary = replay(traffic, out, decoder, JourneyTracker(config, salt))
            quality = measure(label, traffic, out, truth, salt)
            quality.records, quality.seconds = summary.records, summary.seconds
            results.append(quality)
    print(table(results))
    if not args.no_record:
        record("identity quality", workload, summary_line(results), command_line(args))


def write_traffic(spec: SimulationSpec, events: int, traffic: Path, persons: Path) -> None:
    """The first *events* records of *spec*, and who made each event (as ``touchpoint simulate --persons``)."""
    seen: set[str] = set()
    with traffic.open("wb") as out, persons.open("wb") as truth:
        for raw, person in itertools.islice(generate_with_persons(spec), events):
            out.write(raw.replace(b"\n", b" ") + b"\n")
            if person is not None:
                event_id = orjson.loads(raw)["event_id"]
                if event_id not in seen:
                    seen.add(event_id)
                    truth.write(orjson.dumps({"event_id": event_id, "person": person}) + b"\n")


def read_persons(path: Path) -> dict[str, str]:
    return {(row := orjson.loads(line))["event_id"]: row["person"] for line in path.read_bytes().splitlines()}


def lines(path: Path) -> Iterator[dict[str, Any]]:
    if path.exists():
        for line in path.read_bytes().splitlines():
            yield orjson.loads(line)


def measure(label: str, traffic: Path, out: Path, truth: dict[str, str], salt: bytes) -> Quality:
    quality = Quality(label)
    # Who each customer id is, and when each identifier was first claimed by an event naming a customer.
    customer_person: dict[str, Counter[str]] = defaultdict(Counter)
    claimed_at: dict[str, float] = {}
    first_claimant: dict[str, tuple[float, str]] = {}
    known_since: dict[str, float] = {}
    for raw in traffic.read_bytes().splitlines():
        try:
            event = orjson.loads(raw)
            person = truth.get(event["event_id"])
            customer = event.get("customer_id")
            at = datetime.fromisoformat(event["occurred_at"]).timestamp()
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            continue
        if person is None or not isinstance(customer, str):
            continue
        customer_person[customer.strip()][person] += 1
        known_since[person] = min(known_since.get(person, at), at)
        for kind, value in (event.get("identifiers") or {}).items():
            try:
                key = derived_customer_id({kind: normalise_identifier(kind, value)}, salt)
            except (ValueError, TypeError):
                continue
            claimed_at[key] = min(claimed_at.get(key, at), at)
            first_claimant[key] = min(first_claimant.get(key, (at, customer.strip())), (at, customer.strip()))
    owner = {customer: counts.most_common(1)[0][0] for customer, counts in customer_person.items()}

    # Where each event was applied, then where that profile ended up through the merges.
    applied: dict[str, str] = {}
    for enriched in lines(out / ENRICHED):
        touchpoint = enriched["touchpoint"]
        applied.setdefault(touchpoint["event_id"], touchpoint["customer_id"])
    merged_into: dict[str, str] = {}
    merges = [merge for merge in lines(out / MERGES)]
    for merge in merges:
        if merge.get("action", "merge") == "merge":
            merged_into[merge["from"]] = merge["into"]
        else:
            merged_into.pop(merge["from"], None)

    def final(profile: str) -> str:
        seen = set()
        while profile in merged_into and profile not in seen:
            seen.add(profile)
            profile = merged_into[profile]
        return profile

    events_of: dict[str, Counter[str]] = defaultdict(Counter)  # profile as applied → persons
    profiles_of: dict[str, set[str]] = defaultdict(set)  # person → final profiles
    final_events: dict[str, Counter[str]] = defaultdict(Counter)  # final profile → persons
    # The best any resolution could do on this traffic: every link it makes, known from its first event.
    best_of: dict[str, set[str]] = defaultdict(set)
    best_events: dict[str, Counter[str]] = defaultdict(Counter)  # person → profiles at best
    for event_id, profile in applied.items():
        person = truth.get(event_id)
        if person is None:
            continue
        best_of[person].add(first_claimant.get(profile, (0, profile))[1])
        best_events[person][first_claimant.get(profile, (0, profile))[1]] += 1
        quality.events += 1
        quality.anonymous += profile.startswith("id:")
        events_of[profile][person] += 1
        end = final(profile)
        profiles_of[person].add(end)
        final_events[end][person] += 1

    def person_of(profile: str) -> str | None:
        if profile in owner:
            return owner[profile]
        counts = final_events.get(profile) or events_of.get(profile)
        return counts.most_common(1)[0][0] if counts else None

    # A person's home: their customer profile once any event names them; else where most of their events are.
    home: dict[str, str] = {}
    for customer, person in owner.items():
        if customer_person[customer][person] > customer_person.get(home.get(person, ""), Counter())[person]:
            home[person] = customer
    identified = set(home) & set(profiles_of)
    for unplaced, profiles in profiles_of.items():
        if unplaced not in home:
            home[unplaced] = max(profiles, key=lambda profile: (final_events[profile][unplaced], profile))
    quality.persons = len(profiles_of)
    quality.identified = len(identified)
    quality.profiles = len(final_events)
    quality.profiles_per_person = sum(len(profiles_of[p]) for p in identified) / max(len(identified), 1)
    quality.profiles_per_any_person = sum(map(len, profiles_of.values())) / max(len(profiles_of), 1)
    quality.best_profiles_per_person = sum(len(best_of[p]) for p in identified) / max(len(identified), 1)
    quality.split_persons = sum(1 for p in identified if len(profiles_of[p]) > 1)
    quality.unidentified_split = sum(
        1 for p, profiles in profiles_of.items() if p not in identified and len(profiles) > 1
    )
    for person, counts in best_events.items():
        best_home = home[person] if person in identified else counts.most_common(1)[0][0]
        quality.best_attributed_right += counts[best_home]
    for profile, persons in events_of.items():
        if profile in first_claimant and persons.most_common(1)[0][0] != owner.get(
            first_claimant[profile][1]
        ):
            quality.forced_false_merges += 1
    for profile, persons in final_events.items():
        for person, count in persons.items():
            right = count if home[person] == profile else 0
            quality.attributed_right += right
            if person in identified:
                quality.identified_events += count
                quality.identified_right += right

    for merge in merges:
        if merge.get("action", "merge") != "merge":
            continue
        quality.merges += 1
        into = person_of(final(merge["into"]))
        held = events_of.get(merge["from"], Counter())
        quality.customer_merges += not merge["from"].startswith("id:")
        if held and held.most_common(1)[0][0] != into:
            quality.false_merges += 1
        if any(person != into for person in held):
            quality.mixed_merges += 1

    for alert in lines(out / ALERTS):
        if alert["status"] != "open" or alert.get("status_changed_at"):
            continue  # only raisings: a status change, a republished merge, is not a new alert
        if (alert.get("details") or {}).get("merged_from"):
            continue
        quality.alerts_raised += 1
        customer = alert["customer_id"]
        if not customer.startswith("id:"):
            continue
        quality.alerts_on_hashes += 1
        raised = datetime.fromisoformat(alert["detected_at"]).timestamp()
        if claimed_at.get(customer, float("inf")) < raised:
            quality.alerts_on_linked_hash += 1
        named = person_of(customer)
        if named is not None and known_since.get(named, float("inf")) < raised:
            quality.alerts_on_known_person += 1
    return quality


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f} %" if whole else "-"


def table(results: list[Quality]) -> str:
    rows: list[tuple[str, Callable[[Quality], str]]] = [
        ("records replayed", lambda q: f"{q.records:,}"),
        ("events applied (with ground truth)", lambda q: f"{q.events:,}"),
        ("applied to an anonymous profile", lambda q: f"{q.anonymous:,} ({percent(q.anonymous, q.events)})"),
        (
            "persons (identified: some event names their customer id)",
            lambda q: f"{q.persons:,} ({q.identified:,})",
        ),
        ("profiles at the end", lambda q: f"{q.profiles:,}"),
        ("profiles per identified person (≤ 1.02)", lambda q: f"{q.profiles_per_person:.3f}"),
        (
            "  the best possible on this traffic (every link it makes, known at once)",
            lambda q: f"{q.best_profiles_per_person:.3f}",
        ),
        (
            "  identified persons split over several profiles",
            lambda q: f"{q.split_persons:,} ({percent(q.split_persons, q.identified)})",
        ),
        ("  profiles per person, every person", lambda q: f"{q.profiles_per_any_person:.3f}"),
        ("  never identified and split (nothing links them)", lambda q: f"{q.unidentified_split:,}"),
        ("events attributed to the right person (≥ 99 %)", lambda q: percent(q.attributed_right, q.events)),
        ("  of identified persons", lambda q: percent(q.identified_right, q.identified_events)),
        (
            "  the best possible on this traffic (every link it makes, known at once)",
            lambda q: percent(q.best_attributed_right, q.events),
        ),
        ("merges", lambda q: f"{q.merges:,}"),
        ("false merges (0)", lambda q: f"{q.false_merges:,}"),
        (
            "  anonymous profiles mostly another's than their first claimant's (false if ever joined)",
            lambda q: f"{q.forced_false_merges:,}",
        ),
        ("  merged profiles holding another person's event", lambda q: f"{q.mixed_merges:,}"),
        ("  merges of a customer id into another", lambda q: f"{q.customer_merges:,}"),
        ("alerts raised", lambda q: f"{q.alerts_raised:,}"),
        (
            "  naming an anonymous hash",
            lambda q: f"{q.alerts_on_hashes:,} ({percent(q.alerts_on_hashes, q.alerts_raised)})",
        ),
        ("  whose identifier was linked before (0)", lambda q: f"{q.alerts_on_linked_hash:,}"),
        ("  of a person already known by any identifier", lambda q: f"{q.alerts_on_known_person:,}"),
        ("replay records/s", lambda q: f"{q.rate:,.0f}"),
    ]
    header = "| | " + " | ".join(q.label for q in results) + " |"
    lines_ = [header, "| --- |" + " --- |" * len(results)]
    lines_.extend(f"| {name} | " + " | ".join(cell(q) for q in results) + " |" for name, cell in rows)
    if len(results) == 2:
        off, on = results
        lines_.append(f"\nthroughput with identity / without, same run: {on.rate / off.rate:.3f}×")
    return "\n".join(lines_)


def summary_line(results: list[Quality]) -> str:
    parts = []
    for q in results:
        parts.append(
            f"{q.label}: {q.profiles_per_person:.3f} profiles per identified person ({q.split_persons:,} of "
            f"{q.identified:,} split; best possible {q.best_profiles_per_person:.3f}; every person "
            f"{q.profiles_per_any_person:.3f}, {q.profiles:,} profiles), "
            f"{percent(q.attributed_right, q.events)} of events attributed right (best possible "
            f"{percent(q.best_attributed_right, q.events)}), {q.merges:,} merges, {q.false_merges} false "
            f"({q.forced_false_merges} forced by the traffic, {q.mixed_merges} holding another person's event), "
            f"{q.alerts_on_hashes:,} of {q.alerts_raised:,} alerts on a hash ({q.alerts_on_linked_hash} after "
            f"its identifier was linked, {q.alerts_on_known_person} of a known person), {q.rate:,.0f} records/s"
        )
    if len(results) == 2:
        parts.append(f"throughput with/without identity {results[1].rate / results[0].rate:.3f}×")
    return "; ".join(parts)


def command_line(args: argparse.Namespace) -> str:
    if args.traffic is not None:
        return f"python bench/identity_quality.py --traffic {args.traffic} --persons {args.persons}"
    return f"python bench/identity_quality.py --events {args.events} --customers {args.customers} --seed {args.seed}"


if __name__ == "__main__":
    main()
