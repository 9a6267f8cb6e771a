"""One customer's journey, decided: a touchpoint, the passing of time, an operator's action.

``JourneyTracker`` composes the concepts of ``agents/journey/`` and ``agents/alerts/`` for one
customer's state: which touchpoints it takes (admission), folding each into the state, the
first-response cases, the lifecycle stage, the detectors, the alert gate, and what the state
keeps (retention) and when it next needs the clock (wake-ups). ``track`` is called for every
touchpoint, ``advance`` when a deadline comes due, ``act`` for an operator's action; each mutates
the state it is given and returns what to publish. ``agents.journey.step.JourneyStep`` runs it
for a whole partition, the same way in the live worker and in ``touchpoint replay``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from agents import lifecycle
from agents.alerts import moves
from agents.alerts.actions import AlertActions
from agents.alerts.closing import Closing
from agents.alerts.gating import AlertGate
from agents.alerts.sla_cases import FirstResponseCases
from agents.config import Config
from agents.detectors.churn_risk import Models
from agents.detectors.registry import build_detectors
from agents.domain.identity import MergeIn, Unmerge
from agents.domain.instants import DAY, sooner, stated_offset
from agents.domain.outputs import Outputs, Transition
from agents.domain.refusal import Rejected
from agents.domain.state import CustomerState
from agents.identity.merging import MAX_LEDGER, Ledger, combine, subtract
from agents.identity.resolution import IdentityResolver
from agents.journey import erasure
from agents.journey.admission import Admission, Duplicate
from agents.journey.detection import Detection
from agents.journey.enriched import ModelView, encode_enriched
from agents.journey.folding import Folding, cents
from agents.journey.retention import forget_old
from agents.models.customer import CustomerModel
from agents.models.population import CLV_HISTORY, FixedThreshold, PopulationThreshold

__all__ = ["INACTIVITY", "MERGE", "SPLIT", "WIN_BACK", "JourneyTracker", "Step"]

#: The cause of a transition that time alone made (no touchpoint).
INACTIVITY: Final = "inactivity"
#: The cause of a lapsed customer's purchase: a win-back.
WIN_BACK: Final = "win_back"
#: The causes of a transition an identity change made: an anonymous profile merged in, or split off.
MERGE: Final = "merge"
SPLIT: Final = "split"


@dataclass(slots=True)
class Step(Outputs):
    """The outcome of tracking one event."""

    state: CustomerState = field(default_factory=CustomerState)
    duplicate: bool = False
    #: The enriched event to publish (None for a duplicate).
    enriched: bytes | None = None
    #: Amount in a currency without a configured rate.
    unpriced: bool = False
    #: The event's own instant (epoch seconds); the partition's watermark follows it.
    instant: int = 0

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py).
    def __init__(
        self,
        state: CustomerState | None = None,
        duplicate: bool = False,
        enriched: bytes | None = None,
        unpriced: bool = False,
        instant: int = 0,
        refused: Rejected | None = None,
    ) -> None:
        Outputs.__init__(self, refused=refused)
        self.state = CustomerState() if state is None else state
        self.duplicate = duplicate
        self.enriched = enriched
        self.unpriced = unpriced
        self.instant = instant


class JourneyTracker:
    """The pure core of the journey agent for one customer at a time, configured once."""

    def __init__(self, config: Config, identity_salt: bytes) -> None:
        self.config = config
        self._salt = identity_salt
        self._admission = Admission(
            identity_salt,
            window=config.state.dedupe_window,
            max_future_skew=config.time.max_future_skew,
            max_event_age=config.time.max_event_age,
        )
        self._folding = Folding(config)
        self._lifecycle = config.lifecycle
        self._tiers = [(tier.min_value, tier.name) for tier in reversed(config.value_tiers)]
        self._lateness = int(config.deadlines.allowed_lateness_seconds)
        self._retain_days = config.alerts.retain_days
        settings = config.model
        self.model = CustomerModel(
            settings.params,
            clv_periods=settings.clv_periods,
            clv_period_days=settings.clv_period_days,
            discount_rate=settings.discount_rate,
        )
        best = settings.best_customers
        #: The population's threshold learns each boundary's value as it is known (agents/coordination/coordinator.py).
        self.best_customers = (
            FixedThreshold(best.fixed)
            if best.fixed is not None
            else PopulationThreshold(round(best.every_hours * 3600), round(best.effective_after_hours * 3600))
        )
        self.model.best_customers = self.best_customers
        self._stages = (
            lifecycle.ModelStages(self.model, settings.at_risk_below, settings.lapsed_below)
            if settings.stages_from_model
            else None
        )
        self._tiers_from_clv = settings.tiers_from_clv
        self._closing = Closing(config.alerts, config.calendars)
        gate = AlertGate(config.alerts, config.detectors["inhibitions"], self._closing)
        self._cases = FirstResponseCases(
            config.calendars, config.sla, config.top_tier, gate, self.model.is_best_customer
        )
        self._actions = AlertActions(
            config.calendars,
            self._cases,
            max_future_skew=config.time.max_future_skew,
            max_snooze=round(config.alerts.max_snooze_minutes * 60),
        )
        detectors = build_detectors(
            config.detectors, models=Models(self.model, config.lifecycle, config.detectors)
        )
        boosted = config.top_tier if config.detectors["top_tier_boost"] else None
        self.detection = Detection(detectors, config.calendars, boosted, gate)
        #: Identity resolution's decisions (None when ``identity.enabled`` is off).
        self.resolver = (
            IdentityResolver(config.identity.limits, identity_salt) if config.identity.enabled else None
        )

    def track(
        self,
        state: CustomerState | None,
        customer_id: str,
        event: dict[str, Any],
        partition: int,
        received_at: float | None = None,
        occurred: datetime | None = None,
        occurred_seconds: float | None = None,
    ) -> Step:
        """Apply *event* (a normalised touchpoint) to *state* (None for a new customer).

        A redelivery is dropped (``duplicate``); the same event id with other content, or an event
        too far before the customer's history, is ``refused`` and changes nothing. So is one dated
        further ahead of *received_at* (its record's broker timestamp, epoch seconds) than the skew
        bound: ingest refuses those already, this catches records written past it.

        *occurred* and *occurred_seconds* are the event's ``occurred_at`` and its epoch seconds,
        where the caller has them already (ingest's decoder has both, replay's sorted rows the
        seconds); what is missing is read from *event*.
        """
        stated: int | None = None
        if occurred is None:
            text = event["occurred_at"]
            occurred = datetime.fromisoformat(text)
            # Read from the text just parsed: asking the datetime takes two method calls and a timedelta.
            stated = stated_offset(text)
        if occurred_seconds is None:
            occurred_seconds = occurred.timestamp()
        instant = int(occurred_seconds)
        verdict = self._admission.check(state, event, instant, received_at)
        if isinstance(verdict, Rejected):
            return Step(state=state or CustomerState(partition=partition), refused=verdict)
        if isinstance(verdict, Duplicate):
            return Step(state=state or CustomerState(partition=partition), duplicate=True)
        if state is None:
            state = CustomerState(partition=partition)
        self._admission.remember(state, verdict)
        if stated is None:
            offset = occurred.utcoffset()
            stated = int(offset.total_seconds()) if offset else 0
        local_day = (instant + stated) // DAY
        new_customer = state.events == 0
        # The customer's clock never runs backwards: a late event is applied "now", at the latest instant seen.
        now = instant if new_customer else max(state.last_seen, instant)
        step = Step(state=state, instant=instant)
        if not new_customer:
            # Only up to the allowed lateness: a reply a little late must still count as in time.
            self._advance(state, customer_id, now - self._lateness, step)
        folded = self._folding.fold(state, event, instant, local_day)
        step.unpriced = folded.unpriced
        if folded.asked is not None:
            self._cases.open(state, folded.asked, event, instant, local_day)
        if folded.answered is not None:
            self._cases.close(state, customer_id, folded.answered, instant, step)
        state.events += 1
        state.first_seen = instant if new_customer else min(state.first_seen, instant)
        state.last_seen = now
        if event["type"] == "purchase":
            state.clv = cents(self.model.clv(state))
            _remember_value(state, instant)
        stage = lifecycle.classify(state, now, self._lifecycle, self._stages)
        if stage != state.stage:
            kind = event["type"]
            # A win-back is a purchase made after lapsing, not a late one from before.
            won_back = state.stage == lifecycle.LAPSED and kind == "purchase" and instant >= state.stage_since
            cause = WIN_BACK if won_back else kind
            step.transitions.append(
                Transition(customer_id, state.stage or None, stage, now, cause, event["event_id"])
            )
            state.stage, state.stage_since = stage, now
        state.value_tier = self._tier(state.clv if self._tiers_from_clv else state.net_value)
        if self.detection.detectors:
            context = self.detection.context(state, customer_id, event, occurred, instant, local_day)
            self.detection.clear(context, step)
            self.detection.observe(context, step)
        forget_old(state, now, self._retain_days)
        state.wake_at = self._next_wake(state, now)
        alive = self.model.p_alive_on(state, now // DAY)
        view = ModelView(alive, self.model.is_best_customer(state.clv, now)) if alive is not None else None
        step.enriched = encode_enriched(event, state, self._salt, view, self.config.enriched.attributes)
        return step

    def advance(self, state: CustomerState, customer_id: str, until: int) -> Outputs:
        """Fire every time-based change due at or before *until*, each at its own instant."""
        out = Outputs()
        self._advance(state, customer_id, until, out)
        return out

    def _advance(self, state: CustomerState, customer_id: str, until: int, out: Outputs) -> None:
        # Into the caller's outputs: most touchpoints have nothing due, and each would build an empty set.
        while state.wake_at is not None and state.wake_at <= until:
            due = state.wake_at
            self._cases.fire_due(state, customer_id, due, out)
            self.detection.fire_due(state, customer_id, due, out)
            self._closing.expire_due(state, customer_id, due, out)
            stage = lifecycle.classify(state, due, self._lifecycle, self._stages)
            if stage != state.stage:
                out.transitions.append(
                    Transition(customer_id, state.stage or None, stage, due, INACTIVITY, None)
                )
                state.stage, state.stage_since = stage, due
            state.wake_at = self._next_wake(state, due)

    def act(
        self,
        state: CustomerState | None,
        customer_id: str,
        action: dict[str, Any],
        received_at: float | None = None,
    ) -> Outputs:
        """Apply an operator's action (schemas/alert_action.v1.json) to one of the customer's alerts.

        *received_at* is the action record's broker timestamp (epoch seconds): an action whose ``at``
        is further from it than ``time.max_future_skew_seconds`` is refused as ``stale_action``.
        A snooze longer than ``alerts.max_snooze_minutes`` is clamped, and the alert says so.
        """
        out = self._actions.apply(state, customer_id, action, received_at)
        if out.refused is None and state is not None:
            state.wake_at = self._next_wake(state, state.last_seen)
        return out

    def fixed_threshold(self) -> float | None:
        """The best-customer threshold when it is fixed (a fit or the rules file); None when it is the population's."""
        return self.best_customers.value if isinstance(self.best_customers, FixedThreshold) else None

    def late_thresholds(self) -> int:
        """How many decisions so far had to use an earlier boundary's threshold (live only)."""
        return self.best_customers.late if isinstance(self.best_customers, PopulationThreshold) else 0

    def learn_threshold(self, boundary: int, threshold: float | None) -> None:
        """The population's best-customer threshold at *boundary* is known (ignored with a fixed threshold)."""
        if isinstance(self.best_customers, PopulationThreshold):
            self.best_customers.learn(boundary, threshold)

    def erase(
        self, state: CustomerState | None, customer_id: str, request: dict[str, Any], erased_at: float
    ) -> Outputs:
        """Forget the customer (schemas/erasure_request.v1.json): what to publish; the caller deletes *state*."""
        return erasure.erase(state, customer_id, request, erased_at, self.config.calendars)

    def merge(self, state: CustomerState, customer_id: str, message: MergeIn) -> Outputs:
        """Merge the anonymous profile in *message* into *state* (the customer's; blank if it had none).

        Everything the profile held becomes the customer's: counts, money, channels, feedback, open
        inquiries and first-response cases (their deadlines run on), detector memories and open alerts
        (published again under the customer's ids). The stage is read again; a change is a transition
        with cause ``merge``. A merge already applied (a redelivery) changes nothing.
        """
        out = Outputs()
        if any(entry[0] == message.from_key and entry[2] == message.event_id for entry in state.merges):
            return out
        merged = CustomerState.decode(message.state)
        entry = Ledger(message.from_key, message.at, message.event_id)
        settings = self.config.state
        combine(
            state,
            merged,
            entry,
            dedupe_window=settings.dedupe_window,
            answered_memory=settings.answered_memory,
            max_purchase_days=settings.max_purchase_days,
            half_life=settings.satisfaction_half_life_days * DAY,
        )
        calendars = self.config.calendars
        for old_id, data in merged.alerts_open.items():
            new_id = moves.moved_id(old_id, data, customer_id)
            entry.alerts.append([old_id, new_id])
            if new_id not in state.alerts_open:
                kept = moves.moved(data, message.from_key, customer_id)
                state.alerts_open[new_id] = kept
                out.alerts.append(
                    moves.reopened(
                        new_id,
                        customer_id,
                        kept,
                        message.at,
                        moves.AUTO_MERGED,
                        calendars,
                        merged_from=old_id,
                    )
                )
        # A reply one side got may answer the other side's question: those cases close (and their alerts).
        for conversation, case in list(state.sla_cases.items()):
            answered = state.recently_answered.get(conversation)
            if answered is not None and answered >= case[0]:
                self._cases.close(state, customer_id, conversation, answered, out)
        self.detection.merge(state, merged)
        self.detection.settle(state, customer_id, message.at, out)
        state.merges.append(entry.to_list())
        del state.merges[:-MAX_LEDGER]
        self._settle(state, customer_id, MERGE, message.event_id, out)
        return out

    def unmerge(self, state: CustomerState, customer_id: str, message: Unmerge) -> Outputs:
        """Take back from *state* what merging the profile in *message* brought (an operator's split).

        The alerts that came with it are resolved here (``auto:split``); the profile's own key gets them
        back. Detector memories stay as they are: they cannot be told apart any more.
        """
        out = Outputs()
        merged = CustomerState.decode(message.state)
        position = next(
            (i for i in reversed(range(len(state.merges))) if state.merges[i][0] == message.from_key), None
        )
        entry = Ledger.from_list(state.merges.pop(position)) if position is not None else None
        subtract(state, merged, entry, self.config.state.satisfaction_half_life_days * DAY)
        calendars = self.config.calendars
        for old_id, data in merged.alerts_open.items():
            new_id = moves.moved_id(old_id, data, customer_id)
            kept = state.alerts_open.pop(new_id, None)
            if kept is not None:
                alert = moves.closed(
                    new_id, customer_id, kept, message.at, moves.AUTO_SPLIT, calendars, split_to=old_id
                )
                out.alerts.append(alert)
        self._settle(state, customer_id, SPLIT, None, out)
        return out

    def _settle(
        self, state: CustomerState, customer_id: str, cause: str, event_id: str | None, out: Outputs
    ) -> None:
        """After an identity change: value, stage (a change is a transition with *cause*), tier, bounds, wake-up."""
        now = state.last_seen
        state.clv = cents(self.model.clv(state)) if state.purchase_count else 0.0
        # The customer's value in the best-customer population changes with the purchases that came or went.
        if state.purchase_count:
            _remember_value(state, now)
        else:
            state.clv_history = []
        stage = lifecycle.classify(state, now, self._lifecycle, self._stages)
        if stage != state.stage:
            out.transitions.append(Transition(customer_id, state.stage or None, stage, now, cause, event_id))
            state.stage, state.stage_since = stage, now
        state.value_tier = self._tier(state.clv if self._tiers_from_clv else state.net_value)
        forget_old(state, now, self._retain_days)
        state.wake_at = self._next_wake(state, now)

    def event_digest(self, event_id: str) -> bytes:
        """The digest the customer's dedupe memory keeps of *event_id* (see agents.journey.admission)."""
        return self._admission.event_digest(event_id)

    def _next_wake(self, state: CustomerState, after: int) -> int | None:
        first = lifecycle.next_stage_deadline(state, after, self._lifecycle, self._stages)
        first = sooner(first, self._cases.due(state))
        first = sooner(first, self.detection.due(state))
        return sooner(first, self._closing.due(state))

    def _tier(self, value: float) -> str:
        for minimum, name in self._tiers:
            if value >= minimum:
                return name
        return self._tiers[-1][1]


def _remember_value(state: CustomerState, instant: int) -> None:
    """Note the CLV this purchase left, at its instant, among the customer's latest few."""
    history = [entry for entry in state.clv_history if entry[0] != instant]
    history.append([instant, state.clv])
    history.sort(key=lambda entry: entry[0])
    state.clv_history = history[-CLV_HISTORY:]
