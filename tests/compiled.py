"""The modules of the core an install compiled (setup.py), and those whose source changed since."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from agents import CORE_BUILD_NOTE

ROOT = Path(__file__).resolve().parents[1]


def compiled_modules(root: Path = ROOT) -> dict[Path, Path]:
    """Each compiled extension of the project's packages → the source it was built from."""
    return {
        extension: extension.with_name(extension.name.split(".", 1)[0] + ".py")
        for package in compiled_packages(root)
        for extension in sorted((root / package).rglob("*.so"))
    }


def interpreted(module: ModuleType) -> ModuleType:
    """*module*'s source as the interpreter runs it, a module apart from the compiled one tests import."""
    source = Path(module.__file__ or "").with_name(module.__name__.rsplit(".", 1)[-1] + ".py")
    spec = importlib.util.spec_from_file_location(f"interpreted_{module.__name__.replace('.', '_')}", source)
    assert spec is not None
    assert spec.loader is not None
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    return copy


def core_build_note(root: Path = ROOT) -> str | None:
    """How setup.py says it compiled the installed core ("profile-guided", "plain"), None without a build."""
    note = root / "agents" / CORE_BUILD_NOTE
    return note.read_text().strip() if compiled_modules(root) and note.exists() else None


def compiled_packages(root: Path = ROOT) -> list[str]:
    """The top-level packages with a module in setup.py's ``COMPILED`` list (agents, schemas, streams)."""
    return sorted({module.split("/", 1)[0] for module in listed_modules(root)})


def listed_modules(root: Path = ROOT) -> list[str]:
    """The sources setup.py's ``COMPILED`` list names, as paths relative to the project."""
    lines = (root / "setup.py").read_text().splitlines()
    return [line.strip().strip('",') for line in lines if line.startswith('    "') and line.endswith('.py",')]


def stale_sources(root: Path = ROOT) -> list[Path]:
    """The sources edited after their extension was built: Python would still import the extension."""
    return [
        source
        for extension, source in compiled_modules(root).items()
        if source.exists() and source.stat().st_mtime > extension.stat().st_mtime
    ]


def unlisted_extensions(root: Path = ROOT) -> list[Path]:
    """Extensions of modules no longer in setup.py's list: a build leaves them, and Python would import them."""
    listed = set(listed_modules(root))
    return [
        extension
        for extension, source in compiled_modules(root).items()
        if source.relative_to(root).as_posix() not in listed
    ]
