"""The console's inbox: the latest state of every alert it has read, each with its status history.

Pure bookkeeping over alert records (schemas/alert.v1.json): no Kafka client, no web
server, no clock of its own. Every change gets a sequence number, so a page rendered at
sequence N can ask for everything after N and miss nothing (the live feed does). Memory
is bounded: alerts detected before the history horizon go, and so do the oldest resolved
alerts past ``max_resolved``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from streams.alert_records import ACTIVE_STATUSES, instant

SEVERITY_ORDER: Final = {"critical": 0, "warning": 1, "info": 2}
SEVERITIES: Final = tuple(SEVERITY_ORDER)
#: Status filter values: ``active`` (open or acknowledged) is the inbox's default.
STATUS_FILTERS: Final = ("active", "open", "acknowledged", "resolved", "all")


@dataclass(frozen=True)
class Change:
    """One status the alert had: the status, when it changed and who changed it (None while first open)."""

    status: str
    at: str | None
    by: str | None


@dataclass
class Entry:
    alert: dict[str, Any]
    history: list[Change] = field(default_factory=list)
    #: Sequence number of the entry's last change.
    seq: int = 0

    @property
    def alert_id(self) -> str:
        return str(self.alert["alert_id"])

    @property
    def active(self) -> bool:
        return self.alert["status"] in ACTIVE_STATUSES

    @property
    def raised_at(self) -> float:
        return instant(self.alert["detected_at"]) or 0.0

    @property
    def team(self) -> str | None:
        location = self.alert.get("location")
        return str(location) if location else None


@dataclass(frozen=True)
class Filters:
    """What the inbox shows: each empty field matches everything."""

    type: str = ""
    severity: str = ""
    team: str = ""
    status: str = "active"
    customer_id: str = ""
    alert_id: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> Filters:
        status = query.get("status", "active")
        return cls(
            type=query.get("type", ""),
            severity=query.get("severity", ""),
            team=query.get("team", ""),
            status=status if status in STATUS_FILTERS else "active",
            customer_id=query.get("customer", ""),
            alert_id=query.get("alert", ""),
        )

    def query(self) -> dict[str, str]:
        """The non-default fields, as URL query parameters."""
        pairs = {
            "type": self.type,
            "severity": self.severity,
            "team": self.team,
            "status": "" if self.status == "active" else self.status,
            "customer": self.customer_id,
            "alert": self.alert_id,
        }
        return {key: value for key, value in pairs.items() if value}

    def matches(self, entry: Entry, *, ignore_status: bool = False, ignore_severity: bool = False) -> bool:
        alert = entry.alert
        if self.alert_id and entry.alert_id != self.alert_id:
            return False
        if self.customer_id and alert["customer_id"] != self.customer_id:
            return False
        if self.type and alert["type"] != self.type:
            return False
        if self.team and entry.team != self.team:
            return False
        if not ignore_severity and self.severity and alert["severity"] != self.severity:
            return False
        if ignore_status or self.status == "all":
            return True
        if self.status == "active":
            return entry.active
        return bool(alert["status"] == self.status)


class Inbox:
    """Latest state per alert id, with history; changes numbered in order."""

    def __init__(self, max_resolved: int = 20_000) -> None:
        self._entries: dict[str, Entry] = {}
        self._by_customer: dict[str, set[str]] = {}
        self.seq = 0
        self.max_resolved = max_resolved

    def __len__(self) -> int:
        return len(self._entries)

    def apply(self, alert: dict[str, Any]) -> Entry | None:
        """Take the record *alert*; the changed entry, or None when it changes nothing (a repeat)."""
        alert_id = alert["alert_id"]
        change = Change(alert["status"], alert.get("status_changed_at"), alert.get("status_changed_by"))
        entry = self._entries.get(alert_id)
        if entry is None:
            entry = Entry(alert)
            self._entries[alert_id] = entry
            self._by_customer.setdefault(alert["customer_id"], set()).add(alert_id)
        elif entry.history and entry.history[-1] == change and entry.alert == alert:
            return None
        entry.alert = alert
        if not entry.history or entry.history[-1] != change:
            entry.history.append(change)
        self.seq += 1
        entry.seq = self.seq
        return entry

    def get(self, alert_id: str) -> Entry | None:
        return self._entries.get(alert_id)

    def select(self, filters: Filters, limit: int | None = None) -> list[Entry]:
        """Matching entries, most urgent first: active before resolved, then by severity, newest first."""
        pool = self._entries.values()
        if filters.customer_id:
            pool = [self._entries[i] for i in self._by_customer.get(filters.customer_id, ())]  # type: ignore[assignment]
        found = [entry for entry in pool if filters.matches(entry)]
        found.sort(key=lambda e: (not e.active, SEVERITY_ORDER.get(e.alert["severity"], 9), -e.raised_at))
        return found[:limit] if limit is not None else found

    def since(self, seq: int) -> Iterator[Entry]:
        """Entries changed after sequence number *seq*, in change order."""
        return iter(sorted((e for e in self._entries.values() if e.seq > seq), key=lambda e: e.seq))

    def for_customer(self, customer_id: str) -> list[Entry]:
        return self.select(Filters(status="all", customer_id=customer_id))

    def counts(self, filters: Filters) -> dict[str, int]:
        """Active alerts per severity among those matching *filters*' type, team and customer."""
        counts = dict.fromkeys(SEVERITIES, 0)
        for entry in self._entries.values():
            if entry.active and filters.matches(entry, ignore_status=True, ignore_severity=True):
                severity = entry.alert["severity"]
                counts[severity] = counts.get(severity, 0) + 1
        return counts

    def totals(self) -> tuple[int, int]:
        """(active, resolved) alerts held."""
        active = sum(1 for entry in self._entries.values() if entry.active)
        return active, len(self._entries) - active

    def facets(self) -> dict[str, list[str]]:
        """Values seen, for the filter menus: alert types and teams (locations)."""
        types = {entry.alert["type"] for entry in self._entries.values()}
        teams = {entry.team for entry in self._entries.values() if entry.team}
        return {"type": sorted(types), "team": sorted(teams)}

    def prune(self, before: float) -> int:
        """Drop alerts detected before epoch second *before*, then the oldest resolved beyond the cap."""
        gone = [alert_id for alert_id, e in self._entries.items() if e.raised_at < before]
        resolved = sorted((e for e in self._entries.values() if not e.active), key=lambda e: e.seq)
        excess = len(resolved) - self.max_resolved
        if excess > 0:
            gone.extend(e.alert_id for e in resolved[:excess])
        self._remove(set(gone))
        return len(set(gone))

    def _remove(self, alert_ids: Iterable[str]) -> None:
        for alert_id in alert_ids:
            entry = self._entries.pop(alert_id, None)
            if entry is None:
                continue
            owned = self._by_customer.get(entry.alert["customer_id"])
            if owned is not None:
                owned.discard(alert_id)
                if not owned:
                    del self._by_customer[entry.alert["customer_id"]]
