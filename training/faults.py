"""The one test seam for fault injection: tests set `NEUROART_FAULT_<NAME>` in a training run's environment to
make it fail on purpose at a known point, and check that the run survives (resume, skipped steps, no lost export).

| variable | where | what happens |
| --- | --- | --- |
| `NEUROART_FAULT_CRASH_AFTER_CHECKPOINT=N` | `checkpointing.save_checkpoint` | the process dies (exit 17) right after checkpoint N |
| `NEUROART_FAULT_NAN_WEIGHTS_AT_STEP=N` | `train_gan.py` | every weight becomes NaN before step N (once), as after a blown-up update |
| `NEUROART_FAULT_SAMPLE=1` | `tracking.guarded_sample` (all three scripts) | every sample (during training and at the end) raises |

Nothing here runs unless a variable is set; production code asks only through `fault_at` / `fault_on`.
"""

from __future__ import annotations

import os

FAULTS = ("CRASH_AFTER_CHECKPOINT", "NAN_WEIGHTS_AT_STEP", "SAMPLE")


def _value(name: str) -> str | None:
    if name not in FAULTS:
        raise ValueError(f"Unknown fault {name!r}; the seam knows {FAULTS}.")
    return os.environ.get(f"NEUROART_FAULT_{name}") or None


def fault_at(name: str) -> int:
    """The step at which fault `name` is asked for (0: never)."""
    value = _value(name)
    return int(value) if value else 0


def fault_on(name: str) -> bool:
    """Whether fault `name` is asked for at all."""
    return _value(name) is not None


__all__ = ["FAULTS", "fault_at", "fault_on"]
