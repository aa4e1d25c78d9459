"""Choose the music release's decoding defaults (`max_voices`, `tonality`) against the *training* chorales.

    python -m benchmarks.sweeps.music_decoding_sweep --model outputs/release-music2 [--pieces 12]
    python -m benchmarks.sweeps.music_decoding_sweep --model OTHER_MODEL --density -1,1.25,2,2.5 --name music_density_sweep

For each setting, `--pieces` 8-bar pieces from no primer (seeds 0..pieces-1) are compared with the training split's
chorales by Yang & Lerch's overlap (the measure of `release_quality.py`, which uses the held-out chorales instead):
the held-out chorales stay out of the choice. Writes `benchmarks/results/<--name>.json`.

`--density` instead sweeps the bias of `generate_music(density=...)` (under the release's decoding defaults,
voices 5 and tonality 2) and reports notes per bar as a ratio of the training chorales' and the grammar errors per
token, to set `DENSITIES` on a model other than the release.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

from benchmarks.common import setup_threads, write_results
from benchmarks.quality.music_quality import features, overlap_area

NAMES = ["pitch_class_histogram", "pitch_range", "polyphony", "notes_per_bar", "inter_onset_interval"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--name", default="music_decoding_sweep", help="Results file stem.")
    parser.add_argument("--pieces", type=int, default=12)
    parser.add_argument("--voices", default="none,4,5,6")
    parser.add_argument("--tonality", default="0,1,2,3")
    parser.add_argument("--density", default=None, help="Comma-separated density biases to sweep instead.")
    args = parser.parse_args()
    setup_threads(1)
    from benchmarks.common import release_split
    from neuroart import NeuroArtMusicForCausalLM
    from neuroart.music.generation import generate_music, load_tokenizer, to_score

    split = release_split("music")  # the release recipe's split, made if missing
    reference = [f for f in (features(to_score(p)) for p in sorted(Path(split["train_dir"]).glob("*.mid"))) if f]
    model = NeuroArtMusicForCausalLM.from_pretrained(args.model).eval()
    tokenizer = load_tokenizer(args.model)
    if args.density:
        return density_sweep(args, model, tokenizer, reference)
    rows = {}
    for voices, tonality in itertools.product(args.voices.split(","), args.tonality.split(",")):
        started = time.time()
        v = None if voices == "none" else int(voices)
        scores = [generate_music(model, tokenizer, num_bars=8, max_new_tokens=2400, seed=i, voices=v,
                                 tonality=float(tonality)).score for i in range(args.pieces)]
        generated = [f for f in (features(s) for s in scores) if f]
        overlap = {n: round(overlap_area(generated, reference, n), 4) for n in NAMES}
        name = f"voices={voices},tonality={tonality}"
        rows[name] = {"overlap_mean": round(sum(overlap.values()) / len(overlap), 4), **overlap,
                      "seconds": round(time.time() - started, 1)}
        print(name, json.dumps(rows[name]), flush=True)
    best = max(rows, key=lambda k: rows[k]["overlap_mean"])
    summary = {"best": best, "best_overlap_vs_train": rows[best]["overlap_mean"], "pieces": args.pieces,
               "reference": "training chorales", "model": args.model}
    write_results(args.name, summary, {"settings": rows})


def density_sweep(args, model, tokenizer, reference) -> None:
    from neuroart.music.generation import generate_music, notes_per_bar

    train_density = sum(f["notes_per_bar"] for f in reference) / len(reference)
    rows = {}
    for bias in (float(b) for b in args.density.split(",")):
        started = time.time()
        results = [generate_music(model, tokenizer, num_bars=8, max_new_tokens=2400, seed=i, voices=5, tonality=2.0,
                                  density=bias) for i in range(args.pieces)]
        density = sum(notes_per_bar(r.score) for r in results) / len(results)
        errors = sum(r.token_errors for r in results) / max(1, sum(len(r.token_ids) for r in results))
        rows[f"density={bias:g}"] = {"notes_per_bar": round(density, 2), "ratio": round(density / train_density, 3),
                                     "token_error_rate": round(errors, 4), "seconds": round(time.time() - started, 1)}
        print(bias, json.dumps(rows[f"density={bias:g}"]), flush=True)
    summary = {"notes_per_bar_training_chorales": round(train_density, 2), "pieces": args.pieces,
               "reference": "training chorales", "model": args.model}
    write_results(args.name, summary, {"settings": rows})


if __name__ == "__main__":
    main()
