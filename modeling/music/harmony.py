"""Harmony measures for four-part music, from a `symusic.Score`: what a musician hears in a chorale.

- `chord_name`: the chord a set of pitch classes spells (a triad or a seventh chord, music21's `isTriad` and
  `isSeventh` on a chordified score), or None for anything else (suspensions, clusters, open fifths);
- `sonorities`: the pitches sounding at each onset (the chordify view: a held note counts at every onset under it);
- `voices`: the piece as Soprano, Alto, Tenor and Bass lines: its named tracks where it has them (a harmonisation),
  else four tracks ordered by mean pitch, else the notes of one track split by height at each onset;
- `harmony_report`: the share of onsets that are triads or sevenths, how the piece ends (`ends_on_cadence`: a
  triad reached from its dominant, on the key's tonic or not, on the root of the first chord or not, in root
  position or not, its bass coming from the dominant or not; and whether the piece opens in root position), parallel
  fifths and octaves per 100 voice-leading steps, voice crossings, notes outside each voice's range, each voice's
  mean pitch (its register), the bass's leaps (steps of more than a fourth), and two marks of a part's rhythm:
  passing notes (between beats, reached and left by step in one direction) and notes struck again between beats
  (a voice repeating the pitch it has just ended).

The rules are the textbook ones (e.g. Piston, *Harmony*, ch. 1-9; Aldwell & Schachter, *Harmony and Voice
Leading*); `benchmarks/quality/harmony.py` reports them on the release and on Bach's own chorales side by side.
"""

from __future__ import annotations

import itertools
from collections import namedtuple

from .theory import estimate_key, parse_key

# Intervals above the root, as sorted pitch-class sets.
TRIADS = {(0, 4, 7): "major", (0, 3, 7): "minor", (0, 3, 6): "diminished", (0, 4, 8): "augmented"}
SEVENTHS = {(0, 4, 7, 10): "dominant seventh", (0, 4, 7, 11): "major seventh", (0, 3, 7, 10): "minor seventh",
            (0, 3, 6, 10): "half-diminished seventh", (0, 3, 6, 9): "diminished seventh",
            (0, 3, 7, 11): "minor-major seventh", (0, 4, 8, 11): "augmented major seventh"}
# The chords of common-practice harmony that decoding steers towards (`ChordLogitsProcessor`): the major, minor and
# diminished triads and the dominant, minor, major, half-diminished and diminished sevenths. The augmented and
# minor-major shapes count as chords when measured (music21 does), but they hold near-clusters such as C-C#-E.
COMMON_CHORDS = [(0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 7, 10), (0, 3, 7, 10), (0, 4, 7, 11), (0, 3, 6, 10),
                 (0, 3, 6, 9)]
VOICES = ("Soprano", "Alto", "Tenor", "Bass")
# The usual SATB ranges (MIDI numbers): soprano C4-G5, alto G3-D5, tenor C3-G4, bass E2-C4.
RANGES = {"Soprano": (60, 79), "Alto": (55, 74), "Tenor": (48, 67), "Bass": (40, 60)}

Chord = namedtuple("Chord", "root quality")


def chord_name(pitch_classes) -> Chord | None:
    """The triad or seventh chord that `pitch_classes` spell, with its root: {7, 11, 2} -> Chord(7, "major")."""
    classes = sorted({int(p) % 12 for p in pitch_classes})
    if len(classes) not in (3, 4):
        return None
    table = TRIADS if len(classes) == 3 else SEVENTHS
    for root in classes:
        quality = table.get(tuple(sorted((p - root) % 12 for p in classes)))
        if quality:
            return Chord(root, quality)
    return None


def _notes(score):
    return [n for track in score.tracks if not track.is_drum for n in track.notes]


def sonorities(score) -> list[tuple[int, list[int]]]:
    """(onset tick, the pitches sounding there, low to high) for every onset of the piece."""
    notes = sorted(_notes(score), key=lambda n: n.time)
    result = []
    for onset in sorted({n.time for n in notes}):
        result.append((onset, sorted(n.pitch for n in notes if n.time <= onset < n.time + n.duration)))
    return result


def voices(score) -> dict[str, list]:
    """The piece as four lines (name -> notes in time order); see the module docstring."""
    tracks = [t for t in score.tracks if not t.is_drum and t.notes]
    named = {t.name: t for t in tracks}
    if all(name in named for name in VOICES):
        return {name: sorted(named[name].notes, key=lambda n: n.time) for name in VOICES}
    if len(tracks) == 4:
        ordered = sorted(tracks, key=lambda t: -sum(n.pitch for n in t.notes) / len(t.notes))
        return {name: sorted(t.notes, key=lambda n: n.time) for name, t in zip(VOICES, ordered)}
    # One texture: at each onset the sounding notes, high to low, are S, A, T, B (with fewer than four, the new
    # notes go to the voices whose last pitches are nearest, in order; a fifth or sixth note joins the bass).
    lines: dict[str, list] = {name: [] for name in VOICES}
    last = {"Soprano": 72, "Alto": 65, "Tenor": 57, "Bass": 48}
    notes = sorted(_notes(score), key=lambda n: (n.time, -n.pitch))
    for onset in sorted({n.time for n in notes}):
        sounding = sorted((n for n in notes if n.time <= onset < n.time + n.duration), key=lambda n: -n.pitch)
        starting = [n for n in sounding if n.time == onset]
        if len(sounding) >= 4:
            names = [VOICES[min(i, 3)] for i in range(len(sounding))]
            pairs = [(n, names[i]) for i, n in enumerate(sounding) if n.time == onset]
        else:  # held notes keep their voices; the new ones take the free voices nearest them, in order
            held = {v for v in VOICES for n in sounding if n.time != onset and lines[v] and lines[v][-1] is n}
            free = [v for v in VOICES if v not in held]
            best = min(itertools.combinations(free, min(len(starting), len(free))),
                       key=lambda combo: sum(abs(last[v] - n.pitch) for n, v in zip(starting, combo)))
            pairs = list(zip(starting, best))
        for n, name in pairs:
            lines[name].append(n)
            last[name] = n.pitch
    return lines


def _pitch_at(line, tick):
    """The pitch a voice sounds at `tick` (None in a rest)."""
    for note in reversed(line):
        if note.time <= tick:
            return note.pitch if tick < note.time + note.duration else None
    return None


# The chords an incomplete sonority may stand for (a triad without its fifth, a V7 without its fifth), in the
# order a cadence is heard: root and third must sound.
_INCOMPLETE = [((0, 4, 7), "major"), ((0, 3, 7), "minor"), ((0, 4, 7, 10), "dominant seventh"),
               ((0, 3, 6), "diminished"), ((0, 3, 6, 9), "diminished seventh"), ((0, 3, 6, 10), "half-diminished seventh")]


def cadence_chord(pitch_classes) -> Chord | None:
    """`chord_name`, or the chord an incomplete sonority stands for: {7, 11} (G and B, no D) -> G major; {7, 11, 5}
    -> G dominant seventh. Chorales end on such chords (a tripled root and a third), and their V7 often drops the
    fifth."""
    chord = chord_name(pitch_classes)
    classes = {int(p) % 12 for p in pitch_classes}
    if chord is not None or len(classes) < 2:
        return chord
    for intervals, quality in _INCOMPLETE:
        for root in sorted(classes):
            shape = {(p - root) % 12 for p in classes}
            if shape <= set(intervals) and intervals[1] in shape:
                return Chord(root, quality)
    return None


DOMINANTS = {"major", "dominant seventh"}  # on the fifth degree; on the leading note (vii), the diminished ones
LEADING = {"diminished", "half-diminished seventh", "diminished seventh"}


def _resolves(before: Chord | None, final: Chord) -> bool:
    return before is not None and ((before.root == (final.root + 7) % 12 and before.quality in DOMINANTS)
                                   or (before.root == (final.root + 11) % 12 and before.quality in LEADING))


def ends_on_cadence(score, key: str | None = None) -> dict:
    """How the piece ends: `authentic`, the last chord a major or minor triad reached from its dominant (V, V7 or
    vii: the last different chord before it, past suspensions and passing notes); `on_tonic`, that last chord's
    root is the tonic of `key` (default: the piece's own, `estimate_key`; a minor key may end on its major triad,
    the Picardy third); `home`, that last chord's root is the first chord's (the piece ends where it began);
    `root_position`, the last chord's lowest note is its root; `bass_from_dominant`, the bass reaches that root from
    a fifth above it (a fifth down or a fourth up: the cadence a listener hears as an ending); `opens_in_root_position`,
    the first chord's lowest note is its root. Chorales modulate, so an authentic ending need not be in the key of
    the whole."""
    sounding = sonorities(score)
    chords = [cadence_chord(pitches) for _, pitches in sounding]
    final = chords[-1] if chords else None
    if final is None or final.quality not in ("major", "minor"):
        return dict.fromkeys(("authentic", "on_tonic", "home", "root_position", "bass_from_dominant",
                              "opens_in_root_position"), False)
    before = next((c for c in reversed(chords[:-1]) if c is not None and c != final), None)  # past a suspension
    start = next(i for i, c in enumerate(chords) if c is not None)
    first = chords[start]
    tonic, _ = parse_key(key or estimate_key(score))
    bass = [n.pitch for n in voices(score)["Bass"]]
    approach = next((p for p in reversed(bass[:-1]) if p != bass[-1]), None) if bass else None
    return {"authentic": _resolves(before, final), "on_tonic": final.root == tonic, "home": final.root == first.root,
            "root_position": sounding[-1][1][0] % 12 == final.root,
            "bass_from_dominant": bass[-1] % 12 == final.root and approach is not None
            and (approach - final.root) % 12 == 7,
            "opens_in_root_position": sounding[start][1][0] % 12 == first.root}


def harmony_report(score, key: str | None = None) -> dict:
    """The measures of the module docstring for one piece (counts, so that pieces can be pooled)."""
    chords = sonorities(score)
    lines = voices(score)
    onsets = [tick for tick, _ in chords]
    steps = parallels = crossings = 0
    previous = None
    for tick in onsets:
        now = [_pitch_at(lines[name], tick) for name in VOICES]
        crossings += any(high is not None and low is not None and low > high for high, low in zip(now, now[1:]))
        if previous is not None and now != previous:
            steps += 1
            for i in range(4):
                for j in range(i + 1, 4):
                    a, b, c, d = previous[i], previous[j], now[i], now[j]
                    if None in (a, b, c, d) or a == c or b == d:
                        continue  # a voice rests or holds: no parallel motion
                    if (c - a > 0) == (d - b > 0) and (a - b) % 12 in (0, 7) and (c - d) % 12 == (a - b) % 12:
                        parallels += 1
        previous = now
    out_of_range = sum(not RANGES[name][0] <= n.pitch <= RANGES[name][1] for name in VOICES for n in lines[name])
    bass = [b.pitch - a.pitch for a, b in zip(lines["Bass"], lines["Bass"][1:])]
    beat = score.ticks_per_quarter
    passing = restruck = 0
    for line in lines.values():
        for a, b, c in zip(line, line[1:], line[2:]):
            passing += bool(b.time % beat) and 0 < abs(b.pitch - a.pitch) <= 2 and 0 < abs(c.pitch - b.pitch) <= 2 \
                and (b.pitch - a.pitch) * (c.pitch - b.pitch) > 0
        restruck += sum(bool(b.time % beat) and b.pitch == a.pitch and a.time + a.duration == b.time
                        for a, b in zip(line, line[1:]))
    return {
        "onsets": len(chords),
        "triads_or_sevenths": sum(chord_name(pitches) is not None for _, pitches in chords),
        **{f"cadence_{name}": value for name, value in ends_on_cadence(score, key).items()},
        "voice_leading_steps": steps,
        "parallel_fifths_octaves": parallels,
        "crossing_onsets": crossings,
        "notes": sum(len(lines[name]) for name in VOICES),
        "out_of_range_notes": out_of_range,
        **{f"{name.lower()}_notes": len(lines[name]) for name in VOICES},
        **{f"{name.lower()}_pitch_sum": sum(n.pitch for n in lines[name]) for name in VOICES},
        "bass_steps": len(bass),
        "bass_leaps": sum(abs(step) > 5 for step in bass),
        "passing_notes": passing,
        "restruck_off_beat": restruck,
        "named_voices": all(name in {t.name for t in score.tracks} for name in VOICES),
    }


def pool(reports: list[dict]) -> dict:
    """Rates over several pieces' `harmony_report`s."""
    flags = ("cadence_authentic", "cadence_on_tonic", "cadence_home", "cadence_root_position",
             "cadence_bass_from_dominant", "cadence_opens_in_root_position", "named_voices")
    share = lambda flag: round(sum(r[flag] for r in reports) / max(1, len(reports)), 3)  # noqa: E731
    total = {key: sum(r[key] for r in reports) for key in reports[0] if key not in flags}
    return {
        "pieces": len(reports),
        "triad_or_seventh_share": round(total["triads_or_sevenths"] / max(1, total["onsets"]), 3),
        "authentic_cadence_share": share("cadence_authentic"),
        "ends_on_tonic_share": share("cadence_on_tonic"),
        "ends_on_opening_root_share": share("cadence_home"),
        "final_root_position_share": share("cadence_root_position"),
        "bass_dominant_to_tonic_share": share("cadence_bass_from_dominant"),
        "opening_root_position_share": share("cadence_opens_in_root_position"),
        "parallels_per_100_steps": round(100 * total["parallel_fifths_octaves"] / max(1, total["voice_leading_steps"]),
                                         2),
        "crossing_share": round(total["crossing_onsets"] / max(1, total["onsets"]), 3),
        "out_of_range_share": round(total["out_of_range_notes"] / max(1, total["notes"]), 3),
        "mean_pitch": {name: round(total[f"{name.lower()}_pitch_sum"] / max(1, total[f"{name.lower()}_notes"]), 1)
                       for name in VOICES},
        "bass_leap_share": round(total["bass_leaps"] / max(1, total["bass_steps"]), 3),
        "passing_notes_per_100_notes": round(100 * total["passing_notes"] / max(1, total["notes"]), 2),
        "restruck_off_beat_per_100_notes": round(100 * total["restruck_off_beat"] / max(1, total["notes"]), 2),
        "named_voices_share": share("named_voices"),
    }


__all__ = ["COMMON_CHORDS", "Chord", "RANGES", "SEVENTHS", "TRIADS", "VOICES", "cadence_chord", "chord_name", "ends_on_cadence",
           "harmony_report", "pool", "sonorities", "voices"]
