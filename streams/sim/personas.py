"""Who the customers are: personas with their weekly rhythms, channels and habits."""

from __future__ import annotations

import itertools
import random
from bisect import bisect_right
from dataclasses import dataclass
from typing import Final

WEEKDAY_HOURS: Final = (
    0.25, 0.12, 0.06, 0.05, 0.06, 0.15, 0.45, 0.9, 1.2, 1.4, 1.6, 1.8,
    2.1, 1.9, 1.7, 1.7, 1.8, 2.1, 2.5, 2.9, 3.1, 2.8, 1.9, 0.9,
)  # fmt: skip
WEEKEND_HOURS: Final = (
    0.45, 0.25, 0.12, 0.08, 0.06, 0.08, 0.2, 0.5, 1.1, 1.9, 2.6, 2.9,
    3.0, 2.9, 2.8, 2.8, 2.9, 3.0, 3.1, 3.2, 3.3, 3.0, 2.2, 1.1,
)  # fmt: skip
DAYTIME_HOURS: Final = (
    0.1, 0.05, 0.03, 0.03, 0.03, 0.1, 0.4, 0.9, 1.6, 2.4, 2.9, 3.0,
    3.0, 2.8, 2.7, 2.8, 2.9, 2.8, 2.4, 2.0, 1.6, 1.1, 0.6, 0.25,
)  # fmt: skip
# Two-income families: little time during the working day, most activity after the children sleep.
AFTER_BEDTIME_HOURS: Final = (
    1.2, 0.4, 0.1, 0.05, 0.05, 0.1, 0.4, 0.6, 0.3, 0.3, 0.3, 0.4,
    0.7, 0.4, 0.3, 0.3, 0.4, 0.6, 0.8, 1.2, 2.4, 4.2, 4.6, 3.0,
)  # fmt: skip
FAMILY_WEEKEND_HOURS: Final = (
    1.2, 0.4, 0.1, 0.05, 0.05, 0.1, 0.3, 0.8, 1.6, 2.2, 2.4, 2.2,
    1.8, 1.4, 1.4, 1.6, 1.6, 1.4, 1.2, 1.4, 2.4, 3.8, 4.2, 2.8,
)  # fmt: skip


def weekly_cumulative(
    weekday: tuple[float, ...], saturday: tuple[float, ...], sunday_factor: float
) -> tuple[float, ...]:
    """Cumulative share of a week's sessions by local hour of the week (169 points, 0.0 .. 1.0)."""
    hours = weekday * 5 + saturday + tuple(w * sunday_factor for w in saturday)
    total = sum(hours)
    cumulative = [0.0]
    for weight in hours:
        cumulative.append(cumulative[-1] + weight / total)
    cumulative[-1] = 1.0
    return tuple(cumulative)


class Weights:
    """Items with weights, drawn by bisecting the cumulative weights (random.choices rebuilds them every call)."""

    __slots__ = ("_cumulative", "_total", "items")

    def __init__(self, pairs: dict[str, float]) -> None:
        self.items = tuple(pairs)
        self._cumulative = tuple(itertools.accumulate(pairs.values()))
        self._total = self._cumulative[-1]

    def pick(self, rng: random.Random) -> str:
        return self.items[bisect_right(self._cumulative, rng.random() * self._total)]


@dataclass(frozen=True, eq=False)
class Persona:
    name: str
    share: float
    sessions_per_week: float
    weekly: tuple[float, ...]  # weekly_cumulative of when sessions start
    prospect_share: float  # share not yet known to the company: only identifiers until they sign up or buy
    digital: Weights  # channel of browsing sessions
    store: float  # session-kind weights (store only counts while stores are open)
    browse: float
    service: float
    campaign: float
    pages: float  # mean page views per browsing session
    chat_from_browse: float
    buy_online: float
    buy_in_store: float
    big_ticket: float  # > 1 favours expensive categories
    satisfaction: float  # initial mean, 0..1
    offer_response: float
    topics: Weights
    refund_rate: float
    issue_multiplier: float
    unresolved_share: float  # issues that never get resolved
    referral_rate: float
    churns: bool  # stops buying some days into the simulation


PERSONAS: Final = (
    Persona(
        name="bargain_hunter",
        share=0.25,
        sessions_per_week=3.2,
        weekly=weekly_cumulative(WEEKDAY_HOURS, WEEKEND_HOURS, 0.9),
        prospect_share=0.13,
        digital=Weights({"web": 0.45, "app": 0.3, "social": 0.15, "email": 0.1}),
        store=0.6,
        browse=1.0,
        service=0.45,
        campaign=0.35,
        pages=3.5,
        chat_from_browse=0.12,
        buy_online=0.14,
        buy_in_store=0.45,
        big_ticket=0.7,
        satisfaction=0.62,
        offer_response=0.4,
        topics=Weights({"price": 0.35, "discount": 0.35, "stock": 0.1, "delivery": 0.1, "order": 0.1}),
        refund_rate=0.08,
        issue_multiplier=1.0,
        unresolved_share=0.12,
        referral_rate=0.02,
        churns=False,
    ),
    Persona(
        name="loyal_regular",
        share=0.2,
        sessions_per_week=2.6,
        weekly=weekly_cumulative(DAYTIME_HOURS, DAYTIME_HOURS, 0.5),
        prospect_share=0.0,
        digital=Weights({"app": 0.5, "web": 0.3, "social": 0.05, "email": 0.15}),
        store=1.6,
        browse=0.7,
        service=0.35,
        campaign=0.12,
        pages=2.5,
        chat_from_browse=0.06,
        buy_online=0.32,
        buy_in_store=0.7,
        big_ticket=1.3,
        satisfaction=0.85,
        offer_response=0.15,
        topics=Weights(
            {"stock": 0.25, "order": 0.2, "warranty": 0.15, "delivery": 0.15, "price": 0.1, "repair": 0.1}
            | {"discount": 0.05}
        ),
        refund_rate=0.04,
        issue_multiplier=0.8,
        unresolved_share=0.08,
        referral_rate=0.08,
        churns=False,
    ),
    Persona(
        name="occasional",
        share=0.3,
        sessions_per_week=0.8,
        weekly=weekly_cumulative(WEEKDAY_HOURS, WEEKEND_HOURS, 0.9),
        prospect_share=0.15,
        digital=Weights({"web": 0.6, "app": 0.15, "social": 0.15, "email": 0.1}),
        store=0.5,
        browse=1.0,
        service=0.45,
        campaign=0.1,
        pages=2.5,
        chat_from_browse=0.08,
        buy_online=0.12,
        buy_in_store=0.4,
        big_ticket=1.0,
        satisfaction=0.7,
        offer_response=0.1,
        topics=Weights(
            {"price": 0.15, "stock": 0.15, "order": 0.15, "delivery": 0.15, "warranty": 0.15, "repair": 0.1}
            | {"discount": 0.15}
        ),
        refund_rate=0.06,
        issue_multiplier=1.0,
        unresolved_share=0.12,
        referral_rate=0.02,
        churns=False,
    ),
    Persona(
        name="evening_family",
        share=0.15,
        sessions_per_week=2.4,
        weekly=weekly_cumulative(AFTER_BEDTIME_HOURS, FAMILY_WEEKEND_HOURS, 0.9),
        prospect_share=0.1,
        digital=Weights({"app": 0.55, "web": 0.35, "social": 0.05, "email": 0.05}),
        store=0.9,
        browse=1.0,
        service=0.5,
        campaign=0.15,
        pages=3.0,
        chat_from_browse=0.22,
        buy_online=0.3,
        buy_in_store=0.6,
        big_ticket=1.6,
        satisfaction=0.72,
        offer_response=0.15,
        topics=Weights({"price": 0.2, "discount": 0.25, "stock": 0.2, "delivery": 0.2, "order": 0.15}),
        refund_rate=0.05,
        issue_multiplier=1.0,
        unresolved_share=0.12,
        referral_rate=0.05,
        churns=False,
    ),
    Persona(
        name="churner",
        share=0.1,
        sessions_per_week=2.2,
        weekly=weekly_cumulative(WEEKDAY_HOURS, WEEKEND_HOURS, 0.9),
        prospect_share=0.0,
        digital=Weights({"web": 0.5, "app": 0.3, "social": 0.15, "email": 0.05}),
        store=0.7,
        browse=0.8,
        service=0.6,
        campaign=0.1,
        pages=2.5,
        chat_from_browse=0.1,
        buy_online=0.22,
        buy_in_store=0.5,
        big_ticket=1.2,
        satisfaction=0.45,
        offer_response=0.1,
        topics=Weights(
            {"order": 0.2, "delivery": 0.25, "repair": 0.2, "warranty": 0.15, "price": 0.1, "stock": 0.1}
        ),
        refund_rate=0.12,
        issue_multiplier=3.0,
        unresolved_share=0.35,
        referral_rate=0.0,
        churns=True,
    ),
)
PERSONA_CHOICE: Final = tuple(itertools.accumulate(p.share for p in PERSONAS))
