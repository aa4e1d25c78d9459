"""The benchmarks are a package: each runs as `python -m benchmarks.<purpose>.<name>`, grouped by purpose (speed,
quality, sweeps), with no `sys.path` edits and no import cycles."""

import ast
import importlib

import pytest

from tests.helpers import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"
MODULES = sorted(path for path in BENCHMARKS.rglob("*.py") if path.name != "__init__.py")


def module_name(path) -> str:
    return ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)


def test_every_benchmark_lives_in_a_purpose_folder_and_leaves_sys_path_alone():
    shared = {"common.py", "anchors.py", "report.py"}
    for path in MODULES:
        assert path.parent.name in ("speed", "quality", "sweeps") or (path.parent == BENCHMARKS and path.name in shared), path
        assert "sys.path" not in path.read_text(encoding="utf-8"), f"{path} edits sys.path"
    for folder in ("speed", "quality", "sweeps"):
        assert (BENCHMARKS / folder / "__init__.py").exists()
        assert any((BENCHMARKS / folder).glob("*.py"))


def test_benchmark_imports_form_no_cycle():
    """Module-level and in-function `from benchmarks... import` edges, followed: no module reaches itself."""
    edges = {}
    for path in MODULES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("benchmarks"):
                names = [f"{node.module}.{alias.name}" for alias in node.names]
                targets |= {n for n in names if any(module_name(p) == n for p in MODULES)} or {node.module}
        edges[module_name(path)] = targets - {module_name(path)}

    def reaches(start, goal, seen):
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [name for name in edges if reaches(name, name, {name})] == []


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_each_benchmark_imports_as_a_module(path):
    module = importlib.import_module(module_name(path))
    if path.parent.name in ("speed", "quality", "sweeps"):
        # a runnable benchmark, or a section of one (release_quality's per-kind parts)
        assert hasattr(module, "main") or any(name.endswith("_section") for name in dir(module)), module_name(path)
