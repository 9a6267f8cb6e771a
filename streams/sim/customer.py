"""One simulated customer: mutable, slotted, small."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streams.sim.personas import Persona

if TYPE_CHECKING:
    from streams.sim.truth import Situation


class Customer:
    """Mutable per-customer state; slots keep 100k of them small."""

    __slots__ = (
        "advocate_at",
        "announced",
        "churn_at",
        "churned",
        "cid",
        "complaints",
        "favourites",
        "idx",
        "issue_amount",
        "issue_at",
        "issue_case",
        "issue_contacts",
        "issue_events",
        "issue_give_up",
        "issue_id",
        "issue_repeat",
        "issue_resolve_at",
        "issue_topic",
        "known",
        "last_purchase",
        "misuse_at",
        "persona",
        "purchase_days",
        "purchases",
        "questions",
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
        # What the ground truth needs to know (streams/sim/witness.py); never read by the journeys.
        self.purchases = 0
        self.purchase_days: set[int] = set()  # local days with a purchase
        self.last_purchase: dict[str, Any] | None = None
        self.issue_events: list[dict[str, Any]] = []  # complaints about the open issue
        self.issue_case: Situation | None = None  # its service-recovery situation, until resolved
        self.issue_repeat: Situation | None = None  # its repeat-contact situation, from the third contact
        self.complaints: dict[
            str, list[Any]
        ] = {}  # issue -> [first complaint, resolution or 0 (ms), its event]
        self.questions: list[
            tuple[int, int, dict[str, Any]]
        ] = []  # service questions: asked, answered or 0, event
        self.advocate_at = -(10**15)  # when the customer was last a would-be advocate
        self.misuse_at = 0  # when someone else may start using the card (streams/sim/misuse.py); 0: never
        self.tablet: str | None = None  # the device shared with a partner at home, if any
        self.announced: set[str] = set()  # identifiers an identify event has linked to cid so far


Ref = tuple[str, Any]  # ("customer_id", "cust-…") or ("identifiers", {...})
#: (instant, sequence, event or a redelivery's bytes, millisecond channel, the person who made it).
Pending = tuple[int, int, dict[str, Any] | bytes, bool, int]
