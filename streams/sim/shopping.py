"""Shopping journeys: browsing and buying on every channel, store visits, campaigns, and what follows a purchase."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from streams.sim import identities
from streams.sim.clock import (
    DAY,
    SECOND,
    STORE_CLOSE,
)
from streams.sim.conversations import Conversations
from streams.sim.customer import Customer, Ref
from streams.sim.world import (
    CAMPAIGN_THEMES,
    CATEGORIES,
    MILLIS_CHANNELS,
)


class Shopping(Conversations):
    """Browsing, buying online and in store, and answering campaigns."""

    def _after_purchase(
        self, c: Customer, t: int, channel: str, order: str, amount: float, category: int
    ) -> None:
        """Consequences that play out later: refunds, product faults, surveys, referrals."""
        rng = self.rng
        persona = c.persona
        self._experience(c, 0.9, 0.1)  # getting what one came for is a (small) good experience
        if not c.refund_at and rng.random() < persona.refund_rate:
            c.refund_at = t + int(rng.uniform(1.0, 14.0) * DAY)
            c.refund_order = order
            c.refund_amount = amount if rng.random() < 0.7 else round(amount * rng.uniform(0.1, 0.9), 2)
            c.refund_channel = channel
        if not c.issue_id:
            fault = CATEGORIES[category].fault_rate * persona.issue_multiplier
            if rng.random() < fault:
                topic = rng.choice(("repair", "warranty"))
                self._open_issue(c, t + int(rng.uniform(2.0, 30.0) * DAY), topic, amount, rng)
            elif channel != "store" and rng.random() < 0.015 * persona.issue_multiplier:
                self._open_issue(c, t + int(rng.uniform(1.0, 5.0) * DAY), "delivery", amount, rng)
        if rng.random() < 0.08:
            survey_channel = "app" if channel == "app" else "email"
            quality = 0.8 if channel == "store" else 0.75
            self._feedback(
                c, t + self._lognormal(3 * 3600, 1.0), self._ref(c, survey_channel), survey_channel, None,
                self._score(c, quality) | {"order_id": order},
            )  # fmt: skip
        if c.satisfaction > 0.75 and rng.random() < persona.referral_rate:
            referral_channel = rng.choice(("app", "social", "web"))
            self._push(
                t + self._lognormal(600, 1.0), ("customer_id", c.cid), referral_channel, "referral", "customer",
                None, None, {"referral_code": f"REF-{c.idx:06d}", "invited": rng.randint(1, 3)},
            )  # fmt: skip

    def _purchase(
        self,
        c: Customer,
        t: int,
        ref: Ref,
        channel: str,
        location: str | None,
        item: tuple[int, str, float] | None = None,
        offer_id: str | None = None,
    ) -> int:
        """Buy `item` (the one looked at, if any) and whatever else lands in the basket."""
        category, sku, price = item if item is not None else self._pick_sku(c)
        amount = self._basket(price)
        order = f"ord-{self.seed}-{next(self.orders)}"
        attributes: dict[str, Any] = {"amount": amount, "currency": "EUR", "order_id": order, "sku": sku}
        if offer_id is not None:
            attributes["offer_id"] = offer_id
        t = self._push(t, ref, channel, "purchase", "customer", location, None, attributes)
        c.purchases += 1
        c.purchase_days.add(self.clock.local(t) // DAY)
        c.last_purchase = self.pushed
        self._after_purchase(c, t, channel, order, amount, category)
        return t

    def _browse(self, c: Customer, t: int, may_buy: bool = True, offer_id: str | None = None) -> int:
        """Visit, look at products, maybe ask in the chat, maybe buy (after logging in if unidentified)."""
        rng = self.rng
        persona = c.persona
        channel = persona.digital.pick(rng)
        if offer_id is not None and channel not in MILLIS_CHANNELS:
            channel = "web"
        ref = self._ref(c, channel)
        # Newsletter clicks land in the web shop; social posts lead there more often than not.
        pages_channel = channel
        if channel == "email" or (channel == "social" and rng.random() < 0.6):
            pages_channel = "web"
        t = self._push(t, ref, channel, "visit", "customer")
        item = self._pick_sku(c)
        category, sku, _ = item
        for _ in range(1 + int(rng.expovariate(1.0 / persona.pages))):
            t += self._lognormal(35.0, 0.9)
            if rng.random() < 0.3:
                item = self._pick_sku(c)
                category, sku, _ = item
            t = self._push(
                t, ref, pages_channel, "page_view", "customer", None, None,
                {"sku": sku, "category": CATEGORIES[category].name},
            )  # fmt: skip
        answered = None
        if rng.random() < persona.chat_from_browse:
            topic = rng.choice(("price", "discount", "stock", "delivery"))
            t, answered = self._chat(c, t + self._lognormal(30.0, 0.7), topic, sku)
        if not may_buy or c.churned:
            return t
        chance = persona.buy_online * (0.5 + c.satisfaction)
        if not c.known:
            chance *= 0.2  # most prospects look and leave; few become first-time customers
        if offer_id is not None:
            chance *= 2.5
        if answered is not None:
            chance *= 1.6 if answered else 0.3  # nobody answered: the sale goes to a competitor (story 1)
        if rng.random() >= chance:
            if not c.known and rng.random() < 0.01:  # newsletter sign-up without buying
                self._identify(t + self._lognormal(40.0, 0.5), c, ref, pages_channel, "customer", ("email",))
            return t
        buy_channel = pages_channel if pages_channel in MILLIS_CHANNELS else "web"
        t += self._lognormal(60.0, 0.8)
        if ref[0] != "customer_id":
            # Checkout requires an account: the log-in links this device to the customer.
            t = self._identify(t, c, ref, buy_channel, "customer", ("email",))
            ref = ("customer_id", c.cid)
            t += self._lognormal(45.0, 0.6)
        return self._purchase(c, t, ref, buy_channel, None, item, offer_id)

    def _store_visit(self, c: Customer, t: int, purpose: str = "shopping") -> int:
        """A visit to a store (called only while it is open): maybe a question, an upsell, a purchase."""
        rng = self.rng
        location = c.store if rng.random() < 0.8 else rng.choice(self.stores)
        last = self.clock.day_end(t, STORE_CLOSE) - 2 * SECOND  # nothing in a store happens after closing
        ref = self._ref(c, "store")
        t = self._push(t, ref, "store", "visit", "customer", location, None, {"purpose": purpose})
        if purpose != "shopping":
            return t
        if rng.random() < 0.25:
            conversation = f"conv-{self.seed}-{next(self.conversations)}"
            topic = rng.choice(("stock", "price", "warranty", "repair"))
            t = self._push(min(last, t + self._lognormal(300.0, 0.8)), ref, "store", "inquiry", "customer",
                           location, conversation, {"topic": topic})  # fmt: skip
            t = self._push(min(last, t + self._lognormal(60.0, 0.6)), ref, "store", "reply", "agent", location,
                           conversation, {"topic": topic, "agent_id": self._agent()})  # fmt: skip
        if rng.random() >= c.persona.buy_in_store * (0.5 + c.satisfaction) * (1.0 if c.known else 0.3):
            return t
        if rng.random() < 0.1:
            t = self._push(min(last, t + self._lognormal(120.0, 0.6)), ref, "store", "offer", "agent", location,
                           None, {"offer_id": rng.choice(("offer-extended-warranty", "offer-bundle"))})  # fmt: skip
            self._witness_offer(c, self.pushed, t)
        t = min(last, t + self._lognormal(12 * 60.0, 0.7))
        if ref[0] != "customer_id":
            # No loyalty card yet: staff sign the customer up at the till.
            t = self._identify(t, c, ref, "store", "agent", ("loyalty_id", "email"), location)
            ref = ("customer_id", c.cid)
            t = min(last, t + rng.randint(30, 90) * SECOND)
        return self._purchase(c, t, ref, "store", location)

    def _campaign(self, c: Customer, t: int) -> int:
        """A marketing offer pushed by the system; sometimes the customer comes and buys with it."""
        rng = self.rng
        channel = "app" if c.persona.digital.items[0] == "app" and rng.random() < 0.6 else "email"
        local_day = date(1970, 1, 1) + timedelta(days=self.clock.local(t) // DAY)
        year, week, _ = local_day.isocalendar()
        if c.churned:
            offer_id = f"offer-{year}-w{week:02d}-winback"
        else:
            offer_id = f"offer-{year}-w{week:02d}-{CAMPAIGN_THEMES[week % len(CAMPAIGN_THEMES)]}"
        t = self._push(t, ("customer_id", c.cid) if c.known else identities.anonymous_ref(self.seed, c, "email"), channel,
                       "offer", "system", None, None, {"offer_id": offer_id})  # fmt: skip
        self._witness_offer(c, self.pushed, t)
        response = c.persona.offer_response * (0.3 if c.churned else 1.0)
        if rng.random() < response:
            if c.churned:  # won back
                c.churned = False
                c.churn_at = 0
                c.satisfaction = max(c.satisfaction, 0.5)
            return self._browse(c, t + self._lognormal(20 * 60.0, 1.0), offer_id=offer_id)
        return t
