"""The private names of Faust, mode and aiokafka the product uses still exist, and are all listed.

An upgrade inside the pinned ranges that renames one fails here, naming it, instead of silently
switching off bulk restore, the RocksDB write path or the end-offset check.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from streams.runtime.faust_private import ATTRIBUTE, METHOD, PRIVATE_NAMES, PrivateName

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
LIBRARIES = ("faust", "mode", "aiokafka")
REGISTRY = "streams/runtime/faust_private.py"


def resolve(target: str) -> type:
    module, _, qualname = target.partition(":")
    found: object = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part)
    assert isinstance(found, type)
    return found


def defined_in_library(owner: type, name: str) -> bool:
    """Whether *owner* or a class it inherits from in the libraries defines or assigns *name*."""
    for cls in owner.__mro__:
        if cls.__module__.split(".")[0] not in LIBRARIES:
            continue
        if name in vars(cls) or name in getattr(cls, "__annotations__", {}):
            return True
        try:
            source = inspect.getsource(cls)
        except (OSError, TypeError):
            continue
        if f"self.{name}" in source:
            return True
    return False


@pytest.mark.parametrize("private", PRIVATE_NAMES, ids=lambda p: f"{p.owner.partition(':')[2]}.{p.name}")
def test_each_private_name_still_exists_with_the_expected_parameters(private: PrivateName) -> None:
    owner = resolve(private.owner)
    assert private.kind in (METHOD, ATTRIBUTE)
    assert defined_in_library(owner, private.name), f"{private.owner} has no {private.name} any more"
    if private.kind == METHOD:
        parameters = tuple(inspect.signature(getattr(owner, private.name)).parameters)
        assert parameters == private.parameters
    if private.read_by is not None:
        reader_owner, _, method = private.read_by.rpartition(".")
        reader = getattr(resolve(reader_owner), method)
        read = reader.fget if isinstance(reader, property) else reader
        assert read is not None, f"{private.read_by} has no getter"
        source = inspect.getsource(read)
        assert f"self.{private.name}" in source, f"{private.read_by} no longer reads {private.name}"
    for module in private.used_in:
        assert (ROOT / module).is_file()


def touched_names() -> dict[str, set[str]]:
    """file → the private names of other objects it reads, writes, calls or overrides.

    An override is a method or attribute named ``_x`` in a class of ours that inherits ``_x`` from
    a library class; anything else with a leading underscore on an object other than ``self`` or
    ``cls`` is another object's private name.
    """
    touched: dict[str, set[str]] = {}
    for path in sorted((ROOT / "streams").rglob("*.py")) + sorted((ROOT / "agents").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        if relative == REGISTRY or path.name == "__main__.py":
            continue
        names = accessed_private_names(path.read_text("utf-8"))
        module = importlib.import_module(
            relative.removesuffix(".py").replace("/", ".").removesuffix(".__init__")
        )
        for cls in vars(module).values():
            if not (isinstance(cls, type) and cls.__module__ == module.__name__):
                continue
            library_bases = [base for base in cls.__mro__[1:] if base.__module__.split(".")[0] in LIBRARIES]
            own = _own_names(cls)
            names.update(
                name
                for name in own
                if _private(name) and any(defined_in_library(b, name) for b in library_bases)
            )
        if names:
            touched[relative] = names
    return touched


def accessed_private_names(source: str) -> set[str]:
    """Private names of objects other than ``self``/``cls`` that *source* reads, writes, calls or probes."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        owner = node.value if isinstance(node, ast.Attribute) else None
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and not (isinstance(owner, ast.Name) and owner.id in ("self", "cls"))
        ):
            names.add(node.attr)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("hasattr", "getattr"):
            names.update(
                arg.value
                for arg in node.args[1:2]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and _private(arg.value)
            )
    return names


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _own_names(cls: type) -> set[str]:
    """The methods and class attributes *cls*'s body defines, and the attributes it sets on ``self``."""
    try:
        tree = ast.parse(inspect.getsource(cls))
    except (OSError, TypeError, IndentationError):
        return set()
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    names = {node.name for node in body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    names |= {
        target.id
        for node in body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    names |= {
        node.target.id
        for node in body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }
    names |= {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
    }
    return names


def test_the_product_touches_no_private_name_that_is_not_listed() -> None:
    listed: dict[str, set[str]] = {}
    for private in PRIVATE_NAMES:
        for module in private.used_in:
            listed.setdefault(module, set()).add(private.name)
    unlisted = {
        module: sorted(names - listed.get(module, set())) for module, names in touched_names().items()
    }
    assert {module: names for module, names in unlisted.items() if names} == {}


def test_the_check_sees_private_names_read_called_and_probed_but_not_its_own() -> None:
    source = (
        "def f(consumer, store):\n"
        "    consumer._client.force_metadata_update()\n"
        "    if hasattr(store, '_db_for_partition'):\n"
        "        return super()._highwaters(consumer._read_offset)\n"
        "class C:\n"
        "    def g(self):\n"
        "        return self._mine\n"
    )
    assert accessed_private_names(source) == {"_client", "_db_for_partition", "_highwaters", "_read_offset"}
