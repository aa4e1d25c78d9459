#!/usr/bin/env python
"""Music quality on the JSB Chorales benchmark split (`midi/jsb_bl2012`: train_* to train, valid_* to evaluate).

1. `training/train_music.py` for a CPU budget (REMI tokens, LSTM), then validation NLL per token and per quarter-note
   piano-roll frame (total token NLL / number of frames), comparable in unit with the literature's LSTM 8.45
   nats/frame on JSB (Bai et al., 2018, arXiv:1803.01271; a frame-level model, so the comparison is indicative).
2. Generated-set statistics vs the validation set, with Yang & Lerch's method (2020, "On the evaluation of
   generative models in music"): for each feature, the intra-set distances of the validation set and the
   inter-set distances between generated and validation pieces are smoothed with Gaussian KDEs; the overlap area of
   the two densities is reported (1 = indistinguishable). Features: pitch-class histogram, pitch range, polyphony,
   notes per bar, mean inter-onset interval.
3. Controls: in-scale rate with `key` steering vs without; notes per bar with density low vs high; the token-type
   error rate (grammar repairs / tokens) of unconstrained generation.

    python -m benchmarks.quality.music_quality [--train_cpu_seconds 900] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import REPO_ROOT, setup_threads, shared_data, write_results


def features(score) -> dict:
    import numpy as np

    notes = [n for t in score.tracks if not t.is_drum for n in t.notes]
    tpq = score.ticks_per_quarter
    if not notes:
        return None
    pitches = np.array([n.pitch for n in notes])
    onsets = np.array(sorted({n.time for n in notes}))
    histogram = np.bincount(pitches % 12, minlength=12) / len(pitches)
    end = max(n.time + n.duration for n in notes)
    frames = max(1, math.ceil(end / tpq))
    active = np.zeros(frames)
    for n in notes:
        active[n.time // tpq : max(n.time // tpq + 1, (n.time + n.duration) // tpq)] += 1
    return {
        "pitch_class_histogram": histogram,
        "pitch_range": float(pitches.max() - pitches.min()),
        "polyphony": float(active[active > 0].mean()) if (active > 0).any() else 0.0,
        "notes_per_bar": len(notes) / max(1, math.ceil(end / (4 * tpq))),
        "inter_onset_interval": float(np.diff(onsets).mean() / tpq) if len(onsets) > 1 else 0.0,
    }


def heldout_nll(model, tokenizer, files) -> tuple[float, int, int]:
    """(total NLL in nats, predicted tokens, quarter-note frames) of `model` over the MIDI `files`, one piece each."""
    import torch

    from neuroart.music.generation import encode, to_score

    bos, eos = tokenizer["BOS_None"], tokenizer["EOS_None"]
    nll, tokens, frames = 0.0, 0, 0
    with torch.no_grad():
        for path in files:
            ids = torch.tensor([[bos] + encode(tokenizer, path) + [eos]], device=model.device)
            logits = model(input_ids=ids, use_cache=False).logits[0, :-1]
            nll += torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="sum").item()
            tokens += ids.shape[1] - 1
            score = to_score(path)
            end = max(n.time + n.duration for t in score.tracks for n in t.notes)
            frames += math.ceil(end / score.ticks_per_quarter)
    return nll, tokens, frames


def overlap_area(generated: list, reference: list, name: str) -> float:
    """Yang & Lerch: overlap of the KDEs of intra-reference and generated-to-reference distances."""
    import numpy as np
    from scipy.stats import gaussian_kde

    def dist(a, b):
        return float(np.linalg.norm(np.asarray(a[name]) - np.asarray(b[name])))

    intra = [dist(a, b) for i, a in enumerate(reference) for b in reference[i + 1 :]]
    inter = [dist(a, b) for a in generated for b in reference]
    if np.std(intra) == 0 or np.std(inter) == 0:
        return float(np.allclose(np.mean(intra), np.mean(inter)))
    grid = np.linspace(0, max(max(intra), max(inter)) * 1.2, 2000)
    p, q = gaussian_kde(intra)(grid), gaussian_kde(inter)(grid)
    return float(np.trapezoid(np.minimum(p, q), grid))


FEATURES = ["pitch_class_histogram", "pitch_range", "polyphony", "notes_per_bar", "inter_onset_interval"]


def free_pieces(model, tokenizer, bars: int, count: int, seed: int, max_new_tokens: int):
    """`count` free pieces of `bars` bars (seeds seed, seed+1, ...): (scores, their features where they have any,
    grammar errors, tokens written)."""
    from neuroart.music.generation import generate_music

    scores, generated, errors, tokens = [], [], 0, 0
    for i in range(count):
        result = generate_music(model, tokenizer, num_bars=bars, max_new_tokens=max_new_tokens, seed=seed + i)
        errors += result.token_errors
        tokens += len(result.token_ids)
        scores.append(result.score)
        if f := features(result.score):
            generated.append(f)
    return scores, generated, errors, tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads.")
    parser.add_argument("--train_cpu_seconds", type=float, default=900, help="CPU budget of the training run.")
    parser.add_argument("--num_generated", type=int, default=40, help="Pieces generated for the statistics.")
    parser.add_argument("--bars", type=int, default=8, help="Bars per generated piece.")
    parser.add_argument("--seed", type=int, default=0, help="Seed.")
    parser.add_argument("--smoke", action="store_true", help="Tiny budget, for the test suite.")
    parser.add_argument("--results_dir", type=str, default=None, help="Where the JSON goes.")
    args = parser.parse_args()
    if args.smoke:
        args.train_cpu_seconds, args.num_generated, args.bars = 5, 3, 2
    setup_threads(args.threads)
    from benchmarks import common
    from neuroart import NeuroArtMusicForCausalLM
    from neuroart.music.generation import (
        generate_music,
        in_scale_rate,
        load_tokenizer,
        notes_per_bar,
        to_score,
    )

    root = shared_data() / "midi" / "jsb_bl2012"
    if not root.is_dir():
        raise SystemExit(f"JSB data not found at {root}; set NEUROART_SHARED_DATA.")
    train_files = sorted(root.glob("train_*.mid"))
    valid_files = sorted(root.glob("valid_*.mid"))
    if args.smoke:
        train_files, valid_files = train_files[:8], valid_files[:4]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "train"
        data.mkdir()
        for path in train_files:
            os.symlink(path, data / path.name)
        out = Path(tmp) / "model"
        small = ["--hidden_size", "32", "--num_hidden_layers", "1"] if args.smoke else []
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--mixed_precision", "no",
               str(REPO_ROOT / "training" / "train_music.py"), "--train_data_dir", str(data), "--output_dir", str(out),
               "--max_train_steps", "1000000", "--max_train_cpu_seconds", str(args.train_cpu_seconds),
               "--validation_split_percentage", "0", "--transpose", "3", "--train_batch_size", "16",
               "--max_seq_length", "256", "--checkpointing_steps", "1000000", "--sample_steps", "1000000",
               "--eval_steps", "1000000", "--seed", str(args.seed), *small]
        subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
        model = NeuroArtMusicForCausalLM.from_pretrained(out).eval()
        tokenizer = load_tokenizer(out)
        training = json.loads((out / "training_summary.json").read_text())["metrics"]

    total_nll, total_tokens, total_frames = heldout_nll(model, tokenizer, valid_files)
    reference = [f for f in (features(to_score(p)) for p in valid_files) if f]
    free_scores, generated, errors, tokens = free_pieces(model, tokenizer, args.bars, args.num_generated, args.seed,
                                                         max_new_tokens=2048)
    overlaps = {name: round(overlap_area(generated, reference, name), 4) for name in FEATURES} if generated else {}
    keys = ["C", "G", "Am", "F", "Dm"]
    steered = [generate_music(model, tokenizer, num_bars=args.bars, key=k, max_new_tokens=2048, seed=args.seed + i).score
               for i, k in enumerate(keys * max(1, args.num_generated // 10))]

    def pooled_rate(scores):  # in-scale notes / notes, pooled over pieces (empty pieces carry no weight)
        pairs = list(zip(scores, keys * 100))
        notes = sum(s.note_num() for s, _ in pairs)
        return sum(in_scale_rate(s, k) * s.note_num() for s, k in pairs) / max(1, notes)

    steered_rate, unsteered_rate = pooled_rate(steered), pooled_rate(free_scores)
    density = {}
    for level in ("low", "high"):
        scores = [generate_music(model, tokenizer, num_bars=args.bars, density=level, max_new_tokens=2048, seed=i).score
                  for i in range(max(2, args.num_generated // 10))]
        density[level] = round(sum(notes_per_bar(s) for s in scores) / len(scores), 2)
    summary = {
        "val_nats_per_token": round(total_nll / total_tokens, 4),
        "val_nats_per_frame": round(total_nll / total_frames, 4),
        "overlap_mean": round(sum(overlaps.values()) / max(1, len(overlaps)), 4),
        "key_in_scale_rate": round(steered_rate, 4),
        "key_in_scale_rate_unsteered": round(unsteered_rate, 4),
        "token_error_rate": round(errors / max(1, tokens), 4),
        "notes_per_bar_density_low": density["low"],
        "notes_per_bar_density_high": density["high"],
        "notes_per_bar_validation": round(sum(f["notes_per_bar"] for f in reference) / len(reference), 2),
        "train_cpu_seconds": training["train_cpu_seconds"],
        "train_steps": training["steps"],
        "budget": {"train_cpu_seconds": args.train_cpu_seconds, "threads": args.threads,
                   "generated_pieces": args.num_generated, "bars": args.bars},
    }
    if args.results_dir:
        common.RESULTS = Path(args.results_dir)
    write_results("music_quality", summary, {"overlap_per_feature": overlaps, "training": training,
                                             "literature": {"lstm_jsb_nats_per_frame": 8.45}})


if __name__ == "__main__":
    main()
