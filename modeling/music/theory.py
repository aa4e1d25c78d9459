"""Music theory for the NeuroArt composer: note names, keys and scales, Krumhansl-Schmuckler key finding, notes
per bar. Plain Python, used by the logits processors, the harmoniser and the measures.

A helper module shipped beside the weights (`HELPER_MODULES`). Hub remote code: it imports only the standard library.
"""

from __future__ import annotations

import math
import random
import re

NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]


FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#"}


MAJOR = [0, 2, 4, 5, 7, 9, 11]


MINOR = [0, 2, 3, 5, 7, 8, 10]  # natural minor; the raised 7th is added below (harmonic minor)


def parse_key(key: str) -> tuple[int, bool]:
    """'C', 'F#', 'Bb', 'Am', 'C# minor', 'Eb major' -> (tonic pitch class, is_minor)."""
    match = re.fullmatch(r"\s*([A-Ga-g])([#b]?)\s*(m|min|minor|maj|major)?\s*", key or "")
    if not match:
        raise ValueError(f"key={key!r} is not a key; use e.g. 'C', 'F#', 'Bb', 'Am' or 'C# minor'.")
    name = match.group(1).upper() + match.group(2)
    name = FLATS.get(name, name)
    if name not in NOTE_NAMES:  # Cb, Fb, E#, B#
        name = NOTE_NAMES[(NOTE_NAMES.index(name[0]) + (1 if name.endswith("#") else -1)) % 12]
    return NOTE_NAMES.index(name), (match.group(3) or "").startswith("m") and match.group(3) not in ("maj", "major")


def scale_pitch_classes(key: str) -> set[int]:
    tonic, minor = parse_key(key)
    steps = MINOR + [11] if minor else MAJOR
    return {(tonic + s) % 12 for s in steps}


def in_scale_rate(score, key: str) -> float:
    """Share of notes whose pitch class is in `key`'s scale."""
    classes = scale_pitch_classes(key)
    pitches = [n.pitch for t in score.tracks if not t.is_drum for n in t.notes]
    return sum(p % 12 in classes for p in pitches) / max(1, len(pitches))


def estimate_key(score) -> str:
    """Krumhansl–Schmuckler key finding (Krumhansl, 1990): the major or minor key whose profile correlates best with
    the duration-weighted pitch-class histogram. Returns e.g. 'G' or 'Em'."""
    histogram = [0.0] * 12
    for track in score.tracks:
        for note in track.notes:
            histogram[note.pitch % 12] += note.duration
    return _key_of_histogram(histogram)


# The keys `key=` takes and `estimate_key` names, tonic by pitch class (apps list them: the Spaces' key menus).
KEY_TONICS = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


KEYS = KEY_TONICS + [tonic + "m" for tonic in KEY_TONICS]


def _key_of_histogram(histogram) -> str:
    major = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]
    minor = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]
    names = KEY_TONICS

    def correlation(a, b):
        ma, mb = sum(a) / 12, sum(b) / 12
        num = sum((x - ma) * (y - mb) for x, y in zip(a, b))
        den = math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b)) or 1.0
        return num / den

    best = max(((correlation(histogram, profile[-tonic:] + profile[:-tonic]), names[tonic] + suffix)
                for tonic in range(12) for profile, suffix in ((major, ""), (minor, "m"))))
    return best[1]


def key_prior(scores) -> dict[str, float]:
    """How often each key (`estimate_key`) is the key of `scores`: {"G": 0.15, "Am": 0.14, ...}. Kept in a model's
    `generation_config.key_prior`; `generate_music(key="auto")` draws a new piece's key from it (`draw_key`)."""
    counts: dict[str, int] = {}
    for score in scores:
        if any(track.notes for track in score.tracks):
            name = estimate_key(score)
            counts[name] = counts.get(name, 0) + 1
    total = sum(counts.values())
    return {name: round(n / total, 4) for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


def draw_key(prior: dict, seed: int) -> str:
    """A key drawn from `prior` ({key: probability}) by a stream of its own made from `seed`: the same seed, the same
    key, whatever else is drawn meanwhile."""
    names = sorted(name for name, p in prior.items() if float(p) > 0)
    if not names:
        raise ValueError(f"key_prior={prior!r} gives no key a probability; use e.g. {{'G': 0.6, 'Am': 0.4}}.")
    for name in names:
        parse_key(name)  # a misspelt key fails here, by name
    return random.Random(seed).choices(names, weights=[float(prior[n]) for n in names])[0]


def notes_per_bar(score) -> float:
    notes = sum(len(t.notes) for t in score.tracks)
    end = max((n.time + n.duration for t in score.tracks for n in t.notes), default=0)
    bars = max(1, math.ceil(end / (score.ticks_per_quarter * 4)))
    return notes / bars
