"""What to simulate: the population, the seed, the start and the noise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class SimulationSpec:
    """What to simulate; the same spec always yields byte-identical output."""

    customers: int = 1000
    seed: int = 7
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC)
    malformed_share: float = 0.01
    timezone: str = "Europe/Berlin"

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ValueError(f"customers must be >= 1, got {self.customers}")
        if not 0.0 <= self.malformed_share <= 1.0:
            raise ValueError(f"malformed_share must be within 0..1, got {self.malformed_share}")
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        ZoneInfo(self.timezone)  # raises ZoneInfoNotFoundError (a KeyError) for unknown zones
