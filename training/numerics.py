"""Numerical guards shared by the training loops."""

from __future__ import annotations

import torch


def all_finite(accelerator, *values: torch.Tensor) -> bool:
    """True when every value is finite on every process (one all-reduce of a "bad" flag with max)."""
    bad = torch.tensor([float(not all(bool(torch.isfinite(v.detach()).all()) for v in values))],
                       device=accelerator.device)
    return accelerator.reduce(bad, "max").item() == 0


def budget_exhausted(accelerator, used_seconds: float, budget: float | None, step: int, what: str = "CPU") -> bool:
    """True on every process once any process has used `budget` seconds (`used_seconds`, its own count of CPU or
    wall time since the budget's clock began); logged once."""
    if not budget:
        return False
    import logging

    over = torch.tensor([float(used_seconds >= budget)], device=accelerator.device)
    if accelerator.reduce(over, "max").item() == 0:
        return False
    logging.getLogger("neuroart.training").info("%s budget of %.0f s reached at step %d.", what, budget, step)
    return True
