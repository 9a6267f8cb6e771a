"""Sign-in for Touchpoint's HTTP servers: password hashes, bearer tokens, signed sessions, the loopback rule.

Reusable by any server of the project (the ops console first). Secrets come from the
environment or from files only, never from command-line arguments (visible to every
user in ``ps``), and nothing here logs or formats one: the credential types hide
their contents in ``repr``.

- **Passwords** are stored as bcrypt (``$2b$…``, as ``htpasswd -B`` and Prometheus'
  web config write them) or argon2 (``$argon2id$…``) hashes, one ``name:hash`` per
  operator. Verifying one takes tens of milliseconds on purpose; run it off the event
  loop (``asyncio.to_thread``).
- **Tokens** are compared in constant time (``hmac.compare_digest``).
- **Sessions** are ``name|expiry|signature`` with an HMAC-SHA256 signature, so any
  instance sharing the secret accepts them: no session store.
- **Binding** beyond loopback without any credential is refused (:func:`check_bind`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from streams.secrets import Secret, SecretError

__all__ = [
    "AuthError",
    "Credentials",
    "SessionSigner",
    "check_bind",
    "hash_password",
    "is_loopback",
    "parse_users",
    "read_secret",
    "verify_password",
]

_ARGON2: Final = PasswordHasher()
#: Longest password accepted; bcrypt reads 72 bytes at most and refuses more.
MAX_PASSWORD_BYTES: Final = 72


class AuthError(ValueError):
    """A credential setting is malformed, or a server would be reachable without one."""


def hash_password(password: str, scheme: str = "bcrypt") -> str:
    """A new hash of *password*: ``bcrypt`` (cost 12) or ``argon2`` (argon2id, library defaults)."""
    data = password.encode()
    if not data:
        raise AuthError("an empty password cannot be hashed")
    if scheme == "bcrypt":
        if len(data) > MAX_PASSWORD_BYTES:
            raise AuthError(f"bcrypt reads at most {MAX_PASSWORD_BYTES} bytes of a password")
        return bcrypt.hashpw(data, bcrypt.gensalt(rounds=12)).decode()
    if scheme == "argon2":
        return _ARGON2.hash(password)
    raise AuthError(f"unknown password scheme {scheme!r}: bcrypt or argon2")


def verify_password(password: str, hashed: str) -> bool:
    """True when *password* matches *hashed* (bcrypt or argon2); False for a malformed hash too."""
    data = password.encode()
    if hashed.startswith("$argon2"):
        try:
            return bool(_ARGON2.verify(hashed, password))
        except (VerificationError, InvalidHashError):
            return False
    if hashed.startswith(("$2a$", "$2b$", "$2y$")) and 0 < len(data) <= MAX_PASSWORD_BYTES:
        try:
            return bool(bcrypt.checkpw(data, hashed.encode()))
        except ValueError:
            return False
    return False


@functools.cache
def _dummy_hash() -> str:
    """Verified when the name is unknown, so a wrong name costs as long as a wrong password (made once)."""
    return bcrypt.hashpw(b"touchpoint-no-such-user", bcrypt.gensalt(rounds=12)).decode()


def _known_scheme(hashed: str) -> bool:
    return hashed.startswith(("$2a$", "$2b$", "$2y$", "$argon2"))


def parse_users(text: str, source: str = "users") -> dict[str, str]:
    """``name:hash`` entries separated by line breaks or spaces (argon2 hashes contain commas); a line starting
    with ``#`` is a comment.

    Raises AuthError naming the entry's position (never its hash) when one is malformed.
    """
    users: dict[str, str] = {}
    lines = (line for line in text.splitlines() if not line.lstrip().startswith("#"))
    entries = [part for line in lines for part in line.split()]
    for number, entry in enumerate(entries, start=1):
        name, sep, hashed = entry.partition(":")
        name, hashed = name.strip(), hashed.strip()
        if not sep or not name or not _known_scheme(hashed):
            raise AuthError(
                f"{source}: entry {number} is not name:hash with a bcrypt ($2b$…) or argon2 ($argon2id$…) hash"
            )
        users[name] = hashed
    return users


def read_secret(environ: Mapping[str, str], name: str) -> str | None:
    """The secret in ``$NAME``, else in the file named by ``$NAME_FILE`` (trailing newline dropped).

    The value is masked in every log line of this process from now on (streams/redaction.py).
    """
    try:
        value = Secret.from_env(environ, name).reveal()
    except SecretError as exc:
        raise AuthError(str(exc)) from None
    return value or None


@dataclass(frozen=True)
class Credentials:
    """Who may sign in: operators with password hashes, and/or shared bearer tokens."""

    users: Mapping[str, str] = field(default_factory=dict, repr=False)
    tokens: tuple[str, ...] = field(default=(), repr=False)

    @property
    def required(self) -> bool:
        """True when any credential is configured: then every request must be signed in."""
        return bool(self.users or self.tokens)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], prefix: str) -> Credentials:
        """``{prefix}USERS`` (or ``_USERS_FILE``): name:hash entries, space- or line-separated; ``{prefix}TOKEN``
        (or ``_TOKEN_FILE``):
        one or more tokens, comma-separated."""
        users_text = read_secret(environ, f"{prefix}USERS")
        users = parse_users(users_text, f"{prefix}USERS") if users_text else {}
        token_text = read_secret(environ, f"{prefix}TOKEN") or ""
        tokens = tuple(token.strip() for token in token_text.split(",") if token.strip())
        for token in tokens:
            if len(token) < 16:
                raise AuthError(f"{prefix}TOKEN: a token must have at least 16 characters")
        return cls(users=users, tokens=tokens)

    def check_password(self, name: str, password: str) -> bool:
        """True when *name* is an operator and *password* is theirs. Slow on purpose: call off the loop."""
        hashed = self.users.get(name)
        if hashed is None:
            verify_password(password, _dummy_hash())  # same cost as a known name: names do not leak by timing
            return False
        return verify_password(password, hashed)

    def check_token(self, presented: str) -> bool:
        """True when *presented* equals a configured token; constant time in its content."""
        data = presented.encode()
        matched = False
        for token in self.tokens:
            matched |= hmac.compare_digest(data, token.encode())
        return matched

    def check_bearer(self, authorization: str | None) -> bool:
        """True for an ``Authorization: Bearer <token>`` header carrying a configured token."""
        if not authorization:
            return False
        scheme, _, token = authorization.partition(" ")
        return scheme.lower() == "bearer" and bool(token) and self.check_token(token.strip())


def is_loopback(host: str) -> bool:
    """True for names and addresses that only this machine can reach: localhost, 127.0.0.0/8, ::1."""
    if host.lower() in {"localhost", "localhost.localdomain", "ip6-localhost"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, credentials: Credentials, what: str, how: str) -> None:
    """Refuse to serve *what* on a non-loopback *host* when no credential is configured (*how* says how)."""
    if not credentials.required and not is_loopback(host):
        raise AuthError(
            f"refusing to serve {what} on {host} without sign-in: anyone who can reach it could act. "
            f"{how}, or listen on 127.0.0.1"
        )


class SessionSigner:
    """Signed, expiring session values: ``base64(name)|expiry|hmac``; no server-side store."""

    def __init__(self, secret: bytes | None = None, max_age_seconds: int = 12 * 3600) -> None:
        # Without a configured secret, sessions last as long as this process: fine for one instance.
        self._key = hashlib.sha256(b"touchpoint-session|" + (secret or secrets.token_bytes(32))).digest()
        self.max_age_seconds = max_age_seconds

    def __repr__(self) -> str:
        return f"SessionSigner(max_age_seconds={self.max_age_seconds})"

    def _mac(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def sign(self, name: str, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.max_age_seconds)
        encoded = base64.urlsafe_b64encode(name.encode()).decode().rstrip("=")
        message = f"{encoded}|{expires}"
        return f"{message}|{self._mac(message)}"

    def verify(self, value: str | None, now: float | None = None) -> str | None:
        """The operator's name if *value* is a session this signer made and it has not expired."""
        if not value or value.count("|") != 2:
            return None
        encoded, expires, mac = value.split("|")
        if not hmac.compare_digest(mac, self._mac(f"{encoded}|{expires}")):
            return None
        if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
            return None
        try:
            return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None

    def token_for(self, session: str, purpose: str) -> str:
        """A value bound to *session* for *purpose* (e.g. a CSRF token): only this signer can make it."""
        return self._mac(f"{purpose}|{session}")


def random_secret() -> str:
    """A fresh secret for tokens and session keys (``touchpoint console`` prints one on request)."""
    return secrets.token_urlsafe(32)
