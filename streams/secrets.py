"""Secret settings: read from the environment or a file, never shown.

A secret comes from ``$NAME`` or from the file named by ``$NAME_FILE`` (a mounted Kubernetes or
compose secret), never from a command-line option, which every user of the machine sees in
``ps``. ``Secret`` hides its value from ``repr``, ``str`` and f-strings; errors about it name the
variable and the file, never the value. Revealing a value registers it with
``streams.redaction``, so a library that logs it anyway has it masked.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from streams import redaction

__all__ = ["FILE_SUFFIX", "Secret", "SecretError"]

#: ``$NAME_FILE`` names a file that holds the secret of ``$NAME``.
FILE_SUFFIX: Final = "_FILE"


class SecretError(ValueError):
    """A secret's file cannot be read; the message names the variable and the path, never a value."""


class Secret:
    """A secret value or the file that holds it; ``reveal()`` is the only way to the value."""

    __slots__ = ("_path", "_source", "_value")

    def __init__(self, value: str | None = None, *, path: Path | None = None, source: str = "") -> None:
        self._value = value or None
        self._path = path
        #: Where it came from, for messages: ``TOUCHPOINT_KAFKA_SASL_PASSWORD_FILE`` or the like.
        self._source = source

    @classmethod
    def from_env(cls, environ: Mapping[str, str], name: str) -> Secret:
        """The secret in ``$NAME``, else in the file named by ``$NAME_FILE``; unset when neither is."""
        value = environ.get(name)
        if value:
            return cls(value, source=name)
        path = environ.get(name + FILE_SUFFIX)
        if path:
            return cls(path=Path(path), source=name + FILE_SUFFIX)
        return cls()

    @property
    def is_set(self) -> bool:
        return self._value is not None or self._path is not None

    @property
    def source(self) -> str:
        """Where the secret comes from (a variable name), for messages; "" when unset."""
        return self._source

    def reveal(self) -> str:
        """The value ("" when unset); a file is read now, its trailing newline dropped."""
        value = self._value
        if value is None and self._path is not None:
            try:
                value = self._path.read_text("utf-8").rstrip("\r\n")
            except OSError as exc:
                raise SecretError(f"{self._source}: cannot read {self._path}: {exc.strerror}") from None
            except UnicodeDecodeError:
                raise SecretError(f"{self._source}: {self._path} is not UTF-8 text") from None
            if not value:
                raise SecretError(f"{self._source}: {self._path} is empty")
        if value:
            redaction.remember(value)
        return value or ""

    def __bool__(self) -> bool:
        return self.is_set

    def __repr__(self) -> str:
        if not self.is_set:
            return "Secret(unset)"
        return f"Secret(from {self._source or 'a value'})"

    __str__ = __repr__
