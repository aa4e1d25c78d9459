"""Poems: an HF dataset, a `.jsonl`/`.txt` file (`.gz` too), or Debian's `fortunes-zh` Tang and Song poems."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .common import SkipCounter, finish, open_hub_dataset

FORTUNES_DIR = Path("/usr/share/games/fortunes")
FORTUNES_FILES = ("tang300", "song100")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_POEM_CHARS = 4000


def parse_fortunes(text: str) -> list[dict]:
    """Parse Debian `fortunes-zh` entries (`%`-separated; a coloured `《title》` line, a `作者：` line, the poem)."""
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
        ds = open_hub_dataset(dataset_name, dataset_config_name, dataset_split, cache_dir,
                              columns={"--text_column": text_column})
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
            for block in re.split(r"\n\s*\n", text):
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
    finish(poems, source, counter, "poems")
    return poems, source, counter


# ------------------------------------------------------------------------------------------------------------------
# MIDI


__all__ = ["FORTUNES_DIR", "clean_poem_record", "clean_poem_text", "load_poems", "parse_fortunes"]
