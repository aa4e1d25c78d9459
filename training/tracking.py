"""Progress bars, sample grids and tracker logging, shared by the training scripts."""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger("neuroart.training")


def setup_logging(accelerator) -> None:
    logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", datefmt="%H:%M:%S",
                        level=logging.INFO if accelerator.is_main_process else logging.WARNING)


def make_accelerator(args, project_name: str, needed_bytes: int = 300_000_000):
    """An `Accelerator` configured from the common flags (mixed precision, accumulation, trackers); the main
    process first checks that `args.output_dir` is writable and has room for checkpoints."""
    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration, ProjectConfiguration

    project = ProjectConfiguration(project_dir=args.output_dir,
                                   logging_dir=os.path.join(args.output_dir, args.logging_dir))
    accelerator = Accelerator(
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=args.report_to,
        project_config=project,
        # Shuffling seeded by (seed, epoch), the same on every process whatever its own RNG stream: processes
        # share one permutation (each takes its own batches), and a resumed run sees the same batches.
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=args.seed),
    )
    setup_logging(accelerator)
    from accelerate.utils import set_seed

    # Before any model is built. Each process gets its own stream (seed + rank), so GAN noise, augmentation and
    # dropout differ across processes; DDP copies rank 0's initial weights to the others.
    set_seed(args.seed, device_specific=True)
    if accelerator.is_main_process:
        from .checkpointing import check_output_dir

        check_output_dir(args.output_dir, needed_bytes)
    return accelerator


def init_trackers(accelerator, args, project_name: str) -> None:
    if args.report_to:
        config = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}
        accelerator.init_trackers(project_name, config=config)


def progress_bar(accelerator, total: int, initial: int = 0):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="steps", disable=not accelerator.is_local_main_process)


def image_grid(images, columns: int | None = None):
    """Paste PIL images into one grid image."""
    from PIL import Image

    columns = columns or max(1, int(len(images) ** 0.5 + 0.999))
    rows = (len(images) + columns - 1) // columns
    w, h = images[0].size
    grid = Image.new("RGB", (columns * w, rows * h), (255, 255, 255))
    for i, image in enumerate(images):
        grid.paste(image.convert("RGB"), ((i % columns) * w, (i // columns) * h))
    return grid


def log_image(accelerator, tag: str, image, step: int) -> None:
    """Send a PIL image to the trackers that take images (tensorboard, wandb)."""
    import numpy as np

    for tracker in accelerator.trackers:
        if tracker.name == "tensorboard":
            tracker.writer.add_image(tag, np.asarray(image), step, dataformats="HWC")
        elif tracker.name == "wandb":
            import wandb

            tracker.log({tag: [wandb.Image(image)]}, step=step)


def save_samples_image(image, output_dir, step: int) -> Path:
    path = Path(output_dir) / "samples" / f"step_{step}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path
