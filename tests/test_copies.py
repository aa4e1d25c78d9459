"""Deliberate copies stay in sync (as transformers' `utils/check_copies.py`).

Hub remote code cannot import across model folders, and a Space folder deploys on its own, so a function or class
that two of them need is copied and marked right above the copy with one of

    # Copied from neuroart.<module>.<name>
    # Copied from <path/in/repo.py>::<name>

The check finds every marker under `modeling/` and `spaces/` and asserts the copy's source equals the original's.
"""

import ast
import importlib
import inspect
import re
from pathlib import Path

from tests.helpers import REPO_ROOT

MODULE_MARKER = re.compile(r"^# Copied from (neuroart(?:\.\w+)+)\.(\w+)\s*$")
PATH_MARKER = re.compile(r"^# Copied from ([\w./-]+\.py)::(\w+)\s*$")


def definition_source(path: Path, line_after: int = 0, name: str | None = None) -> tuple[str, str]:
    """(name, source) of the top-level def/class named `name`, or else of the first one that starts after line
    `line_after` (1-based), decorators included."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if (name is not None and node.name == name) or (name is None and start > line_after):
                return node.name, "\n".join(lines[start - 1 : node.end_lineno])
    raise AssertionError(f"{path}: no definition {name or f'after line {line_after}'}")


def markers(paths):
    """(path, line, original, name) for each marker; `original` is a module name or a repository path."""
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = MODULE_MARKER.match(line) or PATH_MARKER.match(line)
            if match:
                yield path, number, match.group(1), match.group(2)


def copy_problems(paths, root: Path = REPO_ROOT) -> list[str]:
    """What is wrong with the marked copies in `paths`: each drifted or misnamed copy, one line each."""
    problems = []
    for path, number, original, name in markers(paths):
        copy_name, copy = definition_source(path, number)
        if copy_name != name:
            problems.append(f"{path}:{number}: the marker names {name}, the definition is {copy_name}")
            continue
        if original.endswith(".py"):
            source = definition_source(root / original, name=name)[1]
        else:
            source = inspect.getsource(getattr(importlib.import_module(original), name))
        if copy.rstrip() != source.rstrip():
            problems.append(f"{path}:{number} drifted from {original} {name}")
    return problems


def checked_files():
    return sorted((REPO_ROOT / "modeling").rglob("*.py")) + sorted((REPO_ROOT / "spaces").rglob("*.py"))


def test_there_are_copies_to_check():
    found = {(path.parent.name, original) for path, _, original, _ in markers(checked_files())}
    assert any(original.startswith("neuroart.") for _, original in found)
    assert any(original.endswith(".py") for _, original in found)


def test_every_marked_copy_equals_its_original():
    assert copy_problems(checked_files()) == []


def test_the_check_fails_on_a_drifted_copy(tmp_path):
    """A copy edited by one character, in both marker forms, is reported; the faithful copies are not."""
    original = definition_source(REPO_ROOT / "modeling" / "poetry" / "generation.py", name="seeded_rng")[1]
    space_original = definition_source(REPO_ROOT / "spaces" / "neuroart-poetry" / "app.py", name="number")[1]
    faithful = tmp_path / "faithful.py"
    faithful.write_text(f"# Copied from neuroart.poetry.generation.seeded_rng\n{original}\n\n\n"
                        f"# Copied from spaces/neuroart-poetry/app.py::number\n{space_original}\n")
    assert copy_problems([faithful]) == []
    drifted = tmp_path / "drifted.py"
    drifted.write_text(f"# Copied from neuroart.poetry.generation.seeded_rng\n{original.replace('torch.manual_seed(seed)', 'torch.manual_seed(seed + 1)')}\n"
                       f"\n\n# Copied from spaces/neuroart-poetry/app.py::number\n"
                       f"{space_original.replace('from {low} to {high}', 'in [{low}, {high}]', 1)}\n")
    problems = copy_problems([drifted])
    assert len(problems) == 2 and "seeded_rng" in problems[0] and "number" in problems[1], problems
    misnamed = tmp_path / "misnamed.py"
    misnamed.write_text(f"# Copied from neuroart.poetry.generation.format_prompt\n{original}\n")
    assert "the marker names format_prompt" in copy_problems([misnamed])[0]


def test_the_poetry_space_s_attention_view_is_the_package_s():
    """The Space deploys without the package: its attention.py is the package's, byte for byte."""
    assert (REPO_ROOT / "spaces" / "neuroart-poetry" / "attention.py").read_bytes() \
        == (REPO_ROOT / "modeling" / "poetry" / "attention.py").read_bytes()
