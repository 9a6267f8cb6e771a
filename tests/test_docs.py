"""The README documents what the code has: every topic, metric, rules key and command."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import schemas
from streams import metrics, topics
from streams.cli import main

pytestmark = pytest.mark.unit

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


@pytest.mark.parametrize("topic", topics.ALL)
def test_every_topic_is_in_the_readme(topic: str) -> None:
    assert f"`{topic}`" in README


def _metric_names() -> list[str]:
    assert metrics.EVENTS_ACCEPTED  # importing streams.metrics registers them
    import streams.notify.metrics  # the notify bridge's and the console's own, registered the same way
    import streams.webconsole.metrics  # noqa: F401

    names = []
    for collector in REGISTRY.collect():
        if collector.name.startswith("touchpoint_"):
            suffix = "_total" if collector.type == "counter" else ""
            names.append(collector.name + suffix)
    return sorted(names)


@pytest.mark.parametrize("name", _metric_names())
def test_every_metric_is_in_the_readme(name: str) -> None:
    assert f"`{name}`" in README


def _config_keys() -> list[str]:
    keys = []
    for section, spec in schemas.load_schema("config")["properties"].items():
        if "properties" in spec:
            keys.extend(f"{section}.{key}" for key in spec["properties"])
        else:
            keys.append(section)
    return keys


@pytest.mark.parametrize("key", _config_keys())
def test_every_rules_file_key_is_in_the_readme(key: str) -> None:
    assert f"`{key}`" in README


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"touchpoint {command}" in README


@pytest.mark.parametrize("name", sorted(schemas.SCHEMA_FILES.values()))
def test_every_contract_is_linked_from_the_readme(name: str) -> None:
    assert f"schemas/{name}" in README
