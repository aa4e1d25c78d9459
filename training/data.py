"""Training data loaders with bad-input accounting.

Every loader yields clean examples and counts what it skipped, by reason, in a `SkipCounter`; the script logs the
summary once. A loader raises only when nothing usable is left, and then says what was wrong.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from collections import Counter
from pathlib import Path

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_IMAGE_PIXELS = 64_000_000  # refuse decompression bombs well before they allocate


class SkipCounter(Counter):
    """Counts skipped inputs by reason; `kept` counts the good ones."""

    kept: int = 0

    def skip(self, reason: str, path=None) -> None:
        self[reason] += 1
        if path is not None:
            logger.debug("skipped %s: %s", path, reason)

    def summary(self, what: str = "inputs") -> str:
        skipped = sum(self.values())
        reasons = ", ".join(f"{reason}: {n}" for reason, n in self.most_common()) or "none"
        return f"{what}: kept {self.kept}, skipped {skipped} ({reasons})"


# ------------------------------------------------------------------------------------------------------------------
# Images
# ------------------------------------------------------------------------------------------------------------------
def to_rgb(image):
    """Convert any PIL mode (L, LA, P, RGBA, CMYK, I;16, I, F, ...) to 8-bit RGB; transparency goes on white."""
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        import numpy as np

        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) / (high - low) * 255 if high > low else np.zeros_like(array)
        image = Image.fromarray(scaled.astype("uint8"), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return image.convert("RGB")


def square_resize(image, resolution: int):
    """Centre-crop to a square, then resize to `resolution` (Lanczos)."""
    from PIL import Image

    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    image = image.crop((left, top, left + side, top + side))
    return image.resize((resolution, resolution), Image.Resampling.LANCZOS)


def open_image(source, counter: SkipCounter, min_size: int, path=None):
    """Open and fully decode an image from a path or bytes; return an RGB PIL image, or None (counted)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            handle = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
            image = Image.open(handle)
            if image.width * image.height > MAX_IMAGE_PIXELS:
                counter.skip("too many pixels", path)
                return None
            image.seek(0)  # animated images: the first frame
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        counter.skip("too many pixels", path)
        return None
    except (OSError, SyntaxError, ValueError, Image.UnidentifiedImageError, EOFError):
        counter.skip("not a readable image", path)
        return None
    if min(image.size) < min_size:
        counter.skip(f"smaller than {min_size} px", path)
        return None
    try:
        return to_rgb(image)
    except (OSError, ValueError):
        counter.skip("unsupported image mode", path)
        return None


def scan_image_folder(folder: str | os.PathLike) -> tuple[list[tuple[Path, int]], list[str]]:
    """Files of an `imagefolder`: class subfolders become labels (sorted names); loose files get label 0."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SystemExit(f"--train_data_dir {folder} is not a folder.")
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = [p.name for p in class_dirs]
    files = []
    if class_dirs:
        for label, class_dir in enumerate(class_dirs):
            files += [(p, label) for p in sorted(class_dir.rglob("*")) if p.is_file()]
    files += [(p, 0) for p in sorted(folder.iterdir()) if p.is_file()]
    return files, names


def load_images(
    *,
    train_data_dir: str | None = None,
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    dataset_split: str = "train",
    image_column: str | None = None,
    label_column: str | None = None,
    resolution: int = 64,
    max_samples: int | None = None,
    cache_dir: str | None = None,
    default_num_images: int = 600,
    seed: int = 0,
):
    """Load training images from one source, in the order a user would try them:

    1. `dataset_name`: an HF dataset (Hub id or local folder), through `datasets.load_dataset`;
    2. `train_data_dir`: an image folder (class subfolders = labels);
    3. neither: the embedded procedural abstract-art set (`neuroart.training.abstract_art`).

    Returns `(images, labels, class_names, source, counter)`: RGB PIL images at `resolution`, int labels (all 0 when
    there are no classes), class names (empty when unlabelled), a description of the source and the skip counts.
    """
    counter = SkipCounter()
    min_size = max(8, resolution // 4)
    images, labels, names = [], [], []
    if dataset_name:
        import datasets

        ds = datasets.load_dataset(dataset_name, dataset_config_name, split=dataset_split, cache_dir=cache_dir)
        image_column = image_column or next(
            (c for c, f in ds.features.items() if isinstance(f, datasets.Image)), "image")
        if image_column not in ds.column_names:
            raise SystemExit(f"--image_column {image_column!r} is not in {dataset_name} (columns: {ds.column_names}).")
        if label_column and label_column not in ds.column_names:
            raise SystemExit(f"--label_column {label_column!r} is not in {dataset_name} (columns: {ds.column_names}).")
        if label_column and isinstance(ds.features[label_column], datasets.ClassLabel):
            names = list(ds.features[label_column].names)
        ds = ds.cast_column(image_column, datasets.Image(decode=False))
        seen_labels = {}
        for row in ds:
            if max_samples and len(images) >= max_samples:
                break
            raw = row[image_column]
            source = raw.get("bytes") or raw.get("path") if isinstance(raw, dict) else raw
            image = open_image(source, counter, min_size) if source is not None else None
            if image is None:
                if source is None:
                    counter.skip("missing image")
                continue
            label = 0
            if label_column:
                value = row[label_column]
                label = value if names else seen_labels.setdefault(value, len(seen_labels))
            images.append(square_resize(image, resolution))
            labels.append(int(label))
        if label_column and not names:
            names = [str(v) for v in seen_labels]
        source_text = f"Hub dataset `{dataset_name}`"
    elif train_data_dir:
        files, names = scan_image_folder(train_data_dir)
        for path, label in files:
            if max_samples and len(images) >= max_samples:
                break
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                counter.skip("not an image file extension", path)
                continue
            image = open_image(path, counter, min_size, path)
            if image is not None:
                images.append(square_resize(image, resolution))
                labels.append(label)
        source_text = f"image folder `{train_data_dir}`"
    else:
        from .abstract_art import abstract_art_dataset

        count = min(default_num_images, max_samples) if max_samples else default_num_images
        images, labels, names = abstract_art_dataset(count, resolution, seed)
        source_text = f"embedded procedural abstract art ({count} images, styles {', '.join(names)})"
    counter.kept = len(images)
    if not images:
        raise SystemExit(f"No usable images in {source_text}: {counter.summary('images')}.")
    if len(names) <= 1:
        names = []
        labels = [0] * len(images)
    return images, labels, names, source_text, counter


def images_to_tensor(images):
    """PIL RGB images -> uint8 tensor (N, 3, H, W)."""
    import numpy as np
    import torch

    array = np.stack([np.asarray(im, dtype=np.uint8) for im in images])  # (N, H, W, 3)
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()  # -> (N, 3, H, W)


# ------------------------------------------------------------------------------------------------------------------
# Poems
# ------------------------------------------------------------------------------------------------------------------
FORTUNES_DIR = Path("/usr/share/games/fortunes")
FORTUNES_FILES = ("tang300", "song100")
ANSI_RE = __import__("re").compile(r"\x1b\[[0-9;]*m")
CONTROL_RE = __import__("re").compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_POEM_CHARS = 4000


def parse_fortunes(text: str) -> list[dict]:
    """Parse Debian `fortunes-zh` entries (`%`-separated; a coloured `《title》` line, a `作者：` line, the poem)."""
    import re

    poems = []
    for entry in re.split(r"^%\s*$", text, flags=re.M):
        lines = [ANSI_RE.sub("", line).strip() for line in entry.strip().splitlines()]
        lines = [line for line in lines if line]
        if len(lines) < 2:
            continue
        title_match = re.search(r"《(.+?)》", lines[0])
        if not title_match:
            continue
        author = None
        body_start = 1
        if len(lines) > 1 and re.match(r"^作者[:：]", lines[1]):
            author = re.sub(r"^作者[:：]\s*", "", lines[1])
            author = re.sub(r"[（(].*?[)）]", "", author).strip() or None
            body_start = 2
        body = "\n".join(lines[body_start:])
        if body:
            poems.append({"title": title_match.group(1).strip(), "author": author, "text": body})
    return poems


def clean_poem_text(text: str) -> str:
    text = CONTROL_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "\n".join(line.strip() for line in text.split("\n") if line.strip())


def clean_poem_record(record: dict, counter: SkipCounter) -> dict | None:
    """A poem dict (`text`, `title`, `author`, `form`, `keywords`) from a raw record, or None (counted by reason)."""
    text = record.get("text")
    if not isinstance(text, str):
        counter.skip("no text")
        return None
    text = clean_poem_text(text)
    if not text:
        counter.skip("empty")
        return None
    if len(text) > MAX_POEM_CHARS:
        counter.skip(f"longer than {MAX_POEM_CHARS} characters")
        return None
    keywords = record.get("keywords")
    if isinstance(keywords, str):
        keywords = keywords.split()
    return {"text": text, "title": record.get("title") or None, "author": record.get("author") or None,
            "form": record.get("form") or None, "keywords": keywords or None}


def stream_dataset(dataset_name: str, dataset_config_name=None, dataset_split: str = "train", cache_dir=None,
                   column: str | None = None):
    """`load_dataset(..., streaming=True)`: an iterable over a corpus bigger than RAM (read shard by shard)."""
    import datasets

    ds = datasets.load_dataset(dataset_name, dataset_config_name, split=dataset_split, cache_dir=cache_dir,
                               streaming=True)
    if column is not None and ds.column_names is not None and column not in ds.column_names:
        raise SystemExit(f"Column {column!r} is not in {dataset_name} (columns: {ds.column_names}).")
    return ds


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


def load_poems(*, train_file: str | None = None, dataset_name: str | None = None, dataset_config_name=None,
               dataset_split: str = "train", text_column: str = "text", cache_dir=None,
               max_samples: int | None = None, fortunes_dir: str | os.PathLike = FORTUNES_DIR):
    """Load poems (dicts with `text` and optional `title`, `author`, `form`, `keywords`) from one source:

    1. `dataset_name`: an HF dataset with `text_column`;
    2. `train_file`: `.jsonl` (one object per line with `text`, optional fields) or `.txt` (poems separated by
       blank lines); `.gz` is read transparently;
    3. neither: Debian's `fortunes-zh` Tang and Song poems under `/usr/share/games/fortunes/`.

    Returns `(poems, source, counter)`. Bad lines (invalid UTF-8, invalid JSON, empty or over-long poems) are
    skipped and counted; control characters are stripped.
    """
    import gzip
    import json

    counter = SkipCounter()
    poems: list[dict] = []

    def add(record: dict):
        if max_samples and len(poems) >= max_samples:
            return
        poem = clean_poem_record(record, counter)
        if poem is not None:
            poems.append(poem)

    if dataset_name:
        import datasets

        ds = datasets.load_dataset(dataset_name, dataset_config_name, split=dataset_split, cache_dir=cache_dir)
        if text_column not in ds.column_names:
            raise SystemExit(f"--text_column {text_column!r} is not in {dataset_name} (columns: {ds.column_names}).")
        for row in ds:
            add({**row, "text": row[text_column]})
        source = f"Hub dataset `{dataset_name}`"
    elif train_file:
        path = Path(train_file)
        if not path.is_file():
            raise SystemExit(f"--train_file {path} does not exist.")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as handle:
            raw = handle.read()
        text = raw.decode("utf-8", errors="replace")
        invalid = text.count("\ufffd")
        if invalid:
            counter.skip("invalid UTF-8 bytes (replaced)", None)
            counter["invalid UTF-8 bytes (replaced)"] += invalid - 1
            text = text.replace("\ufffd", "")
        stem = path.name[:-3] if path.suffix == ".gz" else path.name
        if stem.endswith(".jsonl") or stem.endswith(".json"):
            for line in text.splitlines():
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    counter.skip("invalid JSON line")
                    continue
                if isinstance(record, dict):
                    add(record)
                else:
                    counter.skip("JSON line is not an object")
        else:
            for block in __import__("re").split(r"\n\s*\n", text):
                if block.strip():
                    add({"text": block})
        source = f"file `{path}`"
    else:
        folder = Path(fortunes_dir)
        files = [folder / name for name in FORTUNES_FILES if (folder / name).exists()]
        if not files:
            raise SystemExit(
                f"No data given and the embedded default (Debian's fortunes-zh Tang/Song poems in {folder}) is "
                "missing. Install it with `sudo apt-get install fortunes-zh`, or pass your own poems with "
                "--train_file poems.jsonl (or .txt, poems separated by blank lines) or --dataset_name."
            )
        for path in files:
            for record in parse_fortunes(path.read_text("utf-8", errors="replace")):
                add(record)
        source = "embedded fortunes-zh (" + ", ".join(p.name for p in files) + ")"
    counter.kept = len(poems)
    if not poems:
        raise SystemExit(f"No usable poems in {source}: {counter.summary('poems')}.")
    return poems, source, counter


# ------------------------------------------------------------------------------------------------------------------
# MIDI
# ------------------------------------------------------------------------------------------------------------------
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
        import datasets

        ds = datasets.load_dataset(dataset_name, dataset_config_name, split=dataset_split, cache_dir=cache_dir)
        if midi_column not in ds.column_names:
            raise SystemExit(f"--midi_column {midi_column!r} is not in {dataset_name} (columns: {ds.column_names}).")
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
    counter.kept = len(items)
    if not items:
        raise SystemExit(f"No usable MIDI in {source}: {counter.summary('MIDI files')}.")
    return items, source, counter
