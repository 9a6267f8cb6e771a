"""The worker process is set up from its settings before Faust starts."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import streams.worker
from streams.settings import Settings
from streams.worker import run_worker

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def thresholds_kept() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)


def test_the_worker_runs_under_the_collector_thresholds_it_is_given(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[tuple[int, ...]] = []

    class Started:
        def __init__(self, app: object, **options: Any) -> None:
            pass

        def execute_from_commandline(self) -> None:
            seen.append(gc.get_threshold())

    monkeypatch.setattr(streams.worker, "Worker", Started)
    monkeypatch.setattr(streams.worker, "create_app", lambda settings: object())
    gc.set_threshold(700, 10, 10)
    run_worker(Settings(data_dir=tmp_path / "data", gc_thresholds="12345,6,7"))
    assert seen == [(12345, 6, 7)]
    run_worker(Settings(data_dir=tmp_path / "data"))
    assert seen[1] == (100_000, 20, 10)
