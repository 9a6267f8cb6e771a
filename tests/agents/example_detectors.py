"""Example detector classes, good and broken, that the catalogue and registry tests load as plug-ins."""

from __future__ import annotations

from typing import Any, ClassVar

from agents.catalogue import Plugin
from agents.detectors.base import Context, EventOnly, Finding

HERE = __name__


class RefundSpree(EventOnly):
    """Several refunds in a short time."""

    type: ClassVar[str] = "refund_spree"
    config_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {"refunds": {"type": "integer", "minimum": 2, "default": 3}},
    }

    def __init__(self, options: Any) -> None:
        self.options = options

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        return memory, []


class NoSchemaAttribute(EventOnly):
    type = "bare"

    def __init__(self, options: Any) -> None:
        self.options = options

    def observe(self, memory: Any, context: Context) -> tuple[Any, list[Finding]]:
        return memory, []


class NoSchema(RefundSpree):
    type: ClassVar[str] = "no_schema"
    config_schema: ClassVar[dict[str, Any]] = {}


class WrongType(RefundSpree):
    type: ClassVar[str] = "something_else"


class NoObserve:
    type = "no_observe"

    def due(self, memory: Any) -> None:
        return None


class ArraySchema(RefundSpree):
    type: ClassVar[str] = "array_schema"
    config_schema: ClassVar[dict[str, Any]] = {"type": "array"}


class NotAMapping(RefundSpree):
    type: ClassVar[str] = "not_a_mapping"
    config_schema: ClassVar[Any] = ["refunds"]


def plugin(kind: str, cls: str, distribution: str = "example 1.0") -> Plugin:
    return Plugin(kind, f"{HERE}:{cls}", distribution)
