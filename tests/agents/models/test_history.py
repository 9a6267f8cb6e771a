"""Reading purchase histories (CSV, touchpoint JSONL) and the CDNOW summary convention."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from agents.models.history import (
    BadRow,
    HistoryError,
    HistoryRowError,
    Progress,
    Transaction,
    load_history,
    read_transactions,
    summarise,
)

pytestmark = pytest.mark.unit

END = date(2024, 1, 31)


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def purchase(customer: str | None, when: str, amount: object, **extra: object) -> str:
    event: dict[str, object] = {
        "schema_version": 1,
        "event_id": f"e-{customer}-{when}",
        "occurred_at": when,
        "channel": "store",
        "type": "purchase",
        "actor": "customer",
        "attributes": {"amount": amount, "currency": "EUR"},
        **extra,
    }
    if customer is not None:
        event["customer_id"] = customer
    return json.dumps(event)


LAST_REPEAT = date(2024, 1, 15)  # the last purchase day of repeat_buyers_csv


def repeat_buyers_csv(path: Path, customers: int = 12) -> Path:
    lines = []
    for i in range(customers):
        lines.append(f"c{i},2024-01-01,10")
        if i % 2 == 0:
            lines.append(f"c{i},2024-01-15,20")
    return write(path, lines)


def test_csv_without_header(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", ["a,2024-01-02,10.5", "b,20240103,3", "a,2024-01-05T10:00:00+02:00,1"])
    assert list(read_transactions(path)) == [
        Transaction("a", date(2024, 1, 2), 10.5),
        Transaction("b", date(2024, 1, 3), 3.0),
        Transaction("a", date(2024, 1, 5), 1.0),
    ]


def test_csv_with_header_in_any_column_order(tmp_path: Path) -> None:
    path = write(
        tmp_path / "h.csv", ["\ufeffAmount,Customer_ID,date", "10.5,a,2024-01-02", '3,"b, inc",2024-01-03']
    )
    assert list(read_transactions(path)) == [
        Transaction("a", date(2024, 1, 2), 10.5),
        Transaction("b, inc", date(2024, 1, 3), 3.0),
    ]


def test_jsonl_reads_purchases_only(tmp_path: Path) -> None:
    visit = json.dumps({"type": "visit", "customer_id": "a", "occurred_at": "2024-01-01T09:00:00Z"})
    path = write(
        tmp_path / "events.jsonl",
        [
            purchase("a", "2024-01-02T23:30:00-05:00", 12.5),
            visit,
            "",
            purchase("b", "2024-01-03T10:00:00Z", 3),
        ],
    )
    assert list(read_transactions(path)) == [
        Transaction("a", date(2024, 1, 2), 12.5),  # the date as written, in the event's own offset
        Transaction("b", date(2024, 1, 3), 3.0),
    ]


def test_format_is_sniffed_when_the_extension_says_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "events.log", [purchase("a", "2024-01-02T10:00:00Z", 1)])
    assert [t.customer_id for t in read_transactions(path)] == ["a"]


def test_bad_rows_are_skipped_and_reported_with_line_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path / "h.csv",
        [
            "customer_id,date,amount",
            "a,2024-01-02,10",
            "a,2024-13-40,1",
            "",
            "b,2024-01-03",
            "c,2024-01-03,-1",
            "d,2024-01-03,abc",
            "e,2024-01-04,2",
        ],
    )
    bad: list[BadRow] = []
    rows = list(read_transactions(path, bad_rows=bad))
    assert [t.customer_id for t in rows] == ["a", "e"]
    assert [b.line for b in bad] == [3, 5, 6, 7]
    assert "bad date" in bad[0].reason
    assert "3 fields" in bad[1].reason
    assert ">= 0" in bad[2].reason
    assert str(bad[3]).startswith(f"{path}:7: bad amount 'abc'")


def test_bad_jsonl_rows_are_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path / "e.jsonl",
        [
            purchase("a", "2024-01-02T10:00:00Z", 1),
            "{not json",
            purchase(None, "2024-01-02T10:00:00Z", 1, identifiers={"email": "x@y.z"}),
            purchase("b", "yesterday", 1),
            purchase("c", "2024-01-02T10:00:00Z", "lots"),
            "[1, 2]",
        ],
    )
    bad: list[BadRow] = []
    assert len(list(read_transactions(path, bad_rows=bad))) == 1
    assert [(b.line, b.reason.split(" ")[0]) for b in bad] == [
        (2, "invalid"),
        (3, "purchase"),
        (4, "bad"),
        (5, "bad"),
        (6, "not"),
    ]


def test_strict_mode_raises_on_the_first_bad_row_naming_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", ["a,2024-01-02,10", "b,someday,1", "c,never,1"])
    with pytest.raises(HistoryRowError, match=r"h\.csv:2: bad date 'someday'") as caught:
        list(read_transactions(path, strict=True))
    assert caught.value.bad.line == 2
    assert isinstance(caught.value, HistoryError)
    assert "\n" not in str(caught.value)


def test_missing_file_is_a_history_error(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="cannot read"):
        list(read_transactions(tmp_path / "nope.csv"))


def test_progress_callback_is_called_during_and_at_the_end(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", [f"c{i},2024-01-01,1" for i in range(25)])
    seen: list[Progress] = []
    assert len(list(read_transactions(path, progress=seen.append, progress_every=10))) == 25
    assert [p.lines for p in seen] == [10, 20, 25]
    assert seen[-1].bytes_read == seen[-1].total_bytes == path.stat().st_size
    assert seen[0].bytes_read < seen[1].bytes_read


def test_summary_follows_the_cdnow_convention() -> None:
    rows = [
        Transaction("a", date(2024, 1, 1), 5.0),
        Transaction("a", date(2024, 1, 1), 5.0),  # same day: one purchase of 10
        Transaction("a", date(2024, 1, 8), 4.0),
        Transaction("a", date(2024, 1, 8), 2.0),
        Transaction("a", date(2024, 1, 22), 12.0),
        Transaction("a", date(2024, 2, 5), 100.0),  # holdout
        Transaction("a", date(2024, 2, 5), 1.0),  # holdout, same day
        Transaction("b", date(2024, 1, 15), 7.0),
        Transaction("c", date(2024, 2, 2), 7.0),  # first purchase after calibration: not a customer yet
    ]
    weeks = summarise(rows, calibration_end=END, unit="weeks", holdout_end=date(2024, 3, 31))
    assert weeks.customer_ids == ("a", "b")
    assert weeks.x.tolist() == [2, 0]
    np.testing.assert_allclose(weeks.t_x, [3.0, 0.0])
    np.testing.assert_allclose(weeks.T, [30 / 7, 16 / 7])
    assert weeks.m_x[0] == pytest.approx(9.0)  # (6 + 12) / 2: the first purchase is excluded
    assert np.isnan(weeks.m_x[1])
    assert weeks.x_holdout is not None
    assert weeks.x_holdout.tolist() == [1, 0]
    days = summarise(rows, calibration_end=END, unit="days")
    np.testing.assert_allclose(days.t_x, [21.0, 0.0])
    np.testing.assert_allclose(days.T, [30.0, 16.0])
    assert days.x_holdout is None


def test_load_history_summarises_in_one_pass(tmp_path: Path) -> None:
    path = repeat_buyers_csv(tmp_path / "h.csv")
    history = load_history(path, calibration_end=LAST_REPEAT, unit="days")
    assert len(history.summary) == 12
    assert history.summary.repeat_buyers == 6
    assert history.bad_rows == []


def test_no_repeat_buyers_is_a_history_error(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", [f"c{i},2024-01-0{1 + i % 5},10" for i in range(20)])
    with pytest.raises(HistoryError, match="no repeat buyers among 20 customers"):
        load_history(path, calibration_end=date(2024, 1, 5))


def test_too_few_customers_is_a_history_error(tmp_path: Path) -> None:
    path = repeat_buyers_csv(tmp_path / "h.csv", customers=9)
    with pytest.raises(HistoryError, match=r"9 customers .* at least 10"):
        load_history(path, calibration_end=LAST_REPEAT)
    assert len(load_history(path, calibration_end=END, require_fittable=False).summary) == 9


@pytest.mark.parametrize(
    ("end", "problem"),
    [
        pytest.param(
            date(2024, 1, 16),
            "calibration end 2024-01-16 is after the last purchase in the history (2024-01-15)",
            id="a day after the last purchase",
        ),
        pytest.param(
            date(2023, 12, 31),
            "calibration end 2023-12-31 is before the first purchase in the history (2024-01-01)",
            id="a day before the first purchase",
        ),
    ],
)
def test_a_calibration_end_outside_the_history_is_refused_with_its_span(
    tmp_path: Path, end: date, problem: str
) -> None:
    path = repeat_buyers_csv(tmp_path / "h.csv")
    with pytest.raises(HistoryError) as caught:
        load_history(path, calibration_end=end)
    assert str(caught.value).startswith(problem)
    assert str(caught.value).endswith("give a day from 2024-01-01 to 2024-01-15")


@pytest.mark.parametrize("end", [date(2024, 1, 1), LAST_REPEAT], ids=["first day", "last day"])
def test_a_calibration_end_on_the_first_or_last_purchase_day_is_accepted(tmp_path: Path, end: date) -> None:
    path = repeat_buyers_csv(tmp_path / "h.csv")
    history = load_history(path, calibration_end=end, require_fittable=False)
    history.check_calibration_end()
    assert (history.first_day, history.last_day) == (date(2024, 1, 1), LAST_REPEAT)


def test_summarise_rejects_a_bad_unit_or_holdout() -> None:
    with pytest.raises(ValueError, match="unit"):
        summarise([], calibration_end=END, unit="months")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="holdout_end"):
        summarise([], calibration_end=END, holdout_end=END)
