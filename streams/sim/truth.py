"""Ground truth: the story situations a run creates, recorded beside its traffic.

The simulator plays the stories of the domain brief on purpose (an evening question nobody
answers, a television that keeps breaking, a stolen card …). Each time it does, it records
the *situation*: which customer, what kind, when it became true, and the events that make it
up. ``touchpoint simulate --truth FILE`` writes them as JSONL, and ``bench/alert_quality.py``
holds the alerts of a replay against them: an alert without a situation is a false alarm, a
situation without an alert a miss.

A situation is what happened in the simulated world, judged by the retailer's own standards
(listed below), never by what an alert rule would say. Each kind is named after the alert
type meant to find it:

* ``after_hours_unanswered``, ``first_response_breach``: a customer wrote (chat, e-mail,
  social) and no person answered within the retailer's promise: ``PROMISED`` business minutes
  for a question asked while the team is staffed (breach), and, asked after hours, within
  ``ON_CALL_MINUTES`` of wall time on chat or ``PROMISED`` business minutes from the next
  opening in writing. A bot's answer is no answer. ``at``: when the promise was broken.
* ``repeat_contact_unresolved``: a customer got in touch a third time about the same
  unresolved issue. ``at``: that contact.
* ``excessive_transfers``: one call was passed on twice or more, or handed over cold.
* ``long_wait``: a queue wait over ``DELIGHT_SECONDS`` (story 7's twenty seconds).
* ``sales_in_service``: an offer (an agent's or a campaign's) while the customer had a
  complaint open or a service question (not about price, a discount or stock) unanswered
  for less than ``SERVICE_CONTACT_DAYS``.
* ``service_recovery``: a service failure the customer told us about and that needs
  recovering: the first complaint about an issue, or feedback at or below
  ``UNHAPPY_CSAT`` / ``UNHAPPY_NPS`` (a detractor). ``details.recovered_within_hours`` says
  whether and when the issue was resolved (business hours after the complaint).
* ``usage_pattern_change``: someone else used the customer's card (story 6): purchases in a
  far-away store or online at night, several times the customer's usual basket.
* ``advocate_opportunity``: a satisfied repeat customer (inner satisfaction at least
  ``ADVOCATE_SATISFACTION``, above the population's typical mood, and two or more purchases)
  gave a promoter score; once per ``ADVOCATE_EVERY_DAYS``.
* ``churn_risk``: a customer who had bought stopped being a customer: their churn date came,
  they gave up on an issue, or their satisfaction fell too low.

Only the events the run actually emitted are named as evidence, so a file cut at N records
names no event beyond it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Final

import orjson

from streams.sim.clock import EPOCH, HOUR

#: The retailer's first-response promise per written channel, in business minutes (the default rules file's).
PROMISED: Final = {"chat": 15, "social": 60, "email": 240}
#: After hours, chat has someone on call who answers within this many minutes of wall time.
ON_CALL_MINUTES: Final = 30
#: Story 7: an agent within twenty seconds.
DELIGHT_SECONDS: Final = 20.0
#: An unanswered service question keeps the customer "in a service contact" this long.
SERVICE_CONTACT_DAYS: Final = 3
#: Topics of a shopping question, not a service one.
SHOPPING_TOPICS: Final = frozenset({"price", "discount", "stock"})
#: Feedback this low tells us the customer is unhappy (a CSAT of 1-2; an NPS detractor, 0-6).
UNHAPPY_CSAT: Final = 2
UNHAPPY_NPS: Final = 6
#: A would-be advocate is this satisfied inside, has bought at least twice and says so with NPS 9-10.
ADVOCATE_SATISFACTION: Final = 0.7
PROMOTER_NPS: Final = 9
ADVOCATE_EVERY_DAYS: Final = 90

KINDS: Final = (
    "after_hours_unanswered",
    "first_response_breach",
    "repeat_contact_unresolved",
    "excessive_transfers",
    "long_wait",
    "sales_in_service",
    "service_recovery",
    "usage_pattern_change",
    "advocate_opportunity",
    "churn_risk",
)


@dataclass(slots=True)
class Situation:
    """One situation of a run; its events get their ids when they are emitted."""

    customer: str
    kind: str
    #: When it became true, ms since the epoch.
    at: int
    #: The events that make it up (the simulator's own dicts: ``event_id`` is filled in at emission).
    events: list[dict[str, Any]]
    details: dict[str, Any] = field(default_factory=dict)
    #: Earlier events that explain it without being part of it (the open question an offer interrupted).
    related: list[dict[str, Any]] = field(default_factory=list)

    def encode(self) -> bytes:
        document: dict[str, Any] = {
            "customer": self.customer,
            "situation": self.kind,
            "at": (EPOCH + timedelta(milliseconds=self.at)).isoformat(),
            "evidence": _ids(self.events),
            "details": self.details,
        }
        if self.related:
            document["related"] = _ids(self.related)
        return orjson.dumps(document)


class Truth:
    """The situations of one run, in the order the simulator created them."""

    def __init__(self) -> None:
        self._situations: list[Situation] = []

    def record(
        self,
        customer: str,
        kind: str,
        at: int,
        events: list[dict[str, Any]],
        related: list[dict[str, Any]] | None = None,
        **details: Any,
    ) -> Situation:
        situation = Situation(customer, kind, at, list(events), details, list(related or ()))
        self._situations.append(situation)
        return situation

    def take(self, until: int, settled_before: int | None = None) -> Iterator[Situation]:
        """The situations up to *until* (ms), in time order, and forget them.

        With *settled_before*, only those that became true before it: the rest may still
        learn more (a later resolution) and stay for a later call.
        """
        limit = until if settled_before is None else min(until, settled_before)
        taken = sorted((s for s in self._situations if s.at <= limit), key=lambda s: (s.at, s.customer))
        self._situations = [s for s in self._situations if s.at > limit]
        return iter(taken)

    def __len__(self) -> int:
        return len(self._situations)


def _ids(events: list[dict[str, Any]]) -> list[str]:
    """The ids of the events the run emitted (an id is filled in at emission)."""
    return [event["event_id"] for event in events if event.get("event_id")]


#: A situation is written once the run is this far past it: until then a resolution may still add to it.
SETTLE_MS: Final = 30 * 24 * HOUR
