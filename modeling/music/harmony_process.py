"""Logits processors that steer the composer towards functional harmony: a common triad or seventh at each onset
(`ChordLogitsProcessor`) and no parallel fifths or octaves (`VoiceLeadingLogitsProcessor`); the opening and the
cadence are `cadence_process.py`'s. `generate_music(chords=...)` turns them on; `harmony.py` measures the result.

A helper module shipped beside the weights (`HELPER_MODULES`). Hub remote code: torch and same-folder modules only.
"""

from __future__ import annotations

import itertools

import torch

from .harmony import COMMON_CHORDS
from .logits_process import _ReadingProcessor, _TokenTypes, follow_time


class ChordLogitsProcessor(_ReadingProcessor):
    """Chords, not clusters: a Pitch whose pitch class would make the notes sounding at the current onset (those
    held from earlier onsets and those already written at this one) no part of any common triad or seventh chord
    (`harmony.COMMON_CHORDS`, on any root) loses `strength` nats; from the fourth note sounding on
    (a chorale's four voices), the chord must be complete: a triad or a seventh, not C-E-B-flat without its fifth
    or an open fifth. A major second over a held bass note still fits a seventh chord while the onset is filling;
    C-D-G (an added second) or C-F-G (a suspension) does not. Soft, as in Bach:
    a passing note or a suspension may still come where the model is sure of it.

    Why: a chorale's chord onsets are mostly triads and sevenths (76% in Bach's held-out chorales; the release
    without this wrote about 30%, the rest added-second and quartal clusters; `benchmarks/quality/harmony.py`)."""

    VOICES = 4  # from the fourth note sounding at an onset on, the chord must be complete

    def __init__(self, tokenizer, strength: float, types: _TokenTypes | None = None, melody=None):
        self.types = types = types or _TokenTypes(tokenizer)
        self.strength = float(strength)
        # Harmonising: {(bar, position): pitch} of the melody, whose note at an onset is written after the lower
        # ones (`HarmonizeLogitsProcessor`); they are chosen to fit it.
        self.melody = dict(melody or {})
        chordal = torch.zeros(4096, dtype=torch.bool)  # pitch-class bitmask -> part of some triad or seventh
        for shape in COMMON_CHORDS:
            for root in range(12):
                full = sum(1 << ((root + step) % 12) for step in shape)
                subset = full
                while subset:  # every non-empty subset of the chord's pitch classes
                    chordal[subset] = True
                    subset = (subset - 1) & full
        complete = torch.zeros(4096, dtype=torch.bool)  # ... exactly a triad or a seventh chord
        for shape in COMMON_CHORDS:
            for root in range(12):
                complete[sum(1 << ((root + step) % 12) for step in shape)] = True
        self.chordal, self.complete = chordal, complete
        self.pitch_ids = torch.tensor([i for i, p in enumerate(types.pitch) if p is not None], dtype=torch.long)
        self.pitch_bits = torch.tensor([1 << (types.pitch[i] % 12) for i in self.pitch_ids.tolist()])

    def _new_state(self) -> dict:
        return {"bar": -1, "bar_start": 0, "bar_length": 4 * self.types.per_beat, "now": 0, "last_end": 0,
                "sounding": [], "pitch": None}

    def _advance(self, state: dict, token: int) -> None:
        kind = self.types.kind[token] if token < self.types.size else "special"
        now = follow_time(self.types, state, kind, token)
        if now is not None:
            state["now"] = now
        elif kind == "Pitch":
            state["pitch"] = self.types.pitch[token]
        elif kind == "Duration" and state["pitch"] is not None:
            end = state["now"] + self.types.length[token]
            state["sounding"].append((end, state["pitch"] % 12, state["now"], state["pitch"]))
            state["pitch"], state["last_end"] = None, max(state["last_end"], end)

    def __call__(self, input_ids, scores):
        width = min(self.types.size, scores.shape[1])
        inside = self.pitch_ids < width
        for row, state in self._states(input_ids):
            now = state["now"]
            state["sounding"] = [note for note in state["sounding"] if note[0] > now]
            mask, count = 0, len(state["sounding"])
            for _, pc, _, _ in state["sounding"]:
                mask |= 1 << pc
            due = self.melody.get((state["bar"], now - state["bar_start"]))
            if due is not None and not any(start == now and pitch == due for _, _, start, pitch in state["sounding"]):
                mask, count = mask | 1 << (due % 12), count + 1  # the melody note to come at this onset
            if not mask:
                continue
            table = self.complete if count + 1 >= self.VOICES else self.chordal
            fits = table[self.pitch_bits[inside] | mask]
            penalty = (~fits).to(scores.dtype) * -self.strength
            scores[row, self.pitch_ids[inside].to(scores.device)] += penalty.to(scores.device)
        return scores


class _NotesReader(_ReadingProcessor):
    """The reading that the voice-leading, range and re-strike processors share: each row's time (`follow_time`),
    its notes as (end, start, pitch) while they sound, and the kind of its last token; `_due` is a harmonised
    melody's note at the current onset, `_pitch_rows` the rows where a Pitch may come next."""

    def __init__(self, tokenizer, strength: float, types: _TokenTypes | None = None, melody=None):
        self.types = types = types or _TokenTypes(tokenizer)
        self.strength = float(strength)
        self.melody = dict(melody or {})  # harmonising: {(bar, position): pitch}, as `ChordLogitsProcessor`'s
        self.pitch_ids = torch.tensor([i for i, p in enumerate(types.pitch) if p is not None], dtype=torch.long)
        self.pitches = torch.tensor([types.pitch[i] for i in self.pitch_ids.tolist()])

    def _new_state(self) -> dict:
        return {"bar_start": 0, "bar": -1, "bar_length": 4 * self.types.per_beat, "now": 0, "last_end": 0,
                "notes": [], "pitch": None, "kind": None}

    def _move(self, state: dict, now: int) -> None:
        state["notes"] = [note for note in state["notes"] if note[0] > now]
        state["now"] = now

    def _advance(self, state: dict, token: int) -> None:
        kind = state["kind"] = self.types.kind[token] if token < self.types.size else "special"
        now = follow_time(self.types, state, kind, token)
        if now is not None:
            self._move(state, now)
        elif kind == "Pitch":
            state["pitch"] = self.types.pitch[token]
        elif kind == "Duration" and state["pitch"] is not None:
            end = state["now"] + self.types.length[token]
            state["notes"].append((end, state["now"], state["pitch"]))
            state["pitch"], state["last_end"] = None, max(state["last_end"], end)

    def _due(self, state: dict) -> int | None:
        return self.melody.get((state["bar"], state["now"] - state["bar_start"]))

    def _pitch_rows(self, input_ids, scores):
        """(Pitch token ids within `scores`, their pitches) and, for each row where a Pitch may come next (not a
        note's Velocity or Duration), (row, state)."""
        inside = self.pitch_ids < min(self.types.size, scores.shape[1])
        rows = ((row, state) for row, state in self._states(input_ids) if state["kind"] not in ("Pitch", "Velocity"))
        return self.pitch_ids[inside].to(scores.device), self.pitches[inside], rows


class VoiceLeadingLogitsProcessor(_NotesReader):
    """No parallel fifths or octaves: a Pitch that would make two voices move in parallel fifths, octaves or unisons
    loses `strength` nats. Two notes move in parallel when both predecessors differ from them, both move the same
    way, and the interval (mod 12) is a unison or fifth before and after; a held note does not move.

    The stream has no voices, and an onset's notes do not come low to high (the tokenizer orders them by duration
    first), so each note's voice is read as the measure reads it (`harmony.voices`: by height, or the nearest free
    voice): the onset's moving notes, the candidate among them, are matched in pitch order to the voices that held
    notes leave free, the matching that moves the voices least. Until an onset's last voice is written the matching
    is a guess (the voices still to come are placed where they were); with the last one it is exact, and then the
    notes already written are checked too, under the voices that this candidate gives them. Harmonising, the
    melody's note at an onset keeps the top voice, and only the other notes are matched to the voices under it.

    Why: the release wrote about 11 parallels per 100 voice-leading steps; Bach's held-out chorales 0.6
    (`benchmarks/quality/harmony.py`)."""

    MATCHED_VOICES = 6

    def _new_state(self) -> dict:
        return {**super()._new_state(), "previous": []}

    def _move(self, state: dict, now: int) -> None:
        if now != state["now"]:
            old = state["now"]
            if any(start == old for _, start, _ in state["notes"]):  # that was an onset: its sonority
                state["previous"] = sorted(p for end, start, p in state["notes"] if start <= old < end)
            super()._move(state, now)

    @staticmethod
    def _predecessors(previous: list[int], held: list[int], moved: list[int], candidates: torch.Tensor):
        """Under the least-motion matching of `moved` plus each candidate, in pitch order, to the voices of
        `previous` (low to high) that `held` leaves free: each candidate's predecessor (C,) and each moved note's
        (C, M). None where the notes outnumber the free voices (a fifth note: each follows its nearest line), or
        where more than `MATCHED_VOICES` voices sounded before (a keyboard texture, not a chorale's: the matchings
        grow combinatorially)."""
        if len(previous) > VoiceLeadingLogitsProcessor.MATCHED_VOICES:
            return None
        free = list(range(len(previous)))
        for pitch in held:  # a held note keeps its voice
            taken = next((i for i in free if previous[i] == pitch), None)
            if taken is not None:
                free.remove(taken)
        count = len(moved)
        if count + 1 > len(free):
            return None
        order = sorted(range(count), key=lambda i: moved[i])
        ranked = [moved[i] for i in order]  # low to high
        rank = (torch.tensor(ranked)[None, :] < candidates[:, None]).sum(1) if count else torch.zeros_like(candidates)
        best = torch.full((len(candidates),), float("inf"))
        before = torch.zeros_like(candidates)
        moved_before = torch.zeros(len(candidates), count, dtype=torch.long)  # in `ranked` order
        for voices in itertools.combinations(free, count + 1):
            for r in range(count + 1):  # the candidate's place among the moved notes
                rows = (rank == r).nonzero().squeeze(1)
                if not len(rows):
                    continue
                others = voices[:r] + voices[r + 1:]
                cost = sum(abs(p - previous[v]) for p, v in zip(ranked, others)) \
                    + (candidates[rows] - previous[voices[r]]).abs().float()
                better = cost < best[rows]
                chosen = rows[better]
                best[chosen], before[chosen] = cost[better], previous[voices[r]]
                if count:
                    moved_before[chosen] = torch.tensor([previous[v] for v in others])
        unsorted = torch.zeros_like(moved_before)
        unsorted[:, order] = moved_before
        return before, unsorted

    @staticmethod
    def _parallel(a, a_before, b, b_before):
        """Whether a and b (tensors that broadcast) move in parallel unisons, fifths or octaves from their
        predecessors. Intervals are taken from the lower voice up (the voice whose predecessor was lower), so a
        fifth written below a note already there counts as one."""
        upward = torch.where(a_before > b_before, 1, -1)  # +1 where a's voice is the upper one
        interval = (upward * (a - b)) % 12
        return ((a_before != a) & (b_before != b) & (a_before != b_before) & ((a > a_before) == (b > b_before))
                & ((interval == 0) | (interval == 7)) & ((upward * (a_before - b_before)) % 12 == interval))

    def __call__(self, input_ids, scores):
        ids, candidates, rows = self._pitch_rows(input_ids, scores)
        for row, state in rows:
            now, previous = state["now"], state["previous"]
            moved = [p for _, start, p in state["notes"] if start == now]
            held = [p for _, start, p in state["notes"] if start < now]
            due = self._due(state)
            melody = None
            if due is not None and previous:
                # Harmonising: the melody's note (to come, or written) is the top voice's, as the measure and
                # `harmonization._split_voices` read it; the other notes share the voices under it. Left to the
                # least-motion matching, it could take a lower voice on a tie and hide the parallel it makes.
                melody, previous = (due, previous[-1]), previous[:-1]
                moved = [p for p in moved if p != due]
            if not previous or not (moved or melody):
                continue
            found = self._predecessors(previous, held, moved, candidates)
            if found is None:
                lines = torch.tensor(previous)
                before = lines[(candidates[:, None] - lines[None, :]).abs().argmin(1)]
                nearest = lines[(torch.tensor(moved, dtype=torch.long)[:, None] - lines[None, :]).abs().argmin(1)]
                moved_before = nearest[None, :].expand(len(candidates), -1)
            else:
                before, moved_before = found
            # The other notes of the onset, each with its predecessor per candidate: (pitch, (C,) or scalar).
            others = [(torch.tensor(q), moved_before[:, j]) for j, q in enumerate(moved)]
            if melody is not None:
                others.append((torch.tensor(melody[0]), torch.tensor(melody[1])))
            parallel = torch.zeros(len(candidates), dtype=torch.bool)
            for j, (q, q_before) in enumerate(others):
                parallel |= self._parallel(candidates, before, q, q_before)
                if found is not None:  # the notes already written, under the voices this candidate gives them
                    for p, p_before in others[:j]:
                        parallel |= self._parallel(p, p_before, q, q_before)
            if parallel.any():
                penalty = parallel.to(scores.dtype) * -self.strength
                scores[row, ids] += penalty.to(scores.device)
        return scores
