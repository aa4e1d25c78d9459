"""The README is a user's guide that holds: a quick start on its first screen, at most 1,800 words, and every Python
and `neuroart` block runs as written, without `HF_HUB_OFFLINE` and without a network, each within 20 seconds."""

import os
import re
import shlex
import subprocess
import sys
import time

import pytest

from tests.helpers import REPO_ROOT, no_network, run_python

README = (REPO_ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
CLI_LINES = [line.split("#")[0].strip() for block in re.findall(r"```bash\n(.*?)```", README, re.S)
             for line in block.splitlines() if line.startswith("neuroart ")]
BLOCK_SECONDS = 20


def test_a_quick_start_on_the_first_screen_and_a_short_guide():
    first_screen = "\n".join(README.splitlines()[:60])
    assert "## Quick start" in first_screen and "make demo" in first_screen and "make test" in first_screen
    assert "neuroart generate gan" in first_screen and "--model_name_or_path" in first_screen
    assert "## Contents" in README
    assert len(README.split()) <= 1800
    for section in ("## Painting", "## Music", "## Poetry"):
        assert section in README


def test_the_readme_links_resolve():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if not target.startswith("http"):
            assert (REPO_ROOT / target).exists(), target


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs_offline_without_the_variable(index, tmp_path):
    started = time.time()
    code = "import time\nstarted = time.time()\n" + BLOCKS[index] + "\nprint('BLOCK', time.time() - started)\n"
    out = run_python(code, cwd=tmp_path, env=no_network(), timeout=300)
    seconds = float(out.split("BLOCK")[-1])
    assert seconds <= BLOCK_SECONDS, f"block {index} took {seconds:.1f} s (wall {time.time() - started:.1f} s)"


@pytest.mark.slow
def test_readme_cli_lines_run_as_written(tmp_path):
    assert len(CLI_LINES) >= 3
    env = {k: v for k, v in {**os.environ, **no_network(), "OMP_NUM_THREADS": "1"}.items() if v is not None}
    for line in CLI_LINES:
        args = shlex.split(line)[1:]
        result = subprocess.run([sys.executable, "-m", "neuroart.cli", *args], capture_output=True, text=True,
                                cwd=tmp_path, env=env, timeout=300)
        assert result.returncode == 0, (line, result.stderr[-2000:])
    assert list((tmp_path / "my-art").glob("*.png")) and list((tmp_path / "my-art").glob("*.mid"))


def test_the_layout_section_names_every_module_and_folder():
    """The README's layout block matches the tree: every module and folder of the package and of the training
    helpers, and every top-level folder the design card fixes, is named there."""
    block = README.split("## Layout", 1)[1].split("```")[1]
    names = {p.stem if p.suffix == ".py" else p.name
             for folder in (REPO_ROOT / "modeling", REPO_ROOT / "training") for p in folder.iterdir()
             if p.name not in ("__init__.py", "__pycache__") and (p.suffix == ".py" or p.is_dir())}
    names -= {"train_gan", "train_music", "train_poetry"}  # named as train_{gan,music,poetry}.py
    missing = sorted(name for name in names if not re.search(rf"\b{re.escape(name)}\b", block))
    assert not missing, f"README layout does not name: {missing}"
    for top in ("modeling/", "training/", "spaces/", "model_cards/", "releases/", "tests/", "benchmarks/", "docs/"):
        assert top in block
    for kind in ("gan", "music", "poetry"):  # each model folder's shipped helpers are listed
        from importlib import import_module

        helpers = import_module(f"neuroart.{kind}.modeling_neuroart_{kind}").__dict__.get("HELPER_MODULES", ())
        assert all(name in block for name in helpers), (kind, helpers)
    for top in ("tests", "benchmarks"):  # and the folders the tests and benchmarks are grouped in
        line = next(line for line in block.splitlines() if line.startswith(f"{top}/"))
        folders = {p.name for p in (REPO_ROOT / top).iterdir() if p.is_dir() and p.name not in ("__pycache__",)}
        assert all(f"{name}/" in line for name in folders), (top, sorted(folders), line)
