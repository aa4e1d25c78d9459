"""Train/validation splits of the curated data in `../shared/data` for the release recipes.

    python -m neuroart.training.release_data paintings|poetry|music [--shared_data DIR] [--output_dir DIR]

The splits are deterministic (seeded, by painting and by poem) and are written outside the repository
(`outputs/release-data/` by default, git-ignored): painting folders hold symlinks to the shared files, poem files
hold the selected records. Nothing of the shared data is copied into the repository.

- `paintings`: hold out `--val_paintings` paintings (default 24 of 206, stratified by era) by painting id, so a
  painting's whole image and its 12 crops fall on the same side. `train/<era>/` and `val/<era>/` hold `whole` +
  `crops` at `--resolution` px as image folders (era = style class); `paintings/` at 64 px, `paintings-128/` at 128.
- `poetry`: hold out `--val_poems` Tang poems (default 1,200) by poem; `train.jsonl` = the other Tang poems + all
  Song poems, `val_tang.jsonl` = the held-out ones. English: `val_en.jsonl` = the sonnet corpus's own `valid` items,
  `train_en.jsonl` = its `train` sonnets, their first two quatrains as quatrains, and tiny-shakespeare's speeches
  (lowercased and tokenized the way the sonnets are) as free verse; `train_zh_en.jsonl` = Chinese + English, the
  sonnets and quatrains twice (they are the forms the poet is asked for, and a tenth of the Chinese in size).
- `music`: hold out 28 of the 279 Bach chorales by piece (`--music_split_by tune`: whole tunes, at least 28 chorales);
  `train/` and `val/` hold symlinks to the MIDI files, and
  `val_new_tunes/` the held-out chorales whose tune (hymn melody) no training chorale is set to, where the
  benchmarks measure.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import re
from collections import defaultdict
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "outputs" / "release-data"
SPLIT_SEED = 20261201


def shared_data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """`NEUROART_SHARED_DATA`, else `../shared/data` beside the repository."""
    return Path(explicit or os.environ.get("NEUROART_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def painting_id(path: Path) -> str:
    return path.stem.split("_c")[0]  # pNNN_cKK -> pNNN; pNNN -> pNNN


def paintings_folder(resolution: int) -> str:
    """The split's folder: `paintings` at 64 px (the CPU release), `paintings-<N>` at other sizes."""
    return "paintings" if resolution == 64 else f"paintings-{resolution}"


def split_paintings(shared: Path, output: Path, *, resolution: int = 64, val_paintings: int = 24,
                    seed: int = SPLIT_SEED) -> dict:
    """Symlink `whole` + `crops` into `output/paintings/{train,val}/<era>/`; return the split's summary."""
    root = shared / "paintings"
    files = sorted((root / "whole" / str(resolution)).rglob("*.jpg")) + sorted(
        (root / "crops" / str(resolution)).rglob("*.jpg"))
    if not files:
        raise SystemExit(f"No paintings under {root}/{{whole,crops}}/{resolution}.")
    by_era = defaultdict(set)
    for path in files:
        by_era[path.parent.name].add(painting_id(path))
    total = sum(len(ids) for ids in by_era.values())
    rng = random.Random(seed)
    held = set()
    for era in sorted(by_era):  # stratified by era, at least one painting each
        ids = sorted(by_era[era])
        held.update(rng.sample(ids, max(1, round(val_paintings * len(ids) / total))))
    dest = output / paintings_folder(resolution)
    counts = {"train": 0, "val": 0}
    for split in counts:
        for old in (dest / split).rglob("*.jpg") if (dest / split).exists() else []:
            old.unlink()
    for path in files:
        split = "val" if painting_id(path) in held else "train"
        target = dest / split / path.parent.name / f"{path.parent.parent.parent.name}_{path.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(path.resolve(), target)
        counts[split] += 1
    summary = {"train_dir": str(dest / "train"), "val_dir": str(dest / "val"), "train_images": counts["train"],
               "val_images": counts["val"], "train_paintings": total - len(held), "val_paintings": len(held),
               "val_ids": sorted(held), "resolution": resolution, "seed": seed}
    (dest / "split.json").write_text(json.dumps(summary, indent=1))
    return summary


def _read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def split_poetry(shared: Path, output: Path, *, val_poems: int = 1200, seed: int = SPLIT_SEED) -> dict:
    """Write `output/poetry/train.jsonl` (Tang minus the held-out poems, plus Song) and `val_tang.jsonl`."""
    root = shared / "poetry"
    tang_file = root / "zh_tang_jueju_lushi.jsonl"
    tang = _read_jsonl(tang_file if tang_file.exists() else tang_file.with_suffix(".jsonl.gz"))  # a gzipped copy too
    song = _read_jsonl(root / "zh_song_jueju_strict.jsonl.gz")
    order = sorted(range(len(tang)), key=lambda i: hashlib.sha1(f"{seed}:{tang[i]['text']}".encode()).hexdigest())
    held = set(order[:val_poems])
    keep = ("title", "author", "form", "text")
    dest = output / "poetry"
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest / "train.jsonl", "w", encoding="utf-8") as train, \
            open(dest / "val_tang.jsonl", "w", encoding="utf-8") as val:
        for i, poem in enumerate(tang):
            (val if i in held else train).write(json.dumps({k: poem.get(k) for k in keep}, ensure_ascii=False) + "\n")
        for poem in song:
            train.write(json.dumps({k: poem.get(k) for k in keep}, ensure_ascii=False) + "\n")
    english = split_english(root, dest)
    with open(dest / "train_zh_en.jsonl", "w", encoding="utf-8") as joint:
        for name in ("train.jsonl", "train_en.jsonl"):
            with open(dest / name, encoding="utf-8") as part:
                for line in part:
                    repeat = 2 if name == "train_en.jsonl" and json.loads(line)["form"] in ("sonnet", "quatrain") else 1
                    joint.write(line * repeat)
    summary = {"train_file": str(dest / "train.jsonl"), "validation_file": str(dest / "val_tang.jsonl"),
               "train_tang": len(tang) - len(held), "train_song": len(song), "val_tang": len(held), "seed": seed,
               **english}
    (dest / "split.json").write_text(json.dumps(summary, indent=1))
    return summary


ENGLISH_PUNCTUATION = re.compile(r"([,;:!?.()\u2014\"]|--)")
CLITIC = re.compile(r"(\w)('s|'d|'ll|n't|'ve|'re|'m)\b")


def deepspeare_style(line: str) -> str:
    """Lowercase and tokenize a line the way the Deep-speare sonnets are ("man 's", "fair , and")."""
    line = CLITIC.sub(r"\1 \2", line.lower().replace("\u2019", "'"))
    return " ".join(ENGLISH_PUNCTUATION.sub(r" \1 ", line).split())


def shakespeare_speeches(text: str, max_lines: int = 12) -> list[str]:
    """tiny-shakespeare's speeches without the speakers' names, cut into chunks of at most `max_lines` lines."""
    chunks = []
    for block in text.split("\n\n"):
        lines = [line for line in block.strip().split("\n") if line.strip()]
        if lines and lines[0].rstrip().endswith(":") and len(lines[0]) < 40:
            lines = lines[1:]  # the speaker
        lines = [deepspeare_style(line) for line in lines]
        for start in range(0, len(lines), max_lines):
            if len(lines[start : start + max_lines]) >= 2:
                chunks.append("\n".join(lines[start : start + max_lines]))
    return chunks


def split_english(root: Path, dest: Path) -> dict:
    """Write `train_en.jsonl` and `val_en.jsonl` (see the module docstring); returns their counts."""
    sonnet_file = root / "en_sonnets_deepspeare.jsonl"
    sonnets = _read_jsonl(sonnet_file if sonnet_file.exists() else sonnet_file.with_suffix(".jsonl.gz"))
    counts = defaultdict(int)
    with open(dest / "train_en.jsonl", "w", encoding="utf-8") as train, \
            open(dest / "val_en.jsonl", "w", encoding="utf-8") as val:
        def write(handle, form, text, key):
            handle.write(json.dumps({"title": None, "author": None, "form": form, "text": text}) + "\n")
            counts[key] += 1

        for sonnet in sonnets:
            lines = sonnet["text"].split("\n")
            if sonnet["original_split"] == "valid":
                write(val, "sonnet", sonnet["text"], "val_en_sonnets")
                continue
            write(train, "sonnet", sonnet["text"], "train_en_sonnets")
            for start in (0, 4):
                write(train, "quatrain", "\n".join(lines[start : start + 4]), "train_en_quatrains")
        for speech in shakespeare_speeches((root / "en_tinyshakespeare_train90.txt").read_text(encoding="utf-8")):
            write(train, None, speech, "train_en_shakespeare")
    return dict(counts)


def chorale_tunes(files: list[Path], *, prefix: int = 10, similarity: float = 0.8) -> list[list[Path]]:
    """The chorales grouped by tune: Bach set many hymn tunes more than once (the Passion chorale eight times here),
    and a held-out setting of a tune the model trained on hands it the melody it has seen.

    A chorale's tune is its melody (`melody_line`: the Soprano) with repeated notes merged, as intervals from its
    first note, so a transposed or re-barred setting matches. Two chorales share a tune when their first `prefix`
    notes agree, or when their whole lines are at least `similarity` alike (`difflib`'s ratio: settings that
    ornament a note, or end differently). Groups are the connected pairs; a chorale alone is a group of one."""
    import difflib

    from neuroart.music.harmonization import melody_line

    lines = []
    for path in files:
        pitches = [note.pitch for note in melody_line(path).tracks[0].notes]
        merged = [p for i, p in enumerate(pitches) if i == 0 or p != pitches[i - 1]]
        lines.append(tuple(p - merged[0] for p in merged))
    parent = list(range(len(files)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, line in enumerate(lines):
        matcher = difflib.SequenceMatcher(None, autojunk=False)
        matcher.set_seq2(line)
        for j in range(i + 1, len(lines)):
            matcher.set_seq1(lines[j])
            if lines[j][:prefix] == line[:prefix] or (
                    matcher.real_quick_ratio() >= similarity and matcher.quick_ratio() >= similarity
                    and matcher.ratio() >= similarity):
                parent[root(j)] = root(i)
    groups = defaultdict(list)
    for i, path in enumerate(files):
        groups[root(i)].append(path)
    return sorted(groups.values(), key=lambda group: group[0].name)


def split_music(shared: Path, output: Path, *, val_pieces: int = 28, seed: int = SPLIT_SEED,
                by: str = "piece") -> dict:
    """Symlink the Bach chorales into `output/music/{train,val}/`, split by piece (one file = one chorale), or with
    `by="tune"` by tune (`chorale_tunes`: whole tunes, drawn until at least `val_pieces` chorales are held out).

    The held-out pieces whose tune no training chorale shares are also linked into `output/music/val_new_tunes/`
    (every held-out piece, by tune): the benchmarks measure there, since the others' melodies were trained on in
    another setting. The release recipe splits by piece, so it trains on the same 251 as the current release."""
    files = sorted((shared / "midi" / "bach_chorales").glob("*.mid"))
    if not files:
        raise SystemExit(f"No chorales under {shared}/midi/bach_chorales.")
    groups = chorale_tunes(files)
    if by == "piece":
        held = set(random.Random(seed).sample(range(len(files)), val_pieces))
    elif by == "tune":
        position = {path: i for i, path in enumerate(files)}
        held = set()
        for group in random.Random(seed).sample(groups, len(groups)):  # the groups in a seeded order
            if len(held) >= val_pieces:
                break
            held.update(position[path] for path in group)
    else:
        raise ValueError(f"by={by!r} is unknown; use 'piece' or 'tune'.")
    dest = output / "music"
    for split in ("train", "val", "val_new_tunes"):
        for old in (dest / split).glob("*.mid") if (dest / split).exists() else []:
            old.unlink()
        (dest / split).mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(files):
        os.symlink(path.resolve(), dest / ("val" if i in held else "train") / path.name)
    held_names = {files[i].name for i in held}
    tune_mates = {}
    for group in groups:
        names = [path.name for path in group]
        for name in set(names) & held_names:
            tune_mates[name] = sorted(set(names) - held_names)
    new_tunes = sorted(name for name in held_names if not tune_mates.get(name))
    for name in new_tunes:
        os.symlink((dest / "val" / name).resolve(), dest / "val_new_tunes" / name)
    summary = {"train_dir": str(dest / "train"), "val_dir": str(dest / "val"),
               "val_new_tunes_dir": str(dest / "val_new_tunes"), "train_pieces": len(files) - len(held),
               "val_pieces": len(held), "val_new_tune_pieces": len(new_tunes), "val_files": sorted(held_names),
               "val_new_tune_files": new_tunes,
               "tune_mates": {name: mates for name, mates in sorted(tune_mates.items()) if mates}, "seed": seed,
               "by": by}
    (dest / "split.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=["paintings", "poetry", "music"])
    parser.add_argument("--shared_data", default=None, help="The curated data (default $NEUROART_SHARED_DATA or "
                                                           "../shared/data).")
    parser.add_argument("--output_dir", default=str(DEFAULT_OUTPUT), help="Where the split goes.")
    parser.add_argument("--resolution", type=int, default=64, choices=[64, 128], help="Painting size.")
    parser.add_argument("--val_paintings", type=int, default=24, help="Paintings held out.")
    parser.add_argument("--val_poems", type=int, default=1200, help="Tang poems held out.")
    parser.add_argument("--music_split_by", default="piece", choices=["piece", "tune"],
                        help="Hold out chorales one by one (the release recipe's split) or whole tunes, every "
                             "setting of a hymn tune on one side.")
    args = parser.parse_args(argv)
    shared = shared_data_dir(args.shared_data)
    if not shared.is_dir():
        raise SystemExit(f"The curated data is not at {shared}; set NEUROART_SHARED_DATA.")
    if args.kind == "paintings":
        summary = split_paintings(shared, Path(args.output_dir), resolution=args.resolution,
                                  val_paintings=args.val_paintings)
    elif args.kind == "music":
        summary = split_music(shared, Path(args.output_dir), by=args.music_split_by)
    else:
        summary = split_poetry(shared, Path(args.output_dir), val_poems=args.val_poems)
    print(json.dumps({k: v for k, v in summary.items() if k not in ("val_ids", "val_files")}))


if __name__ == "__main__":
    main()
