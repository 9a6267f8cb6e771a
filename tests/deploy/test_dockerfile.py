"""The image's build context: everything the Dockerfile copies, and nothing else (no .venv, no tests)."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def _patterns() -> list[tuple[bool, str]]:
    """(re-included?, pattern) per line of .dockerignore, in order."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = []
    for line in (raw.strip() for raw in lines):
        if line and not line.startswith("#"):
            negated = line.startswith("!")
            rules.append((negated, line.lstrip("!").strip("/")))
    return rules


def _matches(path: str, pattern: str) -> bool:
    # As Docker does: a pattern matching a directory matches everything below it; ** spans directories.
    parts = path.split("/")
    candidates = ["/".join(parts[: end + 1]) for end in range(len(parts))]
    if pattern.startswith("**/"):
        return any(fnmatch.fnmatch(part, pattern[3:]) for part in parts)
    return any(fnmatch.fnmatch(candidate, pattern) for candidate in candidates)


def in_context(path: str) -> bool:
    """Whether *path* (relative to the repository) is sent to `docker build`: the last matching rule wins."""
    included = True
    for negated, pattern in _patterns():
        if _matches(path, pattern):
            included = negated
    return included


def copied() -> list[str]:
    """What the Dockerfile copies from the build context (not from another stage: ``COPY --from=``)."""
    sources: list[str] = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources.extend(word for word in line.split()[1:-1] if not word.startswith("--"))
    return sources


def test_the_dockerfile_copies_something() -> None:
    assert {"pyproject.toml", "setup.py", "scripts/build-wheels", "streams", "agents", "schemas"} <= set(
        copied()
    )


@pytest.mark.parametrize("source", copied())
def test_every_file_the_dockerfile_copies_is_in_the_build_context(source: str) -> None:
    path = ROOT / source
    files = (
        [path]
        if path.is_file()
        # Not what a local install leaves beside the sources: bytecode, its compiled modules (the image compiles its own).
        else [
            p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".so"
        ]
    )
    assert files, source
    missing = [str(file.relative_to(ROOT)) for file in files if not in_context(str(file.relative_to(ROOT)))]
    assert not missing


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".git/HEAD",
        "tests/conftest.py",
        "bench/RESULTS.md",
        "streams/__pycache__/cli.cpython-311.pyc",
        ".touchpoint/x",
        "docs/concepts.md",
        "scripts/test",
        "agents/journey/step.cpython-311-x86_64-linux-gnu.so",
    ],
)
def test_what_the_image_does_not_need_stays_out_of_the_build_context(path: str) -> None:
    assert not in_context(path)
