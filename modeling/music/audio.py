"""Hearing and seeing the NeuroArt composer's music: a WAV through FluidSynth with a General MIDI soundfont when both
are installed (`fluidsynth`, `fluid-soundfont-gm`), otherwise a small additive synthesiser in numpy, so every user
gets a WAV; and a piano roll drawn with Pillow.

A helper module shipped beside the weights (`HELPER_MODULES`). Hub remote code: it imports only the standard library
and, when called, numpy and Pillow.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path


def _soundfont() -> Path | None:
    for path in ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2",
                 "/usr/share/soundfonts/default.sf2"):
        if Path(path).exists():
            return Path(path)
    return None


def render_audio(score, path, sample_rate: int = 22050, engine: str = "auto") -> str:
    """Write a WAV of `score`; returns the engine used ("fluidsynth" or "builtin").

    FluidSynth with a GM soundfont when both are installed (`engine="auto"` or "fluidsynth"); otherwise the
    built-in additive synthesiser: each note a sum of three harmonics with an exponential decay, mixed and
    normalised to -1 dBFS.
    """
    path = Path(path)
    soundfont = _soundfont()
    if engine in ("auto", "fluidsynth") and shutil.which("fluidsynth") and soundfont is not None:
        with tempfile.TemporaryDirectory() as tmp:
            midi = Path(tmp) / "in.mid"
            midi.write_bytes(score.dumps_midi())
            subprocess.run(["fluidsynth", "-ni", "-g", "0.6", "-r", str(sample_rate), "-F", str(path), str(soundfont),
                            str(midi)], check=True, capture_output=True, timeout=300)
        return "fluidsynth"
    if engine == "fluidsynth":
        raise RuntimeError("FluidSynth or a GM soundfont is missing: apt-get install fluidsynth fluid-soundfont-gm.")
    import numpy as np

    seconds = score.to("second")
    notes = [(n.time, n.duration, n.pitch, n.velocity) for t in seconds.tracks if not t.is_drum for n in t.notes]
    end = max((t + d for t, d, _, _ in notes), default=0.0) + 0.5
    audio = np.zeros(int(end * sample_rate) + 1, dtype=np.float32)
    for start, duration, pitch, velocity in notes:
        length = int(min(duration + 0.3, 8.0) * sample_rate)
        t = np.arange(length, dtype=np.float32) / sample_rate
        freq = 440.0 * 2 ** ((pitch - 69) / 12)
        tone = sum(np.sin(2 * math.pi * freq * h * t) / h for h in (1, 2, 3))
        envelope = np.exp(-3.0 * t) * np.minimum(1.0, t / 0.01)
        release = np.clip((duration + 0.3 - t) / 0.3, 0, 1)
        first = int(start * sample_rate)
        segment = (tone * envelope * release * velocity / 127).astype(np.float32)
        audio[first : first + len(segment)] += segment[: len(audio) - first]
    peak = float(np.abs(audio).max()) or 1.0
    pcm = (audio / peak * 0.89 * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(sample_rate)
        handle.writeframes(pcm.tobytes())
    return "builtin"


NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
COLOURS = [(66, 133, 244), (219, 68, 55), (230, 160, 0), (15, 157, 88), (171, 71, 188), (0, 172, 193)]


def _bar_lines(score, end: int) -> list[tuple[int, int]]:
    """(tick, bar number from 1) of every bar line up to `end`, from the piece's own time signatures."""
    tpq = score.ticks_per_quarter
    changes = sorted((ts.time, ts.numerator * tpq * 4 // ts.denominator) for ts in score.time_signatures)
    if not changes or changes[0][0] > 0:
        changes.insert(0, (0, 4 * tpq))  # MIDI's default metre, 4/4
    lines, tick, number = [], 0, 1
    for i, (start, length) in enumerate(changes):
        stop = changes[i + 1][0] if i + 1 < len(changes) else end + 1
        tick = max(tick, start)
        while tick < stop and length > 0:
            lines.append((tick, number))
            tick, number = tick + length, number + 1
    return lines


def piano_roll_image(score, width: int = 1000, height: int = 400):
    """A PIL piano roll: time on x with bar lines (numbered) from the piece's own metre and beat lines, pitch on y
    with every C named (C4 = middle C, MIDI 60), one colour per track with the track names (S, A, T, B) in a key."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    left, top, bottom = 34, 16, 14  # room for the pitch names, the voices' key and the bar numbers
    notes = [(i, n) for i, t in enumerate(score.tracks) for n in t.notes]
    image = Image.new("RGB", (width, height), (250, 250, 248))
    draw = ImageDraw.Draw(image)
    if not notes:
        return image
    end = max(n.time + n.duration for _, n in notes) or 1
    low = min(n.pitch for _, n in notes) - 2
    high = max(n.pitch for _, n in notes) + 2
    plot_w, plot_h = width - left - 4, height - top - bottom
    row = plot_h / (high - low + 1)

    def x_of(tick):
        return left + tick / end * plot_w

    for pitch in range(low, high + 1):  # a C line and its name in each octave
        if pitch % 12 == 0:
            y = top + (high - pitch + 0.5) * row
            draw.line([(left, y), (width - 4, y)], fill=(232, 232, 228))
            draw.text((2, y - 5), f"{NOTE_NAMES[0]}{pitch // 12 - 1}", fill=(90, 90, 90), font=font)
    tpq = score.ticks_per_quarter
    bars = _bar_lines(score, end)
    if len(bars) <= plot_w / 6:  # beat lines while they stay apart
        for tick in range(0, end + 1, tpq):
            draw.line([(x_of(tick), top), (x_of(tick), top + plot_h)], fill=(240, 240, 236))
    every = max(1, math.ceil(len(bars) / (plot_w / 28)))  # bar numbers that do not overlap
    for tick, number in bars:
        draw.line([(x_of(tick), top), (x_of(tick), top + plot_h)], fill=(190, 190, 190))
        if (number - 1) % every == 0:
            draw.text((x_of(tick) + 2, height - bottom + 1), str(number), fill=(90, 90, 90), font=font)
    for track, n in notes:
        x0, x1 = x_of(n.time), x_of(n.time + n.duration)
        y = top + (high - n.pitch) * row
        draw.rectangle([x0, y, max(x0 + 1, x1 - 1), y + max(1, row - 1)], fill=COLOURS[track % len(COLOURS)])
    x = left
    for i, track in enumerate(score.tracks):  # the key: each track's colour and name
        if not track.notes:
            continue
        name = track.name or f"track {i + 1}"
        draw.rectangle([x, 4, x + 8, 12], fill=COLOURS[i % len(COLOURS)])
        draw.text((x + 11, 2), name, fill=(60, 60, 60), font=font)
        x += 11 + int(draw.textlength(name, font=font)) + 12
    return image


__all__ = ["piano_roll_image", "render_audio"]
