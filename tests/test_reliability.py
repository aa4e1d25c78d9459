"""Kill-and-resume: a run killed with SIGKILL mid-training resumes from its last complete checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time

from neuroart import NeuroArtGANModel
from neuroart.training.checkpointing import list_checkpoints

from conftest import REPO_ROOT, launch_script

ARGS = ["--resolution", 32, "--train_batch_size", 4, "--num_default_images", 24, "--checkpointing_steps", 3,
        "--generator_base_channels", 4, "--discriminator_base_channels", 4, "--max_channels", 32, "--seed", 0]


def test_gan_sigkill_then_resume_latest(tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--mixed_precision", "no",
           str(REPO_ROOT / "training" / "train_gan.py"), "--output_dir", str(out), "--max_train_steps", "400",
           *map(str, ARGS)]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.time() + 300
        while time.time() < deadline and len(list_checkpoints(out)) < 2:
            time.sleep(0.2)
        assert len(list_checkpoints(out)) >= 2, "no checkpoints appeared"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    last = int(list_checkpoints(out)[-1].name.split("-")[1])
    assert last < 400  # killed mid-run
    _, log = launch_script("train_gan.py", "--output_dir", out, "--max_train_steps", last + 4,
                           "--resume_from_checkpoint", "latest", *ARGS)
    resumed_at = int(log.split("at step ")[1].split(".")[0])
    assert resumed_at == last  # at most one checkpoint interval was lost, never a partial checkpoint
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["metrics"]["steps"] == last + 4
    assert NeuroArtGANModel.from_pretrained(out).config.image_size == 32
