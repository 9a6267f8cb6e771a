"""Every table of the app, in one place, with the codec that keeps their changelog records compact."""

from __future__ import annotations

from typing import Any

import faust
from faust.serializers import codecs
from faust.types import TableT

from agents.domain.state import CustomerState
from streams import topics

#: Faust codec name for CustomerState values.
CUSTOMER_STATE_CODEC = "customer-state"


class _CustomerStateCodec(codecs.Codec):
    """CustomerState ↔ its compact JSON; the table keeps live objects, the codec runs only for the changelog."""

    def _dumps(self, obj: Any) -> bytes:
        return obj.encode()  # type: ignore[no-any-return]

    def _loads(self, s: bytes) -> CustomerState:
        return CustomerState.decode(s)


codecs.register(CUSTOMER_STATE_CODEC, _CustomerStateCodec())


class _CustomerStateValue:
    """Table value type: Faust reads the codec from ``_options`` and rebuilds values with ``from_data``."""

    class _options:
        serializer = CUSTOMER_STATE_CODEC

    #: A bulk restore (streams.runtime.recovery) leaves values encoded in the memory store; the StateWriter
    #: decodes each on its first read, and the journey's rebuild reads what it needs from the bytes
    #: (agents.domain.state.summarize). A state in memory costs ~5 KB as objects and ~0.7 KB as
    #: bytes, and most customers of a large table are not touched for days.
    restore_encoded = True

    @staticmethod
    def from_data(value: Any, preferred_type: Any = None) -> Any:
        return value  # already a CustomerState: the codec built it


def customer_to_state(app: faust.App, partitions: int) -> TableT[bytes, CustomerState]:
    """customer id (bytes) → CustomerState; changelog-backed, co-partitioned with touchpoints.by-customer."""
    return app.Table(
        "customer_to_state",
        partitions=partitions,
        key_type=bytes,
        value_type=_CustomerStateValue,
        help="Per-customer journey state.",
        # Compacted with bounded tombstone retention and compaction lag: an erased customer's states go.
        extra_topic_configs=dict(topics.CHANGELOG_CONFIG),
    )


def erased_customers(app: faust.App, partitions: int) -> TableT[bytes, int]:
    """customer id (bytes) → when they were erased (epoch seconds); co-partitioned with the customer table.

    Written by the journey agent for each erasure, read for each touchpoint: one dated at or before
    its customer's erasure is dropped (agents/journey/step.py).
    """
    return app.Table(
        "erased_customers",
        partitions=partitions,
        key_type=bytes,
        value_type=int,
        help="Customers forgotten on request, and when.",
        extra_topic_configs=dict(topics.ERASED_CUSTOMERS_CONFIG),
    )


def coordinator_state(app: faust.App) -> TableT[bytes, bytes]:
    """The coordinator's state (agents/coordination/), one partition: what it kept for the next owner.

    Key ``state`` holds its bounded part; every pending warning, answer, published digest and inquiry
    a digest lists has a key of its own (agents/alerts/digests.py), deleted when it leaves the state.
    """
    return app.Table(
        "coordinator_state",
        partitions=1,
        key_type=bytes,
        value_type=bytes,
        schema=faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"),
        help="The coordinator's digests in progress and population reports.",
        # Each key's latest value is all a next owner needs.
        extra_topic_configs={"cleanup.policy": "compact"},
    )
