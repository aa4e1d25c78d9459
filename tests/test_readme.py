"""The README's usage examples (the `## Usage` section, which needs no trained model) run as written."""

import re

import pytest

from conftest import REPO_ROOT, run_python

pytestmark = pytest.mark.slow  # subprocesses end to end: `make test-fast` leaves them out

README = (REPO_ROOT / "README.md").read_text()
USAGE = README.split("## Usage", 1)[1].split("\n## ", 1)[0]
BLOCKS = re.findall(r"```python\n(.*?)```", USAGE, re.S)


def test_usage_section_has_one_example_per_model():
    assert len(BLOCKS) == 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index, tmp_path):
    run_python(BLOCKS[index], cwd=tmp_path)
