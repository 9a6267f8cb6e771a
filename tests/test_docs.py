"""The docs (README.md and docs/) document what the code has: every topic, metric, rules key and command."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from prometheus_client import REGISTRY

import schemas
from streams import metrics, topics
from streams.cli import main

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
#: The README and every page under docs/, as one text: a name documented anywhere counts.
DOCS = "\n".join([README, *(page.read_text() for page in sorted((ROOT / "docs").rglob("*.md")))])


@pytest.mark.parametrize("topic", topics.ALL)
def test_every_topic_is_in_the_docs(topic: str) -> None:
    assert f"`{topic}`" in DOCS


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
def test_every_metric_is_in_the_docs(name: str) -> None:
    assert f"`{name}`" in DOCS


def _config_keys() -> list[str]:
    keys: list[str] = []
    for section, spec in schemas.load_schema("config")["properties"].items():
        if "properties" in spec:
            keys.extend(f"{section}.{key}" for key in spec["properties"])
        else:
            keys.append(section)
    return keys


@pytest.mark.parametrize("key", _config_keys())
def test_every_rules_file_key_is_in_the_docs(key: str) -> None:
    assert f"`{key}`" in DOCS


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"touchpoint {command}" in README


@pytest.mark.parametrize("name", sorted(schemas.SCHEMA_FILES.values()))
def test_every_contract_is_linked_from_the_docs(name: str) -> None:
    assert f"schemas/{name}" in DOCS


PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), ROOT / "bench" / "README.md"]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    lines = page.read_text().splitlines()
    return {_anchor(line.lstrip("#")) for line in lines if re.match(r"#{1,6} ", line)}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_in_the_docs_leads_somewhere(page: Path) -> None:
    broken = []
    for target in LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists() or (
            anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved)
        ):
            broken.append(target)
    assert not broken, f"{page.name}: links to nothing: {broken}"


def test_the_quickstart_raises_the_after_hours_alert_it_promises(tmp_path: Path) -> None:
    """The README's "send one event" block, run as written: the alert and its summary are there."""
    section = README.split("## Send one event, see its alert")[1]
    block = section.split("```bash\n")[1].split("```")[0]
    event = block.split("<<'EOF'\n")[1].split("\nEOF")[0]
    command = next(line for line in block.splitlines() if " replay " in line)
    args = command.split("touchpoint ", 1)[1].split()
    (tmp_path / "inquiry.jsonl").write_text(event + "\n")
    with contextlib.chdir(tmp_path):
        result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    alerts = [orjson.loads(line) for line in (tmp_path / "out" / "alerts.jsonl").read_bytes().splitlines()]
    [alert] = [alert for alert in alerts if alert["type"] == "after_hours_unanswered"]
    promised = " ".join(section.split('the summary "')[1].split('"')[0].split())
    assert alert["summary"] == promised
    assert alert["severity"] == section.split("severity\n`")[1].split("`")[0] == "warning"
    assert alert["evidence"] == ["ev-0001"]
