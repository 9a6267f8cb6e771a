"""Instrumentation for benchmark workers, loaded at interpreter start when this folder is on PYTHONPATH.

Nothing happens unless one of these variables is set (bench/profile_pipeline.py sets them):

* ``TOUCHPOINT_BENCH_LOG_COUNTS=FILE``: count every log record created, by logger, level and
  message template, and write the counts to FILE as JSON (every second and at exit);
* ``TOUCHPOINT_BENCH_ROOT_LEVEL=LEVEL``: the root logger stays at LEVEL whatever the worker sets.
  DEBUG reproduces Faust's own worker, which lowers it to DEBUG for its terminal spinner (every
  debug call in Faust and aiokafka then builds a LogRecord); WARNING keeps debug calls at
  ``isEnabledFor``;
* ``TOUCHPOINT_BENCH_GC_THRESHOLD=T0[,T1[,T2]]``: the garbage collector's thresholds (``gc.set_threshold``).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from collections import Counter
from typing import Any

_counts_path = os.environ.get("TOUCHPOINT_BENCH_LOG_COUNTS")
_root_level = os.environ.get("TOUCHPOINT_BENCH_ROOT_LEVEL")

if _counts_path:
    _counts: Counter[tuple[str, str, str]] = Counter()
    _make_record = logging.Logger.makeRecord

    def _counting_make_record(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = _make_record(self, *args, **kwargs)
        _counts[(record.name, record.levelname, str(record.msg)[:80])] += 1
        return record

    logging.Logger.makeRecord = _counting_make_record  # type: ignore[method-assign]

    def _dump(path: str = _counts_path) -> None:
        rows = [
            {"logger": n, "level": lv, "message": m, "count": c} for (n, lv, m), c in list(_counts.items())
        ]
        tmp = f"{path}.tmp"
        with open(tmp, "w") as handle:
            json.dump(rows, handle)
        os.replace(tmp, path)

    def _dump_every_second() -> None:
        while True:
            threading.Event().wait(1.0)
            _dump()

    threading.Thread(target=_dump_every_second, name="bench-log-counts", daemon=True).start()
    atexit.register(_dump)

if _root_level:
    _level = logging.getLevelName(_root_level.upper())
    _set_level = logging.Logger.setLevel

    def _root_at_level(self: logging.Logger, level: int | str) -> None:
        _set_level(self, _level if self is logging.root else level)

    logging.Logger.setLevel = _root_at_level  # type: ignore[method-assign]
    logging.root.setLevel(_level)

_gc_threshold = os.environ.get("TOUCHPOINT_BENCH_GC_THRESHOLD")
if _gc_threshold:
    import gc

    gc.set_threshold(*(int(part) for part in _gc_threshold.split(",")))
