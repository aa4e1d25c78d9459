"""Progress bars, sample grids and tracker logging, shared by the training scripts."""

from __future__ import annotations

import logging
import math
import os
import time
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


class BudgetProgress:
    """A tqdm bar over training steps whose total is the real end: `max_steps`, or, under a CPU-seconds budget, the
    step at which the budget runs out at this run's pace so far (whichever comes first). The CPU used is shown too."""

    def __init__(self, bar, max_steps: int, initial: int, cpu_budget: float | None):
        self.bar, self.max_steps, self.initial, self.cpu_budget = bar, max_steps, initial, cpu_budget
        self.cpu_started = None  # process_time() at which the budget's count began (earlier segments included)
        self.run_cpu_start = None

    def start_clock(self, cpu_started: float) -> None:
        self.cpu_started, self.run_cpu_start = cpu_started, time.process_time()

    def update(self, n: int = 1) -> None:
        self.bar.update(n)
        if not self.cpu_budget or self.cpu_started is None:
            return
        done = self.bar.n - self.initial
        run_cpu = time.process_time() - self.run_cpu_start
        used = time.process_time() - self.cpu_started
        if done > 0 and run_cpu > 0:
            expected = self.bar.n + max(0.0, self.cpu_budget - used) * done / run_cpu
            total = max(self.bar.n, min(self.max_steps, int(math.ceil(expected))))
            if total != self.bar.total:
                self.bar.total = total
                self.bar.refresh()

    def set_postfix(self, **values) -> None:
        if self.cpu_budget and self.cpu_started is not None:
            values["cpu"] = f"{time.process_time() - self.cpu_started:.0f}/{self.cpu_budget:.0f}s"
        self.bar.set_postfix(**values)

    @property
    def n(self) -> int:
        return self.bar.n

    @n.setter
    def n(self, value: int) -> None:
        self.bar.n = value

    def close(self) -> None:
        self.bar.close()


def progress_bar(accelerator, total: int, initial: int = 0, cpu_budget: float | None = None) -> BudgetProgress:
    """See `BudgetProgress`; call `.start_clock(cpu_started)` once the budget's clock runs."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=initial, desc="steps", disable=not accelerator.is_local_main_process)
    return BudgetProgress(bar, total, initial, cpu_budget)


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
