"""Instrumentation for benchmark workers, loaded at interpreter start when this folder is on PYTHONPATH.

Nothing happens unless one of these variables is set (bench/profile_pipeline.py sets them):

* ``TOUCHPOINT_BENCH_LOG_COUNTS=FILE``: count every log record created, by logger, level and
  message template, and write the counts to FILE as JSON (every second and at exit);
* ``TOUCHPOINT_BENCH_ROOT_LEVEL=LEVEL``: the root logger stays at LEVEL whatever the worker sets.
  DEBUG reproduces Faust's own worker, which lowers it to DEBUG for its terminal spinner (every
  debug call in Faust and aiokafka then builds a LogRecord); WARNING keeps debug calls at
  ``isEnabledFor``;
* ``TOUCHPOINT_BENCH_GC_TIMES=FILE``: the CPU time the garbage collector's passes took, and their
  count, per generation, beside the process's CPU time and peak RSS, written to FILE as JSON (every
  second and at exit; ``{pid}`` in FILE is replaced by the process id).

A worker's collector thresholds are its own setting, ``TOUCHPOINT_GC_THRESHOLDS``.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any


def _keep_writing(path: str, document: Callable[[], Any], thread: str) -> None:
    """Write *document()* to *path* as JSON every second and at exit (each time whole, then renamed)."""

    def dump() -> None:
        tmp = f"{path}.tmp"
        with open(tmp, "w") as handle:
            json.dump(document(), handle)
        os.replace(tmp, path)

    def dump_every_second() -> None:
        while True:
            threading.Event().wait(1.0)
            dump()

    threading.Thread(target=dump_every_second, name=thread, daemon=True).start()
    atexit.register(dump)


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

    def _log_counts() -> list[dict[str, Any]]:
        return [
            {"logger": n, "level": lv, "message": m, "count": c} for (n, lv, m), c in list(_counts.items())
        ]

    _keep_writing(_counts_path, _log_counts, "bench-log-counts")

if _root_level:
    _level = logging.getLevelName(_root_level.upper())
    _set_level = logging.Logger.setLevel

    def _root_at_level(self: logging.Logger, level: int | str) -> None:
        _set_level(self, _level if self is logging.root else level)

    logging.Logger.setLevel = _root_at_level  # type: ignore[method-assign]
    logging.root.setLevel(_level)

_gc_times_path = os.environ.get("TOUCHPOINT_BENCH_GC_TIMES")
if _gc_times_path:
    import gc
    import time

    _gc_seconds = [0.0, 0.0, 0.0]
    _gc_passes = [0, 0, 0]
    _gc_started = [0.0]

    def _time_collection(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            _gc_started[0] = time.thread_time()
        else:
            generation = info["generation"]
            _gc_seconds[generation] += time.thread_time() - _gc_started[0]
            _gc_passes[generation] += 1

    gc.callbacks.append(_time_collection)

    # Counted when objects are frozen, not in every dump: the count walks every frozen object.
    _frozen = [0]
    _freeze = gc.freeze

    def _counting_freeze() -> None:
        _freeze()
        _frozen[0] = gc.get_freeze_count()

    gc.freeze = _counting_freeze

    def _peak_rss_kb() -> int:
        # Not getrusage's ru_maxrss: it survives exec, so a worker would report its parent's peak.
        with open("/proc/self/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)

    def _gc_times() -> dict[str, Any]:
        return {
            "seconds": _gc_seconds,
            "passes": _gc_passes,
            "process_seconds": time.process_time(),
            "frozen": _frozen[0],
            "thresholds": gc.get_threshold(),
            "peak_rss_kb": _peak_rss_kb(),
        }

    _keep_writing(_gc_times_path.replace("{pid}", str(os.getpid())), _gc_times, "bench-gc-times")
