"""MIDI: an HF dataset of MIDI bytes or paths, a folder of .mid/.midi files, or music21's Bach chorales."""

from __future__ import annotations

import os
from pathlib import Path

from .common import SkipCounter, finish, logger, open_hub_dataset

MIDI_EXTENSIONS = {".mid", ".midi"}
MAX_MIDI_BYTES = 20_000_000
MAX_MIDI_NOTES = 50_000  # ~10x a dense piano piece; Lakh MIDI files rarely exceed it
TEMPO_RANGE_QPM = (8.0, 1000.0)  # outside it a file is a sequencer accident, not music


def default_cache_dir() -> Path:
    return Path(os.environ.get("NEUROART_CACHE", Path.home() / ".cache" / "neuroart"))


def bach_chorales(limit: int | None = None, cache_dir: str | os.PathLike | None = None) -> list[Path]:
    """The Bach chorales that music21 ships, converted once to MIDI and cached (`~/.cache/neuroart/bach_chorales`).

    music21's corpus holds MusicXML/Humdrum, no MIDI; conversion takes about 0.5 s per chorale, so only the first
    `limit` chorales are converted when a limit is given. Chorales music21 cannot expand are skipped.
    """
    try:
        from music21 import corpus
    except ImportError:
        raise SystemExit("The embedded music default needs music21: pip install 'neuroart[train]', "
                         "or pass --train_data_dir with your own MIDI files.") from None
    folder = Path(cache_dir or default_cache_dir()) / "bach_chorales"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, source in enumerate(corpus.chorales.Iterator(returnType="filename")):
        if limit is not None and len(paths) >= limit:
            break
        target = folder / f"{i:03d}_{Path(str(source)).stem}.mid"
        if not target.exists():
            try:
                score = corpus.parse(source)
                tmp = target.with_suffix(".tmp")
                score.write("midi", fp=str(tmp))
                os.replace(tmp, target)
            except Exception as error:  # music21 raises many kinds on bad repeats
                logger.info("skipped chorale %s: %s", source, error)
                continue
        paths.append(target)
    return paths


def check_midi(data: bytes, counter: SkipCounter, path=None):
    """A `symusic.Score` of usable MIDI bytes, or None (counted by reason)."""
    from symusic import Score

    if not data:
        counter.skip("empty file", path)
        return None
    if len(data) > MAX_MIDI_BYTES:
        counter.skip("file too large", path)
        return None
    if not data.startswith(b"MThd"):
        counter.skip("not a MIDI file", path)
        return None
    try:
        score = Score.from_midi(data)
    except Exception:  # symusic raises RuntimeError/ValueError on corrupt data
        counter.skip("corrupt MIDI", path)
        return None
    if any(not TEMPO_RANGE_QPM[0] <= tempo.qpm <= TEMPO_RANGE_QPM[1] for tempo in score.tempos):
        counter.skip("absurd tempo", path)
        return None
    pitched = [t for t in score.tracks if not t.is_drum and len(t.notes)]
    if not pitched:
        counter.skip("no pitched notes (empty or drums only)", path)
        return None
    if sum(len(t.notes) for t in pitched) > MAX_MIDI_NOTES:
        counter.skip(f"more than {MAX_MIDI_NOTES} notes", path)
        return None
    return score


def midi_bytes(value, counter: SkipCounter) -> bytes | None:
    """MIDI bytes from a dataset cell: bytes, {"bytes": ..., "path": ...} or a path string."""
    if isinstance(value, dict):
        value = value.get("bytes") or value.get("path")
    if isinstance(value, str):
        try:
            return Path(value).read_bytes()
        except OSError:
            counter.skip("unreadable path")
            return None
    return bytes(value or b"")


def load_midi(*, train_data_dir: str | None = None, dataset_name: str | None = None, dataset_config_name=None,
              dataset_split: str = "train", midi_column: str = "midi", cache_dir=None, max_samples: int | None = None):
    """Load MIDI as `(list of (name, bytes), source, counter)`, from one source:

    1. `dataset_name`: an HF dataset whose `midi_column` holds MIDI bytes or file paths;
    2. `train_data_dir`: every .mid/.midi file below the folder;
    3. neither: the Bach chorales of music21 (converted and cached by the project).

    Corrupt, empty, drum-only, oversized or non-MIDI files are skipped and counted.
    """
    counter = SkipCounter()
    items: list[tuple[str, bytes]] = []

    def add(name, data):
        if max_samples and len(items) >= max_samples:
            return
        if check_midi(data, counter, name) is not None:
            items.append((str(name), data))

    if dataset_name:
        ds = open_hub_dataset(dataset_name, dataset_config_name, dataset_split, cache_dir,
                              columns={"--midi_column": midi_column})
        for i, row in enumerate(ds):
            value = midi_bytes(row[midi_column], counter)
            if value is not None:
                add(f"{dataset_name}[{i}]", value)
        source = f"Hub dataset `{dataset_name}`"
    elif train_data_dir:
        folder = Path(train_data_dir)
        if not folder.is_dir():
            raise SystemExit(f"--train_data_dir {folder} is not a folder.")
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            if path.suffix.lower() not in MIDI_EXTENSIONS:
                counter.skip("not a .mid/.midi file", path)
                continue
            add(path, path.read_bytes())
        source = f"MIDI folder `{folder}`"
    else:
        paths = bach_chorales(limit=max_samples, cache_dir=cache_dir)
        for path in paths:
            add(path.name, path.read_bytes())
        source = f"embedded music21 Bach chorales ({len(paths)} converted)"
    finish(items, source, counter, "MIDI files", noun="MIDI")
    return items, source, counter


__all__ = ["MIDI_EXTENSIONS", "bach_chorales", "check_midi", "default_cache_dir", "load_midi", "midi_bytes"]
