"""The live view of ``touchpoint run``: what the worker publishes, summarised every few seconds.

It reads the output topics like any other consumer would (no group, no commits),
so what it shows is what downstream services get. Plain lines, not a redrawn
screen: readable in a terminal, a log file and a CI transcript alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections import Counter
from datetime import datetime
from typing import TextIO

import orjson

from agents.journey.control import CONTROL_KEY_PREFIX
from streams import topics
from streams.cli.terminal import safe
from streams.kafka import Record, consume
from streams.metrics import CHANNELS

#: At most this many dead-letter details per summary, so a flood of bad input stays readable.
DETAILS_PER_TICK = 2
#: Event ids remembered to count a touchpoint once: a linked identifier's touchpoint is sent on to its
#: customer within the same fetch or the next few, far fewer records apart than this.
COUNTED_IDS = 100_000


class LiveView:
    """Counts output records and renders one summary line per tick.

    Example lines (an alert's summary, a dead-letter's message) are cut to *width* columns;
    by default the terminal's width, and not cut at all when *out* is not a terminal (a log file
    keeps them whole).
    """

    def __init__(self, out: TextIO, hints: list[str] | None = None, width: int | None = None) -> None:
        self.out = out
        #: Where to go next, printed under the first alerts shown: the console, tailing, acting.
        self.hints = hints or []
        self._hinted = False
        self.width = width if width is not None else _terminal_width(out)
        self.by_channel: Counter[str] = Counter()
        self.by_reason: Counter[str] = Counter()
        self.stage_changes: Counter[str] = Counter()
        self.alerts: Counter[str] = Counter()
        self._alert_lines: list[str] = []
        self.accepted = 0
        #: Event ids of the touchpoints counted lately, oldest first: identity resolution writes an
        #: anonymous touchpoint to by-customer again, under its customer, once its identifier is linked.
        self._counted: dict[object, None] = {}
        self.event_time: datetime | None = None
        self._details: list[str] = []
        self._details_dropped = 0
        self._last_tick = time.monotonic()
        self._last_total = 0

    def _seen_before(self, event_id: object) -> bool:
        """Whether the touchpoint *event_id* was counted already (remembered for the last ids only)."""
        if not isinstance(event_id, str):
            return False
        if event_id in self._counted:
            return True
        self._counted[event_id] = None
        if len(self._counted) > COUNTED_IDS:
            del self._counted[next(iter(self._counted))]
        return False

    def observe(self, record: Record) -> None:
        if record.value is None:
            return
        try:
            document = orjson.loads(record.value)
        except orjson.JSONDecodeError:
            return
        if not isinstance(document, dict):
            return  # not one of ours: anyone can write to a topic
        if record.topic == topics.BY_CUSTOMER:
            if record.key is not None and record.key.startswith(CONTROL_KEY_PREFIX):
                return  # a worker's timer tick on the same partitions, not a touchpoint
            if self._seen_before(document.get("event_id")):
                return  # an anonymous touchpoint sent on to the customer its identifier is linked to
            self.accepted += 1
            self.by_channel[safe(str(document.get("channel", "?")))] += 1
            try:
                occurred = datetime.fromisoformat(str(document.get("occurred_at")))
            except ValueError:
                return  # not one of ours either
            if self.event_time is None or occurred > self.event_time:
                self.event_time = occurred
        elif record.topic.startswith("alerts.") and record.topic != topics.ACTIONS:
            status = document.get("status")
            if status == "open":
                self.alerts[safe(str(document.get("type", "?")))] += 1
            if len(self._alert_lines) < DETAILS_PER_TICK:
                mark = "⚠" if status == "open" else "✓"
                # The id stays whole on its own line (an operator copies it); the summary is cut to fit.
                self._alert_lines.append(
                    safe(
                        f"  {mark} {document.get('type')} [{document.get('severity')}, {status}] "
                        f"{document.get('alert_id')}"
                    )
                    + "\n"
                    + self._fit(safe(f"      {document.get('summary', '')}"))
                )
        elif record.topic == topics.TRANSITIONS:
            self.stage_changes[safe(str(document.get("to", "?")))] += 1
        elif record.topic == topics.DEAD_LETTER:
            reason = safe(str(document.get("reason", "?")))
            self.by_reason[reason] += 1
            if len(self._details) < DETAILS_PER_TICK:
                source = document.get("source")
                source = source if isinstance(source, dict) else {}
                where = f"{source.get('topic')}:{source.get('partition')}@{source.get('offset')}"
                message = safe(str(document.get("message", "")))
                line = f"  ✗ dead-letter {reason:<10} {message} ({where})"
                if self.width and len(line) > self.width:
                    # The source is what an operator looks up: cut the message, keep where it came from.
                    room = max(self.width - len(line) + len(message) - 1, 10)
                    line = f"  ✗ dead-letter {reason:<10} {message[:room]}… ({where})"
                self._details.append(self._fit(safe(line)))
            else:
                self._details_dropped += 1

    def _fit(self, line: str) -> str:
        return line if not self.width or len(line) <= self.width else line[: self.width - 1] + "…"

    def tick(self) -> None:
        now = time.monotonic()
        elapsed = max(now - self._last_tick, 1e-9)
        rate = (self.accepted - self._last_total) / elapsed
        self._last_tick, self._last_total = now, self.accepted
        clock = time.strftime("%H:%M:%S")
        event_time = self.event_time.strftime("%a %d %b %H:%M") if self.event_time else "–"
        channels = " ".join(f"{name} {self.by_channel[name]:,}" for name in CHANNELS)
        rejected = sum(self.by_reason.values())
        reasons = ", ".join(f"{reason} {count}" for reason, count in self.by_reason.most_common())
        line = (
            f"[{clock}] event time {event_time} | accepted {self.accepted:,} ({rate:,.0f}/s) | {channels}"
            f" | dead-letters {rejected:,}" + (f" ({reasons})" if reasons else "")
        )
        if self.stage_changes:
            stages = ", ".join(f"{stage} {count:,}" for stage, count in self.stage_changes.most_common())
            line += f"\n  stage changes {sum(self.stage_changes.values()):,} → {stages}"
        print(line, file=self.out)
        if self.alerts:
            raised = ", ".join(f"{kind} {count:,}" for kind, count in self.alerts.most_common())
            print(f"  alerts raised {sum(self.alerts.values()):,} → {raised}", file=self.out)
        for detail in self._alert_lines + self._details:
            print(detail, file=self.out)
        if self._details_dropped:
            print(f"  … and {self._details_dropped:,} more dead-letters", file=self.out)
        if self._alert_lines and not self._hinted:
            self._hinted = True
            for hint in self.hints:
                print(f"  → {hint}", file=self.out)
        self._alert_lines.clear()
        self._details.clear()
        self._details_dropped = 0
        self.out.flush()


def next_steps(broker_url: str, console_url: str | None) -> list[str]:
    """What an operator can do with the alerts shown: open the console, follow a topic, act on one."""
    steps = [f"open the alerts in the console: {console_url}"] if console_url else []
    return [
        *steps,
        f"follow one type: touchpoint tail alerts.after_hours_unanswered --broker {broker_url} --from-end",
        f"act on one: touchpoint alerts ack|resolve|snooze ALERT_ID --by NAME --broker {broker_url}",
    ]


def _terminal_width(out: TextIO) -> int:
    """Columns of the terminal *out* writes to; 0 (no limit) when it is not a terminal."""
    try:
        interactive = out.isatty()
    except (AttributeError, ValueError):
        interactive = False
    return shutil.get_terminal_size().columns if interactive else 0


async def watch(
    bootstrap: str, out: TextIO, stop: asyncio.Event, interval: float = 2.0, hints: list[str] | None = None
) -> LiveView:
    """Follow the output topics and print a summary every *interval* seconds until *stop* is set."""
    view = LiveView(out, hints)

    async def follow() -> None:
        outputs = (
            topics.BY_CUSTOMER,
            topics.DEAD_LETTER,
            topics.TRANSITIONS,
            *map(topics.alert_topic, topics.alert_types()),
        )
        async for record in consume(bootstrap, outputs, stop=stop):
            view.observe(record)

    follower = asyncio.create_task(follow())
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
            if follower.done():
                follower.result()  # surface a consumer failure instead of showing zeros forever
            view.tick()
    finally:
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
    return view
