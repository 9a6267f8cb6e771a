"""What the worker exports, and which series a PromQL expression reads: shared by the deploy tests."""

from __future__ import annotations

import re
from functools import cache

from prometheus_client import REGISTRY

#: Series Prometheus makes itself for every target; an expression may read them beside the worker's.
SYNTHETIC_SERIES = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})

_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan", "atan2"}
)
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "unknown": ("",),
}


@cache
def exported_series() -> frozenset[str]:
    """Every series name the worker's or the notify bridge's /metrics can contain (``touchpoint_*`` plus process
    and Python)."""
    import streams.metrics  # registers the worker's metrics with the default registry
    import streams.notify.metrics  # and the notify bridge's

    assert streams.metrics.EVENTS_ACCEPTED
    assert streams.notify.metrics.POST_FAILURES
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return frozenset(names)


def series_in(expr: str) -> set[str]:
    """The metric names *expr* selects: identifiers that are not functions, keywords or label names."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # string literals
    text = re.sub(r"\$\{?\w+\}?", "", text)  # Grafana variables such as $__rate_interval
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges and subqueries
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    found = set()
    for match in re.finditer(r"(?<![\w.])([A-Za-z_:][\w:]*)\b(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _KEYWORDS:
            continue
        found.add(name)
    return found


def unknown_series(expr: str) -> set[str]:
    """Names in *expr* that neither the worker, the notify bridge nor Prometheus itself produces."""
    return {name for name in series_in(expr) if name not in exported_series() | SYNTHETIC_SERIES}
