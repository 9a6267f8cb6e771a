"""One simulated customer: mutable, slotted, small."""

from __future__ import annotations

from typing import Any

from streams.sim.personas import Persona


class Customer:
    """Mutable per-customer state; slots keep 100k of them small."""

    __slots__ = (
        "announced",
        "churn_at",
        "churned",
        "cid",
        "favourites",
        "idx",
        "issue_amount",
        "issue_at",
        "issue_contacts",
        "issue_give_up",
        "issue_id",
        "issue_resolve_at",
        "issue_topic",
        "known",
        "persona",
        "refund_amount",
        "refund_at",
        "refund_channel",
        "refund_order",
        "satisfaction",
        "slot",
        "store",
        "tablet",
    )

    def __init__(
        self, slot: int, idx: int, persona: Persona, known: bool, satisfaction: float, store: str
    ) -> None:
        self.slot = slot  # position in the population; a lapsed customer's slot goes to a newcomer
        self.idx = idx
        self.cid = f"cust-{idx:06d}"
        self.persona = persona
        self.known = known
        self.satisfaction = satisfaction
        self.churned = False
        self.churn_at = 0  # 0: never
        self.favourites: tuple[int, int] = (0, 0)
        self.store = store
        self.issue_id = ""  # "": no open issue
        self.issue_topic = ""
        self.issue_at = 0  # when the next contact about the open issue happens
        self.issue_contacts = 0
        self.issue_resolve_at = 0  # contact number that resolves it; 0: never
        self.issue_give_up = 0
        self.issue_amount = 0.0
        self.refund_at = 0  # 0: no refund pending
        self.refund_order = ""
        self.refund_amount = 0.0
        self.refund_channel = ""
        self.tablet: str | None = None  # the device shared with a partner at home, if any
        self.announced: set[str] = set()  # identifiers an identify event has linked to cid so far


Ref = tuple[str, Any]  # ("customer_id", "cust-…") or ("identifiers", {...})
#: (instant, sequence, event or a redelivery's bytes, millisecond channel, the person who made it).
Pending = tuple[int, int, dict[str, Any] | bytes, bool, int]
