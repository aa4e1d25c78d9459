"""Logits processors that steer the composer towards functional harmony: a common triad or seventh at each onset
(`ChordLogitsProcessor`), no parallel fifths or octaves (`VoiceLeadingLogitsProcessor`) and an ending that cadences
(`CadenceLogitsProcessor`; `melody_cadence` reads where and on what a harmonised melody cadences).
`generate_music(chords=...)` turns them on; `harmony.py` measures the result.

A helper module shipped beside the weights (`HELPER_MODULES`). Hub remote code: torch and same-folder modules only.
"""

from __future__ import annotations

import itertools

import torch

from .harmony import COMMON_CHORDS
from .logits_process import _ReadingProcessor, _TokenTypes, follow_time
from .theory import NOTE_NAMES, _key_of_histogram, parse_key, scale_pitch_classes


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
    notes already written are checked too, under the voices that this candidate gives them.

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
            now = state["now"]
            moved = [p for _, start, p in state["notes"] if start == now]
            held = [p for _, start, p in state["notes"] if start < now]
            due = self._due(state)
            if due is not None and due not in moved:
                moved.append(due)  # the melody note to come at this onset
            if not moved or not state["previous"]:
                continue
            found = self._predecessors(state["previous"], held, moved, candidates)
            if found is None:
                previous = torch.tensor(state["previous"])
                before = previous[(candidates[:, None] - previous[None, :]).abs().argmin(1)]
                nearest = previous[(torch.tensor(moved)[:, None] - previous[None, :]).abs().argmin(1)]
                moved_before = nearest[None, :].expand(len(candidates), -1)
            else:
                before, moved_before = found
            parallel = torch.zeros(len(candidates), dtype=torch.bool)
            for j, q in enumerate(moved):
                q = torch.tensor(q)
                parallel |= self._parallel(candidates, before, q, moved_before[:, j])
                if found is not None:  # the notes already written, under the voices this candidate gives them
                    for i in range(j):
                        parallel |= self._parallel(torch.tensor(moved[i]), moved_before[:, i], q, moved_before[:, j])
            if parallel.any():
                penalty = parallel.to(scores.dtype) * -self.strength
                scores[row, ids] += penalty.to(scores.device)
        return scores

# The highest bass of a final chord (E3): Bach's is at or below it in 237 of his 248 training chorales; ours, free
# to choose its octave, often ended on a thin chord over A3 or D4.
FINAL_BASS_HIGHEST = 52


class CadenceLogitsProcessor(_ReadingProcessor):
    """An ending that cadences: the last chords go dominant -> tonic (an authentic cadence, V(7) - I). In the
    dominant zone, Pitch tokens outside the key's dominant seventh chord (degrees 5, 7, 2, 4) lose `strength`
    nats; in the tonic zone, those outside its tonic triad. Zones, as (bar, position) from the new music's first
    bar: a free piece of `num_bars` bars has its dominant from the middle of its second-to-last bar and its tonic
    in its last bar; a harmonisation passes `zones` from its melody (the dominant from the second-to-last melody
    onset, the tonic from the last; `()` for no ending). The key is `key`, or the key of the notes written before
    the dominant zone (Krumhansl-Schmuckler, `estimate_key`'s profiles), fixed from then on. When the fourth voice
    of an onset in a zone is due and the chord still lacks its third (the tonic's, or the dominant's leading note),
    only the third fits: an ending on a bare fifth (E-flat, B-flat, E-flat) is no triad. The chords are in root
    position: an onset's first note, its bass (notes come from the bottom up), must be the chord's root (the tonic,
    or in the dominant zone the dominant), under the melody note due, and a note under the bass must be the root
    too; the final bass lies at `FINAL_BASS_HIGHEST` or below. Bach's final chord is in root position in all 248
    training chorales, his first in 233 of 245, and his bass falls from the dominant to the tonic (a fifth down or a
    fourth up) in 219 of 248: the cadence a listener hears as an ending. The final chord is held: in
    the tonic zone a note shorter than the time left to `end` (a free piece's last bar line, a melody's last note's
    end) loses `strength` nats, so the last chord is the one Bach holds under his fermata, not one struck again in
    eighths.

    With `opening` (a key), the first onset's notes are steered to that key's tonic triad in the same way (a
    harmonisation's where its first melody note allows: `melody_opening`), so that the music ends where it began,
    as nearly every chorale does (`benchmarks/quality/harmony.py` counts both).

    Why: the release's pieces stopped wherever their last bar fell (an ending on the tonic in 1 of 12 pieces, an
    authentic cadence in none; Bach's held-out chorales: 0.89 authentic, `benchmarks/quality/harmony.py`)."""

    VOICES = 4

    def __init__(self, tokenizer, strength: float, types: _TokenTypes | None = None, num_bars: int | None = None,
                 key: str | None = None, zones: tuple | None = None, start: int = 0, either_third: bool = False,
                 melody=None, opening: str | None = None, end: tuple | None = None):
        self.types = types = types or _TokenTypes(tokenizer)
        self.strength, self.num_bars, self.key, self.zones, self.start = float(strength), num_bars, key, zones, start
        # Where the music ends, as (bar, position): a free piece's after its last bar, a melody's at the end of its
        # last note (its position may run past its bar); the final chord is held until then.
        self.end = end if end is not None else (num_bars, 0) if zones is None and num_bars else None
        self.either_third = either_third  # the final triad may be major or minor (the model chooses)
        self.melody = dict(melody or {})  # harmonising: {(bar, position): pitch}, the melody note due at an onset
        self.opening = opening  # a key: the first chord on its tonic too, as a chorale opens
        self.pitch_ids = torch.tensor([i for i, p in enumerate(types.pitch) if p is not None], dtype=torch.long)
        self.pitches = torch.tensor([types.pitch[i] for i in self.pitch_ids.tolist()])
        self.pitch_classes = self.pitches % 12
        self.duration_ids = torch.tensor([i for i in sorted(types.length) if types.kind[i] == "Duration"],
                                         dtype=torch.long)
        self.duration_lengths = torch.tensor([types.length[i] for i in self.duration_ids.tolist()])

    def _new_state(self) -> dict:
        return {"bar": -1, "bar_start": 0, "bar_length": 4 * self.types.per_beat, "now": 0, "last_end": 0,
                "position": 0, "histogram": [0.0] * 12, "pitch": None, "key": self.key, "previous": None,
                "notes": [], "first": None}

    def _advance(self, state: dict, token: int) -> None:
        kind = self.types.kind[token] if token < self.types.size else "special"
        state["previous"] = kind
        now = follow_time(self.types, state, kind, token)
        if now is not None:
            state["now"], state["position"] = now, now - state["bar_start"]
        elif kind == "Pitch":
            state["pitch"] = self.types.pitch[token]
        elif kind == "Duration" and state["pitch"] is not None:
            state["histogram"][state["pitch"] % 12] += self.types.length[token]
            end = state["now"] + self.types.length[token]
            state["first"] = state["now"] if state["first"] is None else state["first"]
            state["notes"] = [n for n in state["notes"] if n[0] > state["now"]] + [(end, state["pitch"])]
            state["pitch"], state["last_end"] = None, max(state["last_end"], end)

    def _sounding(self, state: dict) -> list[int]:
        """Pitches sounding at the current onset (held or written here), with the melody note still to come."""
        pitches = [p for end, p in state["notes"] if end > state["now"]]
        due = self.melody.get((state["bar"], state["position"]))
        return pitches + ([due] if due is not None and due not in pitches else [])

    def _zones(self, state: dict):
        if self.zones is not None:
            return self.zones
        if self.num_bars and self.num_bars >= 2:
            return (self.num_bars - 2, state["bar_length"] // 2), (self.num_bars - 1, 0)
        return None

    def _zone(self, state: dict) -> str | None:
        here, zones = (state["bar"], state["position"]), self._zones(state)
        if zones and here >= zones[0]:
            return "tonic" if here >= zones[1] else "dominant"
        return "opening" if self.opening and state["first"] in (None, state["now"]) else None

    def _until_next_zone(self, state: dict) -> int | None:
        """Time (position units) from now to the next zone's start, counting bars of the current length."""
        zones = self._zones(state)
        for bar, position in zones or ():
            gap = (bar - state["bar"]) * state["bar_length"] + position - state["position"]
            if gap > 0:
                return gap
        return None

    def __call__(self, input_ids, scores):
        width = min(self.types.size, scores.shape[1])
        inside = self.pitch_ids < width
        for row, state in self._states(input_ids):
            zone = self._zone(state)
            if state["previous"] == "Velocity":  # a note's length: none held over into the dominant or the tonic,
                gap = self._until_next_zone(state)  # so that each zone's chord is struck afresh
                inside_d = self.duration_ids < width
                if gap is not None:
                    over = (self.duration_lengths[inside_d] > gap).to(scores.dtype) * -self.strength
                    scores[row, self.duration_ids[inside_d].to(scores.device)] += over.to(scores.device)
                elif zone == "tonic" and self.end is not None:  # the final chord is held to the end
                    left = (self.end[0] - state["bar"]) * state["bar_length"] + self.end[1] - state["position"]
                    lengths = self.duration_lengths[inside_d]
                    short = (lengths < min(left, int(lengths.max()))).to(scores.dtype) * -self.strength
                    scores[row, self.duration_ids[inside_d].to(scores.device)] += short.to(scores.device)
            if zone is None:
                continue
            final = zone == "tonic"
            if zone == "opening":
                key, zone = self.opening, "tonic"
            else:
                if state["key"] is None:
                    if not any(state["histogram"]):
                        continue
                    state["key"] = _key_of_histogram(state["histogram"])
                key = state["key"]
            tonic, minor = parse_key(key)
            third = _thirds(minor, self.either_third and final)  # the opening's is its key's (`melody_opening`)
            steps = (0, *third, 7) if zone == "tonic" else (7, 11, 2, 5)
            thirds = {(tonic + s) % 12 for s in (third if zone == "tonic" else (11,))}  # I's third, V's leading note
            sounding = self._sounding(state)
            if len(sounding) + 1 >= self.VOICES and not thirds & {p % 12 for p in sounding}:
                steps = tuple(s for s in steps if (tonic + s) % 12 in thirds)  # the last voice: the chord's third
            fits = torch.isin(self.pitch_classes[inside], torch.tensor([(tonic + s) % 12 for s in steps]))
            # Root position: the bass, an onset's first note (its notes come from the bottom up), is the chord's root
            # (the dominant's in its zone), under the melody note due; a note under the bass must be the root too.
            # Each rule a note breaks costs it the strength once more, so that a bass breaking one (the root an
            # octave high) still beats one breaking two (the chord's third).
            pitches = self.pitches[inside]
            on_root = self.pitch_classes[inside] == (tonic + 7 * (zone == "dominant")) % 12
            broken = (~fits).to(scores.dtype)
            if not any(end > state["now"] for end, _ in state["notes"]):
                broken += (~(on_root & (pitches < min(sounding, default=128)))).to(scores.dtype)
                if final:
                    broken += (pitches > FINAL_BASS_HIGHEST).to(scores.dtype)
            elif sounding:
                broken += (~((pitches > min(sounding)) | on_root)).to(scores.dtype)
            scores[row, self.pitch_ids[inside].to(scores.device)] += (broken * -self.strength).to(scores.device)
        return scores


def _thirds(minor: bool, either: bool) -> tuple[int, ...]:
    """A tonic triad's third above its root: minor, major, or either (the model's choice)."""
    return (3, 4) if either else (3,) if minor else (4,)


def melody_cadence(melody: dict):
    """Where and on what a harmonised melody cadences: `(zones, final key, either_third)` for
    `CadenceLogitsProcessor`, from `melody` ({(bar, position): pitch}), or `(None, None, False)` for a melody of
    fewer than two notes.

    The final chord has the melody's last note as its root (Bach's final chord in 241 of his 251 training chorales;
    major or minor, the model's choice) when the note before it fits that root's dominant seventh (degrees 5, 7, 2,
    4); else as the third of a major triad, else as its fifth, whichever lets that note fit the dominant: a melody
    that falls a half step to its end (F-E, B-flat-A) cadences V7-I on the chord whose third it ends on (G7-C,
    C7-F), where the root reading leaves no dominant under it. When no reading fits the note before the last, the
    root holds and the dominant starts at the last note within two bars that fits it (else at the note before the
    last). The tonic zone starts at the first of the final pitch's closing repeats."""
    onsets = sorted(melody)
    if len(onsets) < 2:
        return None, None, False
    last = melody[onsets[-1]] % 12
    closing = len(onsets) - 1
    while closing > 1 and melody[onsets[closing - 1]] % 12 == last:
        closing -= 1  # a final note repeated: the cadence lands on its first sounding
    tonic_zone, before = onsets[closing], onsets[closing - 1]
    for step, either_third in ((0, True), (4, False), (7, True)):
        root = (last - step) % 12
        if (melody[before] - root) % 12 in (7, 11, 2, 5):
            return (before, tonic_zone), NOTE_NAMES[root], either_third
    fits = [o for o in onsets[:closing] if (melody[o] - last) % 12 in (7, 11, 2, 5) and o[0] >= onsets[-1][0] - 1]
    return ((fits[-1] if fits else before), tonic_zone), NOTE_NAMES[last], True


def melody_opening(melody: dict, key: str, final: str | None = None, either_third: bool = False) -> str | None:
    """The key whose tonic triad a harmonised melody ({(bar, position): pitch}) opens on
    (`CadenceLogitsProcessor(opening=...)`): `final`, the chord it will close on (`melody_cadence`; major or minor
    with `either_third`), where the first melody note belongs to that triad, so that the setting ends where it
    began, as Bach's do, its third the one `key`'s scale holds (no mask keeps it there); else `key`'s tonic where
    the note belongs to it; else None (the model's choice: a melody that opens on the second degree, say,
    cannot)."""
    if not melody:
        return None
    first = melody[min(melody)] % 12
    for name, either in ((final, either_third), (key, False)):
        if name and either:  # the opening's third as `key`'s scale has it (in G major, an E chord is E minor)
            tonic, scale = parse_key(name)[0], scale_pitch_classes(key)
            thirds = [third for third in (3, 4) if (tonic + third) % 12 in scale]
            if len(thirds) == 1:
                name, either = NOTE_NAMES[tonic] + ("m" if thirds == [3] else ""), False
        if name:
            tonic, minor = parse_key(name)
            if (first - tonic) % 12 in (0, *_thirds(minor, either), 7):
                return name
    return None
