"""The packed dedupe window behaves as the dict of integers it replaced, entry for entry and byte for byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.domain.dedupe_window import combined, content_of, entries, remembered
from tests.agents.domain.windows import pairs, window

pytestmark = pytest.mark.unit

contents = st.integers(0, 2**32 - 1)
#: Small markers too, so that a marker's bytes often occur across two entries of a window.
tricky = st.integers(0, 2**64 - 1) | st.sampled_from([0, 1, 2**32, 2**32 + 1, 2**63, 0x0000000100000000])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(tricky, contents), max_size=40), st.integers(1, 24))
def test_remembering_keeps_what_a_dict_of_the_newest_entries_keeps(
    added: list[tuple[int, int]], size: int
) -> None:
    model: dict[int, int] = {}
    packed = b""
    for marker, content in added:
        found = content_of(packed, marker.to_bytes(8, "big"))
        assert found == (None if marker not in model else model[marker].to_bytes(4, "big"))
        if marker in model:
            continue  # a redelivery or a conflict: neither is remembered again
        model[marker] = content
        while len(model) > size:
            del model[next(iter(model))]
        packed = remembered(packed, window((marker, content)), size)
        assert pairs(packed) == list(model.items())


def test_a_marker_found_across_two_entries_is_not_taken_for_one() -> None:
    # The last 4 bytes of one entry's content and the first 4 of the next marker spell 0x0000000100000000.
    packed = window((5, 1), (0, 9))
    assert content_of(packed, (2**32).to_bytes(8, "big")) is None
    assert content_of(packed, (0).to_bytes(8, "big")) == (9).to_bytes(4, "big")
    assert content_of(b"", (0).to_bytes(8, "big")) is None


def test_a_smaller_window_forgets_all_the_oldest_beyond_it_at_once() -> None:
    packed = window((1, 1), (2, 2), (3, 3), (4, 4))
    assert pairs(remembered(packed, window((5, 5)), 2)) == [(4, 4), (5, 5)]


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(tricky, contents, max_size=20),
    st.dictionaries(tricky, contents, max_size=20),
    st.integers(1, 30),
)
def test_two_windows_combine_as_the_older_dict_updated_with_the_newer(
    older: dict[int, int], newer: dict[int, int], size: int
) -> None:
    model = {**older, **newer}
    expected = list(model.items())[-size:]
    assert pairs(combined(window(*older.items()), window(*newer.items()), size)) == expected


def test_entries_are_the_markers_and_digests_oldest_first() -> None:
    assert entries(window((1, 2), (3, 4))) == [
        ((1).to_bytes(8, "big"), (2).to_bytes(4, "big")),
        ((3).to_bytes(8, "big"), (4).to_bytes(4, "big")),
    ]
    assert entries(b"") == []
