"""Apply one touchpoint to one customer's state: the journey agent's whole decision, pure.

``JourneyTracker.track`` is called for every event and ``advance`` when a
deadline comes due; both mutate the state they are given and return what to
publish. The live agent and ``touchpoint replay`` call exactly these.
"""

from __future__ import annotations

import bisect
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agents.config import Config
from agents.journey import lifecycle
from agents.journey.outputs import Transition, encode_enriched
from agents.journey.state import CustomerState

INACTIVITY = "inactivity"
WIN_BACK = "win_back"


@dataclass(slots=True)
class Step:
    """The outcome of tracking one event."""

    state: CustomerState
    duplicate: bool = False
    transitions: list[Transition] = field(default_factory=list)
    #: The enriched event to publish (None for a duplicate).
    enriched: bytes | None = None
    #: Amount in a currency without a configured rate.
    unpriced: bool = False
    #: The event's own instant (epoch seconds); the partition's watermark follows it.
    instant: int = 0


class JourneyTracker:
    """The pure core of the journey agent, configured once."""

    def __init__(self, config: Config, identity_salt: bytes) -> None:
        self.config = config
        self._salt = identity_salt
        self._lifecycle = config.lifecycle
        self._window = config.state.dedupe_window
        self._memory = config.state.answered_memory
        self._max_days = config.state.max_purchase_days
        self._half_life = config.state.satisfaction_half_life_days * lifecycle.DAY
        self._tiers = [(tier.min_value, tier.name) for tier in reversed(config.value_tiers)]

    def track(
        self, state: CustomerState | None, customer_id: str, event: dict[str, Any], partition: int
    ) -> Step:
        """Apply *event* (a normalised touchpoint) to *state* (None for a new customer)."""
        marker = zlib.crc32(event["event_id"].encode())
        if state is None:
            state = CustomerState(partition=partition)
        elif marker in state.recent_ids:
            return Step(state, duplicate=True)
        state.recent_ids.append(marker)
        if len(state.recent_ids) > self._window:
            del state.recent_ids[0]
        occurred = datetime.fromisoformat(event["occurred_at"])
        instant = int(occurred.timestamp())
        offset = occurred.utcoffset()
        local_day = (instant + (int(offset.total_seconds()) if offset else 0)) // lifecycle.DAY
        new_customer = state.events == 0
        # The customer's clock never runs backwards: a late event is applied "now", at the latest instant seen.
        now = instant if new_customer else max(state.last_seen, instant)
        step = Step(state, instant=instant)
        if not new_customer:
            step.transitions.extend(self.advance(state, customer_id, now))
        self._apply(state, event, instant, local_day, step)
        state.events += 1
        state.first_seen = instant if new_customer else min(state.first_seen, instant)
        state.last_seen = now
        stage = lifecycle.classify(state, now, self._lifecycle)
        if stage != state.stage:
            kind = event["type"]
            cause = WIN_BACK if state.stage == lifecycle.LAPSED and kind == "purchase" else kind
            step.transitions.append(
                Transition(customer_id, state.stage or None, stage, now, cause, event["event_id"])
            )
            state.stage, state.stage_since = stage, now
        state.value_tier = self._tier(state.net_value)
        state.wake_at = lifecycle.next_stage_deadline(state, now, self._lifecycle)
        step.enriched = encode_enriched(event, state, self._salt)
        return step

    def advance(self, state: CustomerState, customer_id: str, until: int) -> list[Transition]:
        """Fire every time-based change due at or before *until*, each at its own instant."""
        transitions: list[Transition] = []
        while state.wake_at is not None and state.wake_at <= until:
            due = state.wake_at
            stage = lifecycle.classify(state, due, self._lifecycle)
            if stage != state.stage:
                transitions.append(Transition(customer_id, state.stage or None, stage, due, INACTIVITY, None))
                state.stage, state.stage_since = stage, due
            state.wake_at = lifecycle.next_stage_deadline(state, due, self._lifecycle)
        return transitions

    def _tier(self, value: float) -> str:
        for minimum, name in self._tiers:
            if value >= minimum:
                return name
        return self._tiers[-1][1]

    def _apply(self, state: CustomerState, event: dict[str, Any], instant: int, day: int, step: Step) -> None:
        channel = state.channels.get(event["channel"])
        if channel is None:
            state.channels[event["channel"]] = [1, instant]
        else:
            channel[0] += 1
            channel[1] = max(channel[1], instant)
        kind = event["type"]
        attributes = event.get("attributes") or {}
        if kind == "purchase":
            self._purchase(state, attributes, instant, day, step)
        elif kind == "refund":
            state.refund_count += 1
            value = self.config.currency.to_base(attributes["amount"], attributes["currency"])
            if value is None:
                step.unpriced = True
            else:
                state.refund_value = _cents(state.refund_value + _cents(value))
        elif kind == "complaint":
            self._complaint(state, attributes["issue_id"], instant)
        elif kind == "resolution":
            self._resolution(state, attributes["issue_id"], instant)
        elif kind == "feedback":
            self._feedback(state, attributes, instant)
        elif kind == "inquiry" and event["actor"] == "customer":
            conversation = _conversation(event)
            answered_at = state.recently_answered.get(conversation)
            if answered_at is None or answered_at < instant:
                opened = state.inquiries_open.get(conversation)
                state.inquiries_open[conversation] = instant if opened is None else min(opened, instant)
        elif kind == "reply" and event["actor"] == "agent":
            conversation = _conversation(event)
            opened = state.inquiries_open.get(conversation)
            if opened is not None and opened <= instant:
                del state.inquiries_open[conversation]
            _remember(state.recently_answered, conversation, instant, self._memory)
        elif kind == "referral":
            state.referrals += 1

    def _purchase(
        self, state: CustomerState, attributes: dict[str, Any], instant: int, day: int, step: Step
    ) -> None:
        state.purchase_count += 1
        value = self.config.currency.to_base(attributes["amount"], attributes["currency"])
        if value is None:
            state.unpriced_purchases += 1
            step.unpriced = True
        else:
            state.purchase_value = _cents(state.purchase_value + _cents(value))
        state.first_purchase = instant if state.first_purchase == 0 else min(state.first_purchase, instant)
        state.last_purchase = max(state.last_purchase, instant)
        days = state.purchase_days
        position = bisect.bisect_left(days, day)
        if position < len(days) and days[position] == day:
            return
        if position == 0 and state.purchase_days_folded:
            # Older than every day still listed: it may duplicate a folded day; count it as new.
            state.purchase_days_folded += 1
            return
        days.insert(position, day)
        if len(days) > self._max_days:
            del days[0]
            state.purchase_days_folded += 1

    def _complaint(self, state: CustomerState, issue: str, instant: int) -> None:
        state.complaints_total += 1
        resolved_at = state.recently_resolved.get(issue)
        if resolved_at is not None and resolved_at >= instant:
            return  # a late complaint about an issue already resolved after it
        opened = state.complaints_open.get(issue)
        state.complaints_open[issue] = instant if opened is None else min(opened, instant)

    def _resolution(self, state: CustomerState, issue: str, instant: int) -> None:
        opened = state.complaints_open.get(issue)
        if opened is not None and opened <= instant:
            del state.complaints_open[issue]
            state.complaints_resolved += 1
        elif issue not in state.recently_resolved:
            state.complaints_resolved += 1  # resolved before its complaint arrived (late complaint)
        _remember(state.recently_resolved, issue, instant, self._memory)

    def _feedback(self, state: CustomerState, attributes: dict[str, Any], instant: int) -> None:
        scores: list[float] = []
        csat = attributes.get("csat")
        if csat is not None:
            if state.csat is None or instant >= state.csat[1]:
                state.csat = [int(csat), instant]
            scores.append((csat - 1) / 4)
        nps = attributes.get("nps")
        if nps is not None:
            if state.nps is None or instant >= state.nps[1]:
                state.nps = [int(nps), instant]
            scores.append(nps / 10)
        # Time-decayed mean: weights halve every half-life, so the order feedback arrives in does not matter.
        if state.satisfaction_weight == 0:
            state.satisfaction_at = instant
        if instant > state.satisfaction_at:
            decay = 0.5 ** ((instant - state.satisfaction_at) / self._half_life)
            state.satisfaction_sum *= decay
            state.satisfaction_weight *= decay
            state.satisfaction_at = instant
        weight = 0.5 ** ((state.satisfaction_at - instant) / self._half_life)
        for score in scores:
            state.satisfaction_sum += weight * score
            state.satisfaction_weight += weight


def _cents(amount: float) -> float:
    # Money is kept to the cent, so sums are exact whatever order events arrive in, and survive the changelog.
    return round(amount, 2)


def _conversation(event: dict[str, Any]) -> str:
    # Without a conversation id, a channel is one running conversation.
    conversation: str | None = event.get("conversation_id")
    return conversation if conversation is not None else "channel:" + event["channel"]


def _remember(memory: dict[str, int], key: str, instant: int, size: int) -> None:
    memory[key] = max(memory.get(key, instant), instant)
    while len(memory) > size:
        del memory[min(memory, key=memory.__getitem__)]
