"""Worker-level metrics that no agent sees: identity, owned partitions and consumer lag.

Offsets come from the Faust consumer without extra requests to the broker:

* the end offset is ``Consumer.highwater(tp)``, the high watermark of the latest fetch response
  for the partition. On the embedded Tansu broker this value is exact: only its ListOffsets answer
  has the "start of the last batch + 1" quirk (see streams/runtime/transport.py), and that is not used here;
* the committed offset is the one the consumer loaded when it was assigned the partition and has
  committed since (``Consumer._committed_offset``: Faust keeps it for its own commit bookkeeping and
  drops it when the partition is revoked).

The lag of a partition is reported only while both are known: from the first fetch and the first
loaded or made commit of the partition until it is revoked. An empty partition has no lag.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, Final, Protocol

import faust
from faust.types import TP
from prometheus_client import Gauge

from streams.runtime.batches import batch_host
from streams.runtime.faust_private import committed_offset

log = logging.getLogger(__name__)

#: Seconds between consumer-lag refreshes.
LAG_REFRESH_SECONDS: Final = 5.0


def version() -> str:
    """The installed package's version, or "unknown" when it runs from a source tree."""
    try:
        return metadata.version("touchpoint")
    except metadata.PackageNotFoundError:
        return "unknown"


def core_build() -> str:
    """ "compiled" where the per-record core runs as C extensions (setup.py), "pure" where as Python.

    A plain ``pip install`` without a compiler, or ``TOUCHPOINT_PURE=1``, gives the pure one, at about
    a third more CPU per event: the worker's info metric says which one runs.
    """
    import agents.journey.step

    return "pure" if agents.journey.step.__file__.endswith(".py") else "compiled"


def core_profile_guided() -> bool:
    """Whether the compiled core was built profile-guided (``scripts/compile-core``, with GCC).

    It takes 8-15 % less CPU per event than the plain build (docs/development.md). The build says
    which it made in ``agents/core_build.txt`` (setup.py); a pure core is never profile-guided.
    """
    import agents

    if core_build() == "pure":
        return False
    try:
        return (Path(agents.__file__).parent / agents.CORE_BUILD_NOTE).read_text().strip() == "profile-guided"
    except OSError:
        return False


def core_description() -> str:
    """The core as a reader would say it: "compiled, profile-guided", "compiled" or "pure"."""
    return "compiled, profile-guided" if core_profile_guided() else core_build()


def lag(highwater: int | None, committed: int | None) -> int | None:
    """Records between the committed offset and the end; None when that is not known yet."""
    if highwater is None:
        return None
    if highwater <= 0:
        return 0  # nothing was ever written: nothing to be behind on
    if committed is None:
        return None
    return max(highwater - committed, 0)


class ConsumerLag:
    """Keeps ``touchpoint_consumer_lag_records`` equal to the latest snapshot, series for series."""

    def __init__(self, gauge: Any) -> None:
        self._gauge = gauge
        self._series: set[tuple[str, str]] = set()

    def update(self, lags: Mapping[tuple[str, int], int | None]) -> None:
        """Set each known lag; remove every series not in *lags* or whose lag is unknown."""
        current: set[tuple[str, str]] = set()
        for (topic, partition), records in lags.items():
            if records is None:
                continue
            labels = (topic, str(partition))
            self._gauge.labels(*labels).set(records)
            current.add(labels)
        for labels in self._series - current:
            self._gauge.remove(*labels)
        self._series = current


def count_by_topic(owned: Iterable[TP], topics: Collection[str]) -> dict[str, int]:
    """Partitions per topic in *owned*, 0 for each topic of *topics* with none."""
    counts = Counter(tp.topic for tp in owned if tp.topic in topics)
    return {topic: counts.get(topic, 0) for topic in topics}


class WorkerMetrics(Protocol):
    @property
    def WORKER_INFO(self) -> Gauge: ...
    @property
    def PARTITIONS_OWNED(self) -> Gauge: ...
    @property
    def CONSUMER_LAG(self) -> Gauge: ...


def install(app: faust.App, metrics: WorkerMetrics) -> None:
    """Export *app*'s identity, owned partitions and consumer lag; call after the agents, the batch host's
    routes and the tables exist."""
    host = batch_host(app)
    inputs = sorted(
        {name for agent in app.agents.values() for name in agent.get_topic_names()}
        | set(host.topic_names() if host is not None else ())
    )
    changelogs = sorted(table.changelog_topic.get_topic_name() for table in app.tables.values())
    owned_topics = (*inputs, *changelogs)
    metrics.WORKER_INFO.clear()
    profile_guided = "true" if core_profile_guided() else "false"
    metrics.WORKER_INFO.labels(version(), app.conf.id, core_build(), profile_guided).set(1)
    for topic in owned_topics:
        metrics.PARTITIONS_OWNED.labels(topic).set(0)
    consumer_lag = ConsumerLag(metrics.CONSUMER_LAG)

    def owned() -> set[TP]:
        # Active assignment only (standby changelog partitions are not owned), while the consumer has it.
        try:
            assigned = app.consumer.assignment()
        except Exception:  # consumer not started yet, or stopping
            return set()
        return {tp for tp in app.assignor.assigned_actives() if tp in assigned}

    def refresh() -> None:
        partitions = owned()
        for topic, count in count_by_topic(partitions, owned_topics).items():
            metrics.PARTITIONS_OWNED.labels(topic).set(count)
        consumer = app.consumer
        lags: dict[tuple[str, int], int | None] = {}
        for tp in partitions:
            if tp.topic not in inputs:
                continue
            try:
                highwater = consumer.highwater(tp)
            except Exception:  # revoked between the two reads: unknown this round
                highwater = None
            lags[(tp.topic, tp.partition)] = lag(highwater, committed_offset(consumer, tp))
        consumer_lag.update(lags)

    def safe_refresh() -> None:
        try:
            refresh()
        except Exception as exc:  # a metric must never stop the worker (nor fail a rebalance)
            log.warning("could not refresh partition metrics: %r", exc)

    # mode types a receiver as taking a `signal` keyword; this one takes it with the rest of **kwargs.
    @app.on_partitions_assigned.connect  # type: ignore[arg-type]
    async def on_partitions_assigned(sender: Any, assigned: set[TP], **kwargs: Any) -> None:
        safe_refresh()  # partitions owned now, and no lag series left for partitions another worker took

    @app.timer(interval=LAG_REFRESH_SECONDS)  # type: ignore[untyped-decorator]
    async def refresh_consumer_lag() -> None:
        safe_refresh()
