"""Offline first: with no network and no `HF_HUB_OFFLINE`, the installed releases load at once (one bounded check of
the Hub endpoint puts huggingface_hub offline), in Python, in the CLI and in a Space's module."""

import subprocess
import sys
import time

import pytest

from tests.helpers import REPO_ROOT, closed_port, no_network, run_python


def test_the_releases_load_by_repo_id_without_a_network():
    started = time.time()
    out = run_python("""
        import time
        started = time.time()
        import neuroart
        import huggingface_hub.constants
        from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer
        AutoModelForCausalLM.from_pretrained("neuroart/neuroart-poetry")
        AutoTokenizer.from_pretrained("neuroart/neuroart-poetry")
        AutoModel.from_pretrained("neuroart/neuroart-gan")
        AutoModelForCausalLM.from_pretrained("neuroart/neuroart-music")
        print("offline", huggingface_hub.constants.HF_HUB_OFFLINE, round(time.time() - started, 1))
    """, env=no_network(), timeout=120)
    assert "offline True" in out
    assert time.time() - started < 60  # it took 143 s for the poet alone before the check


def test_a_reachable_or_explicit_setting_is_left_alone():
    out = run_python("""
        import os
        import neuroart
        import huggingface_hub.constants
        print(os.environ["HF_HUB_OFFLINE"], huggingface_hub.constants.HF_HUB_OFFLINE)
    """, env={"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"})
    assert out.split() == ["0", "False"]  # the user said online: no probe, no change


@pytest.mark.slow
def test_cli_and_space_start_without_a_network(tmp_path):
    import os

    env = {k: v for k, v in {**os.environ, **no_network(), "OMP_NUM_THREADS": "1"}.items() if v is not None}
    started = time.time()
    result = subprocess.run([sys.executable, "-m", "neuroart.cli", "generate", "poetry", "--out", str(tmp_path)],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert time.time() - started < 60
    started = time.time()
    result = subprocess.run([sys.executable, "-c", "import runpy; runpy.run_path('spaces/neuroart-poetry/app.py'); "
                             "print('imported')"], capture_output=True, text=True, env=env, cwd=REPO_ROOT,
                            timeout=120)
    assert result.returncode == 0 and "imported" in result.stdout, result.stderr[-2000:]
    assert time.time() - started < 60
