"""Real 2-process CPU training (gloo) through Accelerate for every script, and the numerical guards.

`accelerate launch --cpu --num_processes 2` silently runs one process; `ACCELERATE_USE_CPU=true accelerate launch
--multi_gpu --num_processes 2` gives two gloo ranks (see ../shared/docs/libs-mechanics.md).
"""

import json

import pytest
import torch
from test_music_generation import make_midi
from test_poetry_generation import POEMS
from test_train_gan import write_image_folder

from conftest import launch_script

TWO = {"ACCELERATE_USE_CPU": "true"}


def launch_two(script, *args):
    import os
    import subprocess
    import sys

    from conftest import REPO_ROOT

    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--mixed_precision", "no", str(REPO_ROOT / "training" / script), *map(str, args)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                            env={**os.environ, **TWO, "OMP_NUM_THREADS": "1"})
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    return output


def test_gan_two_processes(tmp_path):
    data = write_image_folder(tmp_path / "data", per_class=4)
    log = launch_two("train_gan.py", "--train_data_dir", data, "--output_dir", tmp_path / "out", "--resolution", 32,
                     "--max_train_steps", 4, "--train_batch_size", 2, "--checkpointing_steps", 2,
                     "--generator_base_channels", 4, "--discriminator_base_channels", 4, "--max_channels", 32)
    assert "2 processes" in log
    summary = json.loads((tmp_path / "out" / "training_summary.json").read_text())
    assert summary["metrics"]["steps"] == 4 and summary["metrics"]["skipped_steps"] == 0
    assert (tmp_path / "out" / "checkpoints" / "checkpoint-4" / "random_states_1.pkl").exists()


def test_poetry_two_processes(tmp_path):
    path = tmp_path / "poems.jsonl"
    path.write_text("\n".join(json.dumps({"title": t, "text": b}, ensure_ascii=False) for t, b in POEMS * 4))
    log = launch_two("train_poetry.py", "--train_file", path, "--output_dir", tmp_path / "out", "--max_train_steps",
                     4, "--hidden_size", 32, "--num_hidden_layers", 1, "--num_attention_heads", 2,
                     "--max_seq_length", 32, "--train_batch_size", 2, "--checkpointing_steps", 2)
    assert "x 2 processes" in log
    metrics = json.loads((tmp_path / "out" / "training_summary.json").read_text())["metrics"]
    assert metrics["steps"] == 4 and metrics["skipped_steps"] == 0


def test_music_two_processes(tmp_path):
    folder = tmp_path / "midi"
    folder.mkdir()
    for i in range(4):
        (folder / f"{i}.mid").write_bytes(make_midi(i))
    log = launch_two("train_music.py", "--train_data_dir", folder, "--output_dir", tmp_path / "out",
                     "--max_train_steps", 4, "--hidden_size", 16, "--num_hidden_layers", 1, "--max_seq_length", 32,
                     "--train_batch_size", 2, "--transpose", 0, "--sample_bars", 1, "--checkpointing_steps", 2)
    assert "x 2 processes" in log
    metrics = json.loads((tmp_path / "out" / "training_summary.json").read_text())["metrics"]
    assert metrics["steps"] == 4 and metrics["skipped_steps"] == 0


def test_all_finite_guard():
    from accelerate import Accelerator

    from neuroart.training.numerics import all_finite

    accelerator = Accelerator(cpu=True)
    assert all_finite(accelerator, torch.tensor(1.0), torch.ones(3))
    assert not all_finite(accelerator, torch.tensor(float("nan")))
    assert not all_finite(accelerator, torch.tensor([1.0, float("inf")]))


def test_launch_script_helper_is_single_process(tmp_path):
    pytest.importorskip("accelerate")
    _, log = launch_script("train_gan.py", "--output_dir", tmp_path / "o", "--resolution", 32, "--max_train_steps", 1,
                           "--num_default_images", 6, "--train_batch_size", 2, "--generator_base_channels", 4,
                           "--discriminator_base_channels", 4, "--max_channels", 32)
    assert "1 processes" in log
