"""The contracts: JSON Schema files, loaded and compiled once per process.

The ``*.json`` files beside this module are the source of truth for every
topic's records; code validates against them and the contract tests check every
example they carry. Nothing here imports the stream engine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from importlib import resources
from typing import Any

import fastjsonschema
import orjson

__all__ = [
    "SCHEMA_FILES",
    "ValidationError",
    "load_schema",
    "validator",
]

ValidationError = fastjsonschema.JsonSchemaValueException

#: Contract name → schema file. Versioned names: a breaking change is a new file.
SCHEMA_FILES: dict[str, str] = {
    "touchpoint": "touchpoint.v1.json",
    "dead_letter": "dead_letter.v1.json",
    "config": "config.v1.json",
    "enriched": "enriched.v1.json",
    "lifecycle_transition": "lifecycle_transition.v1.json",
    "alert": "alert.v1.json",
    "alert_action": "alert_action.v1.json",
    "model_params": "model_params.v1.json",
}


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """Return the parsed schema document for contract *name* (see SCHEMA_FILES)."""
    try:
        filename = SCHEMA_FILES[name]
    except KeyError:
        raise KeyError(f"unknown contract {name!r}; known: {sorted(SCHEMA_FILES)}") from None
    document: dict[str, Any] = orjson.loads(resources.files(__name__).joinpath(filename).read_bytes())
    return document


@functools.cache
def validator(name: str) -> Callable[[Any], Any]:
    """Return the compiled validator for contract *name*.

    Compiling generates Python code for the schema, which takes milliseconds;
    the cache makes it once per process so the hot path only calls it. The
    validator raises ValidationError naming the failing field.
    """
    return fastjsonschema.compile(load_schema(name))
