"""The skeleton both training loops share (`lm.train_causal_lm` for the poet and the composer, `train_gan.py` for the
painter); each keeps only its own step.

- `resume`: `--resume_from_checkpoint` -> the checkpoint's state (step, skipped steps, CPU seconds so far) and its
  extra tensors (the GAN's EMA generator), or a fresh start.
- `Run`: the clocks (wall and CPU time; a CPU budget and a wall-clock budget, each spanning an interrupted run and
  its resumption), the progress bar toward the real end (the steps or a budget, whichever ends the run first), the epochs of a prepared loader with
  the batches a resumed run has already seen skipped, the "is it time to checkpoint / sample / evaluate" rule, the
  checkpoint itself, and the stop when the budget is spent.
"""

from __future__ import annotations

import time

from .checkpointing import load_checkpoint, resolve_checkpoint, save_checkpoint
from .numerics import budget_exhausted
from .tracking import logger, progress_bar


def resume(accelerator, args) -> tuple[dict, dict]:
    """(state, extra tensors) of the checkpoint `--resume_from_checkpoint` names, or a fresh start's."""
    state = {"step": 0, "skipped_steps": 0, "train_cpu_seconds": 0.0, "train_seconds": 0.0}
    checkpoint = resolve_checkpoint(args.output_dir, args.resume_from_checkpoint)
    if checkpoint is not None:
        loaded, tensors = load_checkpoint(accelerator, checkpoint)
        logger.info("Resumed from %s at step %d.", checkpoint, loaded["step"])
        return {**state, **loaded}, tensors
    if args.resume_from_checkpoint:
        logger.info("No complete checkpoint in %s: starting from scratch.", args.output_dir)
    return state, {}


class Run:
    """One training run's bookkeeping: steps, skipped steps, clocks, progress bar, epochs, checkpoints, budget."""

    def __init__(self, accelerator, args, max_steps: int, steps_per_epoch: int, state: dict):
        self.accelerator, self.args = accelerator, args
        self.max_steps, self.steps_per_epoch = max_steps, steps_per_epoch
        self.step, self.skipped = state["step"], state.get("skipped_steps", 0)
        self.epoch = self.step // steps_per_epoch
        self.budget = getattr(args, "max_train_cpu_seconds", None)
        self.wall_budget = getattr(args, "max_train_seconds", None)
        self.progress = progress_bar(accelerator, max_steps, self.step, self.budget, self.wall_budget)
        # Budgets span the interrupted run and this one: each clock starts where the checkpoint left it.
        self.started = time.time() - state.get("train_seconds", 0.0)
        self.cpu_started = time.process_time() - state.get("train_cpu_seconds", 0.0)
        self.progress.start_clock(self.cpu_started, self.started)

    def batches(self, loader):
        """The micro-batches of every epoch still to run; those of a resumed run's epoch that it had seen are
        skipped. Stop iterating when `done` says so. A run resumed from its last step yields nothing: its trainer
        goes straight to the export, with the weights of that step."""
        if self.step >= self.max_steps:
            return
        to_skip = (self.step % self.steps_per_epoch) * self.args.gradient_accumulation_steps
        first = self.epoch
        for epoch in range(first, -(-self.max_steps // self.steps_per_epoch)):
            self.epoch = epoch
            if hasattr(loader, "set_epoch"):
                loader.set_epoch(epoch)
            epoch_loader = self.accelerator.skip_first_batches(loader, to_skip) if epoch == first and to_skip \
                else loader
            yield from epoch_loader

    def advance(self, **postfix) -> None:
        """One optimiser step done (or skipped and counted): move the step counter and the progress bar."""
        self.step += 1
        self.progress.update(1)
        if postfix:
            self.progress.set_postfix(**postfix)

    def due(self, every: int) -> bool:
        """Time for a periodic action (checkpoint, samples, validation): every `every` steps, and at the last."""
        return self.step % every == 0 or self.step == self.max_steps

    def cpu_seconds(self) -> float:
        return time.process_time() - self.cpu_started

    def wall_seconds(self) -> float:
        return time.time() - self.started

    def checkpoint(self, tensors=None) -> None:
        """An atomic checkpoint every `--checkpointing_steps` and at the last step, with the state a resumption
        needs; `tensors` (a function returning a dict, called only then) adds a trainer's own (the GAN's EMA)."""
        if self.due(self.args.checkpointing_steps):
            save_checkpoint(self.accelerator, self.args.output_dir, self.step,
                            {"skipped_steps": self.skipped, "epoch": self.epoch,
                             "train_cpu_seconds": self.cpu_seconds(), "train_seconds": self.wall_seconds()},
                            tensors() if tensors is not None else None, self.args.checkpoints_total_limit)

    def done(self) -> bool:
        """True once the steps are done or (on every process alike) a budget is spent; the step then becomes the
        end, so the final checkpoint and samples see `step == max_steps`."""
        if (budget_exhausted(self.accelerator, self.cpu_seconds(), self.budget, self.step, "CPU")
                or budget_exhausted(self.accelerator, self.wall_seconds(), self.wall_budget, self.step, "Wall-clock")):
            self.max_steps = self.step
        return self.step >= self.max_steps

    def close(self) -> None:
        self.progress.close()


__all__ = ["Run", "resume"]
