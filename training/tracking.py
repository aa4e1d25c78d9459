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
    compile_options = {}
    if getattr(args, "torch_compile", False):
        compile_options["dynamo_backend"] = "inductor"
    accelerator = Accelerator(
        **compile_options,
        gradient_accumulation_steps=args.gradient_accumulation_steps,
        mixed_precision=args.mixed_precision,
        log_with=args.report_to,
        project_config=project,
        # Shuffling seeded by (seed, epoch), the same on every process whatever its own RNG stream: processes
        # share one permutation (each takes its own batches), and a resumed run sees the same batches.
        dataloader_config=DataLoaderConfiguration(use_seedable_sampler=True, data_seed=args.seed),
    )
    setup_logging(accelerator)
    if accelerator.device.type == "cuda" and not getattr(args, "no_tf32", False):
        import torch

        # TF32 tensor cores for the fp32 matmuls and convolutions (10-bit mantissa, fp32 range): what a GPU run wants
        # unless --no_tf32 asks for full fp32; bf16 autocast already runs below fp32.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    from accelerate.utils import set_seed

    # Before any model is built. Each process gets its own stream (seed + rank), so GAN noise, augmentation and
    # dropout differ across processes; DDP copies rank 0's initial weights to the others.
    set_seed(args.seed, device_specific=True)
    if accelerator.is_main_process:
        from .checkpointing import check_output_dir

        check_output_dir(args.output_dir, needed_bytes)
    return accelerator


def guarded_sample(write, step: int, what: str):
    """Call `write()` (a sample writer) and return its result; a failure is logged and gives None. Samples are
    optional, a run and its export are not: a sampler that breaks under a new precision, device or model never
    costs a run its model. The test seam `NEUROART_FAULT_SAMPLE=1` (faults.py) makes every sample fail."""
    from .faults import fault_on

    try:
        if fault_on("SAMPLE"):
            raise RuntimeError("simulated failure (NEUROART_FAULT_SAMPLE)")
        return write()
    except Exception as error:  # noqa: BLE001  (any failure: the sample is skipped, training goes on)
        logger.warning("Step %d: writing the %s failed (%s: %s); skipped, training and export go on.", step, what,
                       type(error).__name__, error)
        return None


def init_trackers(accelerator, args, project_name: str) -> None:
    if args.report_to:
        config = {k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool))}
        accelerator.init_trackers(project_name, config=config)


class BudgetProgress:
    """A tqdm bar over training steps whose total is the real end: `max_steps`, or, under a CPU-seconds or a
    wall-clock budget, the step at which the first budget to run out ends at this run's pace so far (whichever of
    the three comes first). The seconds used of each budget are shown too."""

    def __init__(self, bar, max_steps: int, initial: int, cpu_budget: float | None, wall_budget: float | None = None):
        self.bar, self.max_steps, self.initial = bar, max_steps, initial
        self.cpu_budget, self.wall_budget = cpu_budget, wall_budget
        self.cpu_started = self.wall_started = None  # where each budget's count began (earlier segments included)
        self.run_cpu_start = self.run_wall_start = None

    def start_clock(self, cpu_started: float, wall_started: float | None = None) -> None:
        self.cpu_started, self.run_cpu_start = cpu_started, time.process_time()
        self.wall_started, self.run_wall_start = wall_started, time.time()

    def _clocks(self):
        """(budget, seconds used of it in all, seconds this run) for each budget that is set."""
        now_cpu, now_wall = time.process_time(), time.time()
        if self.cpu_budget and self.cpu_started is not None:
            yield self.cpu_budget, now_cpu - self.cpu_started, now_cpu - self.run_cpu_start, "cpu"
        if self.wall_budget and self.wall_started is not None:
            yield self.wall_budget, now_wall - self.wall_started, now_wall - self.run_wall_start, "wall"

    def update(self, n: int = 1) -> None:
        self.bar.update(n)
        done = self.bar.n - self.initial
        ends = [self.bar.n + max(0.0, budget - used) * done / run
                for budget, used, run, _ in self._clocks() if done > 0 and run > 0]
        if ends:
            total = max(self.bar.n, min(self.max_steps, int(math.ceil(min(ends)))))
            if total != self.bar.total:
                self.bar.total = total
                self.bar.refresh()

    def set_postfix(self, **values) -> None:
        for budget, used, _, name in self._clocks():
            values[name] = f"{used:.0f}/{budget:.0f}s"
        self.bar.set_postfix(**values)

    @property
    def n(self) -> int:
        return self.bar.n

    @n.setter
    def n(self, value: int) -> None:
        self.bar.n = value

    def close(self) -> None:
        self.bar.close()


def progress_bar(accelerator, total: int, initial: int = 0, cpu_budget: float | None = None,
                 wall_budget: float | None = None) -> BudgetProgress:
    """See `BudgetProgress`; call `.start_clock(cpu_started, wall_started)` once the budgets' clocks run."""
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=initial, desc="steps", disable=not accelerator.is_local_main_process)
    return BudgetProgress(bar, total, initial, cpu_budget, wall_budget)


def hardware(accelerator) -> str:
    """Where a run trained, for its card: the device (the GPU's name), the precision and the process count."""
    import platform

    import torch

    device = accelerator.device
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
        try:
            with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
                for line in cpuinfo:
                    if line.startswith("model name"):
                        name = f"CPU ({line.split(':', 1)[1].strip()}, {torch.get_num_threads()} threads)"
                        break
        except OSError:
            pass
    compiled = "; torch.compile" if accelerator.state.dynamo_plugin.backend.value != "NO" else ""
    return (f"{name}; precision {accelerator.mixed_precision}; {accelerator.num_processes} process(es), "
            f"{accelerator.distributed_type.value}{compiled}")


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
