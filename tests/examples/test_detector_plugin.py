"""A third-party detector, installed with pip, runs like a built-in: listed, configured, validated, replayed.

The example package in examples/refund-spree-detector is installed into a directory of its
own (a real pip install: built from its pyproject, registered through its entry point), and
each command runs in a fresh process that sees that directory, so no other test sees the plug-in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

import schemas

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "refund-spree-detector"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plug-in, installed by pip into a directory of its own."""
    target = tmp_path_factory.mktemp("plugin-site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",  # Touchpoint itself is the running interpreter's
            "--no-build-isolation",  # offline: the test environment's setuptools builds it
            "--no-index",
            "--target",
            str(target),
            str(EXAMPLE),
        ],
        check=True,
        capture_output=True,
    )
    assert list(target.glob("touchpoint_refund_spree-*.dist-info/entry_points.txt"))
    return target


def touchpoint(*args: str, plugins: Path | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*([str(plugins)] if plugins else []), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True, env=env, cwd=cwd
    )


def refund(number: int, day: int) -> bytes:
    return orjson.dumps(
        {
            "schema_version": 1,
            "event_id": f"rf-{number}",
            "occurred_at": f"2026-01-{day:02d}T11:00:00+01:00",
            "customer_id": "cust-7",
            "channel": "web",
            "type": "refund",
            "actor": "customer",
            "attributes": {"amount": 20.0, "currency": "EUR"},
        }
    )


def test_touchpoint_detectors_lists_the_installed_plugin_beside_the_built_ins(
    site: Path, tmp_path: Path
) -> None:
    listed = touchpoint("detectors", plugins=site, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    [row] = [line for line in lines if line.startswith("refund_spree ")]
    assert "plug-in touchpoint-refund-spree 0.1.0" in row
    assert " yes " in row
    assert "Several refunds in a short time" in row
    assert any(line.startswith("long_wait ") and "built-in" in line for line in lines)

    without = touchpoint("detectors", plugins=None, cwd=tmp_path)
    assert without.returncode == 0
    assert "refund_spree" not in without.stdout


def test_the_plugins_section_is_validated_and_filled_with_its_own_defaults(
    site: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("[detectors.refund_spree]\nrefunds = 2\n")
    checked = touchpoint("check-config", str(rules), plugins=site, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    section = orjson.loads(checked.stdout)["detectors"]["refund_spree"]
    assert section == {"enabled": True, "refunds": 2, "window_days": 30}

    rules.write_text("[detectors.refund_spree]\nrefunds = 1\nwindows = 3\n")
    refused = touchpoint("check-config", str(rules), plugins=site, cwd=tmp_path)
    assert refused.returncode != 0
    assert f"{rules}: detectors.refund_spree: unknown key(s): windows" in refused.stderr
    assert f"{rules}: detectors.refund_spree.refunds: must be bigger than or equal to 2" in refused.stderr

    rules.write_text(
        "[alerts.cooldown_minutes]\nrefund_spree = 5\n[detectors.inhibitions]\nrefund_spree = ['complaint']\n"
    )
    assert touchpoint("check-config", str(rules), plugins=site, cwd=tmp_path).returncode == 0

    # Not installed, the same section is an unknown detector.
    rules.write_text("[detectors.refund_spree]\nrefunds = 2\n")
    unknown = touchpoint("check-config", str(rules), plugins=None, cwd=tmp_path)
    assert unknown.returncode != 0
    assert "detectors: unknown key(s): refund_spree" in unknown.stderr


def test_replay_raises_the_plugins_alert_through_the_journey_core(site: Path, tmp_path: Path) -> None:
    history = tmp_path / "refunds.jsonl"
    history.write_bytes(b"\n".join([refund(1, 5), refund(2, 9), refund(3, 30), refund(4, 31)]) + b"\n")
    rules = tmp_path / "rules.toml"
    rules.write_text("[detectors.refund_spree]\nrefunds = 2\nwindow_days = 7\n")

    replayed = touchpoint(
        "replay", str(history), "--out", "out", "--config", str(rules), plugins=site, cwd=tmp_path
    )
    assert replayed.returncode == 0, replayed.stderr
    alerts = [orjson.loads(line) for line in (tmp_path / "out" / "alerts.jsonl").read_bytes().splitlines()]
    spree = [alert for alert in alerts if alert["type"] == "refund_spree" and alert["status"] == "open"]
    assert [alert["evidence"] for alert in spree] == [["rf-1", "rf-2"], ["rf-3", "rf-4"]]
    first = spree[0]
    assert first["summary"] == (
        "Customer cust-7 asked for 2 refunds within 4 days, the latest on web at Fri 09 Jan 11:00 CET."
    )
    assert first["alert_id"].startswith("refund_spree/cust-7/")
    assert first["severity"] == "warning"
    validate = schemas.validator("alert")
    for alert in spree:
        validate(alert)

    rules.write_text("[detectors.refund_spree]\nenabled = false\n")
    touchpoint("replay", str(history), "--out", "off", "--config", str(rules), plugins=site, cwd=tmp_path)
    types = {
        orjson.loads(line)["type"] for line in (tmp_path / "off" / "alerts.jsonl").read_bytes().splitlines()
    }
    assert "refund_spree" not in types


def test_the_worker_declares_a_topic_for_the_plugins_alerts(site: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    shown = subprocess.run(
        [sys.executable, "-c", "from streams import topics; print(' '.join(topics.alert_types()))"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    assert shown.stdout.split()[-1] == "refund_spree"


def test_a_broken_plugin_stops_start_up_with_a_clear_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    (broken / "broken_detector-1.0.dist-info").mkdir(parents=True)
    (broken / "broken_detector-1.0.dist-info" / "METADATA").write_text(
        "Name: broken-detector\nVersion: 1.0\n"
    )
    (broken / "broken_detector-1.0.dist-info" / "entry_points.txt").write_text(
        "[touchpoint.detectors]\nlong_wait = broken_detector:Nothing\nbad_one = no_such_module:Detector\n"
    )
    listed = touchpoint("detectors", plugins=broken, cwd=tmp_path)
    assert listed.returncode != 0
    problems = listed.stderr.removeprefix("Error: ").splitlines()
    assert problems == [
        "detector plug-in 'bad_one' (no_such_module:Detector, broken-detector 1.0): cannot load "
        "no_such_module:Detector: ModuleNotFoundError: No module named 'no_such_module'",
        "detector plug-in 'long_wait' (broken_detector:Nothing, broken-detector 1.0): 'long_wait' is taken "
        "by Touchpoint itself; choose another name",
    ]
    assert any(line.startswith("long_wait ") and "built-in" in line for line in listed.stdout.splitlines())
    checked = touchpoint("check-config", plugins=broken, cwd=tmp_path)
    assert checked.returncode != 0
    assert checked.stderr.splitlines()[1:] == [f"  <defaults>: {problem}" for problem in problems]
