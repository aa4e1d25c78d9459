#!/usr/bin/env python
"""Peak memory (max RSS) of each training script with its default model config, at 1x and 10x the data, in
memory and with --streaming (the LMs).

    python -m benchmarks.speed.memory            # ~5 minutes on 2 vCPUs

Each run is a fresh process (`python training/train_<m>.py ... --max_train_steps 2`), measured with
getrusage(RUSAGE_CHILDREN) in a wrapper process, so it includes loading the data, the model, two optimisation
steps, checkpoints and the export. Data: the GAN's procedural default (600 and 6,000 images), generated MIDI pieces
(150 and 1,500; four bars each), the fortunes-zh Tang/Song poems repeated 1x and 10x (or generated poems when
fortunes-zh is missing).
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import common
from benchmarks.common import REPO_ROOT, write_results

WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
           "sys.stderr.write(r.stderr[-3000:] if r.returncode else ''); "
           "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
QUIET = ["--checkpointing_steps", "1000", "--max_train_steps", "2"]


def peak_rss_mb(script: str, args: list, out: Path) -> float:
    cmd = [sys.executable, "-c", WRAPPER, sys.executable, str(REPO_ROOT / "training" / script), "--output_dir",
           str(out), *QUIET, *map(str, args)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=3600,
                            env={**os.environ, "OMP_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1"})
    code, kib = result.stdout.split()[-2:]
    if code != "0":
        raise SystemExit(f"{script} {args} failed:\n{result.stderr}")
    return round(int(kib) / 1024, 1)


def midi_corpus(folder: Path, count: int) -> Path:
    from symusic import Note, Score, Track

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        rng = random.Random(i)
        score = Score(480)
        track = Track(program=0)
        for beat in range(16):
            for voice in range(3):
                track.notes.append(Note(beat * 480, 480, 48 + 12 * voice + rng.choice([0, 2, 4, 5, 7, 9, 11]), 80))
        score.tracks.append(track)
        (folder / f"{i}.mid").write_bytes(score.dumps_midi())
    return folder


def poem_corpus(path: Path, copies: int) -> Path:
    from neuroart.training.data import load_poems

    try:
        poems = load_poems()[0]
    except SystemExit:  # no fortunes-zh: generated 绝句-shaped text
        rng = random.Random(0)
        chars = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
        poems = [{"text": "\n".join("".join(rng.choices(chars, k=7)) + ("，" if i % 2 == 0 else "。") for i in range(4))}
                 for _ in range(400)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps({"text": p["text"], "title": p.get("title")}, ensure_ascii=False)
                              for _ in range(copies) for p in poems))
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results_dir", type=str, default=None, help="Where the JSON goes.")
    parser.add_argument("--smoke", action="store_true", help="Tiny data (10 and 20 items), for the test suite.")
    args = parser.parse_args()
    if args.results_dir:
        common.RESULTS = Path(args.results_dir)
    scale = {"gan": 600, "midi": 150, "poems": 1} if not args.smoke else {"gan": 16, "midi": 6, "poems": 1}
    summary = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for factor in (1, 10):
            tag = f"{factor}x"
            gan_args = ["--num_default_images", scale["gan"] * factor, "--sample_steps", 1000]
            if args.smoke:
                gan_args += ["--resolution", 32, "--generator_base_channels", 4, "--discriminator_base_channels", 4]
            summary[f"gan_{tag}_mb"] = peak_rss_mb("train_gan.py", gan_args, tmp / f"gan{factor}")

            midi = midi_corpus(tmp / f"midi{factor}", scale["midi"] * factor)
            music = ["--sample_steps", 1000, "--eval_steps", 1000, "--transpose", 0, "--sample_bars", 1]
            if args.smoke:
                music += ["--hidden_size", 16, "--num_hidden_layers", 1, "--max_seq_length", 32]
            summary[f"music_{tag}_mb"] = peak_rss_mb("train_music.py", ["--train_data_dir", midi, *music],
                                                     tmp / f"music{factor}")
            import datasets

            parquet = tmp / f"midi_parquet{factor}"
            parquet.mkdir()
            datasets.Dataset.from_dict({"midi": [p.read_bytes() for p in sorted(midi.glob("*.mid"))]}).to_parquet(
                str(parquet / "train-00000.parquet"))
            summary[f"music_streaming_{tag}_mb"] = peak_rss_mb(
                "train_music.py", ["--dataset_name", parquet, "--streaming", "--streaming_eval_examples", 4, *music],
                tmp / f"music_s{factor}")

            poems = poem_corpus(tmp / f"poems{factor}" / "train.jsonl", scale["poems"] * factor)
            poetry = ["--sample_steps", 1000, "--eval_steps", 1000]
            if args.smoke:
                poetry += ["--hidden_size", 32, "--num_hidden_layers", 1, "--num_attention_heads", 2,
                           "--max_seq_length", 32]
            summary[f"poetry_{tag}_mb"] = peak_rss_mb("train_poetry.py", ["--train_file", poems, *poetry],
                                                      tmp / f"poetry{factor}")
            summary[f"poetry_streaming_{tag}_mb"] = peak_rss_mb(
                "train_poetry.py", ["--dataset_name", poems.parent, "--streaming", "--streaming_eval_examples", 20,
                                    *poetry], tmp / f"poetry_s{factor}")
            print(tag, {k: v for k, v in summary.items() if tag in k}, flush=True)
    write_results("memory", summary, {"data": {"gan_images_1x": scale["gan"], "midi_pieces_1x": scale["midi"],
                                               "poem_copies_1x": scale["poems"]}})


if __name__ == "__main__":
    main()
