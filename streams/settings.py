"""Worker settings: one frozen object, read from the environment (``TOUCHPOINT_*``) and CLI options.

Each field is documented once, here; the configuration table in docs/configuration.md mirrors it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

from streams.kafka_security import KafkaSecurity, KafkaSecurityError
from streams.runtime.heap import WORKER_THRESHOLDS, parse_thresholds
from streams.secrets import Secret, SecretError

__all__ = ["DEVELOPMENT_IDENTITY_SALT", "Settings", "SettingsError"]

ENV_PREFIX = "TOUCHPOINT_"
#: The identity key of development runs. Public (it is in the source), so a hash made with it can be
#: reversed by trying every phone number: a worker refuses it unless told it is a development run.
DEVELOPMENT_IDENTITY_SALT: Final = "touchpoint-default-salt"
#: Length bounds of the identity key, bytes: BLAKE2b takes keys of at most 64 bytes.
IDENTITY_KEY_BYTES: Final = (16, 64)
#: The most partitions a topic may have here. Kafka advises some thousands a broker; a count far beyond
#: (a typo, an extra digit) would have the worker create such topics and every replay keep a clock for each.
MAX_PARTITIONS: Final = 10_000
#: Bounds of the largest raw record ingest takes (max_event_bytes).
MIN_EVENT_BYTES: Final = 1024
MAX_EVENT_BYTES: Final = 16 * 1024 * 1024
#: Table stores a worker can use, by Settings.store value.
STORES = ("memory", "rocksdb")
#: Ways to restore table state from the changelog, by Settings.state_restore value.
STATE_RESTORES = ("bulk", "per-record")


class SettingsError(ValueError):
    """A setting has a value the worker cannot run with."""


@dataclass(frozen=True)
class Settings:
    """Everything a worker needs to know that is not in the rules file."""

    #: Kafka bootstrap servers, Faust style: ``kafka://host:9092;host2:9092``. Empty: embedded broker.
    broker: str = ""
    #: Consumer group and table namespace; workers with the same id share the work.
    app_id: str = "touchpoint"
    #: Partitions for topics the worker creates. Raise before first start; it bounds scale-out. At most
    #: MAX_PARTITIONS.
    partitions: int = 4
    #: Replication factor for topics the worker creates (1 on the embedded broker, 3 in production).
    replication_factor: int = 1
    #: Interface and port of the worker's web server (/metrics, /ready, /customers/{id}); port 0: any free
    #: port, chosen when the worker starts.
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    #: Worker state (table files, Faust's own bookkeeping).
    data_dir: Path = Path(".touchpoint")
    #: Where the customer table lives: ``memory`` (rebuilt from its changelog whenever a worker gains a
    #: partition) or ``rocksdb`` (on disk in data_dir; a restart or a standby reads only the changelog's tail).
    store: str = "memory"
    #: Workers that keep a warm copy of each table partition besides its owner (Faust standby replicas),
    #: so a failover reads only the changelog's tail. Takes effect with the rocksdb store.
    standby_replicas: int = 0
    #: How a worker reads table state back from its changelog after a rebalance or restart: ``bulk``
    #: (a plain consumer reads each partition to its end and applies each key's last value, tens of
    #: times faster) or ``per-record`` (Faust's own recovery, record by record, kept as a fallback).
    state_restore: str = "bulk"
    #: Log level of the worker: debug, info, warning, error.
    log_level: str = "warning"
    #: Longest a fetch may wait for data, in ms. Faust fixes 1500; the embedded broker always waits
    #: the full time, so this bounds end-to-end latency there.
    fetch_max_wait_ms: int = 100
    #: How long the producer waits to fill a batch, ms. One record per request costs about twice
    #: as much CPU per send as a few milliseconds of batching (bench/send_cost.py); 0 sends at once.
    producer_linger_ms: int = 5
    #: Consumer-group session timeout, s. The embedded broker takes half of it for a group join.
    session_timeout_s: float = 6.0
    #: Largest raw touchpoint accepted, bytes; larger ones are dead-lettered as ``too_large``.
    max_event_bytes: int = 64 * 1024
    #: The garbage collector's thresholds in the worker, ``young,middle,full`` (streams.runtime.heap);
    #: ``700,10,10`` is Python's own.
    gc_thresholds: str = ",".join(str(threshold) for threshold in WORKER_THRESHOLDS)
    #: Key of the hash that turns an identifier (e-mail, phone …) into a customer key and a masked
    #: ``h:`` value (secret: environment or file only). 16 to 64 bytes. Unset: a worker refuses to
    #: start unless ``development`` is on, when the public development key is used. Changing it changes
    #: every derived key (docs/security.md, rotation).
    identity_salt: Secret = field(default_factory=Secret, repr=False)
    #: Secret the workers of one app share to sign their timer ticks (HMAC-SHA256). Unset: each worker
    #: makes one of its own, which is enough for one worker; several need the same one, or a tick sent
    #: just before a rebalance is refused as forged by the partition's next owner.
    control_secret: Secret = field(default_factory=Secret, repr=False)
    #: A development run: the worker accepts the public development identity key (and says so).
    development: bool = False
    #: Bearer token(s), comma-separated, that every request to the worker's web server needs except
    #: /metrics and /ready (secret). Required when web_host is not loopback.
    web_token: Secret = field(default_factory=Secret, repr=False)
    #: Serve Faust's own views (/router, /table, /graph, statistics) behind the token; off by default:
    #: they show the cluster's layout and table contents.
    web_faust_views: bool = False
    #: Kafka over TLS. Implied by a CA or client certificate.
    kafka_tls: bool = False
    #: CA certificate(s) (PEM) that signed the brokers' certificates; unset: the system's CAs.
    kafka_ca_file: Path | None = None
    #: Client certificate and key (PEM) for mutual TLS.
    kafka_cert_file: Path | None = None
    kafka_key_file: Path | None = None
    #: Password of an encrypted client key (secret).
    kafka_key_password: Secret = field(default_factory=Secret, repr=False)
    #: Check that a broker's certificate names the host connected to. Turn off only for brokers reached
    #: by an address their certificates do not list; the chain is still checked against the CA.
    kafka_check_hostname: bool = True
    #: SASL mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER; empty: no SASL.
    kafka_sasl_mechanism: str = ""
    kafka_sasl_username: str = ""
    #: SASL password (secret).
    kafka_sasl_password: Secret = field(default_factory=Secret, repr=False)
    #: OAUTHBEARER: a file holding the current token, read again on every connection.
    kafka_oauth_token_file: Path | None = None
    #: The rules file (TOML, schemas/config.v1.json); unset: documented defaults.
    config: Path | None = None
    #: Fitted model parameters from ``touchpoint fit`` (overrides the rules file's model.params).
    model: Path | None = None
    #: Extra Faust settings (advanced), e.g. {"stream_buffer_maxsize": 8192}.
    faust_overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def collector_thresholds(self) -> tuple[int, int, int]:
        """gc_thresholds as the three numbers ``gc.set_threshold`` takes."""
        return parse_thresholds(self.gc_thresholds)

    @property
    def embedded(self) -> bool:
        """True when no broker was configured and the embedded one should be used."""
        return not self.broker

    @property
    def kafka_security(self) -> KafkaSecurity:
        """TLS and SASL for every Kafka connection (checked in ``validated``)."""
        return KafkaSecurity(
            tls=self.kafka_tls,
            ca_file=self.kafka_ca_file,
            cert_file=self.kafka_cert_file,
            key_file=self.kafka_key_file,
            key_password=self.kafka_key_password,
            check_hostname=self.kafka_check_hostname,
            sasl_mechanism=self.kafka_sasl_mechanism.upper(),
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password,
            oauth_token_file=self.kafka_oauth_token_file,
        )

    @property
    def identity_key(self) -> bytes:
        """The key of the identifier hashes: the configured secret, else the public development key."""
        try:
            configured = self.identity_salt.reveal()
        except SecretError as exc:
            raise SettingsError(str(exc)) from None
        return (configured or DEVELOPMENT_IDENTITY_SALT).encode()

    def check_identity_key(self) -> None:
        """Refuse the public development key outside a development run, and keys BLAKE2b cannot take."""
        key = self.identity_key
        if key == DEVELOPMENT_IDENTITY_SALT.encode():
            if self.development:
                return
            raise SettingsError(
                "no identity key: TOUCHPOINT_IDENTITY_SALT (or TOUCHPOINT_IDENTITY_SALT_FILE) is not set, "
                "and the built-in development key is public, so anyone could reverse the hashed phone "
                "numbers and e-mail addresses. Set a secret of your own before the first start "
                "(openssl rand -hex 32), or pass --development (TOUCHPOINT_DEVELOPMENT=true) for a "
                "development run"
            )
        low, high = IDENTITY_KEY_BYTES
        if not low <= len(key) <= high:
            raise SettingsError(
                f"{self.identity_salt.source}: the identity key must be {low} to {high} bytes, "
                f"it has {len(key)} (openssl rand -hex 32 makes one of 64)"
            )

    def web_tokens(self) -> tuple[str, ...]:
        """The worker's bearer tokens (several during a rotation); () when none is configured."""
        try:
            text = self.web_token.reveal()
        except SecretError as exc:
            raise SettingsError(str(exc)) from None
        tokens = tuple(token.strip() for token in text.split(",") if token.strip())
        for token in tokens:
            if len(token) < 16:
                raise SettingsError(f"{self.web_token.source}: a token must have at least 16 characters")
        return tokens

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``TOUCHPOINT_<FIELD>`` variables, then *overrides* (None means unset)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            if spec.name == "faust_overrides":
                continue
            variable = ENV_PREFIX + spec.name.upper()
            if spec.name in SECRET_FIELDS:
                # Secrets come from the environment or a file only, never from an option.
                values[spec.name] = Secret.from_env(environ, variable)
                continue
            raw = environ.get(variable)
            if raw is not None and raw != "":
                values[spec.name] = _parse(spec.name, spec.type, raw)
        types = {spec.name: spec.type for spec in fields(cls)}
        for name, value in overrides.items():
            if value is None:
                continue
            if name not in types:
                raise SettingsError(f"unknown setting {name!r}")
            if name in SECRET_FIELDS and not isinstance(value, Secret):
                raise SettingsError(f"{name} is a secret: set {ENV_PREFIX}{name.upper()} or _FILE instead")
            values[name] = _parse(name, types[name], value) if isinstance(value, str) else value
        return cls(**values).validated()

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes).validated()

    def validated(self) -> Settings:
        if not 1 <= self.partitions <= MAX_PARTITIONS:
            raise SettingsError(f"partitions must be from 1 to {MAX_PARTITIONS:,}, got {self.partitions}")
        if self.replication_factor < 1:
            raise SettingsError(f"replication_factor must be at least 1, got {self.replication_factor}")
        if not 0 <= self.web_port < 65536:
            raise SettingsError(f"web_port must be 0..65535 (0: any free port), got {self.web_port}")
        if self.store not in STORES:
            raise SettingsError(f"store must be {' or '.join(STORES)}, got {self.store!r}")
        if self.state_restore not in STATE_RESTORES:
            raise SettingsError(
                f"state_restore must be {' or '.join(STATE_RESTORES)}, got {self.state_restore!r}"
            )
        if self.standby_replicas < 0:
            raise SettingsError(f"standby_replicas must be 0 or more, got {self.standby_replicas}")
        if not 0 <= self.producer_linger_ms <= 1000:
            raise SettingsError(f"producer_linger_ms must be 0..1000, got {self.producer_linger_ms}")
        if not 1 <= self.fetch_max_wait_ms <= 60_000:
            raise SettingsError(f"fetch_max_wait_ms must be 1..60000, got {self.fetch_max_wait_ms}")
        if not 1 <= self.session_timeout_s <= 1800:  # NaN too: no comparison holds for it
            raise SettingsError(
                f"session_timeout_s must be from 1 to 1800 seconds (Kafka brokers accept 6 to 1800 by "
                f"default), got {self.session_timeout_s}"
            )
        if not MIN_EVENT_BYTES <= self.max_event_bytes <= MAX_EVENT_BYTES:
            # Below a touchpoint's own size every record would be dead-lettered; above, one record could take a
            # worker's memory.
            raise SettingsError(
                f"max_event_bytes must be from {MIN_EVENT_BYTES:,} to {MAX_EVENT_BYTES:,}, got {self.max_event_bytes}"
            )
        try:
            parse_thresholds(self.gc_thresholds)
        except ValueError as exc:
            raise SettingsError(f"gc_thresholds: {exc}") from None
        if self.log_level.lower() not in {"debug", "info", "warning", "warn", "error", "critical"}:
            raise SettingsError(f"log_level must be debug, info, warning or error, got {self.log_level!r}")
        if self.broker and not self.broker.startswith(("kafka://", "aiokafka://")):
            raise SettingsError(f"broker must look like kafka://host:port, got {self.broker!r}")
        if "@" in self.broker:
            # Not quoted: the part before "@" may be a password.
            raise SettingsError(
                "broker must not carry credentials (user:password@host): set TOUCHPOINT_KAFKA_SASL_USERNAME "
                "and TOUCHPOINT_KAFKA_SASL_PASSWORD (or _FILE) instead"
            )
        try:
            self.kafka_security.checked()
        except KafkaSecurityError as exc:
            raise SettingsError(str(exc)) from None
        return self


#: Settings that are secrets: read from ``TOUCHPOINT_<NAME>`` or the file in ``TOUCHPOINT_<NAME>_FILE``.
SECRET_FIELDS: Final = frozenset(
    {"identity_salt", "control_secret", "web_token", "kafka_key_password", "kafka_sasl_password"}
)
#: A setting's type, as its error says what it must be.
_KINDS: Final = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false (or 1/0, yes/no, on/off)",
}
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


def _parse(name: str, annotation: Any, raw: str) -> Any:
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind in {"Path", "Path | None"}:
            return Path(raw)
        if kind == "bool":
            if raw.strip().lower() in _TRUE:
                return True
            if raw.strip().lower() in _FALSE:
                return False
            raise ValueError(raw)
    except ValueError:
        raise SettingsError(
            f"{ENV_PREFIX}{name.upper()} must be {_KINDS.get(kind, kind)}, got {raw!r}"
        ) from None
    return raw
