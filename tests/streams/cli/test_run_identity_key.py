"""`touchpoint run` makes an identity key for its data directory once and keeps it."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.cli.run import IDENTITY_KEY_FILE, _identity_key_file
from streams.settings import Settings

pytestmark = pytest.mark.unit


def test_a_run_makes_a_private_key_for_its_data_directory_and_the_next_run_keeps_it(tmp_path: Path) -> None:
    unset = Settings.from_env({})
    path = _identity_key_file(unset, tmp_path)
    assert path == tmp_path / IDENTITY_KEY_FILE
    made = path.read_text()
    assert len(made.strip()) == 64
    assert path.stat().st_mode & 0o777 == 0o600
    assert _identity_key_file(unset, tmp_path).read_text() == made, "kept: the same hashes next time"
    assert _identity_key_file(unset, tmp_path / "other").read_text() != made, "another directory, another key"


def test_a_configured_key_is_the_one_the_run_uses(tmp_path: Path) -> None:
    _identity_key_file(Settings.from_env({}), tmp_path)
    configured = Settings.from_env({"TOUCHPOINT_IDENTITY_SALT": "c" * 40})
    assert _identity_key_file(configured, tmp_path).read_text() == "c" * 40 + "\n"
