"""The composer's logits processors over REMI tokens (transformers' `LogitsProcessor`s, as in transformers'
`generation/logits_process.py`): token types parsed once (`_TokenTypes`), processors that follow each row's tokens as
they come (`_ReadingProcessor`), REMI's grammar (Huang & Yang, 2020, arXiv:2002.00212) and the repair of what
breaks it, and the steering by key, density, voices, metre and tonality. The harmony processors (chords, voice
leading) are in `harmony_process.py`, the opening and cadence in `cadence_process.py`, the harmoniser's in
`harmonization.py`.

A helper module shipped beside the weights (`HELPER_MODULES`). Hub remote code: torch, transformers and same-folder
modules only.
"""

from __future__ import annotations

import math

import torch
from transformers import LogitsProcessor, StoppingCriteria

from .theory import _key_of_histogram, scale_pitch_classes
from .tokenization import to_score


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


def follow_time(types: _TokenTypes, state: dict, kind: str, token: int) -> int | None:
    """Follow a row's time through a Bar, TimeSig, Position or Rest token, as miditok decodes them: updates the
    state's bar, bar_start and bar_length and returns the new time (position units from the start), or None for a
    token of another kind. A Rest counts from the end of the last note (`state["last_end"]`, which the processor
    keeps) and may cross bar lines without a Bar token."""
    if kind == "Bar":
        if state["bar"] >= 0:
            state["bar_start"] += state["bar_length"]
        state["bar"] += 1
        return state["bar_start"]
    if kind == "TimeSig":
        state["bar_length"] = types.bar_length[token]
        return None
    if kind == "Position":
        return state["bar_start"] + types.position[token]
    if kind == "Rest":
        now = max(state["now"], state["last_end"]) + types.length[token]
        while now >= state["bar_start"] + state["bar_length"]:
            state["bar_start"] += state["bar_length"]
        return now
    return None


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
        now = follow_time(self.types, state, kind, token)
        if now is not None:
            state["now"] = now
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
    or use a chromatic note when the model is sure of it. With `home` (a key, e.g. one drawn from the training
    pieces' keys for a new piece) that key is held from the first note instead, and never re-estimated."""

    def __init__(self, tokenizer, strength: float, types: _TokenTypes | None = None, min_notes: int = 8,
                 home: str | None = None):
        self.types = types = types or _TokenTypes(tokenizer)
        self.strength, self.min_notes, self.home = float(strength), min_notes, home
        self.pitch_class = torch.tensor([-1 if p is None else p % 12 for p in types.pitch])
        self._penalty: dict[str, torch.Tensor] = {}

    def _penalty_of(self, key: str, width: int) -> torch.Tensor:
        if key not in self._penalty:
            classes = torch.tensor(sorted(scale_pitch_classes(key)))
            outside = (self.pitch_class >= 0) & ~torch.isin(self.pitch_class, classes)
            self._penalty[key] = outside.float() * -self.strength
        return self._penalty[key][:width]

    def _new_state(self) -> dict:
        return {"histogram": [0.0] * 12, "notes": 0, "pitch": None, "key": self.home}

    def _advance(self, state: dict, token: int) -> None:
        kind = self.types.kind[token] if token < self.types.size else "special"
        if kind == "Pitch":
            state["pitch"] = self.types.pitch[token]
        elif kind == "Duration" and state["pitch"] is not None:
            state["histogram"][state["pitch"] % 12] += self.types.length[token]
            state["notes"], state["pitch"] = state["notes"] + 1, None
            state["key"] = self.home  # None: re-estimated at the next call

    def __call__(self, input_ids, scores):
        width = min(self.types.size, scores.shape[1])
        for row, state in self._states(input_ids):
            if state["notes"] < self.min_notes and self.home is None:
                continue
            if state["key"] is None:
                state["key"] = _key_of_histogram(state["histogram"])
            scores[row, :width] = scores[row, :width] + self._penalty_of(state["key"], width).to(scores.device,
                                                                                                scores.dtype)
        return scores


class BarStoppingCriteria(StoppingCriteria):
    """Stops once every row has started `num_bars + 1` new bars (so `num_bars` are complete)."""

    def __init__(self, bar_token: int, prompt_length: int, num_bars: int):
        self.bar, self.prompt_length, self.num_bars = bar_token, prompt_length, num_bars

    def __call__(self, input_ids, scores, **kwargs):
        counts = (input_ids[:, self.prompt_length :] == self.bar).sum(1)
        return counts > self.num_bars


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
