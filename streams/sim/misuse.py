"""Story 6, the card that was not the customer's any more: someone else shops with it.

A few known customers have their card or account taken over, some weeks after they join the
run, once they have a few purchases of their own (a card with a history, whose pattern can
change). The thief buys expensive, resellable goods, two or three times within hours, the day
after: either in a store of another city during opening hours, or online in the small hours.
The purchases carry the customer's id (the card identifies them), so they land in the
customer's journey, where the usage pattern suddenly changes. Everything here is drawn from
its own random stream, so the rest of the traffic is the same with or without it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Final

from streams.sim.clock import DAY, HOUR, MINUTE, Clock

#: Share of known customers whose card is misused once, some weeks into their history.
MISUSE_SHARE: Final = 0.08
#: Days after a customer joins the run before the misuse may happen.
MISUSE_AFTER_DAYS: Final = (10.0, 40.0)
#: Purchases of their own a customer has made before their card is worth stealing; until then it waits a week.
MISUSE_HISTORY: Final = 3
MISUSE_POSTPONE_DAYS: Final = 7
#: Stores of other cities, where the customer never shops.
FAR_STORES: Final = ("store-hamburg-altona", "store-muenchen-schwabing", "store-koeln-ehrenfeld")
#: What a thief buys: (sku prefix, price range in EUR).
LOOT: Final = (("sku-laptop", 799.0, 1499.0), ("sku-tv", 699.0, 1299.0), ("sku-phone", 899.0, 1399.0))


@dataclass(frozen=True, slots=True)
class Purchase:
    """One purchase of the misuse: when, where, what."""

    at: int
    channel: str
    location: str | None
    sku: str
    amount: float


def when(rng: random.Random, joined: int) -> int:
    """When the misuse of a customer who joined the run at *joined* (ms) may happen."""
    return joined + int(rng.uniform(*MISUSE_AFTER_DAYS) * DAY)


def plan(rng: random.Random, clock: Clock, after: int) -> list[Purchase]:
    """The purchases of one misuse, on the day after *after* (ms)."""
    day = after + DAY
    local = clock.local(day)
    midnight = local - local % DAY
    count = rng.choice((2, 2, 3))
    if rng.random() < 0.5:
        # A store of another city, Monday to Saturday, between 10:00 and 17:00.
        while (midnight // DAY + 3) % 7 == 6:
            midnight += DAY
        start = clock.utc(midnight + 10 * HOUR + int(rng.uniform(0, 7) * HOUR))
        channel, location = "store", rng.choice(FAR_STORES)
    else:
        # Online in the small hours, between 01:00 and 04:00.
        start = clock.utc(midnight + 1 * HOUR + int(rng.uniform(0, 3) * HOUR))
        channel, location = rng.choice(("web", "app")), None
    purchases = []
    at = start
    for _ in range(count):
        prefix, low, high = rng.choice(LOOT)
        amount = round(rng.uniform(low, high)) - 0.01
        purchases.append(Purchase(at, channel, location, f"{prefix}-{rng.randint(1, 40):03d}", amount))
        at += int(rng.uniform(15, 50) * MINUTE)
    return purchases
