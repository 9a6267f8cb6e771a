"""A replay's customer states: the most recently touched as objects, every other one encoded.

A replay keeps every key's state to its end. As objects, a state with a full dedupe window and
usage baselines takes some 13 KB; encoded, a few hundred bytes. The journey touches a customer
in bursts (a session, a conversation, the deadlines that follow), so few states are in use at a
time: the ``objects`` most recently touched are kept as objects and the rest as bytes, decoded
when touched again. Memory then grows with the customers at the encoded size, and a state that
stays in use is never re-encoded.

The bytes are this process's own, never read by anyone else: the state's fields as a ``marshal``
tuple, which reads back as the very objects it was made of (a tuple stays a tuple), and is
faster to make and read back than the changelog's MessagePack (``bench/PROFILE.md``). A state
holding something ``marshal`` cannot write (a plug-in detector's own class in its memory) is kept
in the changelog's form instead.
"""

from __future__ import annotations

import marshal
from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from dataclasses import fields
from operator import attrgetter
from typing import Any, Final

from agents.domain.state import CustomerState

__all__ = ["OBJECTS", "KeptStates", "freeze", "thaw"]

#: States kept as objects. Identifiers' records are states too, small ones: 1M simulator records hold
#: 76,053 (26,469 customers'). With 8,192 kept, 18 % of the records decoded a state again and the
#: replay took a fifth longer than with 32,768 (2 %), whose objects took 112 MB more (384 MB in all).
OBJECTS: Final = 32_768


class KeptStates(MutableMapping[str, CustomerState]):
    """Every key's state; the *objects* most recently read or written kept as objects.

    A state read from here may be changed in place by its reader, as the journey does, but only
    until *objects* other keys have been touched: after that it is encoded, and later changes to
    that object are not kept. The journey writes each state back in the change that touched it.
    """

    def __init__(self, objects: int = OBJECTS) -> None:
        if objects < 1:
            raise ValueError(f"at least one state is kept as an object, not {objects}")
        self._objects = objects
        self._recent: OrderedDict[str, CustomerState] = OrderedDict()
        self._encoded: dict[str, bytes] = {}
        #: States decoded again after they were encoded: how often the journey came back to one.
        self.decoded = 0

    def get(self, key: str, default: CustomerState | None = None) -> CustomerState | None:  # type: ignore[override]
        state = self._recent.get(key)
        if state is not None:
            self._recent.move_to_end(key)
            return state
        data = self._encoded.pop(key, None)
        if data is None:
            return default
        self.decoded += 1
        state = thaw(data)
        self._keep(key, state)
        return state

    def __getitem__(self, key: str) -> CustomerState:
        state = self.get(key)
        if state is None:
            raise KeyError(key)
        return state

    def __setitem__(self, key: str, state: CustomerState) -> None:
        recent = self._recent
        if key in recent:
            # Nearly every write: the journey just read the state. Moved, not removed and added again.
            recent[key] = state
            recent.move_to_end(key)
            return
        self._encoded.pop(key, None)
        self._keep(key, state)

    def __delitem__(self, key: str) -> None:
        if self._recent.pop(key, None) is None:
            del self._encoded[key]

    def __contains__(self, key: object) -> bool:
        return key in self._recent or key in self._encoded

    def __iter__(self) -> Iterator[str]:
        # A snapshot: reading a state while iterating moves it between the two.
        return iter([*self._recent, *self._encoded])

    def __len__(self) -> int:
        return len(self._recent) + len(self._encoded)

    def peek(self, key: str) -> CustomerState | None:
        """*key*'s state without keeping it as an object (a read of every state, at the end)."""
        state = self._recent.get(key)
        if state is not None:
            return state
        data = self._encoded.get(key)
        return None if data is None else thaw(data)

    def states(self) -> Iterator[CustomerState]:
        """Every state once, each encoded one decoded for the reader only (nothing moves meanwhile)."""
        yield from self._recent.values()
        for data in self._encoded.values():
            yield thaw(data)

    def _keep(self, key: str, state: CustomerState) -> None:
        recent = self._recent
        recent[key] = state
        if len(recent) > self._objects:
            oldest, old = recent.popitem(last=False)
            self._encoded[oldest] = freeze(old)


#: Every field of a state, in the order its constructor takes them.
_FIELDS: Final = tuple(item.name for item in fields(CustomerState))
_values: Final[Any] = attrgetter(*_FIELDS)
#: The first byte of a kept state: how the rest is encoded.
_MARSHAL: Final = b"m"
_CHANGELOG: Final = b"c"


def freeze(state: CustomerState) -> bytes:
    """*state* as bytes that ``thaw`` reads back as an equal state, of the same types throughout."""
    try:
        return _MARSHAL + marshal.dumps(_values(state))
    except ValueError:  # something marshal does not write: the changelog's form, as the worker keeps it
        return _CHANGELOG + state.encode()


def thaw(data: bytes) -> CustomerState:
    """The state ``freeze`` made *data* of."""
    if data[:1] == _MARSHAL:
        return CustomerState(*marshal.loads(memoryview(data)[1:]))
    return CustomerState.decode(data[1:])
