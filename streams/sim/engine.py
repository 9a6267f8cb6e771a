"""The run: whose journey comes next (a Poisson process per customer), and emission in time order."""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterator
from typing import Any

import orjson

from streams.sim.clock import (
    HOUR,
    MINUTE,
    MONDAY,
    STORE_LAST_ENTRY,
    STORE_OPEN,
    WEEK,
)
from streams.sim.customer import Customer
from streams.sim.noise import DUPLICATE_SHARE, malformed
from streams.sim.service import Service
from streams.sim.spec import SimulationSpec


class Simulator(Service):
    """One run: picks whose journey comes next, plays it, and emits the events in time order with the noise."""

    def __init__(self, spec: SimulationSpec) -> None:
        super().__init__(spec)
        self.schedule = [(self._next_key(c, self.start), c.slot) for c in self.customers]
        heapq.heapify(self.schedule)

    # --- scheduling ------------------------------------------------------------------------------------------

    @staticmethod
    def _weekly_sessions(c: Customer) -> float:
        return c.persona.sessions_per_week * (0.15 if c.churned else 1.0)

    def _next_session(self, c: Customer, after: int) -> int:
        """Start of c's next session: a Poisson process whose rate follows the persona's weekly rhythm."""
        persona = c.persona
        rate = self._weekly_sessions(c)
        cumulative = persona.weekly
        local = self.clock.local(after)
        position = (local - MONDAY) % WEEK
        hour, into_hour = divmod(position, HOUR)
        # Invert the integrated intensity: move forward until rate x elapsed weekly share = an Exp(1) draw.
        share = cumulative[hour] + (cumulative[hour + 1] - cumulative[hour]) * into_hour / HOUR
        weeks, target = divmod(share + self.rng.expovariate(1.0) / rate, 1.0)
        bin_ = min(bisect_right(cumulative, target) - 1, 167)
        width = cumulative[bin_ + 1] - cumulative[bin_]
        within = (target - cumulative[bin_]) / width if width > 0 else 0.0
        moved = int(weeks) * WEEK + int((bin_ + within) * HOUR) - position
        return max(after + MINUTE, self.clock.utc(local + moved))

    def _next_key(self, c: Customer, end: int) -> int:
        when = self._next_session(c, end)
        if c.issue_at:
            when = min(when, c.issue_at)
        if c.refund_at:
            when = min(when, c.refund_at)
        return max(when, end)

    # --- emission --------------------------------------------------------------------------------------------

    def run(self) -> Iterator[tuple[int, bytes]]:
        """Yield (instant in ms, record) forever."""
        return ((t, record) for t, record, _ in self.run_with_persons())

    def run_with_persons(self) -> Iterator[tuple[int, bytes, int | None]]:
        """Yield (instant in ms, record, person) forever: the number of the simulated person who made it.

        The ground truth of identity resolution: a person is one customer number (``cust-<number>``)
        whatever identifiers their events carry. None for a malformed record; a redelivery has its
        original's person.
        """
        pending = self.pending
        schedule = self.schedule
        customers = self.customers
        heappop = heapq.heappop
        heappush = heapq.heappush
        dumps = orjson.dumps
        stamp = self.clock.stamp
        bad_random = self.bad_rng.random
        dup_random = self.dup_rng.random
        malformed_share = self.spec.malformed_share
        prefix = f"ev-{self.seed}-"
        emitted = 0
        while True:
            if pending and pending[0][0] <= schedule[0][0]:
                t, _, item, millis, person = heappop(pending)
                duplicate = isinstance(item, bytes)
                if isinstance(item, bytes):
                    record = item  # a redelivery: same bytes, same event_id
                    event: dict[str, Any] = orjson.loads(item) if malformed_share else {}
                else:
                    emitted += 1
                    item["event_id"] = prefix + str(emitted)
                    item["occurred_at"] = stamp(t, millis)
                    record = dumps(item)
                    event = item
                if malformed_share:
                    if malformed_share >= 1.0:
                        yield t, malformed(self.bad_rng, self.seed, self.malformed_ids, event, record), None
                        continue
                    # A geometric number of insertions before each record makes malformed_share the expected
                    # fraction of all records emitted.
                    while bad_random() < malformed_share:
                        yield t, malformed(self.bad_rng, self.seed, self.malformed_ids, event, record), None
                yield t, record, person
                if not duplicate and dup_random() < DUPLICATE_SHARE:
                    heappush(pending, (t, next(self.seq), record, False, person))
            else:
                t, slot = schedule[0]
                self.current = customers[slot]
                self.person = self.current.idx
                end = self._session(customers[slot], t)
                heapq.heapreplace(schedule, (self._next_key(customers[slot], end), slot))

    # --- journeys --------------------------------------------------------------------------------------------

    def _session(self, c: Customer, t: int) -> int:
        """Play one journey of c starting at t; return when the customer is free again."""
        self.now = t
        if c.misuse_at and t >= c.misuse_at:
            self._misuse(c, t)  # pushes the thief's purchases; changes nothing of this session
        if c.churn_at and not c.churned and t >= c.churn_at:
            c.churned = True
            self._witness_churn(c, t, "churn_date")
        if c.issue_at and c.issue_at <= t and (not c.refund_at or c.issue_at <= c.refund_at):
            return self._complaint(c, t)
        if c.refund_at and c.refund_at <= t:
            return self._refund(c, t)
        rng = self.rng
        if c.churned:
            # Lapsed: still looks around now and then and gets win-back offers, but only buys if won back.
            # Eventually gone for good: the slot goes to a newly acquired customer, which keeps the population
            # (and so the traffic) stationary over an endless run.
            if rng.random() < 0.05 / self._weekly_sessions(c):  # gone for good after ~20 weeks on average
                self._replace(c, t, 0.6)
                return t
            draw = rng.random()
            if draw < 0.5:
                return self._browse(c, t, may_buy=False)
            if draw < 0.85:
                return self._campaign(c, t)
            return self._inquiry(c, t)
        # Turnover keeps the population stationary over an endless run: a prospect who never bought moves on,
        # and now and then a customer moves away; newcomers arrive in their place, mostly as prospects. The
        # hazard is per week, not per session, so that busy personas do not drain out of the population.
        if rng.random() < (0.06 if not c.known else 0.006) / self._weekly_sessions(c):
            self._replace(c, t, 1.0 if not c.known else 0.8)
            return t
        weekday, minute = self.clock.weekday_minute(t)
        persona = c.persona
        store = persona.store if weekday < 6 and STORE_OPEN <= minute < STORE_LAST_ENTRY else 0.0
        draw = rng.random() * (store + persona.browse + persona.service + persona.campaign)
        if draw < store:
            return self._store_visit(c, t)
        draw -= store
        if draw < persona.browse:
            return self._browse(c, t)
        draw -= persona.browse
        if draw < persona.service:
            return self._inquiry(c, t)
        return self._campaign(c, t)
