"""deploy/grafana/: the provisioning files are consistent and every dashboard panel queries series
the worker really exports (names taken from prometheus_client's registry, not from a list)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.promql import exported_series, series_in, unknown_series

pytestmark = pytest.mark.unit

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included."""
    found = []
    for panel in panels:
        found.append(panel)
        found.extend(_panels(panel.get("panels", [])))
    return found


def _dashboard(path: Path) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        pytest.fail(f"{path.name} is not valid JSON: {exc}")
    return loaded


def _queries() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) for every query of every panel."""
    return [
        (path.name, panel["title"], target["expr"])
        for path in DASHBOARDS
        for panel in _panels(_dashboard(path)["panels"])
        for target in panel.get("targets", [])
    ]


def _datasource() -> dict[str, Any]:
    config = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (datasource,) = config["datasources"]
    return dict(datasource)


def test_there_is_a_dashboard_with_the_expected_panels() -> None:
    assert DASHBOARDS, "no dashboard JSON in deploy/grafana/dashboards"
    titles = {panel["title"] for path in DASHBOARDS for panel in _panels(_dashboard(path)["panels"])}
    for wanted in (
        "Ingest by channel",
        "Dead-letters by reason",
        "Alerts by type",
        "Stage distribution",
        "After-hours inquiries by hour of week",
        "SLA breaches",
        "Processing lag",
        "Event to alert",
        "Deadline lag",
        "Consumer lag",
    ):
        assert wanted in titles, f"no panel {wanted!r}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_dashboard_json_is_well_formed(path: Path) -> None:
    dashboard = _dashboard(path)
    assert dashboard.get("uid"), f"{path.name}: needs a uid"
    assert dashboard.get("title"), f"{path.name}: needs a title"
    panels = _panels(dashboard["panels"])
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"
    uid = _datasource()["uid"]
    for panel in panels:
        title = panel.get("title")
        assert title, f"{path.name}: panel {panel['id']} has no title"
        assert {"x", "y", "w", "h"} <= set(panel.get("gridPos", {})), f"panel {title!r}: incomplete gridPos"
        if panel["type"] == "row":
            continue
        assert panel.get("targets"), f"panel {title!r} has no query"
        for target in panel["targets"]:
            assert target.get("expr", "").strip(), (
                f"panel {title!r}: target {target.get('refId')} has no expr"
            )
            datasource = target.get("datasource", panel.get("datasource"))
            assert datasource == {"type": "prometheus", "uid": uid}, (
                f"panel {title!r} uses datasource {datasource}, the provisioned one is {uid!r}"
            )


@pytest.mark.parametrize(
    ("dashboard", "panel", "expr"), _queries(), ids=[f"{panel}:{expr[:40]}" for _, panel, expr in _queries()]
)
def test_every_panel_queries_only_series_the_worker_exports(dashboard: str, panel: str, expr: str) -> None:
    assert series_in(expr), f"{dashboard}: panel {panel!r}: no metric found in {expr!r}"
    missing = unknown_series(expr)
    assert not missing, (
        f"{dashboard}: panel {panel!r} queries {sorted(missing)}, which the worker does not export "
        f"(touchpoint series exported: {sorted(name for name in exported_series() if name.startswith('touchpoint_'))})"
    )


def test_the_dashboard_provider_reads_the_folder_compose_mounts_the_dashboards_into() -> None:
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "touchpoint.yml").read_text())
    (entry,) = provider["providers"]
    compose = yaml.safe_load((GRAFANA.parents[1] / "docker-compose.yml").read_text())
    mounts = {
        volume.split(":")[1]: volume.split(":")[0] for volume in compose["services"]["grafana"]["volumes"]
    }
    assert mounts.get(entry["options"]["path"]) == "./deploy/grafana/dashboards"
    assert mounts.get("/etc/grafana/provisioning") == "./deploy/grafana/provisioning"
    assert _datasource()["url"] == "http://prometheus:9090"
    assert "prometheus" in compose["services"]
