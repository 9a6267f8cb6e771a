"""Alert quality: precision and recall of every alert type against the simulator's ground truth.

    .venv/bin/python bench/alert_quality.py --customers 1000 --events 50000

Simulates traffic together with the situations it creates on purpose (``touchpoint simulate
--truth``), replays it offline through the same core as the worker (``touchpoint replay``), and
holds the alerts against the situations:

* **precision** of a type: the share of its alerts that name a true situation of that kind;
* **recall**: the share of the situations of that kind that some alert of the type names;
* **volume**: alerts raised per 1,000 simulated customers per simulated day, by severity (a
  status change is not a new alert; an escalation is);
* **closed automatically**: the share of raised alerts whose last record is ``resolved`` by
  ``auto:…``, and the share still open at the end.

How an alert names a situation (per type, in ``MATCH``): by evidence (they share an event id),
else, for the kinds whose alert cannot point at one event, by customer and time window (a
churn is named by a churn-risk alert of that customer from a week before it on; a would-be
advocate by an advocate alert of that customer within the quiet period). Recall counts only
the situations the run could have shown: those at least ``horizon`` before its end (a churn
needs weeks of silence to be seen). ``best_customer_at_risk`` has no situation of its own:
its truth is a complaint, an unhappy score, a long wait or a churn of a customer in the
simulator's top decile of spend at that moment.

``--replayed DIR`` scores an existing replay (its ``alerts.jsonl`` and ``by-customer.jsonl``)
of ``--traffic``/``--truth`` instead, e.g. one made by another version of the product. The
table goes to stdout as Markdown, with the misses and false alarms explained; one summary row
is appended to bench/RESULTS.md (``--no-record``: not).
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import tempfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from common import record

from agents.config import load_config
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from streams.replay import replay
from streams.settings import Settings
from streams.sim import SimulationSpec, Simulator

DAY = timedelta(days=1)
#: The types the stories of the domain brief are about: the targets apply to them.
STORY_TYPES = (
    "after_hours_unanswered",
    "repeat_contact_unresolved",
    "excessive_transfers",
    "long_wait",
    "sales_in_service",
    "service_recovery",
    "usage_pattern_change",
    "advocate_opportunity",
    "churn_risk",
    "best_customer_at_risk",
)
TARGET_PRECISION = 0.9
TARGET_RECALL = 0.95
#: Of best_customer_at_risk's truth: the situations that put a best customer at risk.
AT_RISK_KINDS = ("service_recovery", "long_wait", "churn_risk")
BEST_SHARE = 0.1


@dataclass(frozen=True)
class Match:
    """How alerts of one type are held against situations of its kind."""

    #: Same customer, alert raised within [situation - before, situation + after], counts as naming it.
    before: timedelta | None = None
    after: timedelta = timedelta(0)
    #: Situations closer than this to the end of the run are not counted in recall.
    horizon: timedelta = DAY


MATCH: dict[str, Match] = {
    "after_hours_unanswered": Match(),
    "first_response_breach": Match(),
    "repeat_contact_unresolved": Match(),
    "excessive_transfers": Match(),
    "long_wait": Match(),
    "sales_in_service": Match(),
    "service_recovery": Match(),
    "usage_pattern_change": Match(),
    "advocate_opportunity": Match(before=timedelta(days=90), after=DAY),
    "churn_risk": Match(before=timedelta(days=60), after=timedelta(days=7), horizon=timedelta(days=28)),
    "best_customer_at_risk": Match(before=timedelta(days=60), after=DAY, horizon=timedelta(days=28)),
}


@dataclass
class Situation:
    customer: str
    kind: str
    at: datetime
    evidence: tuple[str, ...]
    details: dict[str, Any]
    #: The customer id the product gave the situation's first event (identifiers hash for an unknown one).
    product_customer: str = ""
    #: The customer ids the product gave the events that explain it (an interrupted question …).
    related_customers: tuple[str, ...] = ()


@dataclass
class Alert:
    alert_id: str
    type: str
    severity: str
    customer_id: str
    detected_at: datetime
    evidence: tuple[str, ...]
    reasons: tuple[str, ...]
    details: dict[str, Any]
    final_status: str = "open"
    final_by: str | None = None


@dataclass
class Score:
    alerts: int = 0
    true_alerts: int = 0
    situations: int = 0
    found: int = 0
    false_alarms: Counter[str] = field(default_factory=Counter)
    misses: Counter[str] = field(default_factory=Counter)

    @property
    def precision(self) -> float | None:
        return self.true_alerts / self.alerts if self.alerts else None

    @property
    def recall(self) -> float | None:
        return self.found / self.situations if self.situations else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--config", type=Path, default=None, help="rules file (default: the defaults)")
    parser.add_argument("--model", type=Path, default=None, help="fitted model parameters")
    parser.add_argument("--traffic", type=Path, default=None, help="score this traffic (with --truth)")
    parser.add_argument("--truth", type=Path, default=None)
    parser.add_argument("--replayed", type=Path, default=None, help="score this replay's output directory")
    parser.add_argument("--label", default="", help="what is measured, for the results row")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tp-quality-") as workdir:
        work = Path(workdir)
        traffic, truth = args.traffic, args.truth
        if traffic is None or truth is None:
            traffic, truth = work / "traffic.jsonl", work / "truth.jsonl"
            simulate(SimulationSpec(customers=args.customers, seed=args.seed), args.events, traffic, truth)
        replayed = args.replayed
        if replayed is None:
            replayed = work / "out"
            salt = Settings.from_env().identity_key
            config = load_config(args.config, args.model)
            tracker = JourneyTracker(config, salt)
            replay(
                traffic, replayed, TouchpointDecoder(identity_salt=salt, identity=config.identity), tracker
            )
        report = evaluate(traffic, truth, replayed, args.customers)
    print(report.markdown())
    if not args.no_record:
        command = f"python bench/alert_quality.py --customers {args.customers} --events {args.events} --seed {args.seed}"
        for flag, value in (("--config", args.config), ("--model", args.model)):
            if value is not None:
                command += f" {flag} {value}"
        record(
            "alert quality",
            f"{args.events:,} simulator records, {args.customers:,} customers, seed {args.seed}"
            + (f"; {args.label}" if args.label else ""),
            report.summary(),
            command,
        )


def simulate(spec: SimulationSpec, events: int, traffic: Path, truth: Path) -> None:
    simulator = Simulator(spec)
    last = 0
    with traffic.open("wb") as handle:
        for instant, value in itertools.islice(simulator.run(), events):
            handle.write(value.replace(b"\n", b" ") + b"\n")
            last = instant
    with truth.open("wb") as handle:
        for situation in simulator.truth.take(last):
            handle.write(situation.encode() + b"\n")


@dataclass
class Report:
    scores: dict[str, Score]
    volume: dict[str, Counter[str]]
    severities: Counter[str]
    raised: int
    auto_closed: int
    operator_closed: int
    still_open: int
    customers: int
    days: float

    def per_day(self, count: int) -> float:
        return count / self.days * 1000 / self.customers

    def markdown(self) -> str:
        lines = [
            f"{self.raised:,} alerts raised over {self.days:.1f} days for {self.customers:,} customers: "
            + ", ".join(
                f"{s} {self.per_day(self.severities[s]):.1f}" for s in ("critical", "warning", "info")
            )
            + " per 1,000 customers per day; "
            + f"closed automatically {self._share(self.auto_closed)}, by an operator {self._share(self.operator_closed)}, "
            + f"open at the end {self._share(self.still_open)}.",
            "",
            "| type | alerts | precision | situations | recall | critical/1k/day | warning/1k/day | info/1k/day |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for kind in sorted(self.volume, key=lambda k: (k not in STORY_TYPES, k)):
            score = self.scores.get(kind, Score())
            counts = self.volume[kind]
            mark = "" if kind in STORY_TYPES else " (not a story)"
            lines.append(
                f"| {kind}{mark} | {sum(counts.values()):,} | {_ratio(score.precision)} | {score.situations:,} | "
                f"{_ratio(score.recall)} | {self.per_day(counts['critical']):.2f} | "
                f"{self.per_day(counts['warning']):.2f} | {self.per_day(counts['info']):.2f} |"
            )
        lines.append("")
        for kind in sorted(self.scores):
            score = self.scores[kind]
            if score.false_alarms or score.misses:
                lines.append(f"- **{kind}**")
                if score.false_alarms:
                    lines.append("  - false alarms: " + _reasons(score.false_alarms))
                if score.misses:
                    lines.append("  - missed: " + _reasons(score.misses))
        return "\n".join(lines)

    def summary(self) -> str:
        story = [k for k in STORY_TYPES if k in self.scores]
        met = [
            k
            for k in story
            if (self.scores[k].precision or 0) >= TARGET_PRECISION
            and (self.scores[k].recall or 0) >= TARGET_RECALL
        ]
        parts = [
            f"{kind} P {_ratio(self.scores[kind].precision)} R {_ratio(self.scores[kind].recall)}"
            for kind in story
        ]
        return (
            f"per 1,000 customers per day: critical {self.per_day(self.severities['critical']):.1f}, "
            f"warning {self.per_day(self.severities['warning']):.1f}, info {self.per_day(self.severities['info']):.1f}; "
            f"closed automatically {self._share(self.auto_closed)}, open at the end {self._share(self.still_open)}; "
            f"targets met by {len(met)} of {len(story)} story types; " + "; ".join(parts)
        )

    def _share(self, count: int) -> str:
        return f"{count / self.raised:.0%}" if self.raised else "n/a"


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _reasons(counts: Counter[str]) -> str:
    return ", ".join(f"{why} {count}" for why, count in counts.most_common(6))


def evaluate(traffic: Path, truth_path: Path, replayed: Path, customers: int) -> Report:
    accepted = replayed / "by-customer.jsonl"
    owners = _owners(accepted)
    times = _event_times(accepted)
    situations = [_situation(line, owners) for line in _lines(truth_path)]
    alerts = _alerts(replayed / "alerts.jsonl")
    start, end = min(times.values()), max(times.values())
    days = (end - start) / DAY
    situations.extend(_best_customer_situations(situations, accepted))
    by_kind: dict[str, list[Situation]] = defaultdict(list)
    for situation in situations:
        by_kind[situation.kind].append(situation)
    alerts_by_type: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        alerts_by_type[alert.type].append(alert)
    scores: dict[str, Score] = {}
    for kind, match in MATCH.items():
        scores[kind] = _score(alerts_by_type.get(kind, []), by_kind.get(kind, []), match, end, owners)
    volume: dict[str, Counter[str]] = defaultdict(Counter)
    severities: Counter[str] = Counter()
    auto = operator = still = 0
    for alert in alerts:
        volume[alert.type][alert.severity] += 1
        severities[alert.severity] += 1
        if alert.final_status == "resolved":
            if (alert.final_by or "").startswith("auto:"):
                auto += 1
            else:
                operator += 1
        else:
            still += 1
    return Report(scores, volume, severities, len(alerts), auto, operator, still, customers, days)


def _score(
    alerts: list[Alert], situations: list[Situation], match: Match, end: datetime, owners: dict[str, str]
) -> Score:
    score = Score()
    by_event: dict[str, list[Situation]] = defaultdict(list)
    by_customer: dict[str, list[Situation]] = defaultdict(list)
    for situation in situations:
        for event_id in situation.evidence:
            by_event[event_id].append(situation)
        by_customer[situation.product_customer].append(situation)
    named: set[int] = set()
    for alert in alerts:
        score.alerts += 1
        hits = [s for event_id in alert.evidence for s in by_event.get(event_id, ())]
        if not hits and match.before is not None:
            hits = [
                s
                for s in by_customer.get(alert.customer_id, ())
                if s.at - match.before <= alert.detected_at <= s.at + match.after
            ]
        if hits:
            score.true_alerts += 1
            named.update(id(s) for s in hits)
        else:
            score.false_alarms[_why_false(alert)] += 1
    for situation in situations:
        if situation.at > end - match.horizon:
            continue
        score.situations += 1
        if id(situation) in named:
            score.found += 1
        else:
            score.misses[_why_missed(situation)] += 1
    return score


def _why_false(alert: Alert) -> str:
    """A short account of a false alarm, for the note: its reasons (or the changed dimensions)."""
    changed = alert.details.get("changed")
    if isinstance(changed, list):
        return "changed " + "+".join(changed)
    if "topic" in alert.details:
        return "repeated topic " + str(alert.details["topic"])
    return "+".join(alert.reasons[:3]) or "no reason"


def _why_missed(situation: Situation) -> str:
    if situation.product_customer.startswith("id:"):
        return "customer known only by an identifier there"
    if any(owner != situation.product_customer for owner in situation.related_customers):
        return "what it interrupted was filed under another identity"
    cause = situation.details.get("cause")
    return str(cause) if cause else "not raised"


def _best_customer_situations(situations: list[Situation], accepted: Path) -> list[Situation]:
    """Situations that put a customer at risk while they were in the top decile of spend among buyers."""
    spend: dict[str, float] = defaultdict(float)
    ranked: list[float] = []  # every buyer's spend so far, sorted
    events = sorted(
        (datetime.fromisoformat(e["occurred_at"]), e["customer_id"], float(e["attributes"]["amount"]))
        for e in _events(accepted)
        if e["type"] == "purchase"
    )
    at_risk = sorted((s for s in situations if s.kind in AT_RISK_KINDS), key=lambda s: s.at)
    found = []
    index = 0
    for situation in at_risk:
        while index < len(events) and events[index][0] <= situation.at:
            _, customer, amount = events[index]
            old = spend[customer]
            if old:
                del ranked[bisect.bisect_left(ranked, old)]
            spend[customer] = old + amount
            bisect.insort(ranked, spend[customer])
            index += 1
        mine = spend.get(situation.customer, 0.0)
        if mine and ranked and mine >= ranked[int(len(ranked) * (1 - BEST_SHARE))]:
            found.append(
                Situation(
                    situation.customer,
                    "best_customer_at_risk",
                    situation.at,
                    situation.evidence,
                    {**situation.details, "cause": situation.kind},
                    situation.product_customer,
                )
            )
    return found


def _situation(line: bytes, owners: dict[str, str]) -> Situation:
    document = orjson.loads(line)
    evidence = tuple(document["evidence"])
    owner = next((owners[e] for e in evidence if e in owners), document["customer"])
    related = tuple(owners[e] for e in document.get("related", ()) if e in owners)
    return Situation(
        document["customer"],
        document["situation"],
        datetime.fromisoformat(document["at"]),
        evidence,
        document["details"],
        owner,
        related,
    )


def _alerts(path: Path) -> list[Alert]:
    """Every raised alert, with its last status."""
    alerts: dict[str, Alert] = {}
    for line in _lines(path):
        document = orjson.loads(line)
        alert_id = document["alert_id"]
        if alert_id not in alerts:
            alerts[alert_id] = Alert(
                alert_id,
                document["type"],
                document["severity"],
                document["customer_id"],
                datetime.fromisoformat(document["detected_at"]),
                tuple(document["evidence"]),
                tuple(document["reasons"]),
                document["details"],
            )
            for item in document["details"].get("items", ()):
                # A digest names each inquiry it lists.
                alerts[alert_id].evidence += tuple(item.get("evidence", ()))
        alert = alerts[alert_id]
        alert.final_status, alert.final_by = document["status"], document["status_changed_by"]
    return list(alerts.values())


def _owners(path: Path) -> dict[str, str]:
    """Event id → the customer id the product filed it under."""
    return {event["event_id"]: event["customer_id"] for event in map(orjson.loads, _lines(path))}


def _event_times(path: Path) -> dict[str, datetime]:
    return {e["event_id"]: datetime.fromisoformat(e["occurred_at"]) for e in _events(path)}


def _events(path: Path) -> Iterator[dict[str, Any]]:
    """The accepted touchpoints of a replay (by-customer.jsonl: valid, normalised, customer id set)."""
    return (orjson.loads(line) for line in _lines(path))


def _lines(path: Path) -> Iterable[bytes]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield line


if __name__ == "__main__":
    main()
