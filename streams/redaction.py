"""What never reaches a log line: the secrets this process holds, and the contents of Kafka records.

Secrets are kept out by construction (``streams.secrets.Secret`` hides its value, settings and
errors name variables and files, never values), and a second time here: every secret value the
process has read is remembered, and ``RedactingFormatter`` masks it in every formatted line,
arguments and tracebacks included, whatever library wrote it.

Record contents: at debug level aiokafka logs each record its producer sends, key and value
(``Sending (key=… value=…) to …``), and every request and response on the wire with the first
100 bytes of each byte field: the start of a produced or fetched record batch (keys and values),
and the SASL exchange (a PLAIN password, a SCRAM proof). Raw touchpoints carry phone numbers and
e-mail addresses. ``hide_record_contents`` rewrites those lines to sizes and message names only.
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
#: aiokafka's connection, at debug level: every request and response, with the message's fields.
_WIRE_LOGGER: Final = "aiokafka.conn"
_WIRE_MESSAGES: Final = frozenset({"Request to %s:%d %d: %s", "Response from %s:%d %d: %s"})


class RecordContentFilter(logging.Filter):
    """Rewrites aiokafka's per-record and per-request debug lines: sizes and message names, no contents."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.msg == _SEND_MESSAGE and isinstance(args, tuple) and len(args) == 3:
            key, value, tp = args
            record.msg = "Sending a record (key %s, value %s) to %s"
            record.args = (_size(key), _size(value), tp)
        elif record.msg in _WIRE_MESSAGES and isinstance(args, tuple) and len(args) == 4:
            # The message's name (ProduceRequest_v7, SaslAuthenticateResponse_v1 …) without its fields.
            record.args = (*args[:3], type(args[3]).__name__)
        return True


def _size(data: object) -> str:
    if data is None:
        return "none"
    if isinstance(data, bytes | bytearray | str):
        return f"{len(data)} bytes"
    return "present"


def hide_record_contents() -> None:
    """Keep record keys and values, and the SASL exchange, out of the Kafka client's debug log (idempotent)."""
    for name in (_SEND_LOGGER, _WIRE_LOGGER):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RecordContentFilter) for existing in logger.filters):
            logger.addFilter(RecordContentFilter())


def install(logger: logging.Logger | None = None) -> None:
    """Mask secrets in every handler of *logger* (the root logger by default), and hide record contents."""
    hide_record_contents()
    for handler in (logger or logging.getLogger()).handlers:
        if not isinstance(handler.formatter, RedactingFormatter):
            handler.setFormatter(RedactingFormatter(handler.formatter))
