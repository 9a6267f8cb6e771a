"""`touchpoint console` refuses to serve beyond loopback without sign-in; `touchpoint hash-password` works."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from streams.auth import verify_password
from streams.cli import main

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10"])
def test_the_console_refuses_a_non_loopback_address_without_credentials(host: str) -> None:
    result = CliRunner().invoke(
        main,
        ["console", "--host", host, "--broker", "kafka://127.0.0.1:1"],
        env={"TOUCHPOINT_CONSOLE_USERS": "", "TOUCHPOINT_CONSOLE_TOKEN": "", "TOUCHPOINT_CONSOLE_HOST": ""},
    )
    assert result.exit_code == 2
    assert f"refusing to serve the console on {host} without sign-in" in result.output


def test_hash_password_prints_a_hash_that_verifies() -> None:
    result = CliRunner().invoke(main, ["hash-password", "--name", "anna"], input="correct horse\n")
    assert result.exit_code == 0, result.output
    name, hashed = result.output.strip().split(":", 1)
    assert name == "anna"
    assert hashed.startswith("$2b$")
    assert verify_password("correct horse", hashed)
