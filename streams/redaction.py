"""What never reaches a log line: the secrets this process holds, and the contents of Kafka records.

Secrets are kept out by construction (``streams.secrets.Secret`` hides its value, settings and
errors name variables and files, never values), and a second time here: every secret value the
process has read is remembered, and ``RedactingFormatter`` masks it in every formatted line,
arguments and tracebacks included, whatever library wrote it.

Record contents: aiokafka's producer logs each record it sends at debug level, key and value
(``Sending (key=… value=…) to …``); raw touchpoints carry phone numbers and e-mail addresses.
``hide_record_contents`` rewrites that line to the sizes only.
"""

from __future__ import annotations

import logging
import threading
from typing import Final

__all__ = [
    "MASK",
    "RecordContentFilter",
    "RedactingFormatter",
    "hide_record_contents",
    "install",
    "redact",
    "remember",
]

MASK: Final = "***"
#: Values shorter than this are not masked: "a" or "12" would mask half of every line.
MIN_LENGTH: Final = 6

_known: set[str] = set()
_lock = threading.Lock()


def remember(value: str) -> None:
    """Mask *value* in every log line from now on (it is a secret this process holds)."""
    if len(value) >= MIN_LENGTH:
        with _lock:
            _known.add(value)


def redact(text: str) -> str:
    """*text* with every remembered secret replaced by ``***``."""
    if not _known:
        return text
    # Longest first: a secret that contains another is masked whole.
    for secret in sorted(_known, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFormatter(logging.Formatter):
    """Formats with another formatter, then masks every remembered secret in the whole text."""

    def __init__(self, inner: logging.Formatter | None = None) -> None:
        super().__init__()
        self._inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self._inner.format(record))


#: aiokafka's producer, at debug level: ``log.debug("Sending (key=%s value=%s) to %s", key, value, tp)``.
_SEND_LOGGER: Final = "aiokafka.producer.producer"
_SEND_MESSAGE: Final = "Sending (key=%s value=%s) to %s"


class RecordContentFilter(logging.Filter):
    """Rewrites aiokafka's per-record debug line to the record's sizes: never its key or value."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == _SEND_MESSAGE and isinstance(record.args, tuple) and len(record.args) == 3:
            key, value, tp = record.args
            record.msg = "Sending a record (key %s, value %s) to %s"
            record.args = (_size(key), _size(value), tp)
        return True


def _size(data: object) -> str:
    if data is None:
        return "none"
    if isinstance(data, bytes | bytearray | str):
        return f"{len(data)} bytes"
    return "present"


def hide_record_contents() -> None:
    """Keep record keys and values out of the Kafka client's debug log (idempotent)."""
    logger = logging.getLogger(_SEND_LOGGER)
    if not any(isinstance(existing, RecordContentFilter) for existing in logger.filters):
        logger.addFilter(RecordContentFilter())


def install(logger: logging.Logger | None = None) -> None:
    """Mask secrets in every handler of *logger* (the root logger by default), and hide record contents."""
    hide_record_contents()
    for handler in (logger or logging.getLogger()).handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter))
