"""Folding one touchpoint into its customer's state: counts, money, issues, feedback, conversations.

Every aggregate is order-independent where it can be (sums to the cent, latest-by-event-time
scores, sets of open items keyed by their latest instant), so a late event gives the state the
ordered history would have given. What a touchpoint means for the first-response SLA (a question
left waiting, an answer) is said back to the caller, which keeps the cases.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

from agents.config import Config
from agents.domain.instants import DAY
from agents.domain.rounding import round_to
from agents.domain.state import CustomerState

__all__ = ["Folded", "Folding", "cents", "conversation_of"]


@dataclass(slots=True)
class Folded:
    """What folding one touchpoint found beyond the state itself."""

    #: An amount in a currency without a configured rate (counted, no value).
    unpriced: bool = False
    #: The conversation a customer's inquiry left waiting for an answer.
    asked: str | None = None
    #: The conversation an agent's reply (or a bot's, if they count) answered.
    answered: str | None = None

    # Written out for the compiled core, as Outputs' (agents/domain/outputs.py): one per touchpoint.
    def __init__(self, unpriced: bool = False, asked: str | None = None, answered: str | None = None) -> None:
        self.unpriced = unpriced
        self.asked = asked
        self.answered = answered


class Folding:
    """The state section of the rules file, applied to touchpoints."""

    def __init__(self, config: Config) -> None:
        self._currency = config.currency
        self._memory = config.state.answered_memory
        self._max_days = config.state.max_purchase_days
        self._half_life = config.state.satisfaction_half_life_days * DAY
        self._bots_answer = config.sla.bot_replies_count

    def fold(self, state: CustomerState, event: dict[str, Any], instant: int, day: int) -> Folded:
        """Apply *event* (dated *instant*, on local day *day*) to *state*."""
        folded = Folded()
        channel = state.channels.get(event["channel"])
        if channel is None:
            state.channels[event["channel"]] = [1, instant]
        else:
            channel[0] += 1
            channel[1] = max(channel[1], instant)
        kind = event["type"]
        attributes = event.get("attributes") or {}
        if kind == "purchase":
            self._purchase(state, attributes, instant, day, folded)
        elif kind == "refund":
            state.refund_count += 1
            value = self._currency.to_base(attributes["amount"], attributes["currency"])
            if value is None:
                folded.unpriced = True
            else:
                state.refund_value = cents(state.refund_value + cents(value))
        elif kind == "complaint":
            self._complaint(state, attributes["issue_id"], instant)
        elif kind == "resolution":
            self._resolution(state, attributes["issue_id"], instant)
        elif kind == "feedback":
            self._feedback(state, attributes, instant)
        elif kind == "inquiry" and event["actor"] == "customer":
            conversation = conversation_of(event)
            answered_at = state.recently_answered.get(conversation)
            if answered_at is None or answered_at < instant:
                opened = state.inquiries_open.get(conversation)
                # The latest unanswered instant: only then is the open set independent of delivery order.
                state.inquiries_open[conversation] = instant if opened is None else max(opened, instant)
                folded.asked = conversation
        elif kind == "reply" and (
            event["actor"] == "agent" or (event["actor"] == "bot" and self._bots_answer)
        ):
            conversation = conversation_of(event)
            opened = state.inquiries_open.get(conversation)
            if opened is not None and opened <= instant:
                del state.inquiries_open[conversation]
            _remember(state.recently_answered, conversation, instant, self._memory)
            folded.answered = conversation
        elif kind == "page_view":
            state.last_view_day = max(state.last_view_day, day)
        elif kind == "referral":
            state.referrals += 1
        return folded

    def _purchase(
        self, state: CustomerState, attributes: dict[str, Any], instant: int, day: int, folded: Folded
    ) -> None:
        state.purchase_count += 1
        value = self._currency.to_base(attributes["amount"], attributes["currency"])
        if value is None:
            state.unpriced_purchases += 1
            folded.unpriced = True
        else:
            state.purchase_value = cents(state.purchase_value + cents(value))
        state.first_purchase = instant if state.first_purchase == 0 else min(state.first_purchase, instant)
        state.first_purchase_day = (
            day if state.first_purchase_day == 0 else min(state.first_purchase_day, day)
        )
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
        # The latest complaint instant: only then is the open set independent of delivery order.
        state.complaints_open[issue] = instant if opened is None else max(opened, instant)

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


def cents(amount: float) -> float:
    """*amount* to the cent."""
    # Money is kept to the cent, so sums are exact whatever order events arrive in, and survive the changelog.
    return round_to(amount, 2)


def conversation_of(event: dict[str, Any]) -> str:
    """The conversation a touchpoint belongs to; without a conversation id, its channel is one."""
    conversation: str | None = event.get("conversation_id")
    return conversation if conversation is not None else "channel:" + event["channel"]


def _remember(memory: dict[str, int], key: str, instant: int, size: int) -> None:
    memory[key] = max(memory.get(key, instant), instant)
    while len(memory) > size:
        del memory[min(memory, key=memory.__getitem__)]
