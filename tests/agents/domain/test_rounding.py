"""Figures rounded to a number of places: the very float Python's ``round`` gives, compiled or not."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import agents.domain.rounding
from agents.domain.rounding import round_to, round_whole
from tests.compiled import interpreted

pytestmark = pytest.mark.unit


INTERPRETED = interpreted(agents.domain.rounding)


def _bits(value: float) -> bytes:
    """The float's bytes: tells -0.0 from 0.0, and compares NaN with NaN."""
    return struct.pack("<d", value)


def _agrees(value: float, digits: int) -> None:
    expected = _bits(round(value, digits))
    assert _bits(round_to(value, digits)) == expected
    assert _bits(INTERPRETED.round_to(value, digits)) == expected


@given(value=st.floats(allow_nan=True, allow_infinity=True), digits=st.integers(0, 12))
@example(value=-0.0, digits=2)
@example(value=-0.004, digits=2)  # rounds to a zero that keeps its sign
@example(value=2.675, digits=2)  # written 2.675, stored below it: 2.67
@example(value=0.125, digits=2)  # an exact tie: to even, 0.12
@example(value=0.375, digits=2)  # an exact tie: to even, 0.38
@example(value=1e9 / 100 - 0.005, digits=2)  # at the product's limit
@example(value=123456.785, digits=2)
def test_any_float_rounds_to_the_float_round_gives(value: float, digits: int) -> None:
    _agrees(value, digits)


@given(
    whole=st.integers(-(10**9), 10**9),
    digits=st.integers(0, 8),
    nudge=st.sampled_from([0.0, 1e-12, -1e-12, 1e-9, -1e-9, 1e-7, -1e-7, 1e-6, -1e-6]),
)
def test_values_next_to_a_half_in_the_last_place_round_as_round_does(
    whole: int, digits: int, nudge: float
) -> None:
    # The figures the decision is hardest for: a half in the last kept place, and a little either side of it.
    _agrees((whole + 0.5) / 10**digits + nudge, digits)


@pytest.mark.parametrize("value", [0.0, 1.0, 19.99, 100.005, 0.123456789, 1e-300, 5e-324, 1e300])
def test_amounts_and_probabilities_round_as_round_does(value: float) -> None:
    for digits in (0, 1, 2, 3, 4, 6):
        _agrees(value, digits)
        _agrees(-value, digits)


def test_what_it_cannot_decide_itself_it_leaves_to_round() -> None:
    # Outside its range the answer is round's own: NaN stays NaN, infinities stay, large products are kept.
    assert math.isnan(round_to(math.nan, 2))
    assert round_to(math.inf, 2) == math.inf
    assert round_to(123_456_789_012.345, 2) == round(123_456_789_012.345, 2)


def _whole_agrees(value: float) -> None:
    expected = round(value)
    for rounded in (round_whole(value), INTERPRETED.round_whole(value)):
        assert rounded == expected
        assert type(rounded) is int


@given(value=st.floats(allow_nan=False, allow_infinity=False))
@example(value=0.5)  # ties go to the even neighbour: 0
@example(value=1.5)  # 2
@example(value=2.5)  # 2
@example(value=0.49999999999999994)  # the float below a half: 0
@example(value=4_503_599_627_370_495.5)  # the last float with a fraction: to even
@example(value=4_503_599_627_370_496.0)  # 2**52, whole already
@example(value=-2.5)  # below zero: round's own answer
@example(value=-0.0)
def test_any_float_rounds_to_the_whole_number_round_gives(value: float) -> None:
    _whole_agrees(value)


@given(whole=st.integers(0, 2**52), nudge=st.sampled_from([0.0, 0.5, 0.25, 0.75, 1e-9, -1e-9]))
def test_whole_numbers_and_halves_round_as_round_does(whole: int, nudge: float) -> None:
    # Seconds of thresholds in days: whole numbers and halves, and a little either side of a half.
    _whole_agrees(whole + 0.5 + nudge)
    _whole_agrees(whole * 86_400.0 * (1 + nudge))


def test_round_whole_keeps_round_s_errors() -> None:
    # What round refuses, round_whole refuses alike.
    with pytest.raises(ValueError, match="NaN"):
        round_whole(math.nan)
    with pytest.raises(OverflowError, match="infinity"):
        round_whole(math.inf)
