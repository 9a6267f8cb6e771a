"""The dependency rule, read from the code: no module, package or top-level folder imports itself back.

Every ``import`` of the three packages counts, also one inside a function or under
``TYPE_CHECKING``: a late import hides a cycle from the interpreter, not from the reader.
Three levels are checked: modules (``agents.journey.step``), packages (``agents.journey``, or a
module of its own such as ``agents.config``) and the top-level folders (``agents``, ``streams``,
``schemas``). The bottom layer, ``agents.domain``, imports nothing else of the project.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[1]
PACKAGES = ("agents", "streams", "schemas")


def project_modules() -> dict[str, Path]:
    """Dotted module name → file, for every module of the three packages."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join(parts)] = path
    return modules


def imported(path: Path, name: str, modules: Mapping[str, Path]) -> set[str]:
    """The project modules *path* (module *name*) imports, wherever in the file the import stands.

    ``from package import module`` imports the module; ``from module import name``, the module.
    A package's ``__init__`` that runs on the way to one of its modules is not counted.
    """
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def module_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imported(path, name, modules) for name, path in modules.items()}


def unit_of(module: str, modules: Iterable[str]) -> str:
    """The package a module belongs to below its top-level folder, or the module itself at that level."""
    parts = module.split(".")
    unit = ".".join(parts[:2])
    return unit if unit in set(modules) else parts[0]


def collapse(graph: Mapping[str, set[str]], key: dict[str, str]) -> dict[str, set[str]]:
    collapsed: dict[str, set[str]] = {}
    for source, targets in graph.items():
        edges = collapsed.setdefault(key[source], set())
        edges.update(key[target] for target in targets if key[target] != key[source])
    return collapsed


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Every tangle: a strongly connected group of more than one node (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def loop(graph: Mapping[str, set[str]], group: list[str]) -> list[str]:
    """One import loop through the first member of *group*: a → b → … → a."""
    members = set(group)
    start = group[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        node = frontier.pop(0)
        for target in sorted(graph[node] & members):
            if target == start:
                return [*paths[node], start]
            if target not in paths:
                paths[target] = [*paths[node], target]
                frontier.append(target)
    return group


def describe(graph: Mapping[str, set[str]], found: list[list[str]]) -> str:
    """One loop of each tangle, then all its members: each imports every other, some way round."""
    return "\n".join(f"{' → '.join(loop(graph, group))}  (tangled: {', '.join(group)})" for group in found)


def test_no_module_imports_itself_back() -> None:
    graph = module_graph()
    found = cycles(graph)
    assert not found, "import cycles between modules:\n" + describe(graph, found)


def test_no_package_imports_itself_back() -> None:
    graph = module_graph()
    units = collapse(graph, {module: unit_of(module, graph) for module in graph})
    found = cycles(units)
    assert not found, "import cycles between packages:\n" + describe(units, found)


def test_the_top_level_folders_import_downwards_only() -> None:
    graph = module_graph()
    tops = collapse(graph, {module: module.split(".")[0] for module in graph})
    found = cycles(tops)
    assert not found, "import cycles between agents/, streams/ and schemas/:\n" + describe(tops, found)
    assert tops["schemas"] == set()
    assert "streams" not in tops["agents"]


def test_the_bottom_layer_imports_nothing_else_of_the_project() -> None:
    graph = module_graph()
    for module, targets in graph.items():
        if module.startswith("agents.domain"):
            outside = {target for target in targets if not target.startswith("agents.domain")}
            assert not outside, f"{module} imports {sorted(outside)}"


def test_the_checker_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert loop(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert cycles({"a": {"b"}, "b": set()}) == []
