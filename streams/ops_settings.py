"""Settings of the two operations processes, ``touchpoint notify`` and ``touchpoint console``.

Each is a frozen object read from ``TOUCHPOINT_*`` variables and CLI options, like the
worker's (streams/settings.py, whose broker, app id, session timeout and rules file they
share). Each field is documented once, here; docs/alerting.md and docs/console.md mirror
them. Secrets (operators' password hashes, tokens, the session key) are not fields: they
are read from the environment or files by streams/auth.py when the console starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar
from urllib.parse import urlsplit

from streams.settings import ENV_PREFIX, SettingsError, _parse

__all__ = ["ConsoleSettings", "NotifySettings", "load"]

#: Where `touchpoint console` listens by default; notify links alerts there unless told otherwise.
DEFAULT_CONSOLE_PORT = 6070
DEFAULT_CONSOLE_URL = f"http://127.0.0.1:{DEFAULT_CONSOLE_PORT}"

_T = TypeVar("_T")


def _check_http_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise SettingsError(f"{name} must be an http(s) URL, got {url!r}")


@dataclass(frozen=True)
class NotifySettings:
    """The notify bridge: alert topics → Prometheus Alertmanager."""

    #: Alertmanager base URL(s), comma-separated (``http://alertmanager:9093``); every alert goes to each,
    #: as Prometheus does with an HA pair. Required.
    alertmanager_url: str = ""
    #: Seconds between re-posts of every active alert (Prometheus' own resend delay is 1 minute). Each post
    #: says the alert ends in 4 resend intervals unless re-posted, so alerts of a stopped bridge end too.
    notify_resend_seconds: float = 60.0
    #: Public base URL of the console, for the link in each alert (annotation ``console_url``).
    console_url: str = DEFAULT_CONSOLE_URL
    #: Interface and port of the bridge's own /metrics and /ready.
    notify_web_host: str = "127.0.0.1"
    notify_web_port: int = 6068

    @property
    def alertmanagers(self) -> tuple[str, ...]:
        return tuple(url.strip().rstrip("/") for url in self.alertmanager_url.split(",") if url.strip())

    def validated(self) -> NotifySettings:
        if not self.alertmanagers:
            raise SettingsError(
                "no Alertmanager given: pass --alertmanager http://HOST:9093 or set TOUCHPOINT_ALERTMANAGER_URL"
            )
        for url in self.alertmanagers:
            _check_http_url("TOUCHPOINT_ALERTMANAGER_URL", url)
        _check_http_url("TOUCHPOINT_CONSOLE_URL", self.console_url)
        if not 1 <= self.notify_resend_seconds <= 3600:
            raise SettingsError(f"notify_resend_seconds must be 1..3600, got {self.notify_resend_seconds}")
        if not 0 <= self.notify_web_port < 65536:
            raise SettingsError(f"notify_web_port must be 0..65535, got {self.notify_web_port}")
        return self


@dataclass(frozen=True)
class ConsoleSettings:
    """The ops console: a web page over the alert topics, acting through alerts.actions."""

    #: Interface the console listens on. Anything but loopback needs sign-in configured
    #: (TOUCHPOINT_CONSOLE_USERS or TOUCHPOINT_CONSOLE_TOKEN), or the console refuses to start.
    console_host: str = "127.0.0.1"
    console_port: int = DEFAULT_CONSOLE_PORT
    #: Public base URL of the console (behind a proxy: the proxy's); shown at start-up.
    console_url: str = ""
    #: A worker's web address, for customer state (``GET /customers/{id}``; any worker forwards to the owner).
    console_worker_url: str = "http://127.0.0.1:6066"
    #: Records read back on a customer's partition of touchpoints.enriched for their recent touchpoints.
    console_touchpoint_scan: int = 100_000
    #: Days of alerts the console loads at start-up and keeps (the worker keeps open alerts 7 days).
    console_history_days: float = 7.0

    @property
    def public_url(self) -> str:
        if self.console_url:
            return self.console_url.rstrip("/")
        host = self.console_host if self.console_host not in {"0.0.0.0", "::", ""} else "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.console_port}"

    def validated(self) -> ConsoleSettings:
        if not 0 <= self.console_port < 65536:
            raise SettingsError(f"console_port must be 0..65535, got {self.console_port}")
        if self.console_url:
            _check_http_url("TOUCHPOINT_CONSOLE_URL", self.console_url)
        _check_http_url("TOUCHPOINT_CONSOLE_WORKER_URL", self.console_worker_url)
        if self.console_touchpoint_scan < 0:
            raise SettingsError(
                f"console_touchpoint_scan must be 0 or more, got {self.console_touchpoint_scan}"
            )
        if self.console_history_days <= 0:
            raise SettingsError(f"console_history_days must be positive, got {self.console_history_days}")
        return self


def load(cls: type[_T], environ: Mapping[str, str] | None = None, **overrides: Any) -> _T:
    """*cls* from ``TOUCHPOINT_<FIELD>`` variables, then *overrides* (None means unset), validated."""
    environ = os.environ if environ is None else environ
    types = {spec.name: spec.type for spec in fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for name, annotation in types.items():
        raw = environ.get(ENV_PREFIX + name.upper())
        if raw:
            values[name] = _parse(name, annotation, raw)
    for name, value in overrides.items():
        if value is None:
            continue
        if name not in types:
            raise SettingsError(f"unknown setting {name!r}")
        values[name] = _parse(name, types[name], value) if isinstance(value, str) else value
    return cls(**values).validated()  # type: ignore[attr-defined,no-any-return]


#: Every TOUCHPOINT_* variable these settings read (the deployment tests check names against it).
ENV_NAMES = frozenset(
    ENV_PREFIX + spec.name.upper() for cls in (NotifySettings, ConsoleSettings) for spec in fields(cls)
)
#: Secret variables the console reads through streams/auth.py (each also as ``<NAME>_FILE``).
SECRET_ENV_NAMES = frozenset(
    f"{ENV_PREFIX}CONSOLE_{name}{suffix}"
    for name in ("USERS", "TOKEN", "SESSION_SECRET")
    for suffix in ("", "_FILE")
)
