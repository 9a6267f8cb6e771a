"""How every Kafka client of the product connects: TLS and SASL, the same for the worker and the CLI.

One object, ``KafkaSecurity``, built from the settings (streams/settings.py), gives aiokafka's
connection options (``client_options``) to the CLI's clients, the console and the notify bridge,
and the worker turns it into Faust's ``broker_credentials`` (streams/app.py), so both speak the
same protocol with the same files.

- **TLS**: the CA that signed the brokers' certificates (else the system's), a client certificate
  and key for mutual TLS, hostname checking on unless turned off.
- **SASL**: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 with a user name and a password, or OAUTHBEARER
  with a token read from a file on every (re)connection, so a sidecar can refresh it.

Passwords stay ``Secret``s until a client is built; nothing here formats one.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from aiokafka.abc import AbstractTokenProvider

from streams.secrets import Secret

__all__ = ["MECHANISMS", "PLAINTEXT", "FileTokenProvider", "KafkaSecurity", "KafkaSecurityError"]

#: SASL mechanisms the clients support.
MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER")


class KafkaSecurityError(ValueError):
    """A TLS or SASL setting is inconsistent, or its files cannot be used; never quotes a secret."""


class FileTokenProvider(AbstractTokenProvider):  # type: ignore[misc]
    """SASL/OAUTHBEARER: the token in a file, read again on every connection (a sidecar refreshes it)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def token(self) -> str:
        try:
            text = self.path.read_text("utf-8").strip()
        except OSError as exc:
            raise KafkaSecurityError(
                f"cannot read the OAuth token file {self.path}: {exc.strerror}"
            ) from None
        if not text:
            raise KafkaSecurityError(f"the OAuth token file {self.path} is empty")
        from streams import redaction

        redaction.remember(text)
        return text

    def __repr__(self) -> str:
        return f"FileTokenProvider({self.path})"


@dataclass(frozen=True)
class KafkaSecurity:
    """TLS and SASL for a Kafka connection; the default is plaintext without authentication."""

    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    key_password: Secret = field(default_factory=Secret, repr=False)
    check_hostname: bool = True
    sasl_mechanism: str = ""
    sasl_username: str = ""
    sasl_password: Secret = field(default_factory=Secret, repr=False)
    oauth_token_file: Path | None = None

    @property
    def uses_tls(self) -> bool:
        """TLS is on when asked for, or when a CA or client certificate is given."""
        return self.tls or self.ca_file is not None or self.cert_file is not None

    @property
    def protocol(self) -> str:
        """Kafka's ``security.protocol``: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."""
        if self.sasl_mechanism:
            return "SASL_SSL" if self.uses_tls else "SASL_PLAINTEXT"
        return "SSL" if self.uses_tls else "PLAINTEXT"

    def describe(self) -> str:
        """The protocol and who signs in, for a start-up line: never a secret."""
        if not self.sasl_mechanism:
            return self.protocol
        who = f" as {self.sasl_username}" if self.sasl_username else ""
        return f"{self.protocol} ({self.sasl_mechanism}{who})"

    def checked(self) -> KafkaSecurity:
        """This object, or KafkaSecurityError naming the setting that is wrong."""
        mechanism = self.sasl_mechanism
        if mechanism and mechanism not in MECHANISMS:
            raise KafkaSecurityError(
                f"TOUCHPOINT_KAFKA_SASL_MECHANISM must be one of {', '.join(MECHANISMS)}, got {mechanism!r}"
            )
        if mechanism == "OAUTHBEARER":
            if self.oauth_token_file is None:
                raise KafkaSecurityError("OAUTHBEARER needs TOUCHPOINT_KAFKA_OAUTH_TOKEN_FILE")
        elif mechanism:
            if not self.sasl_username:
                raise KafkaSecurityError(f"{mechanism} needs TOUCHPOINT_KAFKA_SASL_USERNAME")
            if not self.sasl_password:
                raise KafkaSecurityError(
                    f"{mechanism} needs a password: TOUCHPOINT_KAFKA_SASL_PASSWORD or "
                    "TOUCHPOINT_KAFKA_SASL_PASSWORD_FILE (never an option: it would show in `ps`)"
                )
        elif self.sasl_username or self.sasl_password or self.oauth_token_file:
            raise KafkaSecurityError(
                "a SASL user, password or token is set but no TOUCHPOINT_KAFKA_SASL_MECHANISM "
                f"({', '.join(MECHANISMS)})"
            )
        if (self.cert_file is None) != (self.key_file is None):
            raise KafkaSecurityError(
                "a client certificate needs both TOUCHPOINT_KAFKA_CERT_FILE and TOUCHPOINT_KAFKA_KEY_FILE"
            )
        if self.key_password and self.key_file is None:
            raise KafkaSecurityError("TOUCHPOINT_KAFKA_KEY_PASSWORD is set but no TOUCHPOINT_KAFKA_KEY_FILE")
        return self

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for the brokers (None without TLS): their CA, our certificate, hostname checks."""
        if not self.uses_tls:
            return None
        try:
            context = ssl.create_default_context(
                ssl.Purpose.SERVER_AUTH, cafile=str(self.ca_file) if self.ca_file else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise KafkaSecurityError(
                f"TOUCHPOINT_KAFKA_CA_FILE: cannot load {self.ca_file}: {_reason(exc)}"
            ) from None
        context.check_hostname = self.check_hostname
        if not self.check_hostname:
            # Without the name check, the chain is still verified against the CA.
            context.verify_mode = ssl.CERT_REQUIRED
        if self.cert_file is not None and self.key_file is not None:
            password = self.key_password.reveal() if self.key_password else None
            try:
                context.load_cert_chain(str(self.cert_file), str(self.key_file), password=password)
            except (OSError, ssl.SSLError) as exc:
                # ssl's messages name neither the password nor the key's contents.
                raise KafkaSecurityError(
                    f"TOUCHPOINT_KAFKA_CERT_FILE/KEY_FILE: cannot load {self.cert_file} with "
                    f"{self.key_file}: {_reason(exc)}"
                ) from None
        return context

    def client_options(self) -> dict[str, Any]:
        """aiokafka's keyword arguments for this security (``AIOKafkaProducer(**options)``)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        context = self.ssl_context()
        if context is not None:
            options["ssl_context"] = context
        if self.sasl_mechanism:
            options["sasl_mechanism"] = self.sasl_mechanism
            if self.sasl_mechanism == "OAUTHBEARER" and self.oauth_token_file is not None:
                options["sasl_oauth_token_provider"] = FileTokenProvider(self.oauth_token_file)
            else:
                options["sasl_plain_username"] = self.sasl_username
                options["sasl_plain_password"] = self.sasl_password.reveal()
        return options


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc.args[-1] if exc.args else exc)
    if isinstance(exc, OSError):
        return exc.strerror or type(exc).__name__
    return type(exc).__name__


PLAINTEXT: Final = KafkaSecurity()
