#!/usr/bin/env python
"""A user's own 40 poems: does a fine-tune take their style without copying them? The README's command, as is.

    python -m benchmarks.quality.poetry_personal [--poems 40] [--samples 50] [--char 酒] [--smoke]

The corpus: the first `--poems` held-out Tang poems of the release recipe (`neuroart.training.release_data poetry`,
never seen by the release) that contain `--char`, the corpus's signature character. The fine-tune:
`accelerate launch training/train_poetry.py --model_name_or_path releases/neuroart-poetry --train_file corpus.jsonl
--output_dir ...`, with no other flag (the small-corpus defaults). Then `--samples` poems (五言/七言绝句 in turn,
seeds 0..) from the fine-tune and from the release. Reported:
- copied_lines: sampled lines that are lines of the 40 poems (target <= 5%); whole_poems returned (target 0);
- style: occurrences of the signature character per poem, fine-tune vs release (target >= 3x);
- the run's own record: steps, the step whose weights it kept, its copy checks.
Writes `benchmarks/results/poetry_personal.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.common import REPO_ROOT, setup_threads, write_results


def sample(model_dir, count: int):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from neuroart.poetry import write_poem

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    return [write_poem(model, tokenizer, form=("七言绝句", "五言绝句")[s % 2], seed=s, num_candidates=2).text
            for s in range(count)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--poetry_model", default=str(REPO_ROOT / "releases" / "neuroart-poetry"))
    parser.add_argument("--poems", type=int, default=40)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--char", default="酒")
    parser.add_argument("--smoke", action="store_true", help="12 poems, 20 steps at most, 4 samples; writes nothing.")
    args = parser.parse_args(argv)
    setup_threads(1)
    import neuroart  # noqa: F401
    from benchmarks.common import release_split

    split = release_split("poetry")
    held_out = [json.loads(line) for line in Path(split["validation_file"]).read_text(encoding="utf-8").splitlines()]
    corpus = [p for p in held_out if args.char in p["text"]][: 12 if args.smoke else args.poems]
    with tempfile.TemporaryDirectory() as tmp:
        data, out = Path(tmp) / "my-poems.jsonl", Path(tmp) / "my-poet"
        data.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in corpus), encoding="utf-8")
        command = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--mixed_precision",
                   "no", str(REPO_ROOT / "training" / "train_poetry.py"), "--model_name_or_path", args.poetry_model,
                   "--train_file", str(data), "--output_dir", str(out), *(["--max_train_steps", "20"] if args.smoke
                                                                           else [])]
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        record = json.loads((out / "training_summary.json").read_text())
        count = 4 if args.smoke else args.samples
        tuned, release = sample(out, count), sample(args.poetry_model, count)
    lines = {line.strip("，。") for p in corpus for line in p["text"].split("\n") if line.strip()}
    sampled = [line.strip("，。") for poem in tuned for line in poem.split("\n")]
    texts = {p["text"] for p in corpus}
    per_poem = {name: sum(p.count(args.char) for p in poems) / len(poems)
                for name, poems in (("fine_tune", tuned), ("release", release))}
    metrics = record.get("metrics", {})
    summary = {"corpus_poems": len(corpus), "samples": count,
               "copied_lines": round(sum(line in lines for line in sampled) / max(1, len(sampled)), 3),
               "whole_poems": sum(p in texts for p in tuned),
               "signature_per_poem": {k: round(v, 3) for k, v in per_poem.items()},
               "style_ratio": round(per_poem["fine_tune"] / per_poem["release"], 1) if per_poem["release"] else None,
               "steps": metrics.get("steps"), "kept_step": metrics.get("best_val_step", metrics.get("steps")),
               "copy_checks": metrics.get("copy_checks"),
               "small_corpus_defaults": {k: record.get("hyperparameters", {}).get(k) for k in
                                         ("learning_rate", "lr_warmup_steps", "eval_steps", "sample_steps",
                                          "early_stopping_patience", "max_train_steps")}}
    print(json.dumps(summary, ensure_ascii=False))
    if not args.smoke:
        write_results("poetry_personal", summary, {"char": args.char, "model": args.poetry_model,
                                                   "command": "accelerate launch training/train_poetry.py "
                                                              "--model_name_or_path <release> --train_file "
                                                              "my-poems.jsonl --output_dir my-poet",
                                                   "fine_tune_samples": tuned[:10], "release_samples": release[:5]})
    return summary


if __name__ == "__main__":
    main()
