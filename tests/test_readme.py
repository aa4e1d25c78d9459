"""The README's usage examples run as written."""

import re

import pytest

from conftest import REPO_ROOT, run_python

BLOCKS = re.findall(r"```python\n(.*?)```", (REPO_ROOT / "README.md").read_text(), re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index, tmp_path):
    run_python(BLOCKS[index], cwd=tmp_path)
