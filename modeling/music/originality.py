"""Near-copies of training music: how much of a piece repeats a training piece, passage for passage.

A passage is `length` consecutive onsets of the whole texture: at each onset time, the sorted pitches that start
there (every voice), shifted so that the passage's first lowest pitch is 0, so a transposed copy counts as a copy.
A piece's copy rate is the share of its passages that occur in some training piece. Eight onsets are about two bars
of a chorale: long enough that a shared cadence formula (a V-I in one voicing) rarely matches, short enough that a
memorised phrase does.

The index stores a stable 63-bit digest of each training passage (blake2b, the same in every process and Python
version), so it can ship beside the weights (`passage_index.safetensors`) and be read by `neuroart generate music`
and the music Space without the training data. Hub remote code: stdlib, torch and safetensors only.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field

PASSAGE_INDEX_FILE = "passage_index.safetensors"
PASSAGE_LENGTH = 8


def onset_slices(score) -> list[tuple[int, tuple[int, ...]]]:
    """(time, sorted pitches that start then, every track) for each onset time of a symusic Score, in time order."""
    starts = defaultdict(list)
    for track in score.tracks:
        for note in track.notes:
            starts[note.time].append(note.pitch)
    return [(time, tuple(sorted(starts[time]))) for time in sorted(starts)]


def passages(slices, length: int = PASSAGE_LENGTH) -> list[tuple]:
    """Each run of `length` onsets of `onset_slices(score)`, its pitches transposed so that its first lowest pitch
    is 0."""
    chords = [pitches for _, pitches in slices]
    out = []
    for i in range(len(chords) - length + 1):
        window = chords[i : i + length]
        base = min(window[0])
        out.append(tuple(tuple(p - base for p in chord) for chord in window))
    return out


def passage_key(passage) -> int:
    """A 63-bit digest of a passage, stable across processes (Python's `hash` of a tuple is not promised to be)."""
    text = "|".join(",".join(map(str, chord)) for chord in passage).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


def bar_number(score, tick: int) -> int:
    """The 1-based bar of a symusic Score that holds `tick`, by its time signatures (4/4 where it has none)."""
    tpq = score.ticks_per_quarter
    signatures = sorted((ts.time, ts.numerator, ts.denominator) for ts in score.time_signatures) or [(0, 4, 4)]
    if signatures[0][0] > 0:
        signatures.insert(0, (0, 4, 4))
    bar = 1
    for i, (start, numerator, denominator) in enumerate(signatures):
        length = max(1, tpq * 4 * numerator // denominator)
        end = signatures[i + 1][0] if i + 1 < len(signatures) else None
        if end is None or tick < end:
            return bar + (tick - start) // length
        bar += -(-(end - start) // length)  # a bar cut short by the next signature still counts
    return bar


@dataclass
class CopyReport:
    """How much of a piece repeats the training pieces: `copied` of `total` passages, and the onset times (ticks)
    where each run of copied passages starts and ends."""

    copied: int
    total: int
    spans: list[tuple[int, int]] = field(default_factory=list)
    length: int = PASSAGE_LENGTH  # onsets per passage

    @property
    def rate(self) -> float:
        return self.copied / self.total if self.total else 0.0

    def describe(self, score) -> str:
        """One sentence for a listener: how much repeats the training pieces, and in which bars of `score`."""
        if not self.total:
            return "too short to compare with the training pieces"
        if not self.copied:
            return f"none of its {self.total} passages of {self.length} onsets repeats a training piece"
        bars = [(bar_number(score, a), bar_number(score, b)) for a, b in self.spans]
        where = ", ".join(f"bars {a}-{b}" if a != b else f"bar {a}" for a, b in bars)
        return (f"{self.copied} of its {self.total} passages of {self.length} onsets ({self.rate:.0%}) repeat a "
                f"training piece note for note, up to transposition: {where}")


class PassageIndex:
    """The passages of a set of training pieces, to measure a generated piece's copy rate."""

    def __init__(self, length: int = PASSAGE_LENGTH, keys=()):
        self.length = length
        self.seen: set[int] = set(int(k) for k in keys)

    @classmethod
    def from_scores(cls, scores, length: int = PASSAGE_LENGTH) -> "PassageIndex":
        index = cls(length)
        for score in scores:
            index.seen.update(passage_key(p) for p in passages(onset_slices(score), length))
        return index

    def report(self, score) -> CopyReport:
        """Which of `score`'s passages occur in the training pieces (none for a piece shorter than one passage)."""
        slices = onset_slices(score)
        found = [passage_key(p) in self.seen for p in passages(slices, self.length)]
        spans, start = [], None
        for i, hit in enumerate(found + [False]):
            if hit and start is None:
                start = i
            elif not hit and start is not None:  # passages start..i-1 copied: onsets start .. i-1+length-1
                spans.append((slices[start][0], slices[i - 1 + self.length - 1][0]))
                start = None
        return CopyReport(copied=sum(found), total=len(found), spans=spans, length=self.length)

    def copy_rate(self, score) -> float:
        """Share of `score`'s passages found in the training pieces (0 for a piece shorter than one passage)."""
        return self.report(score).rate

    def save(self, path) -> None:
        import torch
        from safetensors.torch import save_file

        keys = torch.tensor(sorted(self.seen), dtype=torch.int64)
        save_file({"passages": keys}, str(path), metadata={"length": str(self.length), "kind": "neuroart-passages"})

    @classmethod
    def load(cls, path) -> "PassageIndex":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            length = int((handle.metadata() or {}).get("length", PASSAGE_LENGTH))
            keys = handle.get_tensor("passages").tolist()
        return cls(length, keys)


__all__ = ["PASSAGE_INDEX_FILE", "PASSAGE_LENGTH", "CopyReport", "PassageIndex", "bar_number", "onset_slices",
           "passage_key", "passages"]
