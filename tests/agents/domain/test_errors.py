"""The rules file's error: every problem kept, one line each."""

from __future__ import annotations

import pytest

from agents.domain.errors import ConfigError

pytestmark = pytest.mark.unit


def test_a_config_error_keeps_every_problem_and_reads_as_one_line_each() -> None:
    error = ConfigError("rules.toml: lifecycle: unknown key(s): x", "rules.toml: hours: 09:60 is not a time")
    assert error.problems == (
        "rules.toml: lifecycle: unknown key(s): x",
        "rules.toml: hours: 09:60 is not a time",
    )
    assert str(error) == "rules.toml: lifecycle: unknown key(s): x\nrules.toml: hours: 09:60 is not a time"
    assert isinstance(error, ValueError)


def test_a_config_error_with_one_problem_is_that_problem() -> None:
    error = ConfigError("rules.toml: value_tiers: must be array")
    assert (str(error), error.problems) == (
        "rules.toml: value_tiers: must be array",
        ("rules.toml: value_tiers: must be array",),
    )
