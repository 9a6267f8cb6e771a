"""No secret and no record content in a log line, whoever writes it."""

from __future__ import annotations

import inspect
import io
import logging

import aiokafka.conn
import aiokafka.producer.producer
import pytest

from streams import redaction
from streams.secrets import Secret

pytestmark = pytest.mark.unit


def _logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    redaction.install(logger)
    return logger, stream


def test_a_revealed_secret_is_masked_in_messages_arguments_and_tracebacks() -> None:
    secret = Secret("the-sasl-password-42").reveal()
    logger, stream = _logger("test.redaction.secret")
    logger.warning("connecting with %s", secret)
    logger.warning(f"inline {secret}")
    try:
        raise ValueError(f"bad credentials {secret}")
    except ValueError:
        logger.exception("failed")
    text = stream.getvalue()
    assert secret not in text
    assert text.count(redaction.MASK) == 3
    assert "bad credentials ***" in text


def test_values_too_short_to_be_secrets_are_not_masked() -> None:
    redaction.remember("ab")
    assert redaction.redact("tab stab") == "tab stab"


def test_aiokafka_per_record_debug_line_shows_sizes_never_contents() -> None:
    logger, stream = _logger(redaction._SEND_LOGGER)
    key, value = b"anna@example.com", b'{"identifiers":{"phone":"+49301234567"}}'
    logger.debug(redaction._SEND_MESSAGE, key, value, "touchpoints-0")
    text = stream.getvalue()
    assert "anna@example.com" not in text
    assert "+49301234567" not in text
    assert f"key {len(key)} bytes, value {len(value)} bytes" in text


def test_aiokafka_wire_debug_lines_name_the_message_only() -> None:
    logger, stream = _logger(redaction._WIRE_LOGGER)

    class SaslAuthenticateRequest_v1:
        def __repr__(self) -> str:
            return "SaslAuthenticateRequest_v1(sasl_auth_bytes=b'\\x00alice\\x00secret-password')"

    logger.debug("Request to %s:%d %d: %s", "broker", 9092, 3, SaslAuthenticateRequest_v1())
    text = stream.getvalue()
    assert "secret-password" not in text
    assert "Request to broker:9092 3: SaslAuthenticateRequest_v1" in text


def test_the_lines_rewritten_are_still_the_ones_aiokafka_writes() -> None:
    """An aiokafka upgrade that rewords them would let contents through: this test says so."""
    assert f'"{redaction._SEND_MESSAGE}"' in inspect.getsource(aiokafka.producer.producer)
    wire = inspect.getsource(aiokafka.conn)
    for message in redaction._WIRE_MESSAGES:
        assert f'"{message}"' in wire
    assert aiokafka.conn.__name__ == redaction._WIRE_LOGGER
    assert aiokafka.producer.producer.__name__ == redaction._SEND_LOGGER
