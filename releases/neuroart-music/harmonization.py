"""Harmonisation: a melody kept note for note as the top voice while the composer writes alto, tenor and bass under
it (Magenta's PolyphonyRNN harmonisation; Hadjeres et al.'s DeepBach task). `melody_line` reads a melody from a MIDI
source, `_melody_events` parses it with the model's own tokenizer, `HarmonizeLogitsProcessor` keeps it while
sampling, `_split_voices` names the voices afterwards (and `_satb` splits a free chorale the same way).

A helper module shipped beside the weights (`HELPER_MODULES`). Hub remote code: torch, transformers and same-folder
modules only (symusic when called).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .harmony import voices as voices_by_height
from .logits_process import _grammar, _ReadingProcessor, _TokenTypes
from .tokenization import encode, to_score


@dataclass
class _MelodyNote:
    bar: int
    position: int
    pitch: int
    program: int  # token ids from here on
    pitch_token: int
    velocity: int
    duration: int


# Track names that say "this is the tune" (their first word, any case): a chorale's Soprano above its obbligato
# trumpets, a song's Melody or Vocals above its accompaniment.
MELODY_TRACK_NAMES = ("soprano", "melody", "melodie", "tune", "lead", "vocal", "vocals", "cantus")


def melody_line(source, beats: float | None = None):
    """The melody of a MIDI source as a one-track `symusic.Score` (program 0): its notes if it is monophonic,
    otherwise its skyline (the highest sounding note at each onset), from its first `beats` quarter notes if given.
    Where a track is named as the melody (`MELODY_TRACK_NAMES`: "Soprano", "Melody", "Vocals", ...), the line is
    that track's alone: a chorale's instruments may play above its soprano. Drum tracks are ignored."""
    from symusic import Note, Score, Track

    score = to_score(source)
    limit = None if beats is None else beats * score.ticks_per_quarter
    tracks = [t for t in score.tracks if not t.is_drum and t.notes]
    named = [t for t in tracks if (t.name.lower().split() or [""])[0] in MELODY_TRACK_NAMES]
    notes = sorted((n for t in (named[:1] or tracks) for n in t.notes if limit is None or n.time < limit),
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
        state["ends"] = [end for end in state["ends"] if end > now]  # lower notes still sounding
        held = len(state["ends"]) - state["lower_here"]  # ... that started before this onset
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

    out = Score(score.ticks_per_quarter)
    out.tempos, out.time_signatures = score.tempos, score.time_signatures
    program = next((t.program for t in score.tracks if t.notes), 0)
    for name, notes in voices_by_height(score).items():
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
