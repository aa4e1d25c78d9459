"""Near-copies of training music: how much of a piece repeats a training piece passage for passage.

A passage is `length` consecutive onsets of the whole texture: at each onset time, the sorted pitches that start
there (every voice), shifted so the passage's first lowest pitch is 0, so a transposed copy counts as a copy. A
piece's copy rate is the share of its passages that occur in some training piece. Eight onsets are about two bars of
a chorale: long enough that shared cadence formulas (a V-I in one voicing) rarely match, short enough that a
memorised phrase does.
"""

from __future__ import annotations

from collections import defaultdict


def onset_slices(score) -> list[tuple[int, ...]]:
    """The sorted pitches that start at each onset time of a symusic Score, in time order."""
    starts = defaultdict(list)
    for track in score.tracks:
        for note in track.notes:
            starts[note.time].append(note.pitch)
    return [tuple(sorted(starts[time])) for time in sorted(starts)]


def passages(slices: list[tuple[int, ...]], length: int = 8) -> list[tuple]:
    out = []
    for i in range(len(slices) - length + 1):
        window = slices[i : i + length]
        base = min(window[0])
        out.append(tuple(tuple(p - base for p in chord) for chord in window))
    return out


class PassageIndex:
    """The passages of a set of training pieces, to measure a generated piece's copy rate."""

    def __init__(self, length: int = 8):
        self.length = length
        self.seen: set[int] = set()

    @classmethod
    def from_scores(cls, scores, length: int = 8) -> "PassageIndex":
        index = cls(length)
        for score in scores:
            index.seen.update(hash(p) for p in passages(onset_slices(score), length))
        return index

    def copy_rate(self, score) -> float:
        """Share of `score`'s passages found in the training pieces (0 for a piece shorter than one passage)."""
        found = passages(onset_slices(score), self.length)
        return sum(hash(p) in self.seen for p in found) / len(found) if found else 0.0


__all__ = ["PassageIndex", "onset_slices", "passages"]
