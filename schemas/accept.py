"""A quick yes for documents a contract plainly accepts; anything else goes to the full validator.

Nearly every record is valid, and the full validator (fastjsonschema's generated code, run by the
interpreter) spends some 4 µs on each. A :class:`Shape` is the same schema read into plain objects
once, whose :meth:`Shape.accepts` runs compiled. It answers only for sure: True means the schema
accepts the document; False means "ask the full validator", which then gives the verdict and the
error message. So every check here is the schema's or stricter (an integer-valued float is not an
integer here, ``True`` is not ``1``), and a schema with any keyword this module does not know gets no
shape at all (``shape_of`` returns None).

Known keywords: ``type``, ``const``, ``enum`` (of strings), ``minLength``, ``maxLength``,
``pattern``, ``minimum``, ``maximum``, ``required``, ``properties``, ``additionalProperties``,
``minProperties``, ``maxProperties``, ``anyOf``, and an ``allOf`` of ``if``/``then`` rules whose
``if`` requires one property and tests it with ``const`` or ``enum``. Annotations (``title``,
``description``, ``examples``, ``$schema``, ``$id``, ``$comment``) are ignored.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["DOLLAR", "SAFE_TEXT", "UNSAFE_CHARACTER", "VISIBLE_SAFE_TEXT", "Shape", "shape_of"]

#: An unescaped ``$``: fastjsonschema reads it as ``\\Z`` (the very end, no newline before it),
#: and so do we, or a pattern would accept one more string here than there.
DOLLAR: Final = re.compile(r"(?<!\\)\$")

_NULL: Final = 1
_BOOLEAN: Final = 2
_INTEGER: Final = 4
_FLOAT: Final = 8
_STRING: Final = 16
_ARRAY: Final = 32
_OBJECT: Final = 64
_KINDS: Final = {
    "null": _NULL,
    "boolean": _BOOLEAN,
    "integer": _INTEGER,
    "number": _INTEGER | _FLOAT,
    "string": _STRING,
    "array": _ARRAY,
    "object": _OBJECT,
}
#: The contracts' "no control, bidi-override or zero-width character" class (JSON-decoded, as the
#: pattern strings hold it), and the two patterns built on it: any such text, and such text with a
#: visible character. Every character the class excludes is a control, format or line/paragraph
#: separator, none of which ``str.isprintable`` passes, and the only printable whitespace is the
#: space: so a printable string matches the first pattern, and the second unless it is empty or
#: all spaces (tests/schemas/test_accept.py checks both facts over every code point). That proof
#: costs a fifth of the regex, and ingest runs it on three or four ids of every record; any other
#: string still goes through the regex.
_UNSAFE_RANGES: Final = (
    "\\u0000-\\u001f\\u007f-\\u009f\\u00ad\\u061c\\u180e\\u200b-\\u200f\\u2028-\\u202e"
    "\\u2060-\\u2064\\u2066-\\u2069\\ufeff"
)
#: One character the contracts' ids must not hold (ingest names it in its refusals).
UNSAFE_CHARACTER: Final = "[" + _UNSAFE_RANGES + "]"
SAFE_CHARACTER: Final = "[^" + _UNSAFE_RANGES + "]"
SAFE_TEXT: Final = "^" + SAFE_CHARACTER + "*(?![\\s\\S])"
VISIBLE_SAFE_TEXT: Final = "^(?=[\\s\\S]*\\S)" + SAFE_CHARACTER + "*(?![\\s\\S])"
#: The contracts' instant: RFC 3339 with an explicit offset, as every touchpoint's occurred_at is. Its
#: regex took a tenth of ingest's instructions; ``_is_instant`` reads the same form natively.
INSTANT: Final = (
    "^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_ANY_TEXT: Final = 1
_VISIBLE_TEXT: Final = 2
_AN_INSTANT: Final = 3
#: Patterns a native check proves a string matches, without the regex (``Shape.proof``).
_PROOFS: Final = {SAFE_TEXT: _ANY_TEXT, VISIBLE_SAFE_TEXT: _VISIBLE_TEXT, INSTANT: _AN_INSTANT}
#: Printable ASCII: the space to the tilde.
_FIRST_PRINTABLE: Final = 0x20
_LAST_PRINTABLE: Final = 0x7E

_ANNOTATIONS: Final = frozenset({"title", "description", "examples", "$schema", "$id", "$comment"})
_KNOWN: Final = _ANNOTATIONS | {
    "type",
    "const",
    "enum",
    "minLength",
    "maxLength",
    "pattern",
    "minimum",
    "maximum",
    "required",
    "properties",
    "additionalProperties",
    "minProperties",
    "maxProperties",
    "anyOf",
    "allOf",
}


class Unsupported(Exception):
    """The schema uses something a shape cannot check for sure."""


class Rule:
    """``if`` the document's *name* is one of *values*, ``then`` it must have *shape*."""

    def __init__(self, name: str, values: frozenset[str], shape: Shape) -> None:
        self.name = name
        self.values = values
        self.shape = shape


class Shape:
    """One schema (or sub-schema), read for :meth:`accepts`; unset constraints are -1, None or empty."""

    def __init__(self) -> None:
        self.kinds = 0  # bits of _KINDS; 0: any
        self.has_const = False
        self.const: Any = None
        self.enum: frozenset[str] | None = None
        self.min_length = -1
        self.max_length = -1
        self.pattern: re.Pattern[str] | None = None
        # _ANY_TEXT or _VISIBLE_TEXT: a printable string is proof the pattern matches; _AN_INSTANT: the
        # instant read natively is (0: no proof, the regex decides)
        self.proof = 0
        self.bounded = False
        self.minimum: float | None = None
        self.maximum: float | None = None
        self.required: tuple[str, ...] = ()
        self.properties: dict[str, Shape] = {}
        self.closed = False  # additionalProperties: false
        self.additional: Shape | None = None  # additionalProperties: {…}
        self.min_properties = -1
        self.max_properties = -1
        self.any_of: list[Shape] = []
        self.rules: list[Rule] = []

    def accepts(self, value: Any) -> bool:
        """True only if the schema accepts *value* (a document as ``orjson.loads`` makes it)."""
        if isinstance(value, str):
            kind = _STRING
        elif isinstance(value, bool):
            kind = _BOOLEAN
        elif isinstance(value, int):
            kind = _INTEGER
        elif isinstance(value, float):
            kind = _FLOAT
        elif value is None:
            kind = _NULL
        elif isinstance(value, dict):
            kind = _OBJECT
        elif isinstance(value, list):
            kind = _ARRAY
        else:
            return False
        if self.kinds and not self.kinds & kind:
            return False
        if self.has_const and not (type(value) is type(self.const) and value == self.const):
            return False
        if self.enum is not None and not (kind == _STRING and value in self.enum):
            return False
        if self.rules and kind != _OBJECT:
            return False  # an if of required properties holds for a non-object: its then applies
        if kind == _STRING:
            return self._accepts_string(value)
        if kind in (_INTEGER, _FLOAT):
            return self._accepts_number(value)
        if kind == _BOOLEAN and self.bounded:
            return False  # a bool is a number to the full validator's bounds: let it decide
        if kind == _OBJECT:
            return self._accepts_object(value)
        return self._accepts_combined(value)

    def _accepts_string(self, text: str) -> bool:
        length = len(text)
        if length < self.min_length or (self.max_length >= 0 and length > self.max_length):
            return False
        if self.pattern is not None:
            proof = self.proof
            proven = proof != 0 and (_is_instant(text) if proof == _AN_INSTANT else _proves(text, proof))
            if not proven and self.pattern.search(text) is None:
                return False
        return self._accepts_combined(text)

    def _accepts_number(self, number: Any) -> bool:
        if self.minimum is not None and number < self.minimum:
            return False
        if self.maximum is not None and number > self.maximum:
            return False
        return self._accepts_combined(number)

    def _accepts_object(self, document: dict[str, Any]) -> bool:
        size = len(document)
        if size < self.min_properties or (self.max_properties >= 0 and size > self.max_properties):
            return False
        for name in self.required:
            if name not in document:
                return False
        properties = self.properties
        for name, item in document.items():
            shape = properties.get(name)
            if shape is None:
                if self.closed:
                    return False
                shape = self.additional
                if shape is None:
                    continue
            if not shape.accepts(item):
                return False
        for rule in self.rules:
            selector = document.get(rule.name)
            if selector is None and rule.name not in document:
                continue  # the rule's if requires the property: it does not apply
            if not isinstance(selector, str):
                return False  # whether the if holds is the full validator's to say
            if selector in rule.values and not rule.shape.accepts(document):
                return False
        return self._accepts_combined(document)

    def _accepts_combined(self, value: Any) -> bool:
        if self.any_of:
            return any(option.accepts(value) for option in self.any_of)
        return True


def shape_of(schema: Any) -> Shape | None:
    """*schema* read as a :class:`Shape`; None if it uses anything a shape does not check."""
    try:
        return _read(schema)
    except Unsupported:
        return None


def _read(schema: Any) -> Shape:
    if not isinstance(schema, dict):
        raise Unsupported(f"a schema that is not an object: {schema!r}")
    unknown = set(schema) - _KNOWN
    if unknown:
        raise Unsupported(f"keywords {sorted(unknown)}")
    shape = Shape()
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        for name in names:
            if name not in _KINDS:
                raise Unsupported(f"type {name!r}")
            shape.kinds |= _KINDS[name]
    if "const" in schema:
        const = schema["const"]
        if type(const) not in (str, int, bool) and const is not None:
            raise Unsupported(f"const {const!r}")
        shape.has_const, shape.const = True, const
    if "enum" in schema:
        shape.enum = frozenset(_strings(schema["enum"], "enum"))
    shape.min_length = _count(schema, "minLength")
    shape.max_length = _count(schema, "maxLength")
    if "pattern" in schema:
        pattern = schema["pattern"]
        if not isinstance(pattern, str):
            raise Unsupported(f"pattern {pattern!r}")
        shape.pattern = re.compile(DOLLAR.sub(r"\\Z", pattern))
        shape.proof = _PROOFS.get(pattern, 0)
    shape.minimum = _bound(schema, "minimum")
    shape.maximum = _bound(schema, "maximum")
    shape.bounded = shape.minimum is not None or shape.maximum is not None
    if "required" in schema:
        shape.required = tuple(_strings(schema["required"], "required"))
    properties = schema.get("properties", {})
    if not isinstance(properties, dict):
        raise Unsupported("properties that are not an object")
    shape.properties = {name: _read(item) for name, item in properties.items()}
    additional = schema.get("additionalProperties", True)
    if additional is False:
        shape.closed = True
    elif additional is not True:
        shape.additional = _read(additional)
    shape.min_properties = _count(schema, "minProperties")
    shape.max_properties = _count(schema, "maxProperties")
    any_of = schema.get("anyOf", [])
    if not isinstance(any_of, list):
        raise Unsupported("anyOf that is not a list")
    shape.any_of = [_read(option) for option in any_of]
    rules = schema.get("allOf", [])
    if not isinstance(rules, list):
        raise Unsupported("allOf that is not a list")
    shape.rules = [_rule(rule) for rule in rules]
    return shape


def _rule(rule: Any) -> Rule:
    """``{"if": {"required": [P], "properties": {P: {"const": s} | {"enum": [s, …]}}}, "then": {…}}``."""
    if not isinstance(rule, dict) or set(rule) != {"if", "then"}:
        raise Unsupported(f"an allOf entry other than if/then: {rule!r}")
    condition = rule["if"]
    if not isinstance(condition, dict) or set(condition) != {"required", "properties"}:
        raise Unsupported(f"an if other than one required property's value: {condition!r}")
    tests = condition["properties"]
    if not isinstance(tests, dict) or len(tests) != 1:
        raise Unsupported(f"an if testing other than one property: {condition!r}")
    ((name, test),) = tests.items()
    if condition["required"] != [name] or not isinstance(test, dict) or len(test) != 1:
        raise Unsupported(f"an if other than one required property's value: {condition!r}")
    if "const" in test:
        values = _strings([test["const"]], "const")
    elif "enum" in test:
        values = _strings(test["enum"], "enum")
    else:
        raise Unsupported(f"an if testing with other than const or enum: {condition!r}")
    return Rule(name, frozenset(values), _read(rule["then"]))


def _strings(values: Any, keyword: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise Unsupported(f"{keyword} of other than strings: {values!r}")
    return values


def _count(schema: dict[str, Any], keyword: str) -> int:
    value = schema.get(keyword, -1)
    if type(value) is not int:
        raise Unsupported(f"{keyword} {value!r}")
    return value


def _bound(schema: dict[str, Any], keyword: str) -> float | None:
    value = schema.get(keyword)
    if value is not None and type(value) not in (int, float):
        raise Unsupported(f"{keyword} {value!r}")
    return value


def _proves(text: str, proof: int) -> bool:
    """Whether *text* proves the pattern of *proof* matches: printable, and for _VISIBLE_TEXT not all spaces.

    Ids and names are mostly printable ASCII, which a native read of the code points tells;
    ``str.isprintable`` is a call through the interpreter, and its per-character table lookups,
    so it is asked only about other text.
    """
    visible = False
    for index in range(len(text)):
        code = ord(text[index])
        if code < _FIRST_PRINTABLE or code > _LAST_PRINTABLE:
            return text.isprintable() and (proof == _ANY_TEXT or not text.isspace())
        if code != _FIRST_PRINTABLE:
            visible = True
    return proof == _ANY_TEXT or visible


def _is_instant(text: str) -> bool:
    """Whether *text* matches INSTANT: ``YYYY-MM-DDTHH:MM:SS``, a fraction of 1-9 digits or none, ``Z`` or ±HH:MM.

    Indexing a string for a code point is native, compiled (``ord(text[i])``, ``text[i] == "x"``); the
    regex is a call through the interpreter and a match with groups.
    """
    length = len(text)
    if length < 20 or not (
        _digits(text, 0, 4)
        and text[4] == "-"
        and _digits(text, 5, 7)
        and text[7] == "-"
        and _digits(text, 8, 10)
        and (text[10] == "T" or text[10] == "t" or text[10] == " ")
        and _digits(text, 11, 13)
        and text[13] == ":"
        and _digits(text, 14, 16)
        and text[16] == ":"
        and _digits(text, 17, 19)
    ):
        return False
    end = 19
    if text[end] == ".":
        end += 1
        while end < length and _is_digit(ord(text[end])):
            end += 1
        if not 1 <= end - 20 <= 9:
            return False
    if end == length - 1:
        return text[end] == "Z" or text[end] == "z"
    return (
        end == length - 6
        and (text[end] == "+" or text[end] == "-")
        and _digits(text, end + 1, end + 3)
        and text[end + 3] == ":"
        and _digits(text, end + 4, end + 6)
    )


def _digits(text: str, start: int, end: int) -> bool:
    # Compiled, all() over a generator is a native loop.
    return all(_is_digit(ord(text[index])) for index in range(start, end))


def _is_digit(code: int) -> bool:
    """An ASCII digit, as the contracts' ``[0-9]``."""
    return 0x30 <= code <= 0x39
