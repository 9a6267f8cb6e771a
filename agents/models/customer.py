"""The models applied to one customer's live state: P(alive), expected purchases, CLV, the risk clock.

Plain scalar arithmetic (``math`` and one scipy special function), cheap enough for
every event; the vectorised forms in :mod:`agents.models.bgnbd` and
:mod:`agents.models.gamma_gamma` are the reference the tests hold these to.

From a :class:`~agents.domain.state.CustomerState` the model reads the CDNOW summary
(:mod:`agents.models.history`) on *day* (a day number, days since 1970-01-01):

* ``x``   = distinct purchase days − 1,
* ``t_x`` = last purchase day − first purchase day,
* ``T``   = *day* − first purchase day,

in the parameters' time unit. Purchase days are the events' own local calendar days;
the worker's "today" for time-driven decisions is the UTC day of its event-time clock,
so a deadline can land up to a time-zone offset early or late — hours, against a model
measured in weeks.

Spend: Gamma-Gamma wants the mean of the repeat purchases, excluding the first one.
The state keeps only the total, so the worker uses the mean over all purchase days —
a documented approximation; ``touchpoint fit`` uses the exact figure.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any, Final, NamedTuple

from mypy_extensions import mypyc_attr
from scipy import special

from agents.domain.instants import DAY
from agents.domain.state import CustomerState
from agents.models.params import ModelParams
from agents.models.population import BestCustomerThreshold, FixedThreshold

__all__ = ["CustomerModel", "Summary"]

_EPOCH_DAY: Final = date(1970, 1, 1)
#: 9999-12-31, the last day a date holds, in days since 1970-01-01.
_LAST_DAY: Final = (date.max - _EPOCH_DAY).days
#: Horizon of the expected-purchases figure in the customer view.
VIEW_HORIZON_DAYS: Final = 90
#: ``(x, t_x)`` summaries whose horizon figures a model keeps (some 200 bytes each).
HORIZONS_KEPT: Final = 65_536


class Summary(NamedTuple):
    """``(x, t_x, T)`` of one customer on one day, in the model's time unit (one per touchpoint of a buyer)."""

    x: int
    t_x: float
    T: float


@mypyc_attr(allow_interpreted_subclasses=True)  # the tests count its evaluations in a subclass
class CustomerModel:
    """BG/NBD and Gamma-Gamma with one set of parameters and CLV settings."""

    def __init__(
        self,
        params: ModelParams,
        *,
        clv_periods: int = 12,
        clv_period_days: float = 30.4375,
        discount_rate: float = 0.01,
    ) -> None:
        self.params = params
        bg = params.purchases
        self._r, self._alpha, self._a, self._b = bg.r, bg.alpha, bg.a, bg.b
        self._scale = params.days_per_unit
        self._clv_periods = clv_periods
        self._clv_period = clv_period_days / self._scale
        self._discount = discount_rate
        #: P(alive) and the discounted purchases over the horizon, per ``(x, t_x)``: all a CLV needs
        #: besides the spend. The journey values every purchase, and customers share few summaries
        #: (whole days, a handful of purchase days), each twelve ``hyp2f1`` to work out. Emptied when full.
        self._horizon: dict[tuple[int, float], tuple[float, float]] = {}
        self._horizons_kept = HORIZONS_KEPT
        #: Who counts as a best customer, and when: the parameters file's threshold unless the tracker
        #: sets the population's (agents/models/population.py).
        self.best_customers: BestCustomerThreshold = FixedThreshold(params.best_customer_clv)

    # ------------------------------------------------------------------ summary

    def summary(self, state: CustomerState, day: int) -> Summary | None:
        """The customer's ``(x, t_x, T)`` on *day*; None before the first purchase day."""
        first = state.first_purchase_day
        if state.purchase_count == 0 or not first:
            return None
        last = state.purchase_days[-1] if state.purchase_days else first
        x = max(state.distinct_purchase_days - 1, 0)
        t_x = (last - first) / self._scale if x else 0.0
        # A day before the last purchase (a late query) is read as that day: T is never below t_x.
        T = max(day - first, last - first) / self._scale
        return Summary(x, t_x, T)

    # ------------------------------------------------------------------ BG/NBD

    def p_alive(self, x: int, t_x: float, T: float) -> float:
        """P(alive | x, t_x, T): 1 for x == 0 (BG/NBD customers only drop out right after a purchase)."""
        if x == 0:
            return 1.0
        log_odds_dead = (
            math.log(self._a)
            - math.log(self._b + x - 1)
            + (self._r + x) * (math.log(self._alpha + T) - math.log(self._alpha + t_x))
        )
        if log_odds_dead > 700:
            return 0.0
        return 1.0 / (1.0 + math.exp(log_odds_dead))

    def p_alive_on(self, state: CustomerState, day: int) -> float | None:
        summary = self.summary(state, day)
        return None if summary is None else self.p_alive(summary.x, summary.t_x, summary.T)

    def day_below(self, state: CustomerState, threshold: float) -> int | None:
        """The first day on which P(alive) is below *threshold*; None if it never will be (x == 0), or not
        before the year 10000.

        P(alive) only falls as T grows, so the crossing has a closed form:
        ``T* = (α + t_x) · ((1/θ − 1)(b + x − 1)/a)^(1/(r + x)) − α``; the first whole day past it
        (at least the last purchase day) is checked against :meth:`p_alive` to absorb rounding.
        """
        summary = self.summary(state, state.first_purchase_day)
        if summary is None or summary.x == 0:
            return None
        x, t_x = summary.x, summary.t_x
        odds = (1.0 / threshold - 1.0) * (self._b + x - 1) / self._a
        crossing = (self._alpha + t_x) * math.pow(odds, 1.0 / (self._r + x)) - self._alpha
        first = state.first_purchase_day
        if not crossing * self._scale + first < _LAST_DAY:  # infinite, too, for a threshold near 0
            return None  # on no day a calendar holds
        last = round(t_x * self._scale) + first
        day = max(math.floor(crossing * self._scale) + 1 + first, last)

        def below(candidate: int) -> bool:
            return self.p_alive(x, t_x, (candidate - first) / self._scale) < threshold

        while day > last and below(day - 1):
            day -= 1
        while not below(day):
            day += 1
        return day

    def expected_purchases(self, x: int, t_x: float, T: float, t: float) -> float:
        """E[purchases in (T, T + t] | x, t_x, T] (BG/NBD eq. 10, Euler-transformed as in bgnbd)."""
        if t <= 0:
            return 0.0
        return self.p_alive(x, t_x, T) * self._given_alive(x, T, t)

    def _given_alive(self, x: int, T: float, t: float) -> float:
        a = self._a
        if abs(a - 1) < 1e-6:
            return 0.5 * (self._bracket(1 - 1e-6, x, T, t) + self._bracket(1 + 1e-6, x, T, t))
        return self._bracket(a, x, T, t)

    def _bracket(self, a: float, x: int, T: float, t: float) -> float:
        b, r = self._b, self._r
        z = t / (self._alpha + T + t)
        c = a + b + x - 1
        series = float(special.hyp2f1(a + b - 1 - r, a - 1, c, z))
        return c / (a - 1) * -math.expm1((a - 1) * math.log1p(-z) + math.log(series))

    # ------------------------------------------------------------------ spend and value

    def expected_spend(self, x: int, mean_spend: float) -> float:
        """Gamma-Gamma E[spend per purchase | x, mean]: the population mean for x == 0."""
        g = self.params.spend
        if x == 0:
            return g.population_mean
        return g.p * (g.gamma + x * mean_spend) / (g.p * x + g.q - 1)

    def clv(self, state: CustomerState) -> float:
        """Discounted expected spend over the horizon, estimated as of the customer's last purchase day.

        Valued at the last purchase, not today, so a valuable customer who goes quiet stays
        known as valuable — exactly the customer best_customer_at_risk is about.
        """
        summary = self.summary(state, 0)
        if summary is None:
            return 0.0
        x, t_x = summary.x, summary.t_x
        days = state.distinct_purchase_days
        spend = self.expected_spend(x, state.purchase_value / days if days else 0.0)
        horizon = self._horizon.get((x, t_x))
        if horizon is None:
            horizon = self._over_horizon(x, t_x)
            if len(self._horizon) >= self._horizons_kept:
                self._horizon.clear()
            self._horizon[(x, t_x)] = horizon
        alive, total = horizon
        return alive * spend * total

    def _over_horizon(self, x: int, t_x: float) -> tuple[float, float]:
        """P(alive) at the last purchase, and the discounted purchases expected over the horizon."""
        alive = self.p_alive(x, t_x, t_x)
        total = previous = 0.0
        for k in range(1, self._clv_periods + 1):
            cumulative = self._given_alive(x, t_x, k * self._clv_period)
            total += (cumulative - previous) / (1 + self._discount) ** k
            previous = cumulative
        return alive, total

    def is_best_customer(self, clv: float, instant: int) -> bool:
        """Whether a customer valued at *clv* is a best customer at *instant*."""
        return self.best_customers.is_best(clv, instant)

    def best_customer_clv(self, instant: int) -> float | None:
        """The best-customer threshold in effect at *instant* (None: nobody is one then)."""
        return self.best_customers.at(instant)

    def view(self, state: CustomerState, day: int) -> dict[str, Any]:
        """The model's reading of the customer on *day*, for the lookup API and replay's customers file."""
        summary = self.summary(state, day)
        view: dict[str, Any] = {
            "as_of": (_EPOCH_DAY + timedelta(days=day)).isoformat(),
            "unit": self.params.unit,
            "params": self.params.source,
        }
        end_of_day = (day + 1) * DAY - 1
        threshold = self.best_customer_clv(end_of_day)
        view["best_customer_clv"] = None if threshold is None else round(threshold, 2)
        if summary is None:
            return {
                **view,
                "x": None,
                "t_x": None,
                "T": None,
                "p_alive": None,
                "clv": 0.0,
                "best_customer": False,
            }
        horizon = VIEW_HORIZON_DAYS / self._scale
        return {
            **view,
            "x": summary.x,
            "t_x": summary.t_x,
            "T": summary.T,
            "p_alive": self.p_alive(summary.x, summary.t_x, summary.T),
            f"expected_purchases_{VIEW_HORIZON_DAYS}_days": self.expected_purchases(
                summary.x, summary.t_x, summary.T, horizon
            ),
            "clv": state.clv,
            "best_customer": self.is_best_customer(state.clv, end_of_day),
        }
