"""Session fixtures: one embedded broker and one worker for the whole test run (per pytest process:
``scripts/test`` runs several, see docs/development.md).

A consumer-group join on the embedded broker takes half the session timeout, so
starting a worker per test would dominate the suite; tests share this one and
tell their records apart by unique ids and by source offsets.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streams import fetch_holes
from streams.local.broker import EmbeddedBroker, free_port
from streams.local.supervisor import WorkerProcess
from tests.compiled import ROOT, stale_sources

# The tests read topics that several workers write at once, with plain aiokafka consumers too: like
# every client of the product, they fetch a hole in a partition's offsets again instead of moving past it.
fetch_holes.install()

# Every worker the tests start shares one secret for its timer ticks, as the workers of one app must,
# and one identity key (a worker refuses to start without one): replay in a test uses the same.
os.environ.setdefault("TOUCHPOINT_CONTROL_SECRET", secrets.token_hex(32))
os.environ.setdefault("TOUCHPOINT_IDENTITY_SALT", secrets.token_hex(32))


def pytest_sessionstart(session: pytest.Session) -> None:
    stale = stale_sources()
    if stale:
        names = ", ".join(str(source.relative_to(ROOT)) for source in stale[:5])
        raise pytest.UsageError(
            f"{names} changed after the core was compiled, and Python would test the old build: "
            "run ./scripts/bootstrap dev (or ./scripts/test), or TOUCHPOINT_PURE=1 ./scripts/bootstrap dev "
            "for pure Python"
        )


#: Every test is exactly one of these, so ``-m unit`` and ``-m integration`` together run the whole suite.
KINDS = ("unit", "integration")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unsorted = [
        item.nodeid for item in items if sum(item.get_closest_marker(kind) is not None for kind in KINDS) != 1
    ]
    if unsorted:
        more = f" and {len(unsorted) - 5} more" if len(unsorted) > 5 else ""
        raise pytest.UsageError(
            f"{', '.join(unsorted[:5])}{more}: each test needs exactly one of the markers unit and "
            "integration (pytestmark = pytest.mark.unit at the top of its module)"
        )


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(log_path=log) as running:
        yield running


@pytest.fixture(scope="session")
def worker(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WorkerProcess]:
    process = WorkerProcess(broker.url, free_port(), tmp_path_factory.mktemp("worker")).start()
    try:
        process.wait_ready()
        yield process
    finally:
        code = process.stop()
        if code not in (0, None):
            print(f"worker exited with {code}; log tail:\n{process.log_tail()}")


@pytest.fixture(scope="session")
def after_hours(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedBroker, WorkerProcess]]:
    """A broker and worker of their own with story 1's rules (tests/after_hours.py): SLA alerts within seconds.

    Separate from the session worker, whose default calendar would make such alerts depend on the time of day.
    """
    from tests.after_hours import RULES

    tmp = tmp_path_factory.mktemp("after-hours")
    rules = tmp / "rules.toml"
    rules.write_text(RULES)
    with EmbeddedBroker(log_path=tmp / "broker.log") as running:
        process = WorkerProcess(running.url, free_port(), tmp / "worker", extra_args=["--config", str(rules)])
        try:
            process.start().wait_ready()
            yield running, process
        finally:
            process.stop()


@pytest.fixture
def run_id() -> str:
    """A prefix that makes this test's event ids unique on the shared topics."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
