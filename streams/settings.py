"""Worker settings: one frozen object, read from the environment (``TOUCHPOINT_*``) and CLI options.

Each field is documented once, here; the configuration table in docs/configuration.md mirrors it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["Settings", "SettingsError"]

ENV_PREFIX = "TOUCHPOINT_"
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
    #: Partitions for topics the worker creates. Raise before first start; it bounds scale-out.
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
    #: Key for the hash that turns an identifier (e-mail, phone …) into a customer key.
    #: Change it only with an empty state: keys derived before and after would differ.
    identity_salt: str = field(default="touchpoint-default-salt", repr=False)
    #: Secret the workers of one app share to sign their timer ticks (HMAC-SHA256). Unset: each worker
    #: makes one of its own, which is enough for one worker; several need the same one, or a tick sent
    #: just before a rebalance is refused as forged by the partition's next owner.
    control_secret: str = field(default="", repr=False)
    #: The rules file (TOML, schemas/config.v1.json); unset: documented defaults.
    config: Path | None = None
    #: Fitted model parameters from ``touchpoint fit`` (overrides the rules file's model.params).
    model: Path | None = None
    #: Extra Faust settings (advanced), e.g. {"stream_buffer_maxsize": 8192}.
    faust_overrides: Mapping[str, Any] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        """True when no broker was configured and the embedded one should be used."""
        return not self.broker

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from ``TOUCHPOINT_<FIELD>`` variables, then *overrides* (None means unset)."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for spec in fields(cls):
            if spec.name == "faust_overrides":
                continue
            raw = environ.get(ENV_PREFIX + spec.name.upper())
            if raw is not None and raw != "":
                values[spec.name] = _parse(spec.name, spec.type, raw)
        types = {spec.name: spec.type for spec in fields(cls)}
        for name, value in overrides.items():
            if value is None:
                continue
            if name not in types:
                raise SettingsError(f"unknown setting {name!r}")
            values[name] = _parse(name, types[name], value) if isinstance(value, str) else value
        return cls(**values).validated()

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes).validated()

    def validated(self) -> Settings:
        if self.partitions < 1:
            raise SettingsError(f"partitions must be at least 1, got {self.partitions}")
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
        if self.fetch_max_wait_ms < 1:
            raise SettingsError(f"fetch_max_wait_ms must be positive, got {self.fetch_max_wait_ms}")
        if self.log_level.lower() not in {"debug", "info", "warning", "warn", "error", "critical"}:
            raise SettingsError(f"log_level must be debug, info, warning or error, got {self.log_level!r}")
        if self.broker and not self.broker.startswith(("kafka://", "aiokafka://")):
            raise SettingsError(f"broker must look like kafka://host:port, got {self.broker!r}")
        return self


def _parse(name: str, annotation: Any, raw: str) -> Any:
    kind = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind in {"Path", "Path | None"}:
            return Path(raw)
    except ValueError:
        raise SettingsError(f"{ENV_PREFIX}{name.upper()} must be a {kind}, got {raw!r}") from None
    return raw
