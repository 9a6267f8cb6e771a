"""Service journeys: inquiries, complaints that keep coming back until resolved, refunds."""

from __future__ import annotations

from streams.sim.clock import (
    DAY,
    SECOND,
    STORE_CLOSE,
    STORE_DAYS,
    STORE_LAST_ENTRY,
    STORE_OPEN,
    TEAM_CLOSE,
    TEAM_DAYS,
    TEAM_OPEN,
)
from streams.sim.customer import Customer, Ref
from streams.sim.shopping import Shopping
from streams.sim.world import (
    TOPIC_TEAM,
)


class Service(Shopping):
    """Asking, complaining and getting money back: the service journeys."""

    def _inquiry(self, c: Customer, t: int) -> int:
        """A question on a service channel, answered or not depending on the hour."""
        rng = self.rng
        topic = c.persona.topics.pick(rng)
        draw = rng.random()
        if draw < 0.3:
            if self._staffed(t):
                end, quality = self._call(c, t, topic)
                self._experience(c, quality)
                return end
            if rng.random() < 0.3:  # rang after hours: the line is closed
                ref = self._ref(c, "phone")
                conversation = f"conv-{self.seed}-{next(self.conversations)}"
                t = self._push(t, ref, "phone", "call_started", "customer", "team-support", conversation)
                return self._push(t + rng.randint(20, 45) * SECOND, ref, "phone", "call_ended", "customer",
                                  "team-support", conversation,
                                  {"duration_seconds": 30, "outcome": "closed"})  # fmt: skip
            draw = 0.5  # tries the chat instead
        if draw < 0.75:
            end, answered = self._chat(c, t, topic)
            if answered and topic in ("price", "discount", "stock") and rng.random() < 0.35:
                return self._browse(c, end + self._lognormal(120.0, 0.8))
            return end
        channel = "email" if draw < 0.9 else "social"
        ref = self._ref(c, channel)
        conversation = f"conv-{self.seed}-{next(self.conversations)}"
        team = "team-social" if channel == "social" else TOPIC_TEAM[topic]
        t = self._push(t, ref, channel, "inquiry", "customer", team, conversation, {"topic": topic})
        self._written_reply(c, t, ref, channel, team, conversation, {"topic": topic}, self.pushed)
        return t

    def _complaint(self, c: Customer, t: int) -> int:
        """One contact about the open issue; resolves it, schedules the next contact, or loses the customer."""
        rng = self.rng
        c.issue_contacts += 1
        contacts = c.issue_contacts
        issue_id = c.issue_id
        topic = c.issue_topic
        resolve = c.issue_resolve_at > 0 and contacts >= c.issue_resolve_at
        # The more often they had to come back, the more they escalate in public.
        social = 0.08 if contacts < 3 else 0.3
        draw = rng.random()
        if draw < 0.45:
            t, quality = self._call(
                c, self._when_open(t, TEAM_DAYS, TEAM_OPEN, TEAM_CLOSE), topic, issue_id, resolve
            )
            end = t
        elif draw < 0.45 + social:
            end, quality = self._written_complaint(c, t, "social", issue_id, topic, resolve)
        elif draw < 0.72 + social:
            end, quality = self._written_complaint(
                c, t, rng.choice(("chat", "email")), issue_id, topic, resolve
            )
        else:
            t = self._when_open(t, STORE_DAYS, STORE_OPEN, STORE_LAST_ENTRY)
            location = c.store
            last = self.clock.day_end(t, STORE_CLOSE) - 2 * SECOND
            ref: Ref = ("customer_id", c.cid)
            conversation = f"conv-{self.seed}-{next(self.conversations)}"
            t = self._push(t, ref, "store", "visit", "customer", location, None, {"purpose": "service"})
            t = self._push(min(last, t + self._lognormal(180.0, 0.7)), ref, "store", "complaint", "customer",
                           location, conversation, {"issue_id": issue_id, "topic": topic})  # fmt: skip
            self._witness_complaint(c, self.pushed, t)
            t = self._push(min(last, t + self._lognormal(120.0, 0.6)), ref, "store", "reply", "agent", location,
                           conversation, {"topic": topic, "agent_id": self._agent()})  # fmt: skip
            if resolve:
                t = self._push(min(last, t + self._lognormal(300.0, 0.6)), ref, "store", "resolution", "agent",
                               location, conversation, {"issue_id": issue_id})  # fmt: skip
                self._witness_resolution(c, issue_id, t)
            end, quality = t, 0.6
        if resolve:
            c.issue_id = ""
            c.issue_at = 0
            if topic == "delivery" or rng.random() < 0.3:
                c.refund_at = end + int(rng.uniform(0.5, 3.0) * DAY)
                c.refund_order = f"ord-{self.seed}-goodwill-{issue_id}"
                c.refund_amount = round(c.issue_amount * rng.uniform(0.1, 1.0), 2)
                c.refund_channel = "email"
            # Fixed at last, but each extra contact costs goodwill.
            quality = max(0.1, 0.95 - 0.15 * (contacts - 1))
            if rng.random() < 0.5:
                self._feedback(c, end + self._lognormal(4 * 3600.0, 0.8), ("customer_id", c.cid), "email", None,
                               self._score(c, quality) | {"issue_id": issue_id})  # fmt: skip
            self._experience(c, quality)
            return end
        self._experience(c, min(quality, 0.35) - 0.05 * contacts)
        if c.issue_give_up and contacts >= c.issue_give_up:
            # Gives up for good (story 2): a detractor's verdict, then silence.
            c.issue_id = ""
            c.issue_at = 0
            if not c.churned:
                self._witness_churn(c, end, "gave_up")
            c.churned = True
            c.satisfaction = min(c.satisfaction, 0.1)
            if rng.random() < 0.6:
                self._feedback(c, end + self._lognormal(2 * 3600.0, 0.8), ("customer_id", c.cid), "email", None,
                               {"nps": rng.randint(0, 2), "csat": 1, "issue_id": issue_id})  # fmt: skip
            return end
        c.issue_at = self._awake(end + int(rng.uniform(1.0, 4.0) * DAY))
        return end

    def _written_complaint(
        self, c: Customer, t: int, channel: str, issue_id: str, topic: str, resolve: bool
    ) -> tuple[int, float]:
        ref = self._ref(c, channel)
        conversation = f"conv-{self.seed}-{next(self.conversations)}"
        team = "team-social" if channel == "social" else "team-support"
        t = self._push(t, ref, channel, "complaint", "customer", team, conversation,
                       {"issue_id": issue_id, "topic": topic})  # fmt: skip
        self._witness_complaint(c, self.pushed, t)
        if channel == "chat" and self._staffed(t):
            reply: int | None = self._push(t + self._lognormal(90.0, 0.8), ref, channel, "reply", "agent", team,
                                           conversation, {"topic": topic, "agent_id": self._agent()})  # fmt: skip
        else:
            reply = self._written_reply(c, t, ref, channel, team, conversation, {"topic": topic})
        if reply is None:
            return t, 0.1
        if resolve:
            resolved = self._push(reply + self._lognormal(600.0, 0.8), ref, channel, "resolution", "agent", team,
                                  conversation, {"issue_id": issue_id})  # fmt: skip
            self._witness_resolution(c, issue_id, resolved)
        return t, 0.5

    def _refund(self, c: Customer, t: int) -> int:
        """Money back for an earlier order: at the till in a store, otherwise by the payment system."""
        rng = self.rng
        attributes = {"amount": c.refund_amount, "currency": "EUR", "order_id": c.refund_order}
        channel = c.refund_channel
        c.refund_at = 0
        if channel == "store":
            t = self._when_open(t, STORE_DAYS, STORE_OPEN, STORE_LAST_ENTRY)
            last = self.clock.day_end(t, STORE_CLOSE) - 2 * SECOND
            ref: Ref = ("customer_id", c.cid)
            t = self._push(t, ref, "store", "visit", "customer", c.store, None, {"purpose": "return"})
            t = min(last, t + self._lognormal(240.0, 0.6))
            return self._push(t, ref, "store", "refund", "agent", c.store, None, attributes)
        if rng.random() < 0.5:
            # Asks for the return first; the money follows a few days later.
            ref = self._ref(c, "email")
            conversation = f"conv-{self.seed}-{next(self.conversations)}"
            t = self._push(t, ref, "email", "inquiry", "customer", "team-support", conversation,
                           {"topic": "return", "order_id": c.refund_order})  # fmt: skip
            self._written_reply(
                c, t, ref, "email", "team-support", conversation, {"topic": "return"}, self.pushed
            )
            self._push(t + int(rng.uniform(1.0, 3.0) * DAY), ("customer_id", c.cid), channel, "refund", "system",
                       None, conversation, attributes)  # fmt: skip
            return t
        return self._push(t, ("customer_id", c.cid), channel, "refund", "system", None, None, attributes)
