"""Instants and the words people read them in."""

from __future__ import annotations

import pytest

from agents.domain.instants import iso

pytestmark = pytest.mark.unit

T0 = 1_767_607_200  # 2026-01-05T10:00:00Z


def test_an_instant_reads_as_rfc_3339_in_utc() -> None:
    assert iso(T0) == "2026-01-05T10:00:00+00:00"
    assert iso(0) == "1970-01-01T00:00:00+00:00"
