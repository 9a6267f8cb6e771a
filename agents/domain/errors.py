"""The rules file's error: raised by every part that reads a section of it (calendars, models, detectors)."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """The rules file cannot be used: one line per problem, each naming the file, the key and what is wrong."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems: tuple[str, ...] = problems
