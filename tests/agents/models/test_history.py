"""Reading purchase histories (CSV, touchpoint JSONL) and the CDNOW summary convention."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

import schemas
from agents.models.history import (
    MAX_AMOUNT,
    MAX_ROW_BYTES,
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
    assert "from 0 to" in bad[2].reason
    assert str(bad[3]).startswith(f"{path}:7: bad amount 'abc'")


def test_a_field_over_the_csv_readers_limit_and_a_row_over_its_own_are_bad_rows(tmp_path: Path) -> None:
    # Python's csv module refuses a field over 128 KiB with an exception of its own: that was a traceback.
    path = tmp_path / "h.csv"
    with path.open("wb") as handle:
        handle.write(b"customer_id,date,amount\na,2024-01-02,10\n")
        handle.write(b"b,2024-01-02," + b"9" * 200_000 + b"\n")
        handle.write(b"d,2024-01-02," + b"1" * (MAX_ROW_BYTES + 5) + b"\r\n")
        handle.write(b"e,2024-01-04,2\n")
    bad: list[BadRow] = []
    assert [t.customer_id for t in read_transactions(path, bad_rows=bad)] == ["a", "e"]
    assert [(b.line, b.reason) for b in bad] == [
        (3, "not CSV: field larger than field limit (131072)"),
        (4, f"a row of {MAX_ROW_BYTES + 18:,} bytes, over the {MAX_ROW_BYTES:,}-byte limit"),
    ]
    assert bad[1].text == "d,2024-01-02," + "1" * 187


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_history_of_utf16_text_is_refused_not_read_as_bad_rows(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"h{suffix}"
    rows = ["a,2024-01-02,10"] if suffix == ".csv" else [purchase("a", "2024-01-02T10:00:00Z", 1)]
    path.write_bytes("\n".join(rows).encode("utf-16"))
    with pytest.raises(HistoryError, match=rf"purchase history {path} is UTF-16 text, not UTF-8"):
        list(read_transactions(path))


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


# --- formats, exactly ---------------------------------------------------------------------------------------------


def test_compact_and_iso_dates_read_the_same_day(tmp_path: Path) -> None:
    path = write(
        tmp_path / "h.csv",
        ["a,20241231,1", "a,2024-12-30,1", "a,2024-12-29T23:59:59-05:00,1", "a,2024-12-28 08:00,1"],
    )
    assert [t.day for t in read_transactions(path)] == [
        date(2024, 12, 31),
        date(2024, 12, 30),
        date(2024, 12, 29),
        date(2024, 12, 28),
    ]


def test_a_free_item_counts_and_a_fraction_of_a_unit_too(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", ["a,2024-01-02,0", "a,2024-01-03,0.5", "a,2024-01-04,0.0"])
    assert [t.amount for t in read_transactions(path, strict=True)] == [0.0, 0.5, 0.0]


@pytest.mark.parametrize("suffix", [".jsonl", ".ndjson", ".json", ".JSONL"])
def test_a_file_named_as_json_lines_is_read_as_such_even_if_its_first_line_is_cut(
    tmp_path: Path, suffix: str
) -> None:
    # Copied from the middle of a log: the first line lost its start.
    cut = purchase("a", "2024-01-02T10:00:00Z", 1)[20:]
    path = write(tmp_path / f"events{suffix}", [cut, purchase("b", "2024-01-03T10:00:00Z", 2)])
    bad: list[BadRow] = []
    assert list(read_transactions(path, bad_rows=bad)) == [Transaction("b", date(2024, 1, 3), 2.0)]
    assert [(row.line, row.reason) for row in bad] == [(1, "invalid JSON")]


@pytest.mark.parametrize("suffix", [".csv", ".txt", ".tsv", ".CSV"])
def test_a_file_named_as_csv_is_read_as_csv_even_if_it_starts_like_json(tmp_path: Path, suffix: str) -> None:
    # Customer ids that are GUIDs in braces, as some shop systems export them.
    guid = "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}"
    path = write(tmp_path / f"export{suffix}", [f"{guid},2024-01-02,10"])
    assert list(read_transactions(path, strict=True)) == [Transaction(guid, date(2024, 1, 2), 10.0)]


def test_the_format_of_an_unnamed_file_is_sniffed_past_a_byte_order_mark_and_blank_lines(
    tmp_path: Path,
) -> None:
    jsonl = tmp_path / "events.log"
    jsonl.write_bytes(b"\xef\xbb\xbf\n \t\r\n" + purchase("a", "2024-01-02T10:00:00Z", 1).encode() + b"\n")
    assert list(read_transactions(jsonl, strict=True)) == [Transaction("a", date(2024, 1, 2), 1.0)]
    csv = write(tmp_path / "export.dat", ["a,2024-01-02,1"])
    assert list(read_transactions(csv, strict=True)) == [Transaction("a", date(2024, 1, 2), 1.0)]


def test_a_format_given_is_not_second_guessed(tmp_path: Path) -> None:
    path = write(tmp_path / "export.txt", [purchase("a", "2024-01-02T10:00:00Z", 1)])
    assert list(read_transactions(path, fmt="jsonl")) == [Transaction("a", date(2024, 1, 2), 1.0)]
    history = load_history(path, calibration_end=END, fmt="jsonl", require_fittable=False)
    assert history.summary.customer_ids == ("a",)


# --- bad rows, word for word --------------------------------------------------------------------------------------


def test_a_header_is_only_the_first_row(tmp_path: Path) -> None:
    # Two exports concatenated: the second header is a bad row, not a new column order.
    path = write(
        tmp_path / "h.csv",
        ["customer_id,date,amount", "a,2024-01-02,10", "amount,date,customer_id", "b,2024-01-03,2"],
    )
    bad: list[BadRow] = []
    assert list(read_transactions(path, bad_rows=bad)) == [
        Transaction("a", date(2024, 1, 2), 10.0),
        Transaction("b", date(2024, 1, 3), 2.0),
    ]
    assert [(row.line, row.reason) for row in bad] == [(3, "bad date 'date'")]
    twice = write(
        tmp_path / "t.csv", ["customer_id,date,amount", "customer_id,date,amount", "a,2024-01-02,10"]
    )
    bad = []
    assert len(list(read_transactions(twice, bad_rows=bad))) == 1
    assert [(row.line, row.reason) for row in bad] == [(2, "bad date 'date'")]
    data_first = write(tmp_path / "d.csv", ["a,2024-01-02,10", "customer_id,date,amount"])
    bad = []
    assert len(list(read_transactions(data_first, bad_rows=bad))) == 1
    assert [(row.line, row.reason) for row in bad] == [(2, "bad date 'date'")]


def test_csv_bad_rows_say_why_and_the_rest_is_read(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes(
        b"a,2024-01-02,10\r\n"
        b",2024-01-02,10\r\n"
        b"b,2024-01-02,ten  \r\n"
        b"c\xff,2024-01-02,1 \r\n"
        b"d,2024-01-03,inf\r\n"
        b"e,2024-01-04,3\r\n"
    )
    bad: list[BadRow] = []
    assert [t.customer_id for t in read_transactions(path, bad_rows=bad)] == ["a", "e"]
    assert [(row.line, row.reason, row.text) for row in bad] == [
        (2, "empty customer_id", ",2024-01-02,10"),
        (3, "bad amount 'ten' (could not convert string to float: 'ten')", "b,2024-01-02,ten  "),
        (4, "not UTF-8", "c\ufffd,2024-01-02,1 "),
        (5, "bad amount 'inf' (amount must be a number from 0 to 1,000,000,000)", "d,2024-01-03,inf"),
    ]


def test_an_amount_beyond_a_touchpoints_bound_is_a_bad_row_and_the_sums_stay_finite(tmp_path: Path) -> None:
    # Two finite amounts of 1e308 used to make a day's sum infinite, and summarising raised OverflowError.
    limit = schemas.load_schema("touchpoint")["properties"]["attributes"]["properties"]["amount"]["maximum"]
    assert limit == MAX_AMOUNT
    path = write(
        tmp_path / "h.csv",
        ["a,2024-01-02,1e308", "a,2024-01-02,1e308", "a,2024-01-03,1e9", "a,2024-01-03,1e9"],
    )
    bad: list[BadRow] = []
    read = list(read_transactions(path, bad_rows=bad))
    assert [row.line for row in bad] == [1, 2]
    assert bad[0].reason == "bad amount '1e308' (amount must be a number from 0 to 1,000,000,000)"
    summary = summarise(read, calibration_end=date(2024, 12, 31))
    assert summary.spend_total.tolist() == [2e9]


def test_a_bad_rows_text_is_cut_to_200_characters(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", ["a," + "x" * 300 + ",1"])
    bad: list[BadRow] = []
    assert list(read_transactions(path, bad_rows=bad)) == []
    assert [row.text for row in bad] == [("a," + "x" * 300)[:200]]


def test_jsonl_bad_rows_say_why_and_the_rest_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path / "e.jsonl",
        [
            "[1, 2]",
            "{not json",
            purchase("a", "2024-01-02T10:00:00Z", True),
            purchase("b", "2024-01-02T10:00:00Z", None),
            purchase("c", "2024-01-02T10:00:00Z", 1, attributes=None),
            purchase("d", "2024-01-02T10:00:00Z", 1, attributes={"currency": "EUR"}),
            purchase("e", "2024-01-02T10:00:00Z", -2),
            purchase("f", "2024-01-02T10:00:00Z", 2),
        ],
    )
    bad: list[BadRow] = []
    assert [t.customer_id for t in read_transactions(path, bad_rows=bad)] == ["f"]
    assert [(row.line, row.reason) for row in bad] == [
        (1, "not a JSON object"),
        (2, "invalid JSON"),
        (3, "bad attributes.amount (amount is not a number)"),
        (4, "bad attributes.amount (amount is not a number)"),
        (5, "bad attributes.amount (missing attributes.amount)"),
        (6, "bad attributes.amount (missing attributes.amount)"),
        (7, "bad attributes.amount (amount must be a number from 0 to 1,000,000,000)"),
    ]


def test_a_file_that_cannot_be_read_says_why(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(HistoryError) as caught:
        list(read_transactions(missing))
    assert str(caught.value) == f"cannot read purchase history {missing}: No such file or directory"


def test_progress_of_an_empty_file_is_reported_once_with_nothing_read(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    seen: list[Progress] = []
    assert list(read_transactions(path, progress=seen.append)) == []
    assert seen == [Progress(0, 0, 0)]


def test_progress_always_knows_the_files_size(tmp_path: Path) -> None:
    path = write(tmp_path / "h.csv", [f"c{i},2024-01-01,1" for i in range(5)])
    seen: list[Progress] = []
    list(read_transactions(path, progress=seen.append, progress_every=2))
    size = path.stat().st_size
    assert [(p.lines, p.total_bytes) for p in seen] == [(2, size), (4, size), (5, size)]


# --- the summary, exactly -----------------------------------------------------------------------------------------


def test_the_summary_keeps_its_settings_and_every_customers_total_spend() -> None:
    rows = [
        Transaction("a", date(2024, 1, 1), 10.0),
        Transaction("a", date(2024, 1, 9), 30.0),  # one repeat day: m_x is its amount
        Transaction("a", date(2024, 2, 1), 5.0),  # holdout
        Transaction("a", date(2024, 2, 3), 5.0),  # holdout, another day
        Transaction("a", date(2024, 2, 29), 5.0),  # holdout, its last day
        Transaction("a", date(2024, 3, 1), 5.0),  # after the holdout
        Transaction("b", date(2024, 1, 5), 7.5),
    ]
    summary = summarise(rows, calibration_end=END, unit="days", holdout_end=date(2024, 2, 29))
    assert (summary.calibration_end, summary.holdout_end, summary.unit) == (END, date(2024, 2, 29), "days")
    assert summary.x.tolist() == [1, 0]
    assert summary.m_x[0] == 30.0
    assert summary.spend_total.tolist() == [40.0, 7.5]
    assert summary.x_holdout is not None
    assert summary.x_holdout.tolist() == [3, 0]
    assert summarise(rows, calibration_end=END).unit == "weeks"
    with pytest.raises(ValueError, match=r"^holdout_end must be after calibration_end$"):
        summarise(rows, calibration_end=END, holdout_end=date(2024, 1, 1))


def test_ten_customers_are_enough_to_fit(tmp_path: Path) -> None:
    path = repeat_buyers_csv(tmp_path / "h.csv", customers=10)
    assert len(load_history(path, calibration_end=LAST_REPEAT).summary) == 10


def test_load_history_passes_on_its_settings(tmp_path: Path) -> None:
    lines = [
        "c9,2024-01-15,5",
        *[line for line in repeat_buyers_csv(tmp_path / "r.csv").read_text().splitlines()],
    ]
    path = write(tmp_path / "h.csv", [*lines, "c0,2024-01-20,5", "c1,someday,5", "c2,2024-01-02,5"])
    seen: list[Progress] = []
    history = load_history(
        path, calibration_end=LAST_REPEAT, unit="days", holdout_end=date(2024, 1, 31), progress=seen.append
    )
    assert [(row.line, row.reason) for row in history.bad_rows] == [(21, "bad date 'someday'")]
    assert seen[-1].lines == 22
    # The span is over every purchase in the file, in any order: not the first and last rows.
    assert (history.first_day, history.last_day) == (date(2024, 1, 1), date(2024, 1, 20))
    summary = history.summary
    assert (summary.unit, summary.holdout_end) == ("days", date(2024, 1, 31))
    assert summary.T[summary.customer_ids.index("c9")] == 14.0
    assert summary.x_holdout is not None
    assert summary.x_holdout[summary.customer_ids.index("c0")] == 1
    with pytest.raises(HistoryRowError, match=r"h\.csv:21: bad date 'someday'"):
        load_history(path, calibration_end=LAST_REPEAT, strict=True)


def test_a_calibration_end_after_the_last_purchase_says_what_it_would_do(tmp_path: Path) -> None:
    path = repeat_buyers_csv(tmp_path / "h.csv")
    with pytest.raises(HistoryError) as caught:
        load_history(path, calibration_end=date(2024, 1, 16))
    assert str(caught.value) == (
        "calibration end 2024-01-16 is after the last purchase in the history (2024-01-15): "
        "the model would take the days the file does not cover for customers leaving; "
        "give a day from 2024-01-01 to 2024-01-15"
    )
