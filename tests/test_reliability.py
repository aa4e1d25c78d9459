"""Faults: SIGKILL mid-training then `--resume_from_checkpoint latest` (every script), deterministic resume (the
resumed run reproduces the uninterrupted run's losses), GAN divergence (NaN weights injected: the run restores its
last good checkpoint and finishes with finite weights), and output folders that cannot hold a checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from neuroart.training.checkpointing import list_checkpoints
from tests.helpers import (
    REPO_ROOT,
    TINY_GAN_ARGS,
    TINY_MUSIC_ARGS,
    TINY_POETRY_ARGS,
    data_args,
    launch_script,
    make_midi,
)

pytestmark = pytest.mark.slow  # subprocesses end to end: `make test-fast` leaves them out



def history(out):
    """Per-step training losses the run wrote (the GAN: discriminator losses)."""
    return json.loads((out / "loss_history.json").read_text())


@pytest.mark.parametrize("script", ["train_gan.py", "train_music.py", "train_poetry.py"])
def test_sigkill_then_resume_latest(script, tmp_path):
    out = tmp_path / "out"
    args = [*data_args(script, tmp_path), "--checkpointing_steps", 3]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--mixed_precision", "no",
           str(REPO_ROOT / "training" / script), "--output_dir", str(out), "--max_train_steps", "2000",
           *map(str, args)]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.time() + 300
        while time.time() < deadline and len(list_checkpoints(out)) < 2:
            time.sleep(0.1)
        assert len(list_checkpoints(out)) >= 2, "no checkpoints appeared"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    last = int(list_checkpoints(out)[-1].name.split("-")[1])
    assert last < 2000  # killed mid-run
    _, log = launch_script(script, "--output_dir", out, "--max_train_steps", last + 4, "--resume_from_checkpoint",
                           "latest", *args)
    resumed_at = int(log.split("at step ")[1].split(".")[0])
    assert resumed_at == last  # at most one checkpoint interval was lost, never a partial checkpoint
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["metrics"]["steps"] == last + 4
    from transformers import AutoModel

    model = AutoModel.from_pretrained(out)  # loadable, and finite
    assert all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("script", ["train_gan.py", "train_music.py", "train_poetry.py"])
def test_resumed_run_reproduces_the_uninterrupted_losses(script, tmp_path):
    args = [*data_args(script, tmp_path), "--checkpointing_steps", 4]
    launch_script(script, "--output_dir", tmp_path / "straight", "--max_train_steps", 8, *args)
    code, _ = launch_script(script, "--output_dir", tmp_path / "split", "--max_train_steps", 8, *args, check=False,
                            env={"NEUROART_FAULT_CRASH_AFTER_CHECKPOINT": "4"})  # dies right after checkpoint-4
    assert code != 0 and not (tmp_path / "split" / "model.safetensors").exists()
    launch_script(script, "--output_dir", tmp_path / "split", "--max_train_steps", 8, "--resume_from_checkpoint",
                  "latest", *args)
    straight, resumed = history(tmp_path / "straight"), history(tmp_path / "split")
    assert len(straight) == 8 and len(resumed) == 4  # the resumed run logs steps 5-8
    assert torch.allclose(torch.tensor(straight[4:]), torch.tensor(resumed), rtol=0, atol=1e-4), (straight, resumed)


@pytest.mark.parametrize("script", ["train_gan.py", "train_poetry.py"])
def test_a_cpu_budget_spans_the_interrupted_run_and_its_resume(script, tmp_path):
    """The CPU seconds used before a crash are in the checkpoint and count against --max_train_cpu_seconds after
    --resume_from_checkpoint, so a resumed budgeted run neither restarts its budget nor its LR schedule."""
    out = tmp_path / "out"
    args = [*data_args(script, tmp_path), "--checkpointing_steps", 4, "--max_train_cpu_seconds", 100000]
    launch_script(script, "--output_dir", out, "--max_train_steps", 8, *args, check=False,
                  env={"NEUROART_FAULT_CRASH_AFTER_CHECKPOINT": "4"})
    state = json.loads((list_checkpoints(out)[-1] / "training_state.json").read_text())
    assert state["step"] == 4 and state["train_cpu_seconds"] > 0
    launch_script(script, "--output_dir", out, "--max_train_steps", 8, "--resume_from_checkpoint", "latest", *args)
    metrics = json.loads((out / "training_summary.json").read_text())["metrics"]
    assert metrics["steps"] == 8 and metrics["train_cpu_seconds"] >= round(state["train_cpu_seconds"], 1)


def test_gan_divergence_restores_the_last_good_checkpoint(tmp_path):
    out = tmp_path / "out"
    _, log = launch_script("train_gan.py", "--output_dir", out, "--max_train_steps", 14, "--checkpointing_steps", 4,
                           "--max_consecutive_bad_steps", 2, *TINY_GAN_ARGS, env={"NEUROART_FAULT_NAN_WEIGHTS_AT_STEP": "6"})
    assert "non-finite" in log and "restored" in log.lower()
    metrics = json.loads((out / "training_summary.json").read_text())["metrics"]
    assert metrics["steps"] == 14 and metrics["restored_from_checkpoint"] >= 1 and metrics["skipped_steps"] >= 2
    from safetensors.torch import load_file

    assert all(torch.isfinite(t).all() for t in load_file(out / "model.safetensors").values())


def test_exploding_gradients_are_skipped(tmp_path):
    out = tmp_path / "out"
    _, log = launch_script("train_gan.py", "--output_dir", out, "--max_train_steps", 3, "--checkpointing_steps", 10,
                           "--explode_grad_norm", 1e-9, *TINY_GAN_ARGS)
    assert "gradient norm" in log
    metrics = json.loads((out / "training_summary.json").read_text())["metrics"]
    assert metrics["skipped_steps"] == 3


def test_output_dir_without_room_fails_before_training(tmp_path):
    _, log = launch_script("train_gan.py", "--output_dir", tmp_path / "out", "--max_train_steps", 1, *TINY_GAN_ARGS,
                           check=False, env={"NEUROART_ASSUME_FREE_BYTES": "1000"})
    assert "free" in log and "Traceback" not in log.split("free")[0][-2000:]
    assert not list_checkpoints(tmp_path / "out")


# ------------------------------------------------------------------------------------------------------------------
# Hostile data: every loader skips and counts (by reason), never crashes or hangs
# ------------------------------------------------------------------------------------------------------------------
def midi_with(tempo_qpm=None, notes=0, truncate_track=False) -> bytes:
    from symusic import Note, Score, Tempo, Track

    score = Score(480)
    track = Track(program=0)
    for i in range(notes):
        track.notes.append(Note(i * 2, 2, 40 + i % 48, 80))
    score.tracks.append(track)
    if tempo_qpm is not None:
        score.tempos.append(Tempo(0, qpm=tempo_qpm))
    data = score.dumps_midi()
    if truncate_track:  # the MTrk chunk says it is longer than the bytes that follow
        data = data[: len(data) // 2]
    return data


def test_hostile_midi_files_are_skipped_and_counted(tmp_path):
    from neuroart.training.data import MAX_MIDI_NOTES, load_midi

    folder = tmp_path / "midi"
    folder.mkdir()
    (folder / "good.mid").write_bytes(make_midi(0))
    (folder / "zero.mid").write_bytes(b"")
    (folder / "header.mid").write_bytes(b"RIFF\x00\x00\x00\x04WAVE")
    (folder / "truncated_track.mid").write_bytes(midi_with(notes=200, truncate_track=True))
    (folder / "fast_tempo.mid").write_bytes(midi_with(tempo_qpm=1_000_000, notes=16))
    (folder / "slow_tempo.mid").write_bytes(midi_with(tempo_qpm=4, notes=16))
    (folder / "no_notes.mid").write_bytes(midi_with(notes=0))
    (folder / "drums.mid").write_bytes(make_midi(3, drums=True))
    (folder / "huge.mid").write_bytes(midi_with(notes=100_000))
    started = time.time()
    items, _, counter = load_midi(train_data_dir=str(folder))
    assert time.time() - started < 60  # no hang
    assert [name.split("/")[-1] for name, _ in items] == ["good.mid"]
    assert counter["empty file"] == 1 and counter["not a MIDI file"] == 1
    assert counter["absurd tempo"] == 2 and counter[f"more than {MAX_MIDI_NOTES} notes"] == 1
    assert counter["no pitched notes (empty or drums only)"] == 2
    assert counter["corrupt MIDI"] + counter["no pitched notes (empty or drums only)"] == 3  # truncated track
    assert "absurd tempo" in counter.summary("MIDI files")


def test_hostile_text_files_are_skipped_and_counted(tmp_path):
    from neuroart.training.data import load_poems

    path = tmp_path / "poems.txt"
    good = "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。"
    mixed = "Moon 月光 لقمر 🌕 луна"
    path.write_bytes(good.encode() + b"\n\n" + ("x" * 10_000_000).encode() + b"\n\n\n\n" + mixed.encode()
                     + b"\n\n" + b"\xff\xfe\xfa bad bytes \xe6\x9c\x88" + b"\n\n\x01\x02\x03\n\n")
    started = time.time()
    poems, _, counter = load_poems(train_file=str(path))
    assert time.time() - started < 60
    texts = [p["text"] for p in poems]
    assert texts[0] == good and mixed in texts  # mixed scripts are text, kept as is
    assert counter["longer than 4000 characters"] == 1
    assert counter["invalid UTF-8 bytes (replaced)"] == 3  # one per replaced byte
    assert all("\x01" not in t for t in texts)


# ------------------------------------------------------------------------------------------------------------------
# Streaming: corpora bigger than RAM through load_dataset(streaming=True)
# ------------------------------------------------------------------------------------------------------------------
def test_poetry_trains_from_a_streamed_local_dataset(tmp_path):
    from tests.helpers.corpora import POEMS

    folder = tmp_path / "corpus"
    folder.mkdir()
    for shard in range(3):  # a dataset folder of jsonl shards, as on the Hub
        rows = [{"title": t, "content": b} for t, b in POEMS * 5]
        (folder / f"part-{shard}.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows))
    out = tmp_path / "out"
    _, log = launch_script("train_poetry.py", "--dataset_name", folder, "--text_column", "content", "--streaming",
                           "--streaming_eval_examples", 4, "--streaming_shuffle_buffer", 8, "--output_dir", out,
                           "--max_train_steps", 6, "--checkpointing_steps", 3, *TINY_POETRY_ARGS)
    assert "streamed" in log and "Training" in log
    metrics = json.loads((out / "training_summary.json").read_text())["metrics"]
    assert metrics["steps"] == 6 and "val_nats_per_token" in metrics
    _, log = launch_script("train_poetry.py", "--dataset_name", folder, "--text_column", "content", "--streaming",
                           "--streaming_eval_examples", 4, "--streaming_shuffle_buffer", 8, "--output_dir", out,
                           "--max_train_steps", 8, "--resume_from_checkpoint", "latest", *TINY_POETRY_ARGS)
    assert "at step 6" in log
    assert json.loads((out / "training_summary.json").read_text())["metrics"]["steps"] == 8


def test_music_trains_from_a_streamed_parquet_dataset(tmp_path):
    import datasets

    folder = tmp_path / "midi-corpus"
    folder.mkdir()
    pieces = [make_midi(i) for i in range(8)] + [b"", b"not midi"]  # bad rows are skipped in the stream too
    datasets.Dataset.from_dict({"midi": pieces}).to_parquet(str(folder / "train-00000.parquet"))
    out = tmp_path / "out"
    _, log = launch_script("train_music.py", "--dataset_name", folder, "--streaming", "--streaming_eval_examples", 2,
                           "--streaming_shuffle_buffer", 4, "--output_dir", out, "--max_train_steps", 5,
                           "--checkpointing_steps", 5, *TINY_MUSIC_ARGS)
    assert "streamed" in log
    metrics = json.loads((out / "training_summary.json").read_text())["metrics"]
    assert metrics["steps"] == 5 and (out / "tokenizer.json").exists()


def test_streaming_without_a_step_count_is_refused(tmp_path):
    code, log = launch_script("train_poetry.py", "--dataset_name", tmp_path, "--streaming", "--output_dir",
                              tmp_path / "out", check=False)
    assert code != 0 and "--streaming needs --max_train_steps" in log


class _Exploit:
    """A pickle that would run a command when unpickled without weights_only."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_booby_trapped_checkpoint_is_not_unpickled(tmp_path):
    out = tmp_path / "out"
    launch_script("train_gan.py", "--output_dir", out, "--max_train_steps", 2, "--checkpointing_steps", 2, *TINY_GAN_ARGS)
    checkpoint = list_checkpoints(out)[-1]
    marker = tmp_path / "pwned"
    torch.save({"state": _Exploit(marker)}, checkpoint / "optimizer.bin")  # as a hostile shared checkpoint would
    code, log = launch_script("train_gan.py", "--output_dir", out, "--max_train_steps", 4, "--resume_from_checkpoint",
                              "latest", *TINY_GAN_ARGS, check=False)
    assert code != 0 and "weights_only" in log.replace("Weights only", "weights_only")
    assert not marker.exists()  # checkpoints are read with torch.load(weights_only=True); weights are safetensors


@pytest.mark.parametrize("script", ["train_gan.py", "train_music.py", "train_poetry.py"])
def test_failing_samples_and_a_wall_clock_budget_still_export(script, tmp_path):
    """Every sample fails (the fault seam), and `--max_train_seconds` ends the run long before its steps: each
    script logs the failures, stops at the wall-clock budget and exports a model that loads on a CPU, with the
    hardware in its card's metrics."""
    from transformers import AutoModel

    import neuroart  # noqa: F401

    out = tmp_path / "out"
    args = [*data_args(script, tmp_path), "--sample_steps", 2, "--checkpointing_steps", 1000]
    _, log = launch_script(script, "--output_dir", out, "--max_train_steps", 100000, "--max_train_seconds", 6,
                           *args, env={"NEUROART_FAULT_SAMPLE": "1"})
    assert "failed (RuntimeError: simulated failure" in log
    assert "Wall-clock budget of 6 s reached" in log
    metrics = json.loads((out / "training_summary.json").read_text())["metrics"]
    assert 2 <= metrics["steps"] < 100000 and metrics["train_seconds"] >= 6
    assert "precision no" in metrics["hardware"] and "CPU" in metrics["hardware"]
    assert (out / "model.safetensors").exists()
    AutoModel.from_pretrained(out, device_map="cpu")


def test_music_writes_samples_under_bf16_autocast(tmp_path):
    """The composer's sampler under `--mixed_precision bf16` (it crashed at its first sample on CUDA: an fp32 state
    met bf16 weights in the cell step): samples are written, none fails, the model is exported."""
    out = tmp_path / "out"
    args = [*data_args("train_music.py", tmp_path), "--sample_steps", 2]
    _, log = launch_script("train_music.py", "--output_dir", out, "--max_train_steps", 2, "--mixed_precision", "bf16",
                           *args)
    assert "failed" not in log
    assert (out / "samples" / "step_2.mid").exists() and (out / "model.safetensors").exists()
