"""The retailer: its catalogue, stores, teams, campaigns, and which channels stamp milliseconds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Category:
    name: str
    median_price: float
    price_sigma: float
    popularity: float
    fault_rate: float  # chance that a purchase turns into a repair/warranty issue later


CATEGORIES: Final = (
    Category("tv", 649.0, 0.45, 0.05, 0.08),
    Category("air-purifier", 219.0, 0.35, 0.06, 0.05),
    Category("coffee-machine", 289.0, 0.5, 0.07, 0.05),
    Category("vacuum", 249.0, 0.45, 0.07, 0.05),
    Category("laptop", 899.0, 0.4, 0.04, 0.04),
    Category("headphones", 89.0, 0.7, 0.12, 0.03),
    Category("phone-accessory", 24.0, 0.6, 0.2, 0.01),
    Category("kitchen", 39.0, 0.7, 0.16, 0.02),
    Category("lighting", 19.0, 0.6, 0.14, 0.01),
    Category("toys", 29.0, 0.6, 0.09, 0.01),
)
SKUS_PER_CATEGORY: Final = 40

MILLIS_CHANNELS: Final = frozenset({"app", "web"})  # machine-stamped; people-facing channels log seconds

TOPIC_TEAM: Final = {
    "price": "team-sales",
    "discount": "team-sales",
    "stock": "team-sales",
    "order": "team-support",
    "delivery": "team-support",
    "return": "team-support",
    "warranty": "team-repair",
    "repair": "team-repair",
}
TRANSFER_TARGETS: Final = ("team-support", "team-billing", "team-repair", "team-escalations", "team-sales")
STORE_DISTRICTS: Final = ("mitte", "nord", "ost", "sued", "west")
CAMPAIGN_THEMES: Final = ("winter-sale", "bundle-deal", "loyalty-bonus", "free-delivery", "weekend-special")
