"""Text for a person's terminal: what a producer wrote can never drive it.

A customer id holding ``ESC [2J`` would clear the screen of whoever runs
``touchpoint tail``; a right-to-left override would make an alert id read
backwards. Everything the CLI prints from a topic goes through ``safe``.
"""

from __future__ import annotations

from agents.ingest.decode import UNSAFE_CHARACTERS

__all__ = ["safe"]


def _escape(character: str) -> str:
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: str, *, keep_newlines: bool = False) -> str:
    """*text* with control, bidi-override and zero-width characters shown as escapes.

    >>> safe("cust\\x1b[2Jpwned")
    'cust\\\\x1b[2Jpwned'
    >>> safe("a\\u202eb")
    'a\\\\u202eb'
    """
    if keep_newlines:
        return "\n".join(safe(line) for line in text.split("\n"))
    return UNSAFE_CHARACTERS.sub(lambda match: _escape(match.group()), text)
