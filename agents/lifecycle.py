"""The lifecycle stage machine: a pure function of a customer's state and the time.

Stages follow the loyalty ladder: ``prospect`` (known, never bought) →
``first_time`` → ``repeat`` → ``loyal`` (sustained repeat buying, satisfied, no
open complaint) → ``advocate`` (loyal and a promoter or referrer). When buying
stops relative to the customer's own cadence the stage becomes ``at_risk``, then
``lapsed``; a purchase by a lapsed customer is a win-back.

Because the stage is a function of order-independent aggregates and the
customer's clock, a late event can never produce a stage that the full, ordered
history would not give at the same instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from agents.config import LifecycleConfig
from agents.domain.instants import DAY
from agents.domain.rounding import round_whole
from agents.domain.state import CustomerState
from agents.models.customer import CustomerModel

PROSPECT: Final = "prospect"
FIRST_TIME: Final = "first_time"
REPEAT: Final = "repeat"
LOYAL: Final = "loyal"
ADVOCATE: Final = "advocate"
AT_RISK: Final = "at_risk"
LAPSED: Final = "lapsed"

#: Every stage, in ladder order (the metrics and the docs list them this way).
STAGES: Final = (PROSPECT, FIRST_TIME, REPEAT, LOYAL, ADVOCATE, AT_RISK, LAPSED)


@dataclass(frozen=True, slots=True)
class ModelStages:
    """at_risk and lapsed from P(alive) on the UTC day of the clock (see agents/models/customer.py)."""

    model: CustomerModel
    at_risk_below: float
    lapsed_below: float

    def applies(self, state: CustomerState) -> bool:
        return state.distinct_purchase_days > 1 and state.first_purchase_day != 0


class _Figures:
    """A LifecycleConfig's figures read once, with the thresholds of the default cadence.

    The config is an interpreted dataclass: compiled code reads each of its fields through the
    generic attribute lookup, and a stage took nine of them, one and a half times a touchpoint.
    """

    def __init__(self, config: LifecycleConfig) -> None:
        self.config = config
        self.min_purchase_days_for_cadence = config.min_purchase_days_for_cadence
        self.at_risk_multiplier: float = config.at_risk_multiplier
        self.lapsed_multiplier: float = config.lapsed_multiplier
        self.at_risk_min_days: float = config.at_risk_min_days
        self.lapse_window_days: float = config.lapse_window_days
        self.ratio: float = config.lapsed_multiplier / config.at_risk_multiplier
        self.loyal_min_purchase_days = config.loyal_min_purchase_days
        self.loyal_min_tenure: float = config.loyal_min_tenure_days * DAY
        self.loyal_min_satisfaction: float = config.loyal_min_satisfaction
        self.advocate_min_nps = config.advocate_min_nps
        self.default_thresholds = self.thresholds(config.default_gap_days)

    def thresholds(self, gap: float) -> tuple[int, int]:
        """Seconds after the last purchase at which a customer buying every *gap* days is at risk, then lapsed."""
        at_risk_days = min(max(self.at_risk_multiplier * gap, self.at_risk_min_days), self.lapse_window_days)
        # Keep lapsing proportionally later than at-risk even when the at-risk floor applies (weekly shoppers).
        lapsed_days = min(
            max(self.lapsed_multiplier * gap, at_risk_days * self.ratio), self.lapse_window_days
        )
        return round_whole(at_risk_days * DAY), round_whole(lapsed_days * DAY)


class _Memo:
    def __init__(self) -> None:
        self.figures: _Figures | None = None


#: The figures of the config asked about last: a worker has one config, and a replay.
_MEMO: Final = _Memo()


def _figures(config: LifecycleConfig) -> _Figures:
    figures = _MEMO.figures
    if figures is None or figures.config is not config:
        figures = _MEMO.figures = _Figures(config)
    return figures


def _median_gap(state: CustomerState, figures: _Figures) -> int | float | None:
    """The customer's median days between distinct purchase days (None: too few to tell a cadence)."""
    days = state.purchase_days
    if state.distinct_purchase_days < figures.min_purchase_days_for_cadence or len(days) < 2:
        return None
    # Indexed, not itertools.pairwise: compiled, a list built by index runs natively.
    gaps = [days[index + 1] - days[index] for index in range(len(days) - 1)]
    gaps.sort()
    middle = len(gaps) // 2
    return gaps[middle] if len(gaps) % 2 else (gaps[middle - 1] + gaps[middle]) / 2


def typical_gap_days(state: CustomerState, config: LifecycleConfig) -> int | float:
    """The customer's median days between distinct purchase days, or the configured default."""
    gap = _median_gap(state, _figures(config))
    return config.default_gap_days if gap is None else gap


def inactivity_thresholds(state: CustomerState, config: LifecycleConfig) -> tuple[int, int]:
    """Seconds after the last purchase at which the customer becomes at risk, then lapsed."""
    return _inactivity(state, _figures(config))


def _inactivity(state: CustomerState, figures: _Figures) -> tuple[int, int]:
    gap = _median_gap(state, figures)
    return figures.default_thresholds if gap is None else figures.thresholds(gap)


def classify(
    state: CustomerState, now: int, config: LifecycleConfig, model: ModelStages | None = None
) -> str:
    """The stage of *state* at instant *now* (epoch seconds)."""
    if state.purchase_count == 0:
        return PROSPECT
    figures = _figures(config)
    if model is not None and model.applies(state):
        alive = model.model.p_alive_on(state, now // DAY)
        if alive is not None and alive < model.lapsed_below:
            return LAPSED
        if alive is not None and alive < model.at_risk_below:
            return AT_RISK
    else:
        at_risk_after, lapsed_after = _inactivity(state, figures)
        elapsed = now - state.last_purchase
        if elapsed >= lapsed_after:
            return LAPSED
        if elapsed >= at_risk_after:
            return AT_RISK
    distinct_days = state.distinct_purchase_days
    if distinct_days <= 1:
        return FIRST_TIME
    satisfaction = state.satisfaction
    sustained = (
        distinct_days >= figures.loyal_min_purchase_days
        and (state.last_purchase - state.first_purchase) >= figures.loyal_min_tenure
        and not state.complaints_open
        and (satisfaction is None or satisfaction >= figures.loyal_min_satisfaction)
    )
    if not sustained:
        return REPEAT
    promoter = state.nps is not None and state.nps[0] >= figures.advocate_min_nps
    return ADVOCATE if promoter or state.referrals > 0 else LOYAL


def next_stage_deadline(
    state: CustomerState, after: int, config: LifecycleConfig, model: ModelStages | None = None
) -> int | None:
    """The first instant strictly after *after* at which time alone changes the stage, if any."""
    if state.purchase_count == 0:
        return None
    if model is not None and model.applies(state):
        # The start of the first UTC day on which P(alive) is below each threshold.
        days = (
            model.model.day_below(state, model.at_risk_below),
            model.model.day_below(state, model.lapsed_below),
        )
        instants = [day * DAY for day in days if day is not None]
    else:
        at_risk_after, lapsed_after = _inactivity(state, _figures(config))
        instants = [state.last_purchase + at_risk_after, state.last_purchase + lapsed_after]
    for instant in instants:
        if instant > after:
            return instant
    return None
