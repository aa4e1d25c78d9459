"""Composing with the NeuroArt music model: primer continuation, steering, harmonisation, and the decoding loop.

The composer's other helpers live beside this file and are re-exported here: `tokenization.py` (the REMI tokenizer,
MIDI sources to scores and token ids, MIDI bytes with provenance) and `audio.py` (`render_audio`, `piano_roll_image`).

- `generate_music(model, tokenizer, primer=..., keep_primer=False, num_bars=8, key="Am", density="high", ...)`
  continues a primer (MIDI path, bytes or `symusic.Score`) and returns a `symusic.Score`. `key` masks pitches
  outside the key's scale (a logits processor); `density` biases notes per onset and bar length; `meter` sets the
  metre of a new piece; `voices` caps the notes sounding at once; generation stops after `num_bars` bars. A grammar
  mask keeps sampling inside REMI's grammar (Huang & Yang, 2020, arXiv:2002.00212); tokens that still break it (e.g.
  with a BPE vocabulary) are dropped before decoding and counted (`token_errors`, `token_error_rate`). A note cut off
  by the length limit (`max_new_tokens`, `max_time`) is dropped too and counted apart (`unfinished`): it is no error.
- `harmonize=True` keeps a melody note for note as the top voice and writes the voices under it (Magenta's
  PolyphonyRNN harmonisation, Hadjeres et al.'s DeepBach task).

Optional dependencies: miditok and symusic (the `train` extra); numpy and Pillow.
"""

from __future__ import annotations

import contextlib
import math
import random
import re
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
    SuppressTokensLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from .audio import piano_roll_image, render_audio  # noqa: F401  (re-exported: one import for apps)
from .tokenization import (  # noqa: F401  (re-exported)
    MAX_BEATS,
    _empty_midi,
    _need_miditok,
    build_tokenizer,
    encode,
    load_tokenizer,
    midi_provenance,
    score_to_midi_bytes,
    split_long_notes,
    to_score,
)

# One lock for torch's global random stream, shared by every model in the process: music and poetry (and every
# copy of this remote code, loaded under other module names) seed that stream per call, so two of them at once
# must take turns, or a poem and a piece made together would draw from each other's stream. It hangs on
# torch.random, the one module that every copy sees.
_RNG_LOCK = torch.random.__dict__.setdefault("_neuroart_global_stream_lock", threading.RLock())


# Copied from neuroart.poetry.generation.seeded_rng
@contextlib.contextmanager
def seeded_rng(seed: int, device=None):
    """Run a block on a private random stream seeded with `seed`: the global generator state is saved, seeded,
    and restored afterwards, under a lock, so concurrent calls never draw from each other's stream."""
    devices = [device] if device is not None and torch.device(device).type == "cuda" else []
    with _RNG_LOCK, torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
FLATS = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#"}
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]  # natural minor; the raised 7th is added below (harmonic minor)
# Biases measured against the same model's free pieces at the same seeds (the measure `release_quality` reports):
# low had to grow once chord steering came in, which thins fewer notes away (docs/releases/music.md).
DENSITIES = {"low": -1.5, "medium": 0.0, "high": 2.0}


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


class _TokenTypes:
    """What each token id means: its kind, and the values the logits processors need, parsed once. Times are in
    1/`per_beat` beat units (the tokenizer's finest position grid)."""

    def __init__(self, tokenizer):
        vocab = tokenizer.vocab
        self.size = len(tokenizer)
        self.kind = ["special"] * self.size
        self.pitch = [None] * self.size
        self.per_beat = max(tokenizer.config.beat_res.values())
        self.position: dict[int, int] = {}  # Position id -> position in its bar
        self.length: dict[int, int] = {}  # Duration / Rest id -> length
        self.bar_length: dict[int, int] = {}  # TimeSig id -> bar length (numerator x per_beat, as REMI counts)
        for token, index in vocab.items():
            kind, _, value = token.partition("_")
            self.kind[index] = kind
            if kind == "Pitch":
                self.pitch[index] = int(value)
            elif kind == "Position":
                self.position[index] = int(value)
            elif kind in ("Duration", "Rest"):
                self.length[index] = _beats_value(token, self.per_beat)
            elif kind == "TimeSig":
                self.bar_length[index] = self.per_beat * int(value.split("/")[0])
        self.graph = getattr(tokenizer, "tokens_types_graph", None) or {}
        self.bar = vocab.get("Bar_None")
        self.eos = vocab.get("EOS_None")
        self.bos = vocab.get("BOS_None")


class _ReadingProcessor(LogitsProcessor):
    """A logits processor that follows each row's tokens as they come: `_states(input_ids)` reads the tokens a row
    has gained since the last step into its state (`_new_state`, `_advance`) and yields (row, state)."""

    start = 0  # where reading begins (a processor may skip the prompt)

    def _new_state(self) -> dict:
        raise NotImplementedError

    def _advance(self, state: dict, token: int) -> None:
        raise NotImplementedError

    def _states(self, input_ids):
        rows = self.__dict__.setdefault("rows", [])  # one state per row, made on first use
        while len(rows) < input_ids.shape[0]:
            rows.append({"seen": self.start, **self._new_state()})
        for row, state in enumerate(rows[: input_ids.shape[0]]):
            for token in input_ids[row, state["seen"]:].tolist():
                self._advance(state, token)
            state["seen"] = input_ids.shape[1]
            yield row, state


class KeyLogitsProcessor(LogitsProcessor):
    """Forbids Pitch tokens outside the key's scale."""

    def __init__(self, tokenizer, key: str, types: _TokenTypes | None = None):
        types = types or _TokenTypes(tokenizer)
        classes = scale_pitch_classes(key)
        self.banned = torch.tensor([p is not None and p % 12 not in classes for p in types.pitch])

    def __call__(self, input_ids, scores):
        width = min(len(self.banned), scores.shape[1])
        scores[:, :width] = scores[:, :width].masked_fill(self.banned[:width].to(scores.device), float("-inf"))
        return scores


class DensityLogitsProcessor(LogitsProcessor):
    """Steers notes per bar with one `bias` (positive: denser; negative: sparser).

    Both ways: +bias on the note-start tokens (Program and Pitch: more or fewer notes per onset), and -bias x
    log2(beats) on each Duration (high density favours eighths over halves: under a voices cap more notes per bar
    must come from shorter notes). Durations below an eighth count as an eighth: a chorale's quickest motion.

    Time, the other half of notes per bar:
    - sparser (bias < 0): -bias on Bar, so bars end sooner;
    - denser (bias > 0): onsets come sooner. Each Position token gets -bias x its place in the bar in beats,
      rounded up to the eighth-note grid; the grammar allows only positions after the current one, so among them
      the nearest eighth gains most (the next eighth rather than the third beat), and the model's own taste picks
      within it. The Bar and EOS tokens count as the position at the bar's end (4 beats), and a Rest as that plus
      its length, so that time moves on by the next onset rather than by a rest over the bar line or the end of
      the piece.
    """

    def __init__(self, tokenizer, bias: float, types: _TokenTypes | None = None):
        types = types or _TokenTypes(tokenizer)
        eighth = types.per_beat / 2
        # A note starts at its Program token where the tokenizer has programs (Program -> Pitch), else at its Pitch.
        self.bias = torch.tensor([bias if k in ("Pitch", "Program") else 0.0 for k in types.kind])
        for i, length in types.length.items():
            if types.kind[i] == "Duration":
                self.bias[i] = -bias * math.log2(max(length, eighth) / types.per_beat)
            elif bias > 0:  # Rest
                self.bias[i] = -bias * (4 + max(length, eighth) / types.per_beat)
        if bias > 0:
            for i, position in types.position.items():
                self.bias[i] = -bias * math.ceil(position / eighth) * eighth / types.per_beat
        if types.bar is not None:
            self.bias[types.bar] = -bias * (4 if bias > 0 else 1)
        if bias > 0 and types.eos is not None:  # ending the piece is no shortcut either
            self.bias[types.eos] = -bias * 4

    def __call__(self, input_ids, scores):
        width = min(len(self.bias), scores.shape[1])
        scores[:, :width] = scores[:, :width] + self.bias[:width].to(scores.device, scores.dtype)
        return scores


def _beats_value(token: str, per_beat: int) -> int:
    """'Duration_1.2.8' / 'Rest_0.4.8' (beats.units.resolution) -> length in 1/`per_beat` beat units."""
    beats, units, resolution = (int(x) for x in token.split("_")[1].split("."))
    return beats * per_beat + units * per_beat // resolution


class VoicesLogitsProcessor(_ReadingProcessor):
    """At most `max_voices` notes sound at once (a four-part chorale: 4), by construction.

    A state machine follows each row's time (Bar, TimeSig, Position, Rest) and the notes still sounding (each
    note's onset plus its Duration). While `max_voices` notes sound, no new note may start there (Program and Pitch
    are banned), and a Position at which every voice is still held is banned, so time moves on to where a voice is
    free. Nor does the music fall silent for long (a chorale never does): time may move on at most `max_silence`
    (1 beat) past the end of the last note; later Positions, a Bar or a Rest that would pass it are banned, and a
    Rest only comes in silence (miditok times a Rest from the end of the last note). The primer's notes count too.
    A row the mask would leave empty is left as it is."""

    def __init__(self, tokenizer, max_voices: int, types: _TokenTypes | None = None):
        self.types = types = types or _TokenTypes(tokenizer)
        self.max_voices = int(max_voices)
        self.position_ids = torch.tensor(sorted(types.position), dtype=torch.long)
        self.position_values = torch.tensor([types.position[i] for i in sorted(types.position)])
        self.note_start = torch.tensor([k in ("Pitch", "Program") for k in types.kind])
        self.max_silence = types.per_beat  # 1 beat
        self.rest_ids = torch.tensor([i for i in sorted(types.length) if types.kind[i] == "Rest"], dtype=torch.long)
        self.rest_lengths = torch.tensor([types.length[i] for i in self.rest_ids.tolist()])

    def _new_state(self) -> dict:
        return {"bar": -1, "bar_start": 0, "bar_length": 4 * self.types.per_beat, "now": 0, "ends": [],
                "last_end": 0}

    def _advance(self, state: dict, token: int) -> None:
        kind = self.types.kind[token] if token < self.types.size else "special"
        if kind == "Bar":
            if state["bar"] >= 0:
                state["bar_start"] += state["bar_length"]
            state["bar"] += 1
            state["now"] = state["bar_start"]
        elif kind == "TimeSig":
            state["bar_length"] = self.types.bar_length[token]
        elif kind == "Position":
            state["now"] = state["bar_start"] + self.types.position[token]
        elif kind == "Rest":  # as miditok decodes it: from the end of the last note, across bar lines
            state["now"] = max(state["now"], state["last_end"]) + self.types.length[token]
            while state["now"] >= state["bar_start"] + state["bar_length"]:
                state["bar_start"] += state["bar_length"]
        elif kind == "Duration":
            state["ends"].append(state["now"] + self.types.length[token])
            state["last_end"] = max(state["last_end"], state["ends"][-1])

    def __call__(self, input_ids, scores):
        width = min(self.types.size, scores.shape[1])
        for row, state in self._states(input_ids):
            state["ends"] = [e for e in state["ends"] if e > state["now"]]  # notes still sounding from now on
            banned = torch.zeros(width, dtype=torch.bool)
            if state["bar"] >= 0:  # no long silence: a note starts within max_silence of the last note's end
                limit = state["last_end"] + self.max_silence
                late = self.position_ids[state["bar_start"] + self.position_values > limit]
                banned[late[late < width]] = True
                long_rests = self.rest_ids[state["now"] + self.rest_lengths > limit]
                banned[long_rests[long_rests < width]] = True
                bar = self.types.bar
                if bar is not None and bar < width and state["bar_start"] + state["bar_length"] > limit:
                    banned[bar] = True
            if state["ends"]:
                # miditok decodes a Rest from the end of the last note (time = max(previous note end, now) + rest):
                # a Rest while notes still sound would open a silence the model never meant. Rests only in silence.
                banned[self.rest_ids[self.rest_ids < width]] = True
                if len(state["ends"]) >= self.max_voices:
                    banned |= self.note_start[:width]
                ends = torch.tensor(state["ends"])
                at = state["bar_start"] + self.position_values  # each Position's time in this bar
                full = (ends[None, :] > at[:, None]).sum(1) >= self.max_voices
                ids = self.position_ids[full]
                banned[ids[ids < width]] = True
            if not banned.any():
                continue
            masked = scores[row, :width].masked_fill(banned.to(scores.device), float("-inf"))
            if torch.isfinite(masked).any():
                scores[row, :width] = masked
        return scores


class MeterLogitsProcessor(_ReadingProcessor):
    """Chooses the piece's metre: the first TimeSig, right after the first Bar, is drawn from `prior`
    ({"4/4": 0.88, "3/4": 0.11, ...}, e.g. `meter_prior` of the training pieces) in place of the model's own choice,
    or is the one metre `prior` names ("3/4"). The grammar then repeats it in every bar. Once a TimeSig has been read
    (a primer's, or the first one written) the processor does nothing.

    Why: the model's own choice after BOS-Bar is a single token that training sees once per block, not once per
    piece; the Bach-chorale release picks 3/4 a quarter of the time, while 11% of its training chorales are in 3/4."""

    def __init__(self, tokenizer, prior, types: _TokenTypes | None = None):
        self.types = types = types or _TokenTypes(tokenizer)
        prior = {prior: 1.0} if isinstance(prior, str) else dict(prior)
        pairs = [(tokenizer.vocab[f"TimeSig_{name}"], float(p)) for name, p in prior.items()
                 if f"TimeSig_{name}" in tokenizer.vocab and float(p) > 0]
        if not pairs:
            raise ValueError(f"meter={prior!r}: none of these metres is in the tokenizer; use one of "
                             f"{meters(tokenizer)}.")
        total = sum(p for _, p in pairs)
        self.ids = torch.tensor([i for i, _ in pairs], dtype=torch.long)
        self.log_prior = torch.tensor([math.log(p / total) for _, p in pairs])

    def _new_state(self) -> dict:
        return {"metre": False}

    def _advance(self, state: dict, token: int) -> None:
        if token < self.types.size and self.types.kind[token] == "TimeSig":
            state["metre"] = True

    def __call__(self, input_ids, scores):
        for row, state in self._states(input_ids):
            if state["metre"] or input_ids[row, -1].item() != self.types.bar:
                continue
            scores[row] = float("-inf")
            scores[row, self.ids.to(scores.device)] = self.log_prior.to(scores.device, scores.dtype)
        return scores


def meters(tokenizer) -> list[str]:
    """The metres the tokenizer can write ("4/4", "3/4", ...)."""
    return [token.split("_", 1)[1] for token in tokenizer.vocab if token.startswith("TimeSig_")]


def meter_prior(tokenizer, pieces) -> dict[str, float]:
    """How often each metre opens the `pieces` (MIDI paths, bytes or Scores): {"4/4": 0.88, "3/4": 0.11, ...}, over
    the metres the tokenizer knows. `generate_music(meter="auto")` draws the first TimeSig from it."""
    known, counts = set(meters(tokenizer)), {}
    for piece in pieces:
        signatures = to_score(piece).time_signatures
        name = f"{signatures[0].numerator}/{signatures[0].denominator}" if len(signatures) else "4/4"
        if name in known:
            counts[name] = counts.get(name, 0) + 1
    total = sum(counts.values())
    return {name: round(n / total, 4) for name, n in sorted(counts.items(), key=lambda kv: -kv[1])} if total else {}


class TonalityLogitsProcessor(_ReadingProcessor):
    """Keeps a piece in its key, softly: once `min_notes` notes have been read (primer or written), the key of the
    duration-weighted pitch classes so far (`estimate_key`, Krumhansl–Schmuckler) is re-estimated at each note, and
    Pitch tokens outside its scale lose `strength` nats. Unlike `key=` (a hard mask) the music may still modulate
    or use a chromatic note when the model is sure of it."""

    def __init__(self, tokenizer, strength: float, types: _TokenTypes | None = None, min_notes: int = 8):
        self.types = types = types or _TokenTypes(tokenizer)
        self.strength, self.min_notes = float(strength), min_notes
        self.pitch_class = torch.tensor([-1 if p is None else p % 12 for p in types.pitch])
        self._penalty: dict[str, torch.Tensor] = {}

    def _penalty_of(self, key: str, width: int) -> torch.Tensor:
        if key not in self._penalty:
            classes = torch.tensor(sorted(scale_pitch_classes(key)))
            outside = (self.pitch_class >= 0) & ~torch.isin(self.pitch_class, classes)
            self._penalty[key] = outside.float() * -self.strength
        return self._penalty[key][:width]

    def _new_state(self) -> dict:
        return {"histogram": [0.0] * 12, "notes": 0, "pitch": None, "key": None}

    def _advance(self, state: dict, token: int) -> None:
        kind = self.types.kind[token] if token < self.types.size else "special"
        if kind == "Pitch":
            state["pitch"] = self.types.pitch[token]
        elif kind == "Duration" and state["pitch"] is not None:
            state["histogram"][state["pitch"] % 12] += self.types.length[token]
            state["notes"], state["pitch"], state["key"] = state["notes"] + 1, None, None  # re-estimate

    def __call__(self, input_ids, scores):
        width = min(self.types.size, scores.shape[1])
        for row, state in self._states(input_ids):
            if state["notes"] < self.min_notes:
                continue
            if state["key"] is None:
                state["key"] = _key_of_histogram(state["histogram"])
            scores[row, :width] = scores[row, :width] + self._penalty_of(state["key"], width).to(scores.device,
                                                                                                scores.dtype)
        return scores


class ChordLogitsProcessor(_ReadingProcessor):
    """Chords, not clusters: a Pitch whose pitch class would make the notes sounding at the current onset (those
    held from earlier onsets and those already written at this one) no part of any common triad or seventh chord
    (`harmony.COMMON_CHORDS`, on any root) loses `strength` nats; from the fourth note sounding on
    (a chorale's four voices), the chord must be complete: a triad or a seventh, not C-E-B-flat without its fifth
    or an open fifth. A major second over a held bass note still fits a seventh chord while the onset is filling;
    C-D-G (an added second) or C-F-G (a suspension) does not. Soft, as in Bach:
    a passing note or a suspension may still come where the model is sure of it.

    Why: a chorale's chord onsets are mostly triads and sevenths (76% in Bach's held-out chorales; the release
    without this wrote about 30%, the rest added-second and quartal clusters; `benchmarks/harmony.py`)."""

    VOICES = 4  # from the fourth note sounding at an onset on, the chord must be complete

    def __init__(self, tokenizer, strength: float, types: _TokenTypes | None = None, melody=None):
        from .harmony import COMMON_CHORDS

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
        if kind == "Bar":
            if state["bar"] >= 0:
                state["bar_start"] += state["bar_length"]
            state["bar"] += 1
            state["now"] = state["bar_start"]
        elif kind == "TimeSig":
            state["bar_length"] = self.types.bar_length[token]
        elif kind == "Position":
            state["now"] = state["bar_start"] + self.types.position[token]
        elif kind == "Rest":  # as miditok decodes it: from the end of the last note, across bar lines
            state["now"] = max(state["now"], state["last_end"]) + self.types.length[token]
            while state["now"] >= state["bar_start"] + state["bar_length"]:
                state["bar_start"] += state["bar_length"]
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


class VoiceLeadingLogitsProcessor(_ReadingProcessor):
    """No parallel fifths or octaves: a Pitch that would move in parallel fifths, octaves or unisons with a note
    already written at the same onset loses `strength` nats. The stream has no voices, so each note's voice is read
    as a listener follows it: its predecessor is the nearest pitch of the previous onset's sonority; two notes move
    in parallel when both predecessors differ, both notes move the same way, and the interval (mod 12) is a unison
    or fifth before and after. A held note does not move.

    Why: the release wrote about 11 parallels per 100 voice-leading steps; Bach's held-out chorales 0.6
    (`benchmarks/harmony.py`)."""

    def __init__(self, tokenizer, strength: float, types: _TokenTypes | None = None, melody=None):
        self.types = types = types or _TokenTypes(tokenizer)
        self.strength = float(strength)
        self.melody = dict(melody or {})  # harmonising: {(bar, position): pitch}, as `ChordLogitsProcessor`'s
        self.pitch_ids = torch.tensor([i for i, p in enumerate(types.pitch) if p is not None], dtype=torch.long)
        self.pitches = torch.tensor([types.pitch[i] for i in self.pitch_ids.tolist()])

    def _new_state(self) -> dict:
        return {"bar_start": 0, "bar": -1, "bar_length": 4 * self.types.per_beat, "now": 0, "last_end": 0,
                "notes": [], "previous": [], "pitch": None}

    def _move(self, state: dict, now: int) -> None:
        if now != state["now"]:
            old = state["now"]
            if any(start == old for _, start, _ in state["notes"]):  # that was an onset: its sonority
                state["previous"] = sorted(p for end, start, p in state["notes"] if start <= old < end)
            state["notes"] = [note for note in state["notes"] if note[0] > now]
            state["now"] = now

    def _advance(self, state: dict, token: int) -> None:
        kind = self.types.kind[token] if token < self.types.size else "special"
        if kind == "Bar":
            if state["bar"] >= 0:
                state["bar_start"] += state["bar_length"]
            state["bar"] += 1
            self._move(state, state["bar_start"])
        elif kind == "TimeSig":
            state["bar_length"] = self.types.bar_length[token]
        elif kind == "Position":
            self._move(state, state["bar_start"] + self.types.position[token])
        elif kind == "Rest":
            now = max(state["now"], state["last_end"]) + self.types.length[token]
            while now >= state["bar_start"] + state["bar_length"]:
                state["bar_start"] += state["bar_length"]
            self._move(state, now)
        elif kind == "Pitch":
            state["pitch"] = self.types.pitch[token]
        elif kind == "Duration" and state["pitch"] is not None:
            end = state["now"] + self.types.length[token]
            state["notes"].append((end, state["now"], state["pitch"]))
            state["pitch"], state["last_end"] = None, max(state["last_end"], end)

    def __call__(self, input_ids, scores):
        width = min(self.types.size, scores.shape[1])
        inside = self.pitch_ids < width
        candidates = self.pitches[inside]
        for row, state in self._states(input_ids):
            moved = [p for _, start, p in state["notes"] if start == state["now"]]
            due = self.melody.get((state["bar"], state["now"] - state["bar_start"]))
            if due is not None and due not in moved:
                moved.append(due)  # the melody note to come at this onset
            if not moved or not state["previous"]:
                continue
            previous = torch.tensor(state["previous"])
            before = previous[(candidates[:, None] - previous[None, :]).abs().argmin(1)]  # each candidate's
            parallel = torch.zeros(len(candidates), dtype=torch.bool)
            for q in moved:
                q_before = state["previous"][min(range(len(state["previous"])),
                                                 key=lambda i: abs(state["previous"][i] - q))]
                if q_before == q:
                    continue  # that voice did not move
                interval = (candidates - q) % 12
                parallel |= ((before != q_before) & (before != candidates)
                             & ((candidates > before) == (q > q_before))
                             & ((interval == 0) | (interval == 7)) & ((before - q_before) % 12 == interval))
            if parallel.any():
                penalty = parallel.to(scores.dtype) * -self.strength
                scores[row, self.pitch_ids[inside].to(scores.device)] += penalty.to(scores.device)
        return scores


class CadenceLogitsProcessor(_ReadingProcessor):
    """An ending that cadences: the last chords go dominant -> tonic (an authentic cadence, V(7) - I). In the
    dominant zone, Pitch tokens outside the key's dominant seventh chord (degrees 5, 7, 2, 4) lose `strength`
    nats; in the tonic zone, those outside its tonic triad. Zones, as (bar, position) from the new music's first
    bar: a free piece of `num_bars` bars has its dominant from the middle of its second-to-last bar and its tonic
    in its last bar; a harmonisation passes `zones` from its melody (the dominant from the second-to-last melody
    onset, the tonic from the last). The key is `key`, or the key of the notes written before the dominant zone
    (Krumhansl-Schmuckler, `estimate_key`'s profiles), fixed from then on.

    Why: the release's pieces stopped wherever their last bar fell (an ending on the tonic in 1 of 12 pieces, an
    authentic cadence in none; Bach's held-out chorales: 0.89 authentic, `benchmarks/harmony.py`)."""

    def __init__(self, tokenizer, strength: float, types: _TokenTypes | None = None, num_bars: int | None = None,
                 key: str | None = None, zones: tuple | None = None, start: int = 0, either_third: bool = False):
        self.types = types = types or _TokenTypes(tokenizer)
        self.strength, self.num_bars, self.key, self.zones, self.start = float(strength), num_bars, key, zones, start
        self.either_third = either_third  # the final triad may be major or minor (the model chooses)
        self.pitch_ids = torch.tensor([i for i, p in enumerate(types.pitch) if p is not None], dtype=torch.long)
        self.pitch_classes = torch.tensor([types.pitch[i] % 12 for i in self.pitch_ids.tolist()])
        self.duration_ids = torch.tensor([i for i in sorted(types.length) if types.kind[i] == "Duration"],
                                         dtype=torch.long)
        self.duration_lengths = torch.tensor([types.length[i] for i in self.duration_ids.tolist()])

    def _new_state(self) -> dict:
        return {"bar": -1, "bar_length": 4 * self.types.per_beat, "position": 0, "histogram": [0.0] * 12,
                "pitch": None, "key": self.key, "previous": None}

    def _advance(self, state: dict, token: int) -> None:
        kind = self.types.kind[token] if token < self.types.size else "special"
        state["previous"] = kind
        if kind == "Bar":
            state["bar"], state["position"] = state["bar"] + 1, 0
        elif kind == "TimeSig":
            state["bar_length"] = self.types.bar_length[token]
        elif kind == "Position":
            state["position"] = self.types.position[token]
        elif kind == "Pitch":
            state["pitch"] = self.types.pitch[token]
        elif kind == "Duration" and state["pitch"] is not None:
            state["histogram"][state["pitch"] % 12] += self.types.length[token]
            state["pitch"] = None

    def _zones(self, state: dict):
        if self.zones is not None:
            return self.zones
        if self.num_bars and self.num_bars >= 2:
            return (self.num_bars - 2, state["bar_length"] // 2), (self.num_bars - 1, 0)
        return None

    def _zone(self, state: dict) -> str | None:
        here, zones = (state["bar"], state["position"]), self._zones(state)
        if zones is None:
            return None
        dominant, tonic = zones
        return "tonic" if here >= tonic else "dominant" if here >= dominant else None

    def _until_next_zone(self, state: dict) -> int | None:
        """Time (position units) from now to the next zone's start, counting bars of the current length."""
        zones = self._zones(state)
        if zones is None:
            return None
        for bar, position in zones:
            gap = (bar - state["bar"]) * state["bar_length"] + position - state["position"]
            if gap > 0:
                return gap
        return None

    def __call__(self, input_ids, scores):
        width = min(self.types.size, scores.shape[1])
        inside = self.pitch_ids < width
        for row, state in self._states(input_ids):
            if state["previous"] == "Velocity":  # a note's length: none held over into the dominant or the tonic,
                gap = self._until_next_zone(state)  # so that each zone's chord is struck afresh
                if gap is not None:
                    inside_d = self.duration_ids < width
                    over = (self.duration_lengths[inside_d] > gap).to(scores.dtype) * -self.strength
                    scores[row, self.duration_ids[inside_d].to(scores.device)] += over.to(scores.device)
            zone = self._zone(state)
            if zone is None:
                continue
            if state["key"] is None:
                if not any(state["histogram"]):
                    continue
                state["key"] = _key_of_histogram(state["histogram"])
            tonic, minor = parse_key(state["key"])
            third = (3, 4) if self.either_third else (3,) if minor else (4,)
            steps = (0, *third, 7) if zone == "tonic" else (7, 11, 2, 5)
            fits = torch.isin(self.pitch_classes[inside], torch.tensor([(tonic + s) % 12 for s in steps]))
            penalty = (~fits).to(scores.dtype) * -self.strength
            scores[row, self.pitch_ids[inside].to(scores.device)] += penalty.to(scores.device)
        return scores


class BarStoppingCriteria(StoppingCriteria):
    """Stops once every row has started `num_bars + 1` new bars (so `num_bars` are complete)."""

    def __init__(self, bar_token: int, prompt_length: int, num_bars: int):
        self.bar, self.prompt_length, self.num_bars = bar_token, prompt_length, num_bars

    def __call__(self, input_ids, scores, **kwargs):
        counts = (input_ids[:, self.prompt_length :] == self.bar).sum(1)
        return counts > self.num_bars


@torch.inference_mode()
def sample_tokens(model, input_ids: torch.LongTensor, logits_processor=None, stopping_criteria=None,
                  max_new_tokens: int = 512, do_sample: bool = True, temperature: float = 1.0, top_k: int = 0,
                  top_p: float = 1.0, eos_token_id: int | None = None, pad_token_id: int = 0,
                  max_time: float | None = None, cache=None):
    """The lean sampling loop: the same tokens as `model.generate(input_ids, do_sample=..., temperature=...,
    top_k=..., top_p=..., logits_processor=..., stopping_criteria=..., eos_token_id=..., max_time=..., cache=...)`
    for the same random stream, without generate()'s per-step bookkeeping. Each step is one `model.model.step`
    (the cell step generate() also takes), the processors, the warpers in generate()'s order (temperature, top-k,
    top-p) and one `torch.multinomial` (or argmax) over (B, vocab) float32 scores. Finished rows get `pad_token_id`.

    Returns `(sequences (B, prompt + new), state)`, the state as a `NeuroArtMusicState` of the model's class."""
    started = time.time()
    processors = list(logits_processor or [])  # called directly: LogitsProcessorList inspects signatures per step
    if do_sample:
        if temperature != 1.0:
            processors.append(TemperatureLogitsWarper(temperature))
        if top_k:
            processors.append(TopKLogitsWarper(top_k=top_k, min_tokens_to_keep=1))
        if top_p is not None and top_p < 1.0:
            processors.append(TopPLogitsWarper(top_p=top_p, min_tokens_to_keep=1))
    criteria = list(stopping_criteria or [])
    unseen = input_ids if cache is None else input_ids[:, cache.get_seq_length():]
    out = model(unseen, cache=cache, use_cache=True)  # the prompt, in one pass
    logits, state_class = out.logits[:, -1].float(), type(out.cache)
    state, seen = out.cache.as_torch(), out.cache.seen_tokens
    base, lm_head = model.model, model.lm_head
    batch, length = input_ids.shape
    buffer = input_ids.new_full((batch, length + max_new_tokens), pad_token_id)  # (B, prompt + max new)
    buffer[:, :length] = input_ids
    unfinished = torch.ones(batch, dtype=torch.bool, device=input_ids.device)
    for _ in range(max_new_tokens):
        scores = logits
        for processor in processors:
            scores = processor(buffer[:, :length], scores)
        if do_sample:
            tokens = torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1).squeeze(1)  # (B,)
        else:
            tokens = scores.argmax(dim=-1)
        tokens = torch.where(unfinished, tokens, pad_token_id)
        buffer[:, length] = tokens
        length += 1
        if eos_token_id is not None:
            unfinished &= tokens != eos_token_id
        for criterion in criteria:
            unfinished &= ~criterion(buffer[:, :length], scores)
        if not unfinished.any() or length == buffer.shape[1] or (
                max_time is not None and time.time() - started > max_time):
            break
        hidden, state = base.step(base.embed_tokens(tokens), state)  # (B, hidden)
        seen += 1
        logits = lm_head(hidden).float()  # (B, vocab)
    return buffer[:, :length].clone(), state_class.from_torch(state, seen)


# REMI grammar: which token kinds may follow which.
_NEXT = {
    "Bar": {"Position", "TimeSig", "Bar", "EOS"},
    "TimeSig": {"Position", "Bar", "EOS"},
    "Position": {"Program", "Pitch", "Tempo", "Rest"},
    "Tempo": {"Program", "Pitch", "Position", "Bar", "Rest"},
    "Program": {"Pitch"},
    "Pitch": {"Velocity"},
    "Velocity": {"Duration"},
    "Duration": {"Program", "Pitch", "Position", "Bar", "Rest", "EOS", "Tempo"},
    "Rest": {"Position", "Bar", "Rest", "Program", "Pitch", "Tempo"},
    "BOS": {"Bar"},  # a piece opens with its first bar (a primer is encoded from its first Bar too)
}


def _grammar(types: _TokenTypes) -> dict[str, set[str]]:
    """Which token kinds may follow which: `_NEXT`, narrowed by the tokenizer's own graph (miditok's
    `tokens_types_graph`, which its `tokens_errors` checks against; e.g. with programs every Pitch follows a
    Program and every Bar a TimeSig). Drum pitches, end of piece inside a note and padding stay out."""
    grammar = {}
    for kind, follow in _NEXT.items():
        theirs = types.graph.get(kind)
        grammar[kind] = follow & {k.split("_")[0] for k in theirs} if theirs is not None and kind != "BOS" else follow
    return grammar


class REMIGrammarLogitsProcessor(_ReadingProcessor):
    """Keeps sampling inside REMI's grammar, so sampled music decodes with nothing to repair:
    - only the token kinds that REMI lets follow the previous token (`_grammar`, the tokenizer's own graph);
    - time moves forward: within a bar, a Position must lie after the previous one and inside the bar's length
      (its TimeSig's beats), as miditok's own token-error check requires;
    - the metre stays: once a TimeSig has been read (the primer's, or the first one written), each new bar repeats
      it (the chorales, like most music, keep one metre; a free TimeSig after every Bar made the metre flip).
    A row the grammar would leave empty (e.g. under a key mask) is left as it is."""

    def __init__(self, types: _TokenTypes):
        kinds = sorted(set(types.kind))
        index = {kind: i for i, kind in enumerate(kinds)}
        grammar = _grammar(types)
        self.types = types
        self.kind_of = torch.tensor([index[kind] for kind in types.kind])  # token id -> kind index
        self.allowed = torch.ones(len(kinds), types.size, dtype=torch.bool)  # kind of previous -> allowed tokens
        for kind, i in index.items():
            follow = grammar.get("BOS" if kind in ("BOS", "PAD", "MASK", "special") else kind)
            if follow is not None:
                self.allowed[i] = torch.tensor([k in follow for k in types.kind])
        self.position_ids = torch.tensor(sorted(types.position), dtype=torch.long)
        self.position_values = torch.tensor([types.position[i] for i in sorted(types.position)])
        self._others: dict[int, torch.Tensor] = {}  # metre -> the other TimeSig ids

    def _new_state(self) -> dict:
        return {"position": -1, "metre": None}

    def _advance(self, state: dict, token: int) -> None:
        kind = self.types.kind[token] if token < self.types.size else "special"
        if kind == "Bar":
            state["position"] = -1
        elif kind == "TimeSig":
            state["metre"] = token
        elif kind == "Position":
            state["position"] = self.types.position[token]
        elif kind == "Rest":  # a rest moves time on by its length
            state["position"] = max(state["position"], 0) + self.types.length[token] - 1

    def __call__(self, input_ids, scores):
        width = min(self.allowed.shape[1], scores.shape[1])
        previous = input_ids[:, -1].clamp(max=len(self.kind_of) - 1).cpu()
        mask = self.allowed[self.kind_of[previous]][:, :width].clone()  # (B, width)
        for row, state in self._states(input_ids):  # the time rules
            late = self.position_values <= state["position"]
            length = self.types.bar_length.get(state["metre"])
            if length:
                late |= self.position_values >= length
            ids = self.position_ids[late]
            mask[row, ids[ids < width]] = False
            if state["metre"] is not None:
                if state["metre"] not in self._others:
                    self._others[state["metre"]] = torch.tensor(
                        [t for t in self.types.bar_length if t != state["metre"] and t < width], dtype=torch.long)
                mask[row, self._others[state["metre"]]] = False
        mask = mask.to(scores.device)
        masked = scores[:, :width].masked_fill(~mask, float("-inf"))
        usable = torch.isfinite(masked).any(dim=1, keepdim=True)
        scores[:, :width] = torch.where(usable, masked, scores[:, :width])
        return scores


def trim_unfinished(tokenizer, ids: list[int]) -> tuple[list[int], int]:
    """Drop a note left unfinished at the end (its Program/Pitch/Velocity without the Duration that closes it, e.g.
    where `max_new_tokens` ran out); return (ids, number dropped)."""
    types = _TokenTypes(tokenizer)
    end = len(ids)
    while end and ids[end - 1] < types.size and types.kind[ids[end - 1]] in ("Program", "Pitch", "Velocity"):
        end -= 1
    return ids[:end], len(ids) - end


def repair_tokens(tokenizer, ids: list[int]) -> tuple[list[int], int]:
    """Drop tokens that break REMI's grammar; return (clean ids, number dropped). A Position at or before the
    previous one in its bar (time running backwards) is an error too: it and its notes are dropped, up to the next
    forward Position or Bar. Incomplete notes at the end are dropped too."""
    types = _TokenTypes(tokenizer)
    grammar = _grammar(types)
    clean, dropped, previous, position, skipping = [], 0, "BOS", -1, False
    for token in ids:
        kind = types.kind[token] if token < types.size else "special"
        if kind in ("PAD", "BOS", "MASK", "special") or kind == "EOS":
            if kind == "EOS":
                break
            continue
        if kind == "Bar":
            position, skipping = -1, False
        elif kind == "Position":
            value = types.position[token]
            skipping = value <= position
            position = max(position, value)
        if skipping:
            dropped += 1
            continue
        if kind in grammar.get(previous, set()):
            clean.append(token)
            previous = kind
        else:
            dropped += 1
    while clean and types.kind[clean[-1]] in ("Program", "Pitch", "Velocity"):
        clean.pop()
        dropped += 1
    return clean, dropped


@dataclass
class Composition:
    """A piece with what it takes to go on: `generate_music(..., continue_from=piece)` adds more bars from the
    model's own state, exactly where this call stopped (no re-reading of the piece)."""

    score: object  # symusic.Score
    token_ids: list[int]
    token_errors: int  # tokens dropped for breaking REMI's grammar (0 with the grammar mask)
    seed: int
    sequence: list[int] = field(default_factory=list)  # every id the model has seen or written, BOS first
    state: object = None  # the model's returned NeuroArtMusicState (None for models without one)
    unfinished: int = 0  # tokens of a last note the length limit cut off, dropped before decoding (no error)
    melody_missing: int = 0  # harmonize=True: melody notes not in the Soprano (0 unless a time or token limit hit)

    @property
    def token_error_rate(self) -> float:
        return self.token_errors / max(1, len(self.token_ids))

    def save(self, folder, provenance: dict | None = None, audio: bool = True) -> list[str]:
        """Write `music_<seed>.mid` (with `provenance` and the seed in its meta text) into `folder`, and with
        `audio` also `music_<seed>.wav` (`render_audio`) and `music_<seed>.png` (the piano roll). Returns the paths
        written."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"music_{self.seed}"
        stem.with_suffix(".mid").write_bytes(score_to_midi_bytes(self.score, {**(provenance or {}), "seed": self.seed}))
        paths = [str(stem.with_suffix(".mid"))]
        if audio:
            render_audio(self.score, stem.with_suffix(".wav"))
            piano_roll_image(self.score).save(stem.with_suffix(".png"))
            paths += [str(stem.with_suffix(".wav")), str(stem.with_suffix(".png"))]
        return paths


# --------------------------------------------------------------------------------------------------------------
# Harmonisation: a melody kept as the top voice, the other voices written under it
# --------------------------------------------------------------------------------------------------------------
@dataclass
class _MelodyNote:
    bar: int
    position: int
    pitch: int
    program: int  # token ids from here on
    pitch_token: int
    velocity: int
    duration: int


def melody_line(source, beats: float | None = None):
    """The melody of a MIDI source as a one-track `symusic.Score` (program 0): its notes if it is monophonic,
    otherwise its skyline (the highest sounding note at each onset), from its first `beats` quarter notes if given.
    Drum tracks are ignored."""
    from symusic import Note, Score, Track

    score = to_score(source)
    limit = None if beats is None else beats * score.ticks_per_quarter
    notes = sorted((n for t in score.tracks if not t.is_drum for n in t.notes if limit is None or n.time < limit),
                   key=lambda n: (n.time, -n.pitch))
    line: list = []
    for note in notes:  # skyline: the highest note at each onset; a lower note under a held melody note is not melody
        if line and line[-1].time == note.time:
            continue
        held = line and line[-1].time + line[-1].duration > note.time
        if held and note.pitch < line[-1].pitch:
            continue
        if held:  # a higher note enters: the held one ends here
            line[-1] = Note(line[-1].time, note.time - line[-1].time, line[-1].pitch, line[-1].velocity)
        line.append(Note(note.time, note.duration, note.pitch, note.velocity))
    melody = Score(score.ticks_per_quarter)
    melody.tempos = score.tempos
    melody.time_signatures = score.time_signatures
    track = Track(name="Soprano", program=0)
    track.notes.extend(n for n in line if n.duration > 0)
    melody.tracks.append(track)
    return melody


def _beats(token: str) -> float:
    """'Rest_7.1.2' / 'Duration_1.0.8' -> beats (7 + 1/2, 1 + 0/8)."""
    whole, part, resolution = (int(x) for x in token.split("_")[1].split("."))
    return whole + part / resolution


def _melody_events(tokenizer, types: "_TokenTypes", melody) -> tuple[list[_MelodyNote], dict[int, int], int]:
    """Parse the melody's own REMI tokens: its notes (bar, position, token ids), the TimeSig token of every bar and
    the number of bars. Tokenising the melody with the model's tokenizer quantises it exactly as the model sees it.
    Rests may carry time across bar lines without a Bar token; the bar count follows them. A Rest counts from the
    end of the last note (a half note on beat 2 and a one-beat Rest reach the next bar), as miditok decodes it."""
    ids = encode(tokenizer, melody)
    per_beat = max(tokenizer.config.beat_res.values())
    events, timesigs, note = [], {}, {}
    bar, bar_start, now, bar_length, timesig, last_end = -1, 0.0, 0.0, 4 * per_beat, None, 0.0
    for token in ids:
        kind, name = types.kind[token], tokenizer[token]
        if kind == "Bar":
            bar_start = 0.0 if bar < 0 else bar_start + bar_length
            bar, now = bar + 1, bar_start
            if timesig is not None:
                timesigs[bar] = timesig
        elif kind == "TimeSig":
            timesig, timesigs[bar] = token, token
            bar_length = per_beat * int(name.split("_")[1].split("/")[0])
        elif kind == "Position":
            now = bar_start + int(name.split("_")[1])
        elif kind == "Rest":  # as miditok decodes it: from the end of the last note, not from the onset
            now = max(now, last_end) + _beats(name) * per_beat
            while now >= bar_start + bar_length:  # the rest crossed a bar line
                bar, bar_start = bar + 1, bar_start + bar_length
                if timesig is not None:
                    timesigs[bar] = timesig
        elif kind == "Program":
            note = {"program": token}
        elif kind == "Pitch":
            note.update(pitch=types.pitch[token], pitch_token=token)
        elif kind == "Velocity":
            note["velocity"] = token
        elif kind == "Duration" and "pitch" in note:
            events.append(_MelodyNote(bar, int(round(now - bar_start)), note["pitch"], note.get("program", -1),
                                      note["pitch_token"], note["velocity"], token))
            last_end = max(last_end, now + _beats(name) * per_beat)
            note = {}
    return events, timesigs, bar + 1


class HarmonizeLogitsProcessor(_ReadingProcessor):
    """Keeps a melody as the top voice while the model writes the rest (one row per batch entry).

    A small state machine reads each row's new tokens (bar, position, the melody note due next) and masks:
    - time may not move past the next melody onset: later Position tokens, Bar and EOS are banned until it is
      written; Rest tokens (which move time by themselves) are banned throughout;
    - at the onset, the model may first write lower notes, then must write the melody's pitch, whose velocity and
      duration are then forced to the melody's own tokens (after three lower notes, counting those still held from
      earlier onsets, the melody pitch is forced: four voices, as in a chorale);
    - every other note is strictly below the latest melody note, so the melody stays on top;
    - after each Bar, the melody's TimeSig for that bar is forced, so bars line up with the melody's.
    Forced tokens override earlier masks (e.g. a key mask that the melody itself leaves)."""

    LOWER_NOTES_PER_ONSET = 3

    def __init__(self, tokenizer, types: "_TokenTypes", events: list, timesigs: dict, prompt_length: int):
        self.types, self.events, self.timesigs, self.start = types, events, timesigs, prompt_length
        kinds = types.kind
        self.positions = types.position
        self.pitch_of = torch.tensor([-1 if p is None else p for p in types.pitch])
        self.is_kind = {k: torch.tensor([x == k for x in kinds]) for k in set(kinds)}
        self.program = events[0].program if events else None
        # Positions per bar: the tokenizer's finest resolution per beat x the TimeSig's numerator (REMI counts the
        # denominator's beat); a later Position would spill into the next bar and misalign the melody.
        self.bar_positions = {bar: types.bar_length[token] for bar, token in timesigs.items()}
        grammar = _grammar(types)
        self.follows = {kind: torch.tensor([k in follow for k in kinds]) for kind, follow in grammar.items()}

    def _new_state(self) -> dict:
        return {"bar": -1, "position": 0, "next": 0, "last_pitch": None, "phase": None, "lower_here": 0,
                "placed": False, "bar_start": 0, "ends": [], "lower": False}

    def _advance(self, state: dict, token: int) -> None:
        kind = self.types.kind[token]
        due = self.events[state["next"]] if state["next"] < len(self.events) else None
        at_due = (due is not None and state["placed"] and due.bar == state["bar"]
                  and due.position == state["position"])
        if kind == "Bar":
            if state["bar"] >= 0:
                state["bar_start"] += self.bar_positions.get(state["bar"], 4 * self.types.per_beat)
            state.update(bar=state["bar"] + 1, position=0, lower_here=0, placed=False)
        elif kind == "Position":
            state.update(position=self.positions[token], lower_here=0, placed=True)
        elif kind == "Pitch":
            if at_due and self.types.pitch[token] == due.pitch:
                state["phase"] = "velocity"  # this is the melody note: force its velocity, then its duration
            else:
                state["lower_here"] += 1
                state["lower"] = True
        elif kind == "Velocity" and state["phase"] == "velocity":
            state["phase"] = "duration"
        elif kind == "Duration" and state["phase"] == "duration":
            state.update(phase=None, next=state["next"] + 1, last_pitch=due.pitch)
        elif kind == "Duration" and state["lower"]:  # a lower note: it sounds until its end
            state["ends"].append(state["bar_start"] + state["position"] + self.types.length[token])
            state["lower"] = False

    def _room(self, state: dict) -> int:
        """How many lower notes may still start here: three voices under the melody, less those still held."""
        now = state["bar_start"] + state["position"]
        state["ends"] = [end for end in state["ends"] if end > now]
        held = sum(1 for end in state["ends"] if end > now) - state["lower_here"]  # started before this onset
        return max(0, self.LOWER_NOTES_PER_ONSET - max(0, held))

    def __call__(self, input_ids, scores):
        width = min(len(self.types.kind), scores.shape[1])
        for row, state in self._states(input_ids):
            previous = self.types.kind[input_ids[row, -1].item()] if input_ids.shape[1] else "BOS"
            forced, allowed = self._rule(state, previous)
            if forced is not None:
                scores[row, :] = float("-inf")
                scores[row, forced] = 0.0
                continue
            if allowed is None:
                continue
            allowed = allowed[:width].to(scores.device)
            masked = scores[row, :width].masked_fill(~allowed, float("-inf"))
            if not torch.isfinite(masked).any():
                # Earlier masks (a key mask, the voices cap) left nothing we allow: choose evenly among ours that
                # REMI's grammar lets follow, so the stream stays decodable.
                legal = allowed & self.follows.get(previous, self.follows["BOS"])[:width].to(scores.device)
                masked = torch.zeros_like(masked).masked_fill(~(legal if legal.any() else allowed), float("-inf"))
            scores[row, :width] = masked
        return scores

    def _rule(self, state: dict, previous: str):
        """(forced token or None, allowed-token mask or None) for a row in `state` after a `previous` token."""
        due = self.events[state["next"]] if state["next"] < len(self.events) else None
        if state["bar"] < 0 and "Bar" in self.is_kind:  # the music starts with the melody's first bar
            return int(self.is_kind["Bar"].nonzero()[0]), None
        if previous == "Bar" and state["bar"] in self.timesigs:
            return self.timesigs[state["bar"]], None
        if state["phase"] == "velocity":
            return due.velocity, None
        if state["phase"] == "duration":
            return due.duration, None
        size = len(self.types.kind)
        allowed = ~self.is_kind.get("Rest", torch.zeros(size, dtype=torch.bool))
        if self.program is not None and "Program" in self.is_kind:
            allowed &= ~self.is_kind["Program"] | (torch.arange(size) == self.program)
        is_pitch = self.is_kind.get("Pitch", torch.zeros(size, dtype=torch.bool))
        bar_length = self.bar_positions.get(state["bar"])
        for token, position in self.positions.items():  # time only moves forward, and stays in its bar
            if (state["placed"] and position <= state["position"]) or (bar_length and position >= bar_length):
                allowed[token] = False
        if due is not None:
            in_this_bar = due.bar == state["bar"]
            if "Bar" in self.is_kind and in_this_bar:
                allowed &= ~self.is_kind["Bar"]
            allowed &= ~self.is_kind.get("EOS", torch.zeros(size, dtype=torch.bool))
            if in_this_bar:
                for token, position in self.positions.items():
                    if position > due.position:
                        allowed[token] = False
            if in_this_bar and state["placed"] and state["position"] == due.position:  # the melody note is due
                for kind in ("Position", "Bar", "Tempo", "TimeSig"):
                    if kind in self.is_kind:
                        allowed &= ~self.is_kind[kind]
                if state["lower_here"] >= self._room(state) and previous in ("Duration", "Position", "Program"):
                    # The melody note now, nothing else: forced, since a key mask may ban the melody's own pitch
                    # (a chromatic note) and so leave no choice at all.
                    return (due.program if previous != "Program" and due.program >= 0 else due.pitch_token), None
                lower = is_pitch & (self.pitch_of < due.pitch)
                if state["lower_here"] >= self._room(state):
                    lower = torch.zeros(size, dtype=torch.bool)
                final = state["next"] == len(self.events) - 1 and bool(lower.any())
                # The final chord sounds in all four voices: its lower notes come before the melody's last note.
                allowed &= ~is_pitch | lower | ((self.pitch_of == due.pitch) & (not final))
                return None, allowed
        ceiling = state["last_pitch"] if state["last_pitch"] is not None else (due.pitch if due else None)
        if ceiling is not None:
            allowed &= ~is_pitch | (self.pitch_of < ceiling)
        if state["lower_here"] >= self._room(state):  # three voices under the melody, no more
            allowed &= ~is_pitch
            if "Program" in self.is_kind:
                allowed &= ~self.is_kind["Program"]
        return None, allowed


def _satb(score):
    """A piece in chorale texture as Soprano, Alto, Tenor and Bass tracks (`harmony.voices`: the sounding notes
    split by height at each onset; a fifth note joins the bass)."""
    from symusic import Score, Track

    from .harmony import voices as split

    out = Score(score.ticks_per_quarter)
    out.tempos, out.time_signatures = score.tempos, score.time_signatures
    program = next((t.program for t in score.tracks if t.notes), 0)
    for name, notes in split(score).items():
        if notes:
            track = Track(name=name, program=program)
            track.notes.extend(sorted(notes, key=lambda n: (n.time, n.pitch)))
            out.tracks.append(track)
    return out


def _split_voices(score, melody_notes: set[tuple[int, int]], melody_end: int | None = None):
    """Split a decoded harmonisation into Soprano (the melody's notes) and Alto/Tenor/Bass tracks: at each onset
    the lower notes go, highest first, to the voices whose last pitches are nearest, in order. Lower notes that
    start at or after `melody_end` (ticks) are dropped: the setting ends with its melody."""
    from symusic import Score, Track

    notes = sorted((n for t in score.tracks for n in t.notes), key=lambda n: (n.time, -n.pitch))
    out = Score(score.ticks_per_quarter)
    out.tempos, out.time_signatures = score.tempos, score.time_signatures
    voices = {name: Track(name=name, program=0) for name in ("Soprano", "Alto", "Tenor", "Bass")}
    last = {"Alto": 67, "Tenor": 57, "Bass": 48}  # typical SATB centres until the voices have notes
    lower: dict[int, list] = {}
    for note in notes:
        if (note.time, note.pitch) in melody_notes:
            voices["Soprano"].notes.append(note)
        elif melody_end is None or note.time < melody_end:
            lower.setdefault(note.time, []).append(note)
    for onset in sorted(lower):
        group = lower[onset]  # highest first
        if len(group) >= 3:
            names = ["Alto", "Tenor"] + ["Bass"] * (len(group) - 2)
        else:  # fewer notes than voices: keep the order, choose the nearest voices
            best = None
            for combo in ([("Alto",), ("Tenor",), ("Bass",)] if len(group) == 1 else
                          [("Alto", "Tenor"), ("Alto", "Bass"), ("Tenor", "Bass")]):
                cost = sum(abs(n.pitch - last[v]) for n, v in zip(group, combo))
                best = min(best, (cost, combo)) if best else (cost, combo)
            names = list(best[1])
        for note, name in zip(group, names):
            voices[name].notes.append(note)
            last[name] = note.pitch
    out.tracks.extend(v for v in voices.values() if v.notes)
    return out


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


def generate_music(model, tokenizer, primer=None, max_new_tokens: int = 512, num_bars: int | None = None,
                   temperature: float = 1.0, top_k: int = 0, top_p: float = 0.95, seed: int | None = None,
                   keep_primer: bool = False, key: str | None = None, density=None, return_details: bool = False,
                   max_time: float | None = None, grammar: bool = True, harmonize: bool = False,
                   continue_from: Composition | None = None, voices="auto", tonality="auto", meter="auto",
                   lean: bool = True, chords="auto"):
    """Compose (or continue `primer`) and return a `symusic.Score` (or a `Composition` with `return_details`).

    `harmonize=True` reads `primer` as a melody (a monophonic line, or the skyline of a polyphonic file) and writes
    a four-part setting of it: the melody's notes stay exactly as they are as the top voice (track "Soprano"), and
    the model writes Alto, Tenor and Bass under them (`HarmonizeLogitsProcessor`). It stops at the melody's end
    (`num_bars` defaults to the melody's bars). The added voices keep to `key`, by default the melody's own key
    (`estimate_key`); `key="chromatic"` leaves them free.

    `continue_from=piece` (a `Composition`, from `return_details=True`) continues that piece from the model's state
    ("add 8 more bars"): the result holds the new bars only, or the whole piece with `keep_primer=True`.

    `voices` caps how many notes sound at once (`VoicesLogitsProcessor`): an int, None for no cap, or "auto" (the
    default) for the model's own `generation_config.max_voices` (5 for the Bach-chorale release; none elsewhere). With
    `harmonize=True`, "auto" means no cap: a cap could keep a melody note from starting, and the melody's onsets
    and at most three lower notes per onset shape the texture instead.

    `tonality` (nats, 0 = off) keeps the music in the key it has set up (`TonalityLogitsProcessor`, a soft bias
    that `key=` replaces with a hard mask); "auto" (the default) reads the model's `generation_config.tonality`.

    `chords` (nats, 0 = off) steers each onset's notes towards a triad or seventh chord (`ChordLogitsProcessor`)
    and, where the piece's length is known (`num_bars`, a melody), its ending towards a cadence
    (`CadenceLogitsProcessor`); "auto" (the default) reads the model's `generation_config.chords`.

    `meter` sets the metre of a piece written from no primer: a metre the tokenizer knows ("4/4", "3/4"; `meters`),
    a dict of metre -> probability to draw it from, None for the model's own choice, or "auto" (the default) for
    the model's `generation_config.meter_prior` (the training pieces' metres, `meter_prior`; the model's own choice
    where there is none). A primer, a melody to harmonise or `continue_from` brings its own metre.

    `max_time` (seconds) stops sampling early, for apps that bound the time of a request. `grammar` masks tokens
    that REMI's grammar forbids after the previous one (plain REMI vocabularies; a BPE-trained one is left free).

    `lean=True` (the default) samples with `sample_tokens`, the lean loop; `lean=False` with `model.generate()`.
    Both give the same tokens for the same seed."""
    _need_miditok()
    if not 1 <= max_new_tokens <= 8192:
        raise ValueError(f"max_new_tokens={max_new_tokens} is out of range; use 1 to 8192.")
    if num_bars is not None and not 1 <= num_bars <= 256:
        raise ValueError(f"num_bars={num_bars} is out of range; use 1 to 256.")
    if not 0 < temperature <= 5:
        raise ValueError(f"temperature={temperature} is out of range; use (0, 5].")
    if isinstance(density, str):
        if density not in DENSITIES:
            raise ValueError(f"density={density!r} is unknown; use {list(DENSITIES)} or a number from -5 to 5.")
        density = DENSITIES[density]
    if density is not None and not -5 <= float(density) <= 5:
        raise ValueError(f"density={density} is out of range; use -5 to 5.")
    if voices == "auto":  # harmonising: the melody's onsets and the lower-notes rule shape the texture instead
        voices = None if harmonize else getattr(getattr(model, "generation_config", None), "max_voices", None)
    if voices is not None and (isinstance(voices, (bool, str)) or not 1 <= int(voices) <= 64):
        raise ValueError(f"voices={voices!r} is out of range; use 1 to 64, None (no cap) or 'auto'.")
    if tonality == "auto":
        tonality = getattr(getattr(model, "generation_config", None), "tonality", None)
    if tonality is not None and (isinstance(tonality, (bool, str)) or not 0 <= float(tonality) <= 20):
        raise ValueError(f"tonality={tonality!r} is out of range; use 0 to 20 nats, None (off) or 'auto'.")
    if chords == "auto":
        chords = getattr(getattr(model, "generation_config", None), "chords", None)
    if chords is not None and (isinstance(chords, (bool, str)) or not 0 <= float(chords) <= 20):
        raise ValueError(f"chords={chords!r} is out of range; use 0 to 20 nats, None (off) or 'auto'.")
    brings_metre = primer is not None or harmonize or continue_from is not None
    if meter == "auto":
        meter = None if brings_metre else getattr(getattr(model, "generation_config", None), "meter_prior", None)
    elif meter is not None and brings_metre:
        raise ValueError(f"meter={meter!r}: the primer (or the melody, or the piece continued) sets the metre; "
                         "leave meter='auto'.")
    if isinstance(meter, str) and meter not in meters(tokenizer):
        raise ValueError(f"meter={meter!r} is unknown to this tokenizer; use one of {meters(tokenizer)}.")
    seed = random.randrange(2**31) if seed is None else int(seed)
    types = _TokenTypes(tokenizer)
    harmony = None
    if harmonize:
        if primer is None:
            raise ValueError("harmonize=True needs a melody: pass primer= (a MIDI path, bytes or symusic.Score).")
        melody = melody_line(primer)
        events, timesigs, melody_bars = _melody_events(tokenizer, types, melody)
        if not events:
            raise ValueError("harmonize=True: the primer has no notes to harmonise.")
        num_bars = num_bars or melody_bars
        max_new_tokens = min(8192, max(max_new_tokens, 48 * len(events) + 8 * num_bars))
        decoded_melody = tokenizer.decode(encode(tokenizer, melody))
        melody_notes = {(n.time, n.pitch) for t in decoded_melody.tracks for n in t.notes}
        melody_end = max(n.time + n.duration for t in decoded_melody.tracks for n in t.notes)
        primer, keep_primer = None, False
        key = estimate_key(melody) if key is None else (None if key == "chromatic" else key)
    if continue_from is not None:
        if primer is not None or harmonize:
            raise ValueError("continue_from= continues a piece; do not pass primer= or harmonize= with it.")
        if not continue_from.sequence:
            raise ValueError("continue_from= needs a Composition returned with return_details=True.")
    primer_ids = encode(tokenizer, primer) if primer is not None else []
    prompt = [types.bos] + primer_ids
    if continue_from is not None:  # the piece so far (its trailing Bar included) is the primer
        prompt = list(continue_from.sequence)
        primer_ids = [t for t in prompt if t != types.bos]
    # A piece continued after its trailing Bar: that Bar opens the new music (counted and kept with it).
    reopened = int(continue_from is not None and prompt[-1] == types.bar)
    if reopened:
        primer_ids = primer_ids[:-1]
    elif primer_ids and not keep_primer and continue_from is None and types.bar is not None:
        # Only the new music is returned: it opens with a Bar of its own, right after the primer.
        prompt, reopened = prompt + [types.bar], 1
    input_ids = torch.tensor([prompt], device=model.device)
    processors = LogitsProcessorList()
    if grammar and not getattr(tokenizer, "is_trained", False):
        processors.append(REMIGrammarLogitsProcessor(types))
    if meter and types.bar is not None:
        processors.append(MeterLogitsProcessor(tokenizer, meter, types))
    if key:
        processors.append(KeyLogitsProcessor(tokenizer, key, types))
    if density:
        processors.append(DensityLogitsProcessor(tokenizer, float(density), types))
    if voices:
        processors.append(VoicesLogitsProcessor(tokenizer, int(voices), types))
    if tonality and not key:  # a key mask already keeps every pitch in its scale
        processors.append(TonalityLogitsProcessor(tokenizer, float(tonality), types))
    if chords:
        melody_onsets = {(e.bar, e.position): e.pitch for e in events} if harmonize else None
        processors.append(ChordLogitsProcessor(tokenizer, float(chords), types, melody=melody_onsets))
        processors.append(VoiceLeadingLogitsProcessor(tokenizer, float(chords), types, melody=melody_onsets))
        if num_bars and types.bar is not None and continue_from is None:  # an ending that cadences
            onsets = sorted(melody_onsets or ())
            zones = None
            if harmonize and len(onsets) >= 2:
                # The dominant from the last melody note before the final one that the dominant seventh holds
                # (degrees 5, 7, 2, 4 of the final note), within the last two bars; else from the one before.
                tonic = melody_onsets[onsets[-1]] % 12
                fits = [o for o in onsets[:-1] if (melody_onsets[o] - tonic) % 12 in (7, 11, 2, 5)
                        and o[0] >= onsets[-1][0] - 1]
                zones = (fits[-1] if fits else onsets[-2], onsets[-1])
            # A melody cadences on its last note: the root of Bach's final chord in 241 of his 251 training
            # chorales (the melody's overall key: 167); its third, major or minor, is the model's choice.
            final = NOTE_NAMES[melody_onsets[onsets[-1]] % 12] if zones else key
            if not harmonize or zones:
                processors.append(CadenceLogitsProcessor(tokenizer, 2 * float(chords), types, num_bars=num_bars,
                                                         key=final, zones=zones, start=len(prompt) - reopened,
                                                         either_third=bool(zones)))
    if harmonize:  # last: its forced melody tokens override the other masks
        harmony = HarmonizeLogitsProcessor(tokenizer, types, events, timesigs, len(prompt))
        processors.append(harmony)
    criteria = StoppingCriteriaList()
    if num_bars and types.eos is not None:  # `num_bars` bars means that many: the bar count ends the piece
        processors.insert(0, SuppressTokensLogitsProcessor([types.eos], device=model.device))
    if num_bars:
        criteria.append(BarStoppingCriteria(types.bar, len(prompt) - reopened, num_bars))
    extra = {"cache": continue_from.state} if continue_from is not None and continue_from.state is not None else {}
    with seeded_rng(seed, model.device):  # a private stream: the same seed gives the same music under any load
        if lean and hasattr(getattr(model, "model", None), "step"):
            output, state = sample_tokens(model, input_ids, processors, criteria, max_new_tokens,
                                          temperature=temperature, top_k=top_k, top_p=top_p, eos_token_id=types.eos,
                                          pad_token_id=tokenizer.pad_token_id, max_time=max_time, **extra)
        else:  # transformers' generate(): the same tokens, more per-step overhead
            output = model.generate(input_ids, attention_mask=torch.ones_like(input_ids), do_sample=True,
                                    temperature=temperature, top_k=top_k or None, top_p=top_p,
                                    max_new_tokens=max_new_tokens, logits_processor=processors,
                                    stopping_criteria=criteria, eos_token_id=types.eos,
                                    pad_token_id=tokenizer.pad_token_id, max_time=max_time,
                                    return_dict_in_generate=True, **extra)
            output, state = output.sequences, getattr(output, "cache", None)
    new_ids = output[0, len(prompt) - reopened:].tolist()
    if num_bars:  # cut at the start of bar num_bars + 1
        bars = [i for i, t in enumerate(new_ids) if t == types.bar]
        if len(bars) > num_bars:
            new_ids = new_ids[: bars[num_bars]]
    ids = (primer_ids if keep_primer else []) + new_ids
    if not keep_primer and primer_ids and new_ids and new_ids[0] != types.bar and continue_from is None:
        # Continuing mid-bar: start the new music at the next bar so it decodes on its own.
        first_bar = next((i for i, t in enumerate(new_ids) if t == types.bar), None)
        ids = new_ids[first_bar:] if first_bar is not None else new_ids
    ids, unfinished = trim_unfinished(tokenizer, ids)  # a note the length limit cut off: no grammar error
    clean, dropped = repair_tokens(tokenizer, ids)
    score = tokenizer.decode(clean) if clean else to_score(_empty_midi())
    missing = 0
    if harmony is None and voices is not None and int(voices) <= 5 and primer is None and continue_from is None:
        score = _satb(score)  # a chorale texture, written in one stream: four named voices, as a harmonisation
    if harmony is not None:
        score = _split_voices(score, melody_notes, melody_end)
        kept = {(n.time, n.pitch) for t in score.tracks if t.name == "Soprano" for n in t.notes}
        missing = len(melody_notes - kept)
        if missing:
            warnings.warn(f"harmonize: {missing} of the melody's {len(melody_notes)} notes are missing (a time or "
                          "token limit was reached); raise max_time or max_new_tokens.", stacklevel=2)
    if return_details:  # `sequence` ends with the token the state has not read yet (e.g. the next Bar)
        return Composition(score=score, token_ids=ids, token_errors=dropped, seed=seed,
                           sequence=output[0].tolist(), state=state, unfinished=unfinished, melody_missing=missing)
    return score


def notes_per_bar(score) -> float:
    notes = sum(len(t.notes) for t in score.tracks)
    end = max((n.time + n.duration for t in score.tracks for n in t.notes), default=0)
    bars = max(1, math.ceil(end / (score.ticks_per_quarter * 4)))
    return notes / bars


__all__ = [
    "BarStoppingCriteria",
    "HarmonizeLogitsProcessor",
    "estimate_key",
    "melody_line",
    "Composition",
    "DensityLogitsProcessor",
    "KEYS",
    "KEY_TONICS",
    "KeyLogitsProcessor",
    "MeterLogitsProcessor",
    "meter_prior",
    "meters",
    "build_tokenizer",
    "encode",
    "generate_music",
    "in_scale_rate",
    "load_tokenizer",
    "midi_provenance",
    "notes_per_bar",
    "parse_key",
    "piano_roll_image",
    "render_audio",
    "repair_tokens",
    "trim_unfinished",
    "VoicesLogitsProcessor",
    "TonalityLogitsProcessor",
    "scale_pitch_classes",
    "score_to_midi_bytes",
    "split_long_notes",
    "to_score",
]
