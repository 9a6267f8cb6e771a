"""Deterministic generator of realistic omnichannel touchpoint traffic.

The stream is what the ``touchpoints`` topic would carry for a retailer with
stores, a web shop, an app, social accounts and a contact centre: customers with
personas browse, ask, call, buy, complain and recommend, following daily and
weekly rhythms in the stores' time zone. It reproduces the stories the
detectors look for (unanswered evening inquiries, issues that keep coming
back, cold transfers, upsell during a complaint, churn, advocates) plus the
noise a real producer adds: redelivered duplicates and malformed records.

One module per concern: the clock (``clock``), the retailer (``world``), who the
customers are (``personas``, ``customer``, ``identities``), what they do
(``shopping``, ``conversations``, ``service``, on the steps in ``basics``), the
noise (``noise``) and the run that emits it all in time order (``engine``).

What a caller cannot guess:

* Records come out in non-decreasing simulated time, but a journey's later
  events (a reply the next morning, a survey answer) are scheduled when the
  journey starts, so an event can follow events of other customers that
  started later.
* Malformed records are *inserted*, drawn from their own random stream, so the
  valid records of a run do not depend on ``malformed_share``: filtering the
  invalid ones out of a run with share 0.05 gives exactly the run with share 0.
  Duplicates are drawn from another stream and are valid records, emitted
  shortly after their original with identical bytes.
* ``event_id`` numbers follow emission order; malformed records that still
  look like events carry ids of their own (``ev-<seed>-m<n>``), never a valid
  record's id.
* Memory is O(customers) plus the journeys in flight; nothing depends on how
  many records are taken.
* ``Simulator(spec).run()`` is the same stream with the run at hand: its ``truth`` holds the
  story situations created so far (streams/sim/truth.py), for ``touchpoint simulate --truth``.
  Recording them draws no random number, so the traffic is the same whether it is read or not.
* Every event is made by one simulated person, whatever identifiers it carries
  (``generate_with_persons``): the ground truth identity resolution is measured
  against. Some couples share a tablet at home (``identities.HOUSEHOLD_SHARE``),
  so one device id belongs to two people.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from streams.sim.clock import EPOCH
from streams.sim.engine import Simulator
from streams.sim.spec import SimulationSpec

__all__ = [
    "SimulationSpec",
    "Simulator",
    "generate",
    "generate_events",
    "generate_with_persons",
    "person_name",
]


def generate(spec: SimulationSpec) -> Iterator[bytes]:
    """Endless stream of encoded records (UTF-8 JSON touchpoint events, or malformed bytes), in non-decreasing event time."""
    return (record for _, record in Simulator(spec).run())


def generate_events(spec: SimulationSpec) -> Iterator[tuple[datetime, bytes]]:
    """Same stream as generate(), with each record's simulated instant (malformed records get the instant they were emitted at).

    The instant is an aware UTC datetime at millisecond precision; for a valid
    event it equals its ``occurred_at``.
    """
    epoch = EPOCH
    millis = timedelta(milliseconds=1)
    return ((epoch + t * millis, record) for t, record in Simulator(spec).run())


def person_name(number: int) -> str:
    """How the ground truth names simulated person *number* (whose customer id is ``cust-<number>``)."""
    return f"person-{number:06d}"


def generate_with_persons(spec: SimulationSpec) -> Iterator[tuple[bytes, str | None]]:
    """Same stream as generate(), with the person who made each record (None for a malformed one).

    A redelivered record has its original's person. The person is not in the record: it is what
    identity resolution should find out, written by ``touchpoint simulate --persons`` to a side file.
    """
    return (
        (record, None if person is None else person_name(person))
        for _, record, person in Simulator(spec).run_with_persons()
    )
