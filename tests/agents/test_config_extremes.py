"""Every number the rules file and the model parameters accept runs: each at an end of its range, the core
takes real traffic.

A bound the schema does not set is a promise that any value works. Each number here, in turn, is set to
each end of its range, or where it has none to 1e300, and simulator traffic is replayed under it
(identity resolution and every detector on). Values the cross-key checks refuse are skipped; the rest
must replay without an error. This found SLA targets and business-hour escalations that carried a
deadline past the year 9999, and a threshold delay that sketched a boundary for every hour since 1970;
and model parameters a fit never gives (an alpha of 1e-300 or 1e300) that failed or never finished.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import schemas
from agents.config import Config, ConfigError, config_from_mapping, config_schema, effective_config
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from streams.replay import replay
from tests.streams.replay.traffic import simulated

pytestmark = pytest.mark.unit

#: Where the schema sets no bound: beyond any int64 a state could hold, as TOML can write.
HUGE = 1e300
SALT = b"extremes"


def numbers(
    schema: dict[str, Any], given: Any, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    """(path, schema) of every number in the defaults *given*: a table's properties and its own keys."""
    if schema.get("type") in ("integer", "number"):
        yield path, schema
        return
    if not isinstance(given, dict):
        return
    for key, value in given.items():
        spec = schema.get("properties", {}).get(key) or schema.get("additionalProperties")
        if isinstance(spec, dict):
            yield from numbers(spec, value, (*path, key))


def with_value(path: tuple[str, ...], value: float) -> dict[str, Any]:
    """The rules file that sets *path* to *value* and nothing else."""
    table: dict[str, Any] = {path[-1]: value}
    for key in reversed(path[:-1]):
        table = {key: table}
    return table


def defaults() -> dict[str, Any]:
    effective: dict[str, Any] = effective_config({})
    return effective


def ends(spec: dict[str, Any]) -> tuple[float, float]:
    """The least and the greatest value *spec* takes; where it sets no bound, the largest a number gets."""
    integer = spec["type"] == "integer"
    if "minimum" in spec:
        low = spec["minimum"]
    elif "exclusiveMinimum" in spec:
        low = spec["exclusiveMinimum"] + 1 if integer else math.nextafter(spec["exclusiveMinimum"], math.inf)
    else:
        low = -HUGE
    if "maximum" in spec:
        high = spec["maximum"]
    elif "exclusiveMaximum" in spec:
        high = (
            spec["exclusiveMaximum"] - 1 if integer else math.nextafter(spec["exclusiveMaximum"], -math.inf)
        )
    else:
        high = HUGE
    return (int(low), int(high)) if integer else (low, high)


def extremes() -> list[Any]:
    found = []
    for path, spec in numbers(config_schema(), defaults()):
        low, high = ends(spec)
        key = ".".join(path)
        found += [
            pytest.param(path, low, id=f"{key}={low:g}"),
            pytest.param(path, high, id=f"{key}={high:g}"),
        ]
        if spec["type"] == "number" and low == 0:
            # Where 0 means "off", the least positive number is on, and rounds to nothing in whole seconds.
            tiny = math.nextafter(0, 1)
            found.append(pytest.param(path, tiny, id=f"{key}={tiny:g}"))
    return found


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,500 simulator records of 40 customers: purchases, inquiries, complaints, identifiers, bad lines."""
    path = tmp_path_factory.mktemp("extremes") / "traffic.jsonl"
    path.write_bytes(simulated(customers=40, seed=11, count=1500))
    return path


def accepted(config: Config, history: Path, folder: Path) -> int:
    """Replay *history* under *config*, every detector and identity resolution on: the touchpoints it took."""
    decoder = TouchpointDecoder(identity_salt=SALT, identity=config.identity)
    return replay(history, folder / "out", decoder, JourneyTracker(config, SALT)).accepted


def test_the_numbers_are_found_where_the_defaults_have_them() -> None:
    paths = {path for path, _spec in numbers(config_schema(), defaults())}
    assert ("sla", "channels", "chat", "target_minutes") in paths
    assert ("alerts", "cooldown_minutes", "default") in paths
    assert ("detectors", "service_recovery", "escalate_after_business_hours") in paths
    assert len(paths) > 60


@pytest.mark.parametrize(("path", "value"), extremes())
def test_a_number_at_the_end_of_its_range_replays(
    path: tuple[str, ...], value: float, history: Path, tmp_path: Path
) -> None:
    try:
        rules = config_from_mapping(with_value(path, value))
    except ConfigError as exc:
        refused = exc.problems
    else:
        assert accepted(rules, history, tmp_path) > 1000
        return
    # Another key must move with it (an ordering), but the value itself is within its range.
    assert not [
        problem for problem in refused if " must be smaller " in problem or " must be bigger " in problem
    ]


def test_a_whole_number_written_as_a_float_is_taken_as_an_integer(history: Path, tmp_path: Path) -> None:
    # TOML writes 4.0 for a float, and JSON Schema counts it an integer: the compiled core must get an int.
    rules: dict[str, Any] = {}
    effective = defaults()
    for path, spec in numbers(config_schema(), effective):
        if spec["type"] != "integer":
            continue
        table, given = rules, effective
        for key in path[:-1]:
            table, given = table.setdefault(key, {}), given[key]
        table[path[-1]] = float(given[path[-1]])
    assert rules["state"]["answered_memory"] == 4.0
    config = config_from_mapping(rules)
    assert type(config.state.answered_memory) is int
    assert accepted(config, history, tmp_path) > 1000


def parameter_ends() -> list[Any]:
    document = schemas.load_schema("model_params")["properties"]
    found = []
    for model in ("bgnbd", "gamma_gamma"):
        for name, spec in document[model]["properties"].items():
            # Where the schema sets no minimum, the least positive number it then takes (q must exceed 1).
            low = spec.get("minimum", 1e-300 if spec.get("exclusiveMinimum", 0) == 0 else 1 + 1e-15)
            for end in (low, spec.get("maximum", HUGE)):
                found.append(pytest.param(model, name, end, id=f"{model}.{name}={end:g}"))
    return found


@pytest.mark.parametrize(("model", "name", "value"), parameter_ends())
def test_model_parameters_at_the_ends_of_their_range_replay(
    model: str, name: str, value: float, history: Path, tmp_path: Path
) -> None:
    document = dict(schemas.load_schema("model_params")["examples"][0])
    document[model] = {**document[model], name: value}
    params = tmp_path / "params.json"
    params.write_text(json.dumps(document))
    assert accepted(config_from_mapping({}, model_params=params), history, tmp_path) > 1000
