"""Resumable checkpoints: written atomically, rotated, and found again with `--resume_from_checkpoint latest`.

A checkpoint is `output_dir/checkpoints/checkpoint-<step>/`. It is written into a hidden temporary folder first and
renamed when complete, so a process killed mid-write leaves only a `.tmp-…` folder, which `latest` ignores. Each
complete checkpoint holds a `COMPLETE` marker as a second guard.

Accelerate's `save_state` stores prepared models, optimisers and RNG states; a script's own extras (EMA weights,
the step, skip counters) go in `extra.safetensors` and `training_state.json`, never in pickles.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import torch

from neuroart.training.faults import fault_at

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
COMPLETE = "COMPLETE"


def checkpoints_dir(output_dir: str | os.PathLike) -> Path:
    return Path(output_dir) / "checkpoints"


def list_checkpoints(output_dir: str | os.PathLike) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = checkpoints_dir(output_dir)
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        match = CHECKPOINT_RE.match(path.name)
        if match and path.is_dir() and (path / COMPLETE).exists():
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def resolve_checkpoint(output_dir: str | os.PathLike, resume_from_checkpoint: str | None) -> Path | None:
    """`latest` -> the newest complete checkpoint (None when there is none); a path -> that path."""
    if not resume_from_checkpoint:
        return None
    if resume_from_checkpoint == "latest":
        found = list_checkpoints(output_dir)
        return found[-1] if found else None
    path = Path(resume_from_checkpoint)
    if not (path / COMPLETE).exists():
        raise ValueError(f"--resume_from_checkpoint {path}: not a complete NeuroArt checkpoint (no {COMPLETE} file).")
    return path


def save_checkpoint(accelerator, output_dir, step: int, state: dict, tensors: dict[str, torch.Tensor] | None = None,
                    total_limit: int | None = None) -> Path:
    """Save everything needed to resume at `step`; every process must call this."""
    from safetensors.torch import save_file

    root = checkpoints_dir(output_dir)
    final = root / f"checkpoint-{step}"
    tmp = root / f".tmp-checkpoint-{step}"
    if accelerator.is_main_process:
        root.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    # Every process writes its own RNG state there, and save_state does not wait for the others: without this, the
    # main process could move the folder while another is still writing (which then re-creates the .tmp folder).
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if tensors:
            save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp / "extra.safetensors"))
        (tmp / "training_state.json").write_text(json.dumps({**state, "step": step}, indent=2))
        (tmp / COMPLETE).write_text(str(step))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        if total_limit is not None:
            for old in list_checkpoints(output_dir)[:-total_limit]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    if fault_at("CRASH_AFTER_CHECKPOINT") == step:  # the test seam (faults.py): a crash at a known step
        os._exit(17)
    return final


def load_checkpoint(accelerator, path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Restore accelerate's state from `path`; return (training_state, extra tensors)."""
    from safetensors.torch import load_file

    accelerator.load_state(str(path))
    state = json.loads((path / "training_state.json").read_text())
    extra = path / "extra.safetensors"
    return state, (load_file(str(extra)) if extra.exists() else {})


def check_output_dir(output_dir: str | os.PathLike, needed_bytes: int) -> None:
    """Fail before training if `output_dir` is not writable or lacks room for a few checkpoints."""
    path = Path(output_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".neuroart-write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as error:
        raise SystemExit(f"Output directory {path} is not writable: {error}. Choose another --output_dir.") from None
    free = shutil.disk_usage(path).free
    if os.environ.get("NEUROART_ASSUME_FREE_BYTES"):  # tests: pretend the disk is (nearly) full
        free = int(os.environ["NEUROART_ASSUME_FREE_BYTES"])
    if free < needed_bytes:
        raise SystemExit(
            f"Output directory {path} has {free / 1e6:.0f} MB free, but checkpoints need about "
            f"{needed_bytes / 1e6:.0f} MB. Free space, lower --checkpoints_total_limit, or choose another --output_dir."
        )
