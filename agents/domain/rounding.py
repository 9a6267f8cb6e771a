"""``round(value, digits)`` for floats, the same float, without the decimal conversion.

Python rounds a float to *digits* places exactly: it writes the float's exact binary value in
decimal (``dtoa``), rounds that half to even, and reads the result back (``strtod``), some 0.4 µs
a call. Every enriched record rounds three figures of its customer, and every amount is kept to
the cent, so that conversion was about 2 % of a replay's time.

Here the float is scaled by a power of ten instead. The product carries at most half an ulp of
error, under 1.2e-7 while it is below 1e9, so unless its fraction lies within 1e-6 of a half, the
nearest integer to it is the nearest integer to the exact product, the one Python's decimal
rounding picks. That integer over the power of ten is one correctly rounded division of two exact
values, so it is the float nearest to the decimal: the float ``strtod`` reads back. Everything
else (a fraction near a half, a product past 1e9, NaN, infinities, other digit counts) goes to
``round`` itself. A zero keeps its sign, as ``round`` does (``round(-0.001, 2)`` is ``-0.0``).

``round(value)`` to a whole number has no decimal conversion, but compiled code calls it through
the interpreter, which looks up the float's ``__round__``: ``round_whole`` takes the floor and the
fraction (exact below 2**52) and rounds half to even itself.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["round_to", "round_whole"]

#: 10.0 ** digits, exact for each of these. Typed as a tuple of any length: compiled, a module's final
#: tuple of floats (a tuple of C doubles) is never set, and reading it raises NameError.
_SCALES: Final[tuple[float, ...]] = (
    1.0,
    10.0,
    100.0,
    1_000.0,
    10_000.0,
    100_000.0,
    1_000_000.0,
    10_000_000.0,
    100_000_000.0,
)
#: Products at most this large carry an error of at most 1e9 * 2**-53 (1.2e-7) from the scaling.
_LIMIT: Final = 1e9
#: Floats from this one up (2**52) are whole numbers: below it a float's fraction is exact.
_WHOLE: Final = 4_503_599_627_370_496.0
#: How far from a half the product's fraction must be for that error not to matter (twice over).
_MARGIN: Final = 1e-6


def round_to(value: float, digits: int) -> float:
    """``round(value, digits)``: the same float, for a float *value*."""
    if 0 <= digits < len(_SCALES):
        scale = _SCALES[digits]
        scaled = value * scale
        if -_LIMIT < scaled < _LIMIT:  # False for NaN
            whole = int(scaled)  # towards zero
            if whole > scaled:
                whole -= 1
            fraction = scaled - whole  # exact
            if fraction < 0.5 - _MARGIN:
                nearest = whole
            elif fraction > 0.5 + _MARGIN:
                nearest = whole + 1
            else:
                return round(value, digits)
            if nearest == 0:
                return math.copysign(0.0, value)
            return nearest / scale
    return round(value, digits)


def round_whole(value: float) -> int:
    """``round(value)``: the same int, for a float *value*."""
    if 0.0 <= value < _WHOLE:  # False for NaN
        whole = int(value)  # towards zero: the floor, for a value not below zero
        fraction = value - whole  # exact: whole is 0, or at least half of value
        if fraction > 0.5 or (fraction == 0.5 and whole % 2 == 1):
            return whole + 1
        return whole
    return round(value)
