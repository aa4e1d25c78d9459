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


def piano_roll_image(score, width: int = 1000, height: int = 400):
    """A PIL piano roll: time on x, pitch on y, one colour per track, bar lines in grey."""
    from PIL import Image, ImageDraw

    colours = [(66, 133, 244), (219, 68, 55), (244, 180, 0), (15, 157, 88), (171, 71, 188), (0, 172, 193)]
    notes = [(i, n) for i, t in enumerate(score.tracks) for n in t.notes]
    image = Image.new("RGB", (width, height), (250, 250, 248))
    draw = ImageDraw.Draw(image)
    if not notes:
        return image
    end = max(n.time + n.duration for _, n in notes) or 1
    low = min(n.pitch for _, n in notes) - 2
    high = max(n.pitch for _, n in notes) + 2
    row = height / (high - low + 1)
    bar = score.ticks_per_quarter * 4
    for x in range(0, end + 1, bar):
        draw.line([(x / end * width, 0), (x / end * width, height)], fill=(220, 220, 220))
    for track, n in notes:
        x0, x1 = n.time / end * width, (n.time + n.duration) / end * width
        y = (high - n.pitch) * row
        draw.rectangle([x0, y, max(x0 + 1, x1 - 1), y + max(1, row - 1)], fill=colours[track % len(colours)])
    return image


__all__ = ["piano_roll_image", "render_audio"]
