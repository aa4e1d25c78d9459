"""Deliberate copies stay in sync (as transformers' `utils/check_copies.py`): Hub remote code cannot import across
model folders, so a function or class that two folders need is copied and marked

    # Copied from neuroart.<module>.<name>

right above the copy. This test finds every marker and asserts the copy's source equals the original's."""

import ast
import importlib
import inspect
import re
from pathlib import Path

from conftest import REPO_ROOT

MARKER = re.compile(r"^# Copied from (neuroart(?:\.\w+)+)\.(\w+)\s*$")


def definition_source(path: Path, line_after: int) -> tuple[str, str]:
    """(name, source) of the def/class that starts after line `line_after` (1-based), decorators included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = path.read_text(encoding="utf-8").splitlines()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if start > line_after:
                return node.name, "\n".join(lines[start - 1 : node.end_lineno])
    raise AssertionError(f"{path}:{line_after}: a Copied-from marker with no definition after it")


def markers():
    for path in sorted((REPO_ROOT / "modeling").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = MARKER.match(line)
            if match:
                yield path, number, match.group(1), match.group(2)


def test_there_are_copies_to_check():
    assert list(markers())


def test_every_marked_copy_equals_its_original():
    for path, number, module, name in markers():
        copy_name, copy = definition_source(path, number)
        assert copy_name == name, f"{path}:{number}: the marker names {name}, the definition is {copy_name}"
        original = inspect.getsource(getattr(importlib.import_module(module), name)).rstrip()
        assert copy.rstrip() == original, f"{path}:{number} drifted from {module}.{name}"
