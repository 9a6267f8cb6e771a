"""Conversations with the contact centre: chat, phone calls with queues and transfers, written replies."""

from __future__ import annotations

from typing import Any

from streams.sim.basics import Basics
from streams.sim.clock import (
    MINUTE,
    SECOND,
)
from streams.sim.customer import Customer, Ref
from streams.sim.truth import SHOPPING_TOPICS
from streams.sim.world import (
    TOPIC_TEAM,
    TRANSFER_TARGETS,
)


class Conversations(Basics):
    """Talking to the company: chats, calls and written replies, staffed or not."""

    def _chat(self, c: Customer, t: int, topic: str, sku: str | None = None) -> tuple[int, bool]:
        """A chat inquiry and whatever reply it gets; returns (when the customer moves on, answered now)."""
        rng = self.rng
        ref = self._ref(c, "chat")
        conversation = f"conv-{self.seed}-{next(self.conversations)}"
        team = TOPIC_TEAM[topic]
        attributes: dict[str, Any] = {"topic": topic}
        if sku is not None:
            attributes["sku"] = sku
        t = self._push(t, ref, "chat", "inquiry", "customer", team, conversation, attributes)
        inquiry, asked = self.pushed, t
        # A question asked while browsing a product is shopping, whatever its topic.
        service = sku is None and topic not in SHOPPING_TOPICS
        if self._staffed(t):
            if rng.random() < 0.3:  # the bot greets first, a person follows
                self._push(t + rng.randint(1500, 4000), ref, "chat", "reply", "bot", team, conversation,
                           {"topic": topic})  # fmt: skip
            # Usually within minutes; sometimes the queue is long enough to breach a first-response SLA.
            delay = self._lognormal(50.0, 0.8) if rng.random() < 0.92 else self._lognormal(1200.0, 0.5)
            t = self._push(t + delay, ref, "chat", "reply", "agent", team, conversation,
                           {"topic": topic, "agent_id": self._agent()})  # fmt: skip
            self._witness_first_response(c, inquiry, "chat", asked, t, service)
            self._verify(t, ref, "chat", team, conversation)
            if rng.random() < 0.3:
                t = self._push(t + self._lognormal(40.0, 0.6), ref, "chat", "inquiry", "customer", team,
                               conversation, {"topic": topic})  # fmt: skip
                t = self._push(t + self._lognormal(45.0, 0.7), ref, "chat", "reply", "agent", team,
                               conversation, {"topic": topic, "agent_id": self._agent()})  # fmt: skip
            self._experience(c, 0.8 if delay < 5 * MINUTE else 0.45)
            return t, True
        # After hours (story 1): an automatic answer at best, a person the next working morning, or nobody.
        draw = rng.random()
        if draw < 0.3:
            self._push(t + rng.randint(1500, 4000), ref, "chat", "reply", "bot", team, conversation,
                       {"topic": topic, "message": "auto_reply_closed"})  # fmt: skip
        replied = None
        if draw < 0.65 and rng.random() < 0.75:
            morning = self._next_staffed(t) + self._lognormal(50 * 60.0, 0.8)
            replied = self._push(morning, ref, "chat", "reply", "agent", team, conversation,
                                 {"topic": topic, "agent_id": self._agent()})  # fmt: skip
            self._verify(morning, ref, "chat", team, conversation)
        self._witness_first_response(c, inquiry, "chat", asked, replied, service)
        self._experience(c, 0.3)
        return t, False

    def _call(
        self, c: Customer, t: int, topic: str, issue_id: str | None = None, resolve: bool = False
    ) -> tuple[int, float]:
        """A phone contact: queue, maybe transfers, the matter itself, maybe an offer; returns (end, quality)."""
        rng = self.rng
        complaint = issue_id is not None
        ref = self._ref(c, "phone")
        conversation = f"conv-{self.seed}-{next(self.conversations)}"
        team = "team-support"
        started = t = self._push(t, ref, "phone", "call_started", "customer", team, conversation)
        wait = self._queue_wait(complaint)
        quality = 0.85
        if wait > 180.0 and rng.random() < 0.5:  # gave up waiting
            t = self._push(t + int(wait * SECOND), ref, "phone", "queue_wait", "system", team, conversation,
                           {"wait_seconds": wait, "abandoned": True})  # fmt: skip
            self._witness_queue(c, self.pushed, t, wait)
            self._push(t + 1000, ref, "phone", "call_ended", "customer", team, conversation,
                       {"duration_seconds": (t + 1000 - started) // SECOND, "outcome": "abandoned"})  # fmt: skip
            return t + 1000, 0.1
        t = self._push(t + int(wait * SECOND), ref, "phone", "queue_wait", "system", team, conversation,
                       {"wait_seconds": wait})  # fmt: skip
        self._witness_queue(c, self.pushed, t, wait)
        if wait > 60.0:
            quality -= 0.25
        if ref[0] != "customer_id" and c.known and rng.random() < 0.7:
            t = self._identify(
                t + self._lognormal(25.0, 0.4), c, ref, "phone", "agent", (), team, conversation
            )
            ref = ("customer_id", c.cid)
        t += self._lognormal(30.0, 0.5)
        if complaint:
            t = self._push(t, ref, "phone", "complaint", "customer", team, conversation,
                           {"issue_id": issue_id, "topic": topic})  # fmt: skip
            self._witness_complaint(c, self.pushed, t)
        else:
            t = self._push(t, ref, "phone", "inquiry", "customer", team, conversation, {"topic": topic})
        draw = rng.random()
        transfers = (
            (0 if draw < 0.5 else 1 if draw < 0.78 else 2 if draw < 0.93 else 3)
            if complaint
            else (0 if draw < 0.78 else 1 if draw < 0.93 else 2 if draw < 0.98 else 3)
        )
        passed: list[tuple[dict[str, Any], int, bool]] = []
        for _ in range(transfers):
            target = rng.choice([name for name in TRANSFER_TARGETS if name != team])
            kind = "cold" if rng.random() < (0.55 if complaint else 0.35) else "warm"
            t = self._push(t + self._lognormal(90.0, 0.7), ref, "phone", "transfer", "agent", team, conversation,
                           {"transfer_kind": kind, "from_team": team, "to_team": target,
                            "agent_id": self._agent()})  # fmt: skip
            passed.append((self.pushed, t, kind == "cold"))
            team = target
            quality -= 0.1
            if kind == "cold":
                # Nobody explained the case: back into a queue, and the customer starts over.
                extra = self._queue_wait(complaint)
                t = self._push(t + int(extra * SECOND), ref, "phone", "queue_wait", "system", team,
                               conversation, {"wait_seconds": extra})  # fmt: skip
                self._witness_queue(c, self.pushed, t, extra)
                quality -= 0.15
            else:
                t += self._lognormal(45.0, 0.4)
        if passed:
            self._witness_transfers(c, passed)
        t += self._lognormal(150.0, 0.6)
        if not complaint:
            t = self._push(t, ref, "phone", "reply", "agent", team, conversation,
                           {"topic": topic, "agent_id": self._agent()})  # fmt: skip
        # Upselling during a service contact (story 4) happens, though it should not.
        if rng.random() < (0.25 if topic in ("price", "discount") else 0.08):
            t = self._push(t + self._lognormal(40.0, 0.5), ref, "phone", "offer", "agent", team, conversation,
                           {"offer_id": rng.choice(("offer-extended-warranty", "offer-upgrade", "offer-bundle"))})  # fmt: skip
            self._witness_offer(c, self.pushed, t)
        if resolve and issue_id is not None:
            t = self._push(t + self._lognormal(60.0, 0.5), ref, "phone", "resolution", "agent", team,
                           conversation, {"issue_id": issue_id, "agent_id": self._agent()})  # fmt: skip
            self._witness_resolution(c, issue_id, t)
        t += self._lognormal(30.0, 0.5)
        t = self._push(t, ref, "phone", "call_ended", rng.choice(("agent", "customer")), team, conversation,
                       {"duration_seconds": (t - started) // SECOND})  # fmt: skip
        if rng.random() < 0.25:
            self._feedback(c, t + self._lognormal(1800.0, 1.0), ref, "email", conversation,
                           self._score(c, max(0.0, quality)))  # fmt: skip
        return t, max(0.0, quality)

    def _feedback(
        self,
        c: Customer,
        t: int,
        ref: Ref,
        channel: str,
        conversation: str | None,
        attributes: dict[str, Any],
    ) -> int:
        """A survey answer; an unhappy one or a promoter's is a situation of the ground truth."""
        t = self._push(t, ref, channel, "feedback", "customer", None, conversation, attributes)
        self._witness_feedback(c, self.pushed, t, attributes)
        return t

    def _written_reply(
        self,
        c: Customer,
        t: int,
        ref: Ref,
        channel: str,
        team: str,
        conversation: str,
        attributes: dict[str, Any],
        inquiry: dict[str, Any] | None = None,
    ) -> int | None:
        """Reply to an email or social message within team hours, by a bot, or never; returns its time.

        *inquiry*: the question being answered (a complaint is none), for the ground truth.
        """
        rng = self.rng
        draw = rng.random()
        service = attributes.get("topic") not in SHOPPING_TOPICS
        if channel == "social" and draw < 0.3:
            if inquiry is not None:
                self._witness_first_response(c, inquiry, channel, t, None, service)  # a bot is no person
            return self._push(t + rng.randint(5, 60) * SECOND, ref, channel, "reply", "bot", team,
                              conversation, attributes)  # fmt: skip
        if draw > 0.9:
            if inquiry is not None:
                self._witness_first_response(c, inquiry, channel, t, None, service)
            return None  # lost in the shared inbox
        typical = 3 * 3600.0 if channel == "email" else 25 * 60.0
        reply = t + self._lognormal(typical, 0.8)
        if not self._staffed(reply):
            reply = self._next_staffed(reply) + self._lognormal(45 * 60.0, 0.8)
        replied = self._push(reply, ref, channel, "reply", "agent", team, conversation,
                             attributes | {"agent_id": self._agent()})  # fmt: skip
        self._verify(replied, ref, channel, team, conversation)
        if inquiry is not None:
            self._witness_first_response(c, inquiry, channel, t, replied, service)
        return replied
