"""``touchpoint check-config`` and ``touchpoint detectors``: the rules file and what it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import orjson

from agents.config import effective_config
from streams.cli.common import CONFIG_OPTION, load_rules, load_settings


@click.command("check-config")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
def check_config(file: Path | None) -> None:
    """Validate a rules file and print the effective configuration (defaults filled in) as JSON.

    Without FILE, prints the defaults.
    """
    import tomllib

    load_rules(file)
    data = tomllib.loads(file.read_text("utf-8-sig")) if file else {}  # as load_config reads it
    effective = effective_config(data, str(file) if file else "<defaults>")
    click.echo(orjson.dumps(effective, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
    click.echo(f"{file or 'defaults'}: OK", err=True)


# ----------------------------------------------------------------------------- detectors


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0]


def _doc(cls: Any) -> str | None:
    """*cls*'s docstring; read from its module's source when the class is compiled (mypyc drops docstrings)."""
    if cls.__doc__:
        return str(cls.__doc__)
    import ast
    import importlib.util

    spec = importlib.util.find_spec(cls.__module__)
    origin = Path(spec.origin) if spec is not None and spec.origin else None
    source = origin.with_name(origin.name.split(".", 1)[0] + ".py") if origin else None
    if source is None or not source.is_file():
        return None
    for node in ast.parse(source.read_text("utf-8")).body:
        if isinstance(node, ast.ClassDef) and node.name == cls.__name__:
            return ast.get_docstring(node)
    return None


@click.command("detectors")
@CONFIG_OPTION
def list_detectors(config: Path | None) -> None:
    """List every detector: the built-ins and the plug-ins installed through the entry point group
    touchpoint.detectors, whether the rules file enables each, and what it raises.

    Exits non-zero, naming the problem, if an installed plug-in cannot be used.
    """
    from agents import catalogue

    problems = catalogue.check_plugins()
    rules = None if problems else load_rules(load_settings(config=config).config)
    rows = []
    for alert_type, target in catalogue.DETECTORS.items():
        enabled = "-" if rules is None else "yes" if rules.detectors[alert_type]["enabled"] else "no"
        rows.append((alert_type, "built-in", enabled, _first_line(_doc(catalogue.load_class(target)))))
    for plugin in catalogue.plugins():
        source = f"plug-in {plugin.distribution or plugin.target}"
        try:
            cls = catalogue.plugin_class(plugin)
        except catalogue.PluginError:
            rows.append((plugin.type, source, "-", "cannot be used (below)"))
            continue
        enabled = "-" if rules is None else "yes" if rules.detectors[plugin.type]["enabled"] else "no"
        rows.append((plugin.type, source, enabled, _first_line(_doc(cls))))
    widths = [
        max(len(row[column]) for row in [("type", "source", "enabled", ""), *rows]) for column in range(3)
    ]
    click.echo(f"{'type':<{widths[0]}}  {'source':<{widths[1]}}  {'enabled':<{widths[2]}}  what it raises")
    for row in rows:
        click.echo(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}".rstrip())
    if problems:
        raise click.ClickException("\n".join(problems))
