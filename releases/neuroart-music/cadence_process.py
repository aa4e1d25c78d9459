"""The opening and the ending of a piece: the first chord on the key's tonic and the last ones a cadence, V(7) - I,
both in root position (`CadenceLogitsProcessor`); for a melody to harmonise, where and on what it cadences
(`melody_cadence`) and which chord it opens on (`melody_opening`). `generate_music(chords=...)` turns them on,
beside the chord and voice-leading steering of `harmony_process.py`; `harmony.py` measures the result.

A helper module shipped beside the weights (`HELPER_MODULES`). Hub remote code: torch and same-folder modules only.
"""

from __future__ import annotations

import torch

from .logits_process import _ReadingProcessor, _TokenTypes, follow_time
from .theory import NOTE_NAMES, _key_of_histogram, parse_key, scale_pitch_classes

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
