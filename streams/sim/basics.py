"""The run's state and the steps every journey is made of: people, events, identities, waits."""

from __future__ import annotations

import heapq
import itertools
import math
import random
from bisect import bisect_right
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from streams.sim import identities, misuse
from streams.sim.clock import (
    DAY,
    EPOCH,
    HOUR,
    MINUTE,
    SECOND,
    TEAM_CLOSE,
    TEAM_DAYS,
    TEAM_OPEN,
    Clock,
)
from streams.sim.customer import Customer, Pending, Ref
from streams.sim.identities import ANONYMOUS
from streams.sim.personas import PERSONA_CHOICE, PERSONAS
from streams.sim.spec import SimulationSpec
from streams.sim.truth import Truth
from streams.sim.witness import Witness
from streams.sim.world import (
    CATEGORIES,
    MILLIS_CHANNELS,
    SKUS_PER_CATEGORY,
    STORE_DISTRICTS,
)


class Basics(Witness):
    """One run's state (population, journeys in flight, random streams) and the steps every journey takes."""

    def __init__(self, spec: SimulationSpec) -> None:
        self.spec = spec
        self.seed = spec.seed
        self.clock = Clock(ZoneInfo(spec.timezone))
        # Separate streams so that noise never shifts the behaviour: the valid records of a run are the same
        # whatever malformed_share is.
        self.rng = random.Random(f"touchpoint-journeys-{spec.seed}")
        self.bad_rng = random.Random(f"touchpoint-malformed-{spec.seed}")
        self.dup_rng = random.Random(f"touchpoint-duplicates-{spec.seed}")
        self.misuse_rng = random.Random(f"touchpoint-misuse-{spec.seed}")
        #: The story situations of the run so far (streams/sim/truth.py).
        self.truth = Truth()
        #: The event the latest _push scheduled, for the truth to name.
        self.pushed: dict[str, Any] = {}
        #: When the journey being played started (ms): the instant of what it changes in a customer's mind.
        self.now = (spec.start - EPOCH) // timedelta(milliseconds=1)
        # Who is who: which sessions happen on a household's shared tablet, which unidentified writers an agent
        # verifies. A stream of its own, so that identity changes identifiers and adds identify events in a run,
        # and nothing else.
        self.identity_rng = random.Random(f"touchpoint-households-{spec.seed}")
        #: The customer whose journey is being played: the person behind every event pushed meanwhile.
        self.person = 0
        self.current: Customer | None = None
        self.seq = itertools.count()
        self.conversations = itertools.count(1)
        self.orders = itertools.count(1)
        self.issues = itertools.count(1)
        self.malformed_ids = itertools.count(1)
        self.pending: list[Pending] = []
        city = spec.timezone.rsplit("/", 1)[-1].lower().replace("_", "-")
        self.stores = tuple(f"store-{city}-{district}" for district in STORE_DISTRICTS)
        self.skus = self._catalogue(random.Random(f"touchpoint-catalogue-{spec.seed}"))
        self.start = (spec.start - EPOCH) // timedelta(milliseconds=1)
        population = random.Random(f"touchpoint-population-{spec.seed}")
        self.customers = [
            self._customer(slot, slot + 1, population, self.start) for slot in range(spec.customers)
        ]
        self.newcomers = itertools.count(spec.customers + 1)

    # --- setup -----------------------------------------------------------------------------------------------

    @staticmethod
    def _catalogue(rng: random.Random) -> tuple[tuple[tuple[str, float], ...], ...]:
        """Per category, its SKUs with shelf prices (log-normal around the category median, ending in .99)."""
        catalogue = []
        for category in CATEGORIES:
            items = []
            for n in range(1, SKUS_PER_CATEGORY + 1):
                price = category.median_price * math.exp(category.price_sigma * rng.gauss(0.0, 1.0))
                items.append((f"sku-{category.name}-{n:03d}", max(2.99, round(price) - 0.01)))
            catalogue.append(tuple(items))
        return tuple(catalogue)

    def _customer(
        self, slot: int, idx: int, rng: random.Random, now: int, newcomer_prospects: float | None = None
    ) -> Customer:
        """A customer with a persona; a newcomer arriving at `now` has no history and is a prospect with
        probability `newcomer_prospects`."""
        newcomer = newcomer_prospects is not None
        persona = PERSONAS[bisect_right(PERSONA_CHOICE, rng.random() * PERSONA_CHOICE[-1])]
        satisfaction = min(0.98, max(0.05, rng.gauss(persona.satisfaction, 0.1)))
        prospects = persona.prospect_share if newcomer_prospects is None else newcomer_prospects
        known = rng.random() >= prospects
        customer = Customer(slot, idx, persona, known, satisfaction, rng.choice(self.stores))
        customer.tablet = identities.household_tablet(self.seed, idx)
        weights = [c.popularity * (c.median_price / 100.0) ** (persona.big_ticket - 1.0) for c in CATEGORIES]
        first, second = rng.choices(range(len(CATEGORIES)), weights, k=2)
        customer.favourites = (first, second)
        if persona.churns:
            customer.churn_at = now + int(rng.uniform(3, 28) * DAY)
        # The world did not begin at `start`: some known customers already have a faulty product from an
        # earlier purchase and will get in touch soon, so repeat-contact stories show up in short runs too.
        if not newcomer and customer.known and rng.random() < 0.04 * persona.issue_multiplier:
            _, price = self.skus[first][rng.randrange(SKUS_PER_CATEGORY)]
            topic = rng.choice(("repair", "warranty", "delivery"))
            self._open_issue(customer, self.start + int(rng.uniform(0.0, 10.0) * DAY), topic, price, rng)
        if customer.known and self.misuse_rng.random() < misuse.MISUSE_SHARE:
            customer.misuse_at = misuse.when(self.misuse_rng, now)
        return customer

    def _misuse(self, c: Customer, t: int) -> None:
        """Story 6: someone else's purchases with c's card from the next day (the misuse stream only)."""
        if c.purchases < misuse.MISUSE_HISTORY:
            c.misuse_at = t + misuse.MISUSE_POSTPONE_DAYS * DAY
            return
        c.misuse_at = 0
        plan = misuse.plan(self.misuse_rng, self.clock, t)
        events = []
        for number, purchase in enumerate(plan, 1):
            attributes = {"amount": purchase.amount, "currency": "EUR", "sku": purchase.sku,
                          "order_id": f"ord-{self.seed}-m{c.idx}-{number}"}  # fmt: skip
            self._push(purchase.at, ("customer_id", c.cid), purchase.channel, "purchase", "customer",
                       purchase.location, None, attributes)  # fmt: skip
            events.append(self.pushed)
        self._witness_misuse(c, events, plan[0].at, plan[0].location or plan[0].channel)

    def _replace(self, c: Customer, t: int, prospects: float) -> None:
        """Give c's slot to a new customer (a prospect with probability `prospects`) arriving at t."""
        self.customers[c.slot] = self._customer(c.slot, next(self.newcomers), self.rng, t, prospects)

    def _ref(self, c: Customer, channel: str) -> Ref:
        if not c.known or self.rng.random() < ANONYMOUS[channel]:
            tablet = None
            if c.tablet is not None and channel in identities.TABLET_CHANNELS:
                tablet = c.tablet if self.identity_rng.random() < identities.TABLET_SESSIONS else None
            return identities.anonymous_ref(self.seed, c, channel, tablet)
        return "customer_id", c.cid

    def _push(
        self,
        t: int,
        ref: Ref,
        channel: str,
        kind: str,
        actor: str,
        location: str | None = None,
        conversation: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> int:
        """Schedule one event at t (rounded up to the second where the channel logs seconds); return its time."""
        millis = channel in MILLIS_CHANNELS
        if not millis:
            t = -(-t // SECOND) * SECOND
        # event_id and occurred_at are placeholders filled at emission; keeping the keys here fixes their order.
        event: dict[str, Any] = {
            "schema_version": 1,
            "event_id": "",
            "occurred_at": "",
            ref[0]: ref[1],
            "channel": channel,
            "type": kind,
            "actor": actor,
        }
        if location is not None:
            event["location"] = location
        if conversation is not None:
            event["conversation_id"] = conversation
        if attributes is not None:
            event["attributes"] = attributes
        if ref[0] == "customer_id" and actor == "customer" and self.current is not None:
            self._announce(t, self.current, channel, location)
        heapq.heappush(self.pending, (t, next(self.seq), event, millis, self.person))
        self.pushed = event
        return t

    def _announce(self, t: int, c: Customer, channel: str, location: str | None) -> None:
        """Before a known customer's first identified touch of a channel, the identify that links its identifier.

        The log-in on a device (a household member sometimes on the shared tablet), the CRM recognising a
        caller's number or a sender's address, a social account connected: once per identifier and person.
        """
        kind = identities.ANONYMOUS_KEY[channel]
        email, phone, device, _loyalty, openid = identities.identifiers(self.seed, c.idx)
        value = {"device_id": device, "openid": openid, "email": email, "phone": phone}[kind]
        tablet = (
            c.tablet is not None and channel in identities.TABLET_CHANNELS and c.tablet not in c.announced
        )
        if tablet and self.identity_rng.random() < identities.TABLET_SESSIONS:
            value = c.tablet or value
        if value in c.announced:
            return
        c.announced.add(value)
        actor = "system" if channel in ("email", "phone") else "customer"
        self._identify(t, c, ("identifiers", {kind: value}), channel, actor, location=location)

    def _identify(
        self,
        t: int,
        c: Customer,
        ref: Ref,
        channel: str,
        actor: str,
        extra: tuple[str, ...] = (),
        location: str | None = None,
        conversation: str | None = None,
    ) -> int:
        """Link the identifiers seen so far (ref) and `extra` ones to the customer id; return the event time.

        This is the log-in at checkout, the caller verification or the loyalty sign-up at the till.
        """
        email, phone, device, loyalty, openid = identities.identifiers(self.seed, c.idx)
        values = {
            "device_id": device,
            "openid": openid,
            "email": email,
            "phone": phone,
            "loyalty_id": loyalty,
        }
        identifiers = dict(ref[1]) if ref[0] == "identifiers" else {}
        for key in extra:
            identifiers[key] = values[key]
        c.announced.update(identifiers.values())
        millis = channel in MILLIS_CHANNELS
        if not millis:
            t = -(-t // SECOND) * SECOND
        event: dict[str, Any] = {
            "schema_version": 1,
            "event_id": "",
            "occurred_at": "",
            "customer_id": c.cid,
            "identifiers": identifiers,
            "channel": channel,
            "type": "identify",
            "actor": actor,
        }
        if location is not None:
            event["location"] = location
        if conversation is not None:
            event["conversation_id"] = conversation
        heapq.heappush(self.pending, (t, next(self.seq), event, millis, self.person))
        c.known = True
        return t

    def _verify(self, t: int, ref: Ref, channel: str, team: str, conversation: str) -> None:
        """An agent answering an unidentified writer who is a customer asks who they are (an order number,
        the account's e-mail) and links what the conversation carries, most of the time."""
        c = self.current
        if c is None or not c.known or ref[0] != "identifiers":
            return
        if self.identity_rng.random() < identities.VERIFIED:
            self._identify(t + 20 * SECOND, c, ref, channel, "agent", (), team, conversation)

    def _lognormal(self, median: float, sigma: float) -> int:
        """A log-normal duration in ms around `median` seconds."""
        return int(median * SECOND * math.exp(sigma * self.rng.gauss(0.0, 1.0)))

    def _staffed(self, t: int) -> bool:
        weekday, minute = self.clock.weekday_minute(t)
        return weekday < 5 and TEAM_OPEN <= minute < TEAM_CLOSE

    def _next_staffed(self, t: int) -> int:
        return self.clock.next_open(t, TEAM_DAYS, TEAM_OPEN, TEAM_CLOSE)

    def _awake(self, t: int) -> int:
        """Move a planned contact out of the small hours (00:00-07:00 local) to between 07:00 and 10:00."""
        _, minute = self.clock.weekday_minute(t)
        if minute >= 7 * 60:
            return t
        return t + (7 * 60 - minute) * MINUTE + (minute * 7919) % 180 * MINUTE

    def _when_open(self, t: int, days: frozenset[int], open_minute: int, close_minute: int) -> int:
        """When a customer who wanted to act at t gets to it within the calendar.

        Unchanged while open; otherwise some time in the first hours after the next opening, weighted to
        the start, so that the backlog does not pile up at exactly 09:00:00.
        """
        opened = self.clock.next_open(t, days, open_minute, close_minute)
        if opened == t:
            return t
        return opened + int(self.rng.random() ** 2 * 3 * HOUR)

    def _pick_sku(self, c: Customer) -> tuple[int, str, float]:
        rng = self.rng
        category = c.favourites[rng.random() < 0.5] if rng.random() < 0.65 else rng.randrange(len(CATEGORIES))
        sku, price = self.skus[category][rng.randrange(SKUS_PER_CATEGORY)]
        return category, sku, price

    def _basket(self, price: float) -> float:
        """Total of a basket: the main item, sometimes a second unit or small add-ons."""
        rng = self.rng
        total = price
        if price < 50.0 and rng.random() < 0.3:
            total += price * rng.randint(1, 2)
        if rng.random() < 0.3:
            total += 4.0 * math.exp(0.8 * rng.gauss(0.0, 1.0) + 1.0)
        return round(total, 2)

    def _score(self, c: Customer, quality: float) -> dict[str, Any]:
        """Feedback attributes: csat and/or nps driven by the customer's mood and this contact's quality."""
        rng = self.rng
        mood = 0.55 * c.satisfaction + 0.45 * quality + rng.gauss(0.0, 0.1)
        # Scales are read generously: a contact that went fine is a 4 or a 5, a promoter needs more than fine.
        csat = min(5, max(1, round(1.0 + 4.6 * mood)))
        nps = min(10, max(0, round(11.0 * mood + rng.gauss(0.0, 0.8))))
        draw = rng.random()
        if draw < 0.65:
            return {"csat": csat}
        if draw < 0.85:
            return {"nps": nps}
        return {"csat": csat, "nps": nps}

    def _experience(self, c: Customer, quality: float, weight: float = 0.25) -> None:
        """Move satisfaction towards this experience; a customer fed up enough lapses."""
        c.satisfaction = max(0.0, c.satisfaction + weight * (quality - c.satisfaction))
        if c.satisfaction < 0.22 and not c.churned:
            c.churned = True
            self._witness_churn(c, self.now, "unhappy")

    def _open_issue(
        self, c: Customer, first_contact: int, topic: str, amount: float, rng: random.Random
    ) -> None:
        """Give c an issue whose contacts start at `first_contact`, and decide now how it will end."""
        c.issue_id = f"iss-{self.seed}-{next(self.issues)}"
        c.issue_topic = topic
        c.issue_amount = amount
        c.issue_at = self._awake(first_contact)
        c.issue_contacts = 0
        c.issue_give_up = 0
        c.issue_events = []
        c.issue_case = None
        c.issue_repeat = None
        draw = rng.random()
        unresolved = c.persona.unresolved_share
        if draw < unresolved:
            c.issue_resolve_at = 0
            c.issue_give_up = rng.randint(3, 6)
        elif draw < unresolved + (1 - unresolved) * 0.5:
            c.issue_resolve_at = 1
        elif draw < unresolved + (1 - unresolved) * 0.75:
            c.issue_resolve_at = 2
        else:
            c.issue_resolve_at = rng.randint(3, 5)  # the television that kept breaking

    def _agent(self) -> str:
        return f"agent-{self.rng.randint(1, 60):03d}"

    def _queue_wait(self, complaint: bool) -> float:
        """Seconds until an agent picks up: mostly under 20 s, with a tail of long waits."""
        rng = self.rng
        if rng.random() < (0.3 if complaint else 0.12):
            return round(min(3600.0, 90.0 * math.exp(1.0 * rng.gauss(0.0, 1.0))), 1)
        return round(7.0 * math.exp(0.6 * rng.gauss(0.0, 1.0)), 1)
