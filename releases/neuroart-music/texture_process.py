"""The texture of the voices, beside their harmony (`harmony_process.py`): each voice in its SATB range
(`RangeLogitsProcessor`) and no note re-struck off the beat (`RestrikeLogitsProcessor`). `generate_music(chords=...)`
turns them on with the harmony processors: the range for a new piece, a piece continued and a harmonisation (a
primer brings its own register), the re-strikes everywhere.

A helper module shipped beside the weights (`HELPER_MODULES`). Hub remote code: torch and same-folder modules only.
"""

from __future__ import annotations

import itertools

import torch

from .harmony import RANGES, VOICES
from .harmony_process import _NotesReader
from .logits_process import _TokenTypes


class RangeLogitsProcessor(_NotesReader):
    """Each voice in its range. At an onset the notes sounding (held from earlier onsets, written at this one, and
    a harmonised melody's note still to come) are the voices by height, soprano first, as `harmony.voices` reads a
    chorale (a fifth note joins the bass). A Pitch loses `strength` nats for each note that it would leave outside
    its voice's range (`harmony.RANGES`), more than the best Pitch would:
    - until the onset's fourth note is written, the voices still to come are placed where they help most (an A4
      written first is out of range only if no voice can take it: it may still be the alto);
    - from the fourth note on, the count is exact: the last voice of a chord whose three upper notes sit high must
      be a bass in the bass's range, not a fourth note above C4.
    Counting against the best Pitch, not against zero, means a note already out of range (a held one, or a melody
    above G5) shifts no probability away from notes as a whole, only among them.

    Why: the release's harmonisations put 1.5% of their notes outside the SATB ranges (Bach's held-out chorales
    0.5%), most of them a bass above C4 under a high chord, where it sounds as a second tenor
    (`benchmarks/quality/harmony.py`)."""

    VOICES = len(VOICES)

    def __init__(self, tokenizer, strength: float, types: _TokenTypes | None = None, melody=None):
        super().__init__(tokenizer, strength, types, melody)
        self.low = [RANGES[name][0] for name in VOICES]  # soprano first, as the voices are counted from the top
        self.high = [RANGES[name][1] for name in VOICES]

    def _out(self, pitch, voice: int):
        return (pitch < self.low[voice]) | (pitch > self.high[voice]) if torch.is_tensor(pitch) else \
            int(not self.low[voice] <= pitch <= self.high[voice])

    def costs(self, sounding: list[int], candidates: torch.Tensor) -> torch.Tensor:
        """For each candidate pitch (C,), the fewest notes out of their voices' ranges once it joins `sounding`,
        over the places the voices still to come (up to four in all) may take."""
        known = sorted(sounding, reverse=True)  # high to low: soprano first
        count = len(known) + 1
        rank = (torch.tensor(known)[None, :] > candidates[:, None]).sum(1) if known else torch.zeros_like(candidates)
        if count >= self.VOICES:  # every voice is here: the fifth and later notes join the bass
            slot_sets = [tuple(min(i, self.VOICES - 1) for i in range(count))]
        else:  # the voices to come take the places that leave the fewest notes out of range
            slot_sets = list(itertools.combinations(range(self.VOICES), count))
        best = torch.full((len(candidates),), len(known) + 1, dtype=torch.long)
        for slots in slot_sets:
            for r in range(count):  # the candidate's place among the known notes, from the top
                rows = rank == r
                if not rows.any():
                    continue
                fixed = sum(self._out(p, slots[j if j < r else j + 1]) for j, p in enumerate(known))
                cost = fixed + self._out(candidates, slots[r]).long()
                best = torch.where(rows, torch.minimum(best, cost), best)
        return best

    def __call__(self, input_ids, scores):
        ids, candidates, rows = self._pitch_rows(input_ids, scores)
        for row, state in rows:
            now = state["now"]
            sounding = [p for end, _, p in state["notes"] if end > now]
            due = self._due(state)
            if due is not None and not any(start == now and p == due for _, start, p in state["notes"]):
                sounding.append(due)  # the melody note to come at this onset
            cache = self.__dict__.setdefault("extra", {})  # a chorale's few sonorities recur all through it
            chord = tuple(sorted(sounding))
            extra = cache.get(chord)
            if extra is None:
                cost = self.costs(sounding, candidates)
                extra = cost - cost.min()  # notes out of range beyond the best Pitch's
                if len(cache) < 4096:
                    cache[chord] = extra
            if extra.any():
                penalty = extra.to(scores.dtype) * -self.strength
                scores[row, ids] += penalty.to(scores.device)
        return scores


class RestrikeLogitsProcessor(_NotesReader):
    """No note re-struck off the beat: at an onset between beats, a Pitch that a note ending right there had (the
    voice's own last note, struck again an eighth later) loses `strength` nats. A repeated note on the beat is left
    alone, as is a note held through.

    Why: Bach's chorales re-strike a note off the beat 0.03 times a bar; the release did 0.8 times a bar left to
    itself and 1.7 with the chord steering, which makes a repeated chord tone the safe choice (a voice that ended an
    eighth early, struck again), and it wrote passing notes a tenth as often as Bach
    (`benchmarks/quality/harmony.py`)."""

    def __init__(self, tokenizer, strength: float, types: _TokenTypes | None = None, until_bar: int | None = None):
        super().__init__(tokenizer, strength, types)
        self.until_bar = until_bar  # the cadence's bars are left alone: a final chord may be struck again

    def _new_state(self) -> dict:
        return {**super()._new_state(), "ended": []}

    def _move(self, state: dict, now: int) -> None:
        if now != state["now"]:  # the pitches whose notes end here
            state["ended"] = [pitch for end, _, pitch in state["notes"] if end == now]
        super()._move(state, now)

    def __call__(self, input_ids, scores):
        ids, candidates, rows = self._pitch_rows(input_ids, scores)
        for row, state in rows:
            off_beat = (state["now"] - state["bar_start"]) % self.types.per_beat != 0
            late = self.until_bar is not None and state["bar"] >= self.until_bar
            if not off_beat or late or not state["ended"]:
                continue
            again = torch.isin(candidates, torch.tensor(state["ended"]))
            scores[row, ids] -= (again.to(scores.dtype) * self.strength).to(scores.device)
        return scores


__all__ = ["RangeLogitsProcessor", "RestrikeLogitsProcessor"]
