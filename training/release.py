"""The release recipes: one command per model that makes `releases/neuroart-<kind>/` from the curated data.

    python -m neuroart.training.release gan|music|poetry [--steps split train export quality card]
    make release-gan | make release-music | make release-poetry

Each recipe runs the project's own training script (`accelerate launch training/train_<kind>.py`) with the release
settings below on the held-out split of `../shared/data` (`neuroart.training.release_data`), then:

- `export`: copies the Hub-ready files of the run into `releases/neuroart-<kind>/` (config, safetensors, remote
  code, tokenizer, the copy-check/nearest indexes); weights are stored in float16 where `HALF_PRECISION` says so
  (the quality benchmark measures the stored weights, see the card), and load as float32 (`config.dtype`);
- `quality`: `benchmarks/release_quality.py --only <kind>` on the exported folder;
- `card`: the model card, with the command, the data's provenance and licence, the budget, the measured metrics
  and the samples.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = "outputs/release-data"
# Weights stored as float16 (loaded as float32): measured against the float32 run by `quality --compare_fp32`.
HALF_PRECISION = {"gan": True, "music": False, "poetry": True}
# Kinds whose recipe trains with bf16 autocast where the CPU runs it natively (`training_precision`).
BF16_KINDS = {"gan", "poetry"}
# Decoding defaults written into the release's generation_config.json (`generate_music(voices="auto",
# tonality="auto")` reads them), chosen against the training chorales, not the held-out ones (see the card):
# at most 5 notes sounding at once (four voices, and a passing note), and out-of-key pitches 2 nats less likely.
GENERATION_DEFAULTS = {"music": {"max_voices": 5, "tonality": 2.0}}

RECIPES = {
    # 2026-12-03: a live discriminator (no spectral norm, He init, R1 gamma 0.1), a generator twice as wide at the
    # fine scales (base 32, layers capped at 192), bf16 where native, and the trained generator paints
    # (--ema_decay 0): on the held-out paintings the EMA of the weights scored worse at every checkpoint (KID 0.303
    # vs 0.186 at step 3,000). The whole 9,000 CPU-s budget: KID kept falling (0.175 at step 6,000, 0.113 at
    # 13,000, 0.099 at the end). See benchmarks/results/release_sweep.json, gan_generator_and_ema_2026_12_03 and
    # gan_full_budget_2026_12_03.
    "gan": ["--train_data_dir", f"{DATA}/paintings/train", "--resolution", "64",
            "--discriminator_head", "sum", "--no_spectral_norm", "--r1_gamma", "0.1", "--r1_interval", "16",
            "--discriminator_minibatch_std", "0", "--generator_base_channels", "32",
            "--discriminator_base_channels", "48", "--max_channels", "192", "--ema_decay", "0",
            "--max_train_cpu_seconds", "9000", "--max_train_steps", "100000", "--train_batch_size", "16",
            "--learning_rate", "2e-4", "--sample_steps", "1000", "--checkpointing_steps", "1000",
            "--checkpoints_total_limit", "2", "--seed", "0"],
    "music": ["--train_data_dir", f"{DATA}/music/train", "--validation_data_dir", f"{DATA}/music/val",
              "--transpose", "3", "--hidden_size", "384", "--num_hidden_layers", "2", "--dropout", "0.1",
              "--train_batch_size", "16", "--max_seq_length", "256", "--learning_rate", "2e-3",
              "--lr_warmup_steps", "50", "--max_train_cpu_seconds", "1200", "--max_train_steps", "100000",
              "--eval_steps", "200", "--sample_steps", "400", "--checkpointing_steps", "200",
              "--checkpoints_total_limit", "2", "--seed", "0"],
    # One stage, bf16 where native (2026-12-03): 6,000 CPU-s on a Xeon with AMX buy about three times the steps of the
    # previous two-stage fp32 recipe's 9,003 CPU-s on an AVX2-only EPYC (2,227 steps, 4.00 nats/char held out).
    "poetry": ["--train_file", f"{DATA}/poetry/train.jsonl", "--validation_file", f"{DATA}/poetry/val_tang.jsonl",
               "--hidden_size", "256", "--num_hidden_layers", "4", "--num_attention_heads", "4", "--dropout", "0.0",
               "--train_batch_size", "32", "--learning_rate", "2e-3", "--lr_warmup_steps", "100",
               "--max_seq_length", "128", "--max_train_cpu_seconds", "6000", "--max_train_steps", "100000",
               "--eval_steps", "1000", "--sample_steps", "1000", "--checkpointing_steps", "500",
               "--checkpoints_total_limit", "2", "--seed", "0"],
}
# Later stages of a recipe: each continues from the previous stage's model (`--model_name_or_path`) with a fresh
# warm-up and cosine decay over its own CPU budget (a warm restart) and a new data order; output `<out>2`, ...
CONTINUATIONS = {
    # Stage 2 (2026-12-02): the 1,200-CPU-s composer continued with a warm restart, 3,800 CPU-s more (validation
    # 1.121 -> 0.802 nats/token). (The painter's stage 2, 3,800 CPU-s more at lr 1e-4, scored worse, KID 0.377 vs
    # 0.298, and is not part of its recipe: benchmarks/results/release_sweep.json.)
    "music": [["--train_data_dir", f"{DATA}/music/train", "--validation_data_dir", f"{DATA}/music/val",
               "--transpose", "3", "--train_batch_size", "16", "--max_seq_length", "256", "--learning_rate", "1e-3",
               "--lr_warmup_steps", "50", "--max_train_cpu_seconds", "3800", "--max_train_steps", "100000",
               "--eval_steps", "200", "--sample_steps", "400", "--checkpointing_steps", "200",
               "--checkpoints_total_limit", "2", "--seed", "1"],
              # Stage 3 (2026-12-02): the rest of the budget, 3,800 CPU-s more at half the learning rate.
              ["--train_data_dir", f"{DATA}/music/train", "--validation_data_dir", f"{DATA}/music/val",
               "--transpose", "3", "--train_batch_size", "16", "--max_seq_length", "256", "--learning_rate", "5e-4",
               "--lr_warmup_steps", "50", "--max_train_cpu_seconds", "3800", "--max_train_steps", "100000",
               "--eval_steps", "200", "--sample_steps", "400", "--checkpointing_steps", "200",
               "--checkpoints_total_limit", "2", "--seed", "2"]],
}
SPLIT = {"gan": "paintings", "music": "music", "poetry": "poetry"}
DATA_NOTES = {
    "gan": ("`../shared/data/paintings` (206 public-domain paintings, 15th to early 20th century, from "
            "github.com/irinainina/image-data; kept only works whose author died before 1955 and dated before 1930; "
            "photographic reproductions of 2-D public-domain works attract no new copyright in the US (Bridgeman v. "
            "Corel) and the EU (Art. 14, Directive 2019/790) — the curators' reading, not legal advice). 64 px, "
            "`whole` + 12 `crops` per painting, era folders as style classes; 24 paintings (312 images) held out by "
            "painting and never trained on."),
    "music": ("`../shared/data/midi/bach_chorales` (279 four-part J.S. Bach chorales from the music21 corpus, as "
              "MIDI; the compositions are public domain; music21's corpus licence says the encodings are "
              "distributed with the encoders' permission and some may not be used commercially). 28 chorales held "
              "out by piece; transposition augmentation ±3 semitones. Not trained on music21's own corpus copy, "
              "JSB or Nottingham (GPL-3.0)."),
    "poetry": ("`../shared/data/poetry`: the Tang 绝句/律诗 (34,812, chinese-poetry/chinese-poetry, MIT; the poems are "
               "pre-modern and public domain) minus 1,200 held-out Tang poems, plus the 60,905 strict Song 绝句. "
               "Keywords (`<kw>`) are sampled from each poem's own lines for half the examples. Not trained on "
               "Debian's fortunes-zh or any other outside copy. English is not in this release's training data."),
}


def run(cmd, **kwargs):
    print("$ " + " ".join(map(str, cmd)), flush=True)
    subprocess.run(list(map(str, cmd)), check=True, cwd=REPO_ROOT, **kwargs)


def train_command(kind: str, output_dir: str, stage: int = 0, precision: str | None = None) -> list[str]:
    """The accelerate command of stage `stage` (0: the recipe, 1..: its CONTINUATIONS from the previous stage), with
    `precision` ("bf16" or "no"; default: `training_precision` on this machine)."""
    args = RECIPES[kind] if stage == 0 else ["--model_name_or_path", stage_dir(output_dir, stage - 1),
                                               *CONTINUATIONS[kind][stage - 1]]
    precision = precision or training_precision(kind)
    return [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--mixed_precision", precision,
            f"training/train_{kind}.py", "--output_dir", stage_dir(output_dir, stage), *args,
            "--mixed_precision", precision]  # also in the script's args, so its card's hyperparameters record it


def training_precision(kind: str) -> str:
    """bf16 autocast where the CPU runs it natively (AMX or AVX512-BF16: about 1.45x the fp32 steps of the poet
    and 1.7x the painter's, 3.1 vs 1.8 steps/s, measured 2026-12-03 on a Xeon with AMX), fp32 elsewhere (an
    AVX2-only CPU emulates bf16 20-30x slower). Chosen at run time, per machine; kinds outside BF16_KINDS always
    train in fp32."""
    from neuroart.gan.modeling_neuroart_gan import native_bf16

    return "bf16" if kind in BF16_KINDS and native_bf16("cpu") else "no"


def stage_dir(output_dir: str, stage: int) -> str:
    return output_dir if stage == 0 else f"{output_dir}{stage + 1}"


def stages(kind: str) -> int:
    return 1 + len(CONTINUATIONS.get(kind, []))


def release_dir(kind: str) -> Path:
    return REPO_ROOT / "releases" / f"neuroart-{kind}"


KEEP = {"gan": ["nearest_index.safetensors", "samples/grid.png"],
        "music": ["tokenizer.json"],
        "poetry": ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "poem_lines.txt.gz",
                   "samples/poems.txt"]}


def export(kind: str, trained: Path, target: Path | None = None) -> Path:
    """Copy the run's Hub-ready files into the release folder, weights in float16 where the recipe says so."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM

    import neuroart  # noqa: F401  (registers the classes)

    target = target or release_dir(kind)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    loader = AutoModel if kind == "gan" else AutoModelForCausalLM
    model = loader.from_pretrained(trained, dtype=torch.float32)
    if HALF_PRECISION[kind]:
        model = model.half()
    for name, value in GENERATION_DEFAULTS.get(kind, {}).items():
        setattr(model.generation_config, name, value)
    if GENERATION_DEFAULTS.get(kind):
        # A generation config marked `_from_model_config` is rebuilt from the model config on load, and transformers
        # then drops every attribute it does not know (our `max_voices`, `tonality`): unmark it.
        model.generation_config._from_model_config = False
    model.save_pretrained(target)
    config_path = target / "config.json"  # stored in float16, loaded as float32 (save_pretrained writes float16)
    config = json.loads(config_path.read_text())
    config["dtype"] = "float32"
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    for name in KEEP[kind]:
        if (trained / name).exists():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(trained / name, target / name)
    for stray in ("training_summary.json",):
        (target / stray).unlink(missing_ok=True)
    shutil.copyfile(trained / "training_summary.json", target / "training_summary.json")
    return target


def refresh_code(kind: str, target: Path | None = None) -> list[str]:
    """Copy the package's current remote code over the `.py` files a release folder ships (weights untouched)."""
    import importlib

    target = target or release_dir(kind)
    helpers = getattr(importlib.import_module(f"neuroart.{kind}.modeling_neuroart_{kind}"), "HELPER_MODULES", ())
    copied = []
    for name in sorted({path.name for path in target.glob("*.py")} | set(helpers)):  # a new helper module too
        source, path = REPO_ROOT / "modeling" / kind / name, target / name
        if source.exists() and (not path.exists() or source.read_bytes() != path.read_bytes()):
            shutil.copyfile(source, path)
            copied.append(name)
    return copied


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=sorted(RECIPES))
    parser.add_argument("--steps", nargs="*", default=["split", "train", "export", "quality", "card"],
                        choices=["split", "train", "export", "quality", "card", "code"],
                        help="`code` only refreshes the release folder's remote code from the package.")
    parser.add_argument("--output_dir", default=None, help="Training output (default outputs/release-<kind>).")
    parser.add_argument("--start_stage", type=int, default=1,
                        help="First stage `train` runs (1 = the recipe; 2 = its first continuation, from an existing "
                             "stage-1 output, e.g. a copy of the committed release).")
    args = parser.parse_args(argv)
    kind = args.kind
    out = args.output_dir or f"outputs/release-{kind}"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "false"}
    if "split" in args.steps:
        run([sys.executable, "-m", "neuroart.training.release_data", SPLIT[kind]], env=env)
    if "train" in args.steps:
        if not 1 <= args.start_stage <= stages(kind):
            raise SystemExit(f"--start_stage={args.start_stage}: {kind} has stages 1 to {stages(kind)}.")
        for stage in range(args.start_stage - 1, stages(kind)):
            run(train_command(kind, out, stage), env=env)
    final = stage_dir(out, stages(kind) - 1)
    if "export" in args.steps:
        print(f"exported {export(kind, REPO_ROOT / final)}")
    if "quality" in args.steps:
        run([sys.executable, "benchmarks/release_quality.py", "--only", kind], env=env)
    if "code" in args.steps:
        print(f"refreshed {refresh_code(kind) or 'nothing'} in {release_dir(kind)}")
    if "card" in args.steps:
        from neuroart.training.release_card import write_release_card

        print(f"wrote {write_release_card(kind, REPO_ROOT / final, stage_dirs=[REPO_ROOT / stage_dir(out, i) for i in range(stages(kind))])}")


if __name__ == "__main__":
    main()
