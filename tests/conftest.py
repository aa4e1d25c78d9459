"""Shared test set-up: one thread, no network, a private HF cache, the gpu marker. Helpers: `tests.helpers`."""

import os

# Before torch is imported: the 2-vCPU machines lose badly to OpenMP spin-waits and thread contention.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _private_hf_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("hf_home")
    os.environ["HF_HOME"] = str(home)
    os.environ["HF_HUB_CACHE"] = str(home / "hub")
    from neuroart import releases

    releases.install()  # what `make install` does: the releases load by repo id, offline (as in the README)
    yield home


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.gpu` tests run only where CUDA is available."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (no GPU on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def quickstart_models(tmp_path_factory):
    """`neuroart quickstart --tiny --no-launch` once per session: three loadable models on the embedded defaults."""
    pytest.importorskip("music21")
    from neuroart.training.data import FORTUNES_DIR

    if not (FORTUNES_DIR / "tang300").exists():
        pytest.skip("Debian fortunes-zh is not installed (apt-get install fortunes-zh); .ci/run installs it")
    root = tmp_path_factory.mktemp("quickstart") / "neuroart-models"
    result = subprocess.run([sys.executable, "-m", "neuroart.cli", "quickstart", "--train", "--tiny", "--no-launch",
                             "--output_dir", str(root)], capture_output=True, text=True, timeout=900,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    if result.returncode != 0:
        pytest.fail(f"neuroart quickstart failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return root
