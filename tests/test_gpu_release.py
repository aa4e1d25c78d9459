"""The GPU release recipes (`python -m neuroart.training.release <kind> --gpu`): the pack that carries a release
back from a remote GPU machine, and `--dry_run`, the same recipe end to end on a CPU at toy scale."""

import json
import subprocess
import sys

import pytest

from neuroart.training import release
from tests.helpers import REPO_ROOT, shared_data_dir


def test_pack_and_unpack_round_trip(tmp_path):
    folder = tmp_path / "neuroart-poetry"
    (folder / "samples").mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(bytes(range(256)) * 400)  # 102,400 bytes
    (folder / "samples" / "poems.txt").write_text("床前明月光", encoding="utf-8")
    files = release.pack(folder, tmp_path / "pack", part_bytes=40_000, max_files=6)
    assert len(files) == 4 and all(p.stat().st_size <= 40_000 for p in files)  # 3 parts + the manifest
    restored = release.unpack(tmp_path / "pack", tmp_path / "out")
    assert restored == tmp_path / "out" / "neuroart-poetry"
    assert (restored / "model.safetensors").read_bytes() == (folder / "model.safetensors").read_bytes()
    assert (restored / "samples" / "poems.txt").read_text(encoding="utf-8") == "床前明月光"
    with pytest.raises(SystemExit, match="more than the 3 files"):
        release.pack(folder, tmp_path / "pack2", part_bytes=40_000, max_files=3)
    part = tmp_path / "pack" / "neuroart-poetry.tar.01"
    part.write_bytes(b"x" + part.read_bytes()[1:])
    with pytest.raises(SystemExit, match="damaged"):
        release.unpack(tmp_path / "pack", tmp_path / "out")


def test_gpu_recipe_needs_cuda_or_a_dry_run():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    result = subprocess.run([sys.executable, "-m", "neuroart.training.release", "poetry", "--gpu"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "--gpu needs a CUDA device" in result.stderr


def test_gpu_recipes_fit_the_limits():
    """Every GPU recipe trains under a wall-clock budget that leaves the 9-minute job room for the rest."""
    for kind, args in release.GPU_RECIPES.items():
        seconds = float(args[args.index("--max_train_seconds") + 1])
        assert seconds <= 6 * 60, kind
        assert kind in release.DRY_RUN and kind in release.GPU_SWEEPS
    assert release.PACK_MAX_FILES <= 6 and release.PACK_PART_BYTES <= 15_000_000


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["poetry", "gan", "music"])
def test_gpu_recipe_dry_run_end_to_end(kind, tmp_path):
    """`--gpu --dry_run`: split, train, export, held-out quality, card and pack, on a CPU; the pack restores into a
    folder that loads, with its card and quality figures."""
    if not shared_data_dir().is_dir():
        pytest.skip(f"the curated data is not at {shared_data_dir()} (set NEUROART_SHARED_DATA)")
    run = subprocess.run([sys.executable, "-m", "neuroart.training.release", kind, "--gpu", "--dry_run",
                          "--pack_dir", str(tmp_path / "pack")], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert f"{kind} --gpu --dry_run:" in run.stdout
    assert len(list((tmp_path / "pack").iterdir())) <= release.PACK_MAX_FILES
    subprocess.run([sys.executable, "-m", "neuroart.training.release", kind, "--unpack", str(tmp_path / "pack"),
                    "--unpack_to", str(tmp_path / "restored")], cwd=REPO_ROOT, check=True, timeout=120)
    folder = tmp_path / "restored" / f"neuroart-{kind}"
    from transformers import AutoModel

    import neuroart  # noqa: F401

    AutoModel.from_pretrained(folder)
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert f"make release-gpu KIND={kind}" in card and "wall-clock training" in card
    quality = json.loads((folder / "release_quality.json").read_text())
    assert kind in quality["sections"]


@pytest.mark.parametrize("kind", ["poetry", "music", "gan"])
def test_the_gpu_payload_carries_what_the_split_reads(kind, tmp_path):
    """The device machine has only the payload's copy of the data: the release split must run on it."""
    from neuroart.training import gpu_payload, release_data

    if not shared_data_dir().is_dir():
        pytest.skip(f"the curated data is not at {shared_data_dir()} (set NEUROART_SHARED_DATA)")
    gpu_payload.copy_data(kind, shared_data_dir(), tmp_path / "data")
    split = {"poetry": release_data.split_poetry, "music": release_data.split_music}.get(kind)
    if split is None:  # the paintings: the split reads the folder the payload copies
        assert (tmp_path / "data" / "paintings").is_dir()
        return
    summary = split(tmp_path / "data", tmp_path / "out")
    assert summary
    if kind == "poetry":
        assert summary["train_en_sonnets"] > 2000 and summary["val_en_sonnets"] > 200
