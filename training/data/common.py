"""What every loader shares: the skip accounting and the choice of source.

Each loader takes its data from one source, in the order a user would try them: an HF dataset (`dataset_name`),
else a local file or folder, else the embedded default. `open_hub_dataset` opens the first and checks the columns
the user named; `finish` ends every loader the same way.
"""

from __future__ import annotations

import logging
from collections import Counter

logger = logging.getLogger("neuroart.training.data")


class SkipCounter(Counter):
    """Counts skipped inputs by reason; `kept` counts the good ones."""

    kept: int = 0

    def skip(self, reason: str, path=None) -> None:
        self[reason] += 1
        if path is not None:
            logger.debug("skipped %s: %s", path, reason)

    def summary(self, what: str = "inputs") -> str:
        skipped = sum(self.values())
        reasons = ", ".join(f"{reason}: {n}" for reason, n in self.most_common()) or "none"
        return f"{what}: kept {self.kept}, skipped {skipped} ({reasons})"


def open_hub_dataset(dataset_name: str, dataset_config_name=None, dataset_split: str = "train", cache_dir=None,
                     columns: dict | None = None, streaming: bool = False):
    """`datasets.load_dataset(...)`, refusing at once a column the user named (`{"--flag": column}`) that the
    dataset does not have."""
    import datasets

    ds = datasets.load_dataset(dataset_name, dataset_config_name, split=dataset_split, cache_dir=cache_dir,
                               streaming=streaming)
    for flag, column in (columns or {}).items():
        if column and ds.column_names is not None and column not in ds.column_names:
            raise SystemExit(f"{flag} {column!r} is not in {dataset_name} (columns: {ds.column_names}).")
    return ds


def stream_dataset(dataset_name: str, dataset_config_name=None, dataset_split: str = "train", cache_dir=None,
                   column: str | None = None):
    """`load_dataset(..., streaming=True)`: an iterable over a corpus bigger than RAM (read shard by shard)."""
    return open_hub_dataset(dataset_name, dataset_config_name, dataset_split, cache_dir,
                            columns={"Column": column}, streaming=True)


def finish(items: list, source: str, counter: SkipCounter, what: str, noun: str | None = None) -> None:
    """Record how many `items` were kept; refuse an empty result, saying what was skipped and why."""
    counter.kept = len(items)
    if not items:
        raise SystemExit(f"No usable {noun or what} in {source}: {counter.summary(what)}.")


__all__ = ["SkipCounter", "finish", "logger", "open_hub_dataset", "stream_dataset"]
