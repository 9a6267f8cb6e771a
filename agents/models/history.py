"""Purchase history in, per-customer ``(x, t_x, T, m_x)`` summary out — the input of the models.

Sources (read in one streaming pass; nothing is loaded twice):

* CSV ``customer_id,date,amount``, header optional. A first row whose fields are exactly those three
  names (any order, any case) is a header and sets the column order; any other first row is data.
  Dates are ``YYYY-MM-DD``, ``YYYYMMDD`` or an RFC 3339 / ISO timestamp (its date as written).
* Touchpoint JSONL (one ``touchpoint.v1`` event per line): only ``"type": "purchase"`` events count,
  using ``customer_id``, the date part of ``occurred_at`` as written (the local date in the event's
  own offset) and ``attributes.amount``. Other event types are skipped silently; currencies are not
  converted. A purchase without ``customer_id`` is a bad row (it cannot be attributed).

Blank lines are ignored. A row that cannot be parsed (wrong field count, bad date, amount that is not
a number from 0 to ``MAX_AMOUNT``, invalid JSON, a CSV field over the ``csv`` module's 128 KiB, a row over
``MAX_ROW_BYTES``) is a :class:`BadRow` with its 1-based physical line number: with ``strict=True`` the
first one raises :class:`HistoryRowError` naming file and line, otherwise it is skipped and collected.

The summary follows the CDNOW convention of Fader, Hardie & Lee (2005):

* transactions are aggregated per customer per calendar day (amounts summed);
* only days up to and including ``calibration_end`` are in the calibration period; customers whose
  first purchase is after it are not in the summary;
* ``x``   = number of distinct purchase days after the first one (repeat purchases);
* ``t_x`` = days between the first and the last purchase day (0 when ``x == 0``);
* ``T``   = days between the first purchase day and ``calibration_end``;
* ``m_x`` = mean of the daily amounts of the ``x`` repeat days (the first purchase is excluded; NaN
  when ``x == 0``);
* ``spend_total`` = sum of all calibration purchase days' amounts (the first included);
* ``x_holdout`` (only with ``holdout_end``) = number of purchase days in ``(calibration_end, holdout_end]``;

with times in the chosen unit: ``"days"`` or ``"weeks"`` (days / 7, not rounded). On the CDNOW
sample with ``calibration_end=1997-09-30`` and weeks this reproduces the published summary.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Final, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import orjson

from agents.lines import HEAD_BYTES, Overlong, convert_first, lines, not_utf8

__all__ = [
    "MAX_AMOUNT",
    "MAX_ROW_BYTES",
    "MIN_CUSTOMERS",
    "BadRow",
    "History",
    "HistoryError",
    "HistoryRowError",
    "Progress",
    "Summary",
    "Transaction",
    "load_history",
    "read_transactions",
    "summarise",
]

FloatArray = npt.NDArray[np.float64]
Unit = Literal["days", "weeks"]
Format = Literal["auto", "csv", "jsonl"]

#: Fewer customers than this cannot support a fit of 4 BG/NBD parameters.
MIN_CUSTOMERS: Final = 10
#: The largest amount a row may carry, as a touchpoint's ``attributes.amount`` (schemas/touchpoint.v1.json):
#: a day's or a customer's sum of such amounts stays a finite number.
MAX_AMOUNT: Final = 1_000_000_000.0
_DAYS_PER: Final = {"days": 1.0, "weeks": 7.0}
_HEADER: Final = ("customer_id", "date", "amount")


class HistoryError(Exception):
    """The purchase history cannot be read or cannot support a fit; the message is one line."""


class HistoryRowError(HistoryError):
    """A row could not be parsed (raised in strict mode)."""

    def __init__(self, bad: BadRow) -> None:
        super().__init__(str(bad))
        self.bad = bad


@dataclass(frozen=True, slots=True)
class BadRow:
    """An unparseable row: where it is, why, and (a prefix of) its text."""

    path: str
    line: int
    reason: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}: {self.text!r}"


@dataclass(frozen=True, slots=True)
class Progress:
    """Reported to the progress callback every ``progress_every`` lines and once at the end."""

    lines: int
    bytes_read: int
    total_bytes: int


class Transaction(NamedTuple):
    customer_id: str
    day: date
    amount: float


def _parse_date(text: str) -> date:
    # Python 3.11's fromisoformat reads YYYY-MM-DD, YYYYMMDD and timestamps alike.
    return datetime.fromisoformat(text.strip()).date()


def _parse_amount(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("amount is not a number")
    amount = float(value)
    if not 0 <= amount <= MAX_AMOUNT:  # NaN too
        raise ValueError(f"amount must be a number from 0 to {MAX_AMOUNT:,.0f}")
    return amount


#: Read a megabyte at a time: a history is read a line at a time, a system call every 4 KiB otherwise.
_READ_BUFFER: Final = 1 << 20
#: The longest row read whole: a CSV row is tens of bytes, a touchpoint line at most ingest's limit (64 KiB by
#: default, 16 MiB at most). A longer one is a bad row, read past without being held (agents/lines.py).
MAX_ROW_BYTES: Final = 1 << 24


def _detect(path: Path, fmt: Format) -> Literal["csv", "jsonl"]:
    if fmt != "auto":
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "jsonl" if head.startswith(b"{") else "csv"


def read_transactions(
    path: str | os.PathLike[str],
    *,
    fmt: Format = "auto",
    strict: bool = False,
    bad_rows: list[BadRow] | None = None,
    progress: Callable[[Progress], None] | None = None,
    progress_every: int = 50_000,
    name: str | None = None,
) -> Iterator[Transaction]:
    """Stream the purchases in *path* (format per module doc); bad rows go to *bad_rows* or raise if strict.

    A missing or unreadable file raises HistoryError, as does UTF-16 or UTF-32 text. *name*: what messages call
    the file (default: its path), where *path* is a copy of it (a compressed file's lines, written out).
    """
    source = Path(path)
    try:
        kind = _detect(source, fmt)
        total = source.stat().st_size
        handle = source.open("rb", buffering=_READ_BUFFER)
    except OSError as exc:
        raise HistoryError(f"cannot read purchase history {name or source}: {exc.strerror or exc}") from None
    called = name or str(source)
    encoding = not_utf8(handle.read(HEAD_BYTES))
    handle.seek(0)
    if encoding is not None:
        handle.close()
        raise HistoryError(f"purchase history {called} is {convert_first(encoding)}")
    columns: tuple[int, int, int] = (0, 1, 2)
    seen_data = False
    bytes_read = 0
    number = 0

    def bad(reason: str, raw: str) -> None:
        row = BadRow(called, number, reason, raw[:200])
        if strict:
            raise HistoryRowError(row)
        if bad_rows is not None:
            bad_rows.append(row)

    with handle:
        for number, line in enumerate(lines(handle, MAX_ROW_BYTES), start=1):
            if isinstance(line, Overlong):
                bytes_read += line.length
                head = line.head[:200].decode("utf-8", "replace")
                bad(f"a row of {line.size:,} bytes, over the {MAX_ROW_BYTES:,}-byte limit", head)
                continue
            raw_bytes = line
            bytes_read += len(raw_bytes)
            if progress is not None and number % progress_every == 0:
                progress(Progress(number, bytes_read, total))
            try:
                raw = raw_bytes.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                bad("not UTF-8", raw_bytes.decode("utf-8", "replace").rstrip("\r\n"))
                continue
            if not raw.strip():
                continue
            if kind == "csv":
                try:
                    fields = [f.strip() for f in next(csv.reader([raw]))]
                except csv.Error as exc:  # a field over the csv module's limit (csv.field_size_limit())
                    bad(f"not CSV: {exc}", raw)
                    continue
                if not seen_data and tuple(sorted(f.lower() for f in fields)) == tuple(sorted(_HEADER)):
                    lowered = [f.lower() for f in fields]
                    columns = (lowered.index("customer_id"), lowered.index("date"), lowered.index("amount"))
                    seen_data = True
                    continue
                seen_data = True
                if len(fields) != 3:
                    bad(f"expected 3 fields (customer_id,date,amount), got {len(fields)}", raw)
                    continue
                customer, day_text, amount_text = (fields[i] for i in columns)
                if not customer:
                    bad("empty customer_id", raw)
                    continue
                try:
                    day = _parse_date(day_text)
                except ValueError:
                    bad(f"bad date {day_text!r}", raw)
                    continue
                try:
                    amount = _parse_amount(amount_text)
                except ValueError as exc:
                    bad(f"bad amount {amount_text!r} ({exc})", raw)
                    continue
                yield Transaction(customer, day, amount)
            else:
                try:
                    event = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    bad("invalid JSON", raw)
                    continue
                if not isinstance(event, dict):
                    bad("not a JSON object", raw)
                    continue
                if event.get("type") != "purchase":
                    continue
                customer_value = event.get("customer_id")
                if not isinstance(customer_value, str) or not customer_value.strip():
                    bad("purchase without customer_id", raw)
                    continue
                occurred = event.get("occurred_at")
                try:
                    if not isinstance(occurred, str):
                        raise ValueError
                    day = _parse_date(occurred)
                except ValueError:
                    bad(f"bad occurred_at {occurred!r}", raw)
                    continue
                attributes = event.get("attributes")
                try:
                    if not isinstance(attributes, dict) or "amount" not in attributes:
                        raise ValueError("missing attributes.amount")
                    amount = _parse_amount(attributes["amount"])
                except ValueError as exc:
                    bad(f"bad attributes.amount ({exc})", raw)
                    continue
                yield Transaction(customer_value, day, amount)
    if progress is not None:
        progress(Progress(number, bytes_read, total))


@dataclass(frozen=True, slots=True)
class Summary:
    """Per-customer RFM summary (module doc); arrays are aligned with ``customer_ids`` (sorted)."""

    customer_ids: tuple[str, ...]
    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    m_x: FloatArray
    x_holdout: FloatArray | None
    calibration_end: date
    holdout_end: date | None
    unit: Unit
    #: Sum of all calibration purchase days' amounts, the first included (what the worker's CLV uses).
    spend_total: FloatArray

    def __len__(self) -> int:
        return len(self.customer_ids)

    @property
    def repeat_buyers(self) -> int:
        return int(np.count_nonzero(self.x > 0))

    def check_fittable(self) -> None:
        """HistoryError unless there are >= MIN_CUSTOMERS customers and at least one repeat buyer."""
        if len(self) < MIN_CUSTOMERS:
            raise HistoryError(
                f"purchase history too small to fit: {len(self)} customers up to {self.calibration_end}, need at least {MIN_CUSTOMERS}"
            )
        if self.repeat_buyers == 0:
            raise HistoryError(
                f"no repeat buyers among {len(self)} customers up to {self.calibration_end}: nothing to fit"
            )


def summarise(
    transactions: Iterable[Transaction],
    *,
    calibration_end: date,
    unit: Unit = "weeks",
    holdout_end: date | None = None,
) -> Summary:
    """Aggregate *transactions* (any order) into a :class:`Summary` under the CDNOW convention."""
    if unit not in _DAYS_PER:
        raise ValueError(f"unit must be 'days' or 'weeks', got {unit!r}")
    if holdout_end is not None and holdout_end <= calibration_end:
        raise ValueError("holdout_end must be after calibration_end")
    per_day: dict[str, dict[date, float]] = {}
    holdout_days: dict[str, set[date]] = {}
    for customer, day, amount in transactions:
        if day <= calibration_end:
            days = per_day.setdefault(customer, {})
            days[day] = days.get(day, 0.0) + amount
        elif holdout_end is not None and day <= holdout_end:
            holdout_days.setdefault(customer, set()).add(day)
    ids = tuple(sorted(per_day))
    n = len(ids)
    x, t_x, T, m_x = np.zeros(n), np.zeros(n), np.zeros(n), np.full(n, np.nan)
    spend_total = np.zeros(n)
    x_holdout = np.zeros(n) if holdout_end is not None else None
    scale = _DAYS_PER[unit]
    for i, customer in enumerate(ids):
        days = per_day[customer]
        ordered = sorted(days)
        first, last = ordered[0], ordered[-1]
        x[i] = len(ordered) - 1
        t_x[i] = (last - first).days / scale
        T[i] = (calibration_end - first).days / scale
        spend_total[i] = math.fsum(days.values())
        if len(ordered) > 1:
            m_x[i] = math.fsum(days[d] for d in ordered[1:]) / (len(ordered) - 1)
        if x_holdout is not None:
            x_holdout[i] = len(holdout_days.get(customer, ()))
    return Summary(ids, x, t_x, T, m_x, x_holdout, calibration_end, holdout_end, unit, spend_total)


@dataclass(frozen=True, slots=True)
class History:
    """A summarised history file with what was skipped on the way."""

    summary: Summary
    bad_rows: list[BadRow] = field(default_factory=list)
    #: The first and last purchase day in the whole file (None without a purchase).
    first_day: date | None = None
    last_day: date | None = None

    def check_calibration_end(self) -> None:
        """HistoryError unless the calibration end lies within the history's purchase days.

        After the last purchase day, the quiet days the file does not cover would read as customers
        leaving; before the first, there is nobody to fit.
        """
        end = self.summary.calibration_end
        if self.last_day is not None and end > self.last_day:
            raise HistoryError(
                f"calibration end {end} is after the last purchase in the history ({self.last_day}): "
                "the model would take the days the file does not cover for customers leaving; "
                f"give a day from {self.first_day} to {self.last_day}"
            )
        if self.first_day is not None and end < self.first_day:
            raise HistoryError(
                f"calibration end {end} is before the first purchase in the history ({self.first_day}); "
                f"give a day from {self.first_day} to {self.last_day}"
            )


def load_history(
    path: str | os.PathLike[str],
    *,
    calibration_end: date,
    unit: Unit = "weeks",
    holdout_end: date | None = None,
    fmt: Format = "auto",
    strict: bool = False,
    progress: Callable[[Progress], None] | None = None,
    require_fittable: bool = True,
    name: str | None = None,
) -> History:
    """Read and summarise *path* in one pass; HistoryError if it cannot support a fit (unless told not to check).

    *name*: what messages call the file (``read_transactions``)."""
    bad_rows: list[BadRow] = []
    span: dict[str, date] = {}

    def spanned(rows: Iterator[Transaction]) -> Iterator[Transaction]:
        for row in rows:
            day = row[1]
            if "first" not in span or day < span["first"]:
                span["first"] = day
            if "last" not in span or day > span["last"]:
                span["last"] = day
            yield row

    rows = read_transactions(path, fmt=fmt, strict=strict, bad_rows=bad_rows, progress=progress, name=name)
    summary = summarise(spanned(rows), calibration_end=calibration_end, unit=unit, holdout_end=holdout_end)
    history = History(summary, bad_rows, span.get("first"), span.get("last"))
    if require_fittable:
        history.check_calibration_end()
        summary.check_fittable()
    return history
