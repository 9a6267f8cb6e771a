"""Placeholder identifiers that would fuse strangers: they never link anything and form no profile.

An app that cannot read the advertising id sends all zeros; a form left empty sends ``unknown``
or ``test@test.com``; a notification arrives from ``noreply@…``. Linked like real identifiers,
each would merge every customer who ever sent it into one. The built-in patterns below always
apply; the rules file adds its own (``identity.blocked``). A pattern matches the whole normalised
value, ignoring case.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Final

from agents.domain.identity import IDENTIFIER_STRENGTH

__all__ = ["BUILT_IN", "BlockedValues"]

#: In every kind: words that stand for "no value".
_WORDS: Final = r"unknown|null|none|nil|undefined|n/?a|-+|0+|test|anonymous|guest|default|\?+"

#: kind (or ``any``) → patterns that are always blocked.
BUILT_IN: Final[Mapping[str, tuple[str, ...]]] = {
    "any": (_WORDS,),
    # All zeros (an advertising id the user limited, an emulator), and the ANDROID_ID that a
    # firmware bug gave millions of devices.
    "device_id": (r"[0\-]+", r"9774d56d682e549c", r"[f\-]+"),
    "email": (
        r"test@test\.[a-z]+",
        r"(no-?reply|do-?not-?reply|donotreply|no-?mail|noemail|mailer-daemon)(\+[^@]*)?@.*",
        rf"({_WORDS}|email|e-?mail)@.*",
    ),
    # One digit repeated, or counting up: what people type to get past a form.
    "phone": (r"\+?(\d)\1*", r"\+?0*123456789?0?"),
}


class BlockedValues:
    """Built-in and configured placeholder patterns, one compiled expression per identifier kind."""

    def __init__(self, configured: Mapping[str, Sequence[str]] | None = None) -> None:
        configured = configured or {}
        self._patterns: dict[str, re.Pattern[str]] = {}
        for kind in IDENTIFIER_STRENGTH:
            patterns = [
                *BUILT_IN["any"],
                *BUILT_IN.get(kind, ()),
                *configured.get("any", ()),
                *configured.get(kind, ()),
            ]
            self._patterns[kind] = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)

    def __call__(self, kind: str, value: str) -> bool:
        """Whether *value* (normalised) of identifier *kind* is a placeholder."""
        pattern = self._patterns.get(kind)
        return pattern is not None and pattern.fullmatch(value) is not None
