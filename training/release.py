"""The release recipes: one command per model that makes `releases/neuroart-<kind>/` from the curated data.

    python -m neuroart.training.release gan|music|poetry [--steps split train export quality card]
    make release-gan | make release-music | make release-poetry

Each recipe runs the project's own training script (`accelerate launch training/train_<kind>.py`) with the release
settings below on the held-out split of `../shared/data` (`neuroart.training.release_data`), then:

- `export`: copies the Hub-ready files of the run into `releases/neuroart-<kind>/` (config, safetensors, remote
  code, tokenizer, the copy-check/nearest indexes); weights are stored in float16 where `HALF_PRECISION` says so
  (the quality benchmark measures the stored weights, see the card), and load as float32 (`config.dtype`);
- `quality`: `python -m benchmarks.quality.release_quality --only <kind>` on the exported folder;
- `card`: the model card, with the command, the data's provenance and licence, the budget, the measured metrics
  and the samples.

GPU-scale releases (`--gpu`, `make release-gpu KIND=<kind>`) run the same steps with `GPU_RECIPES` on one CUDA
device in bf16, under a wall-clock budget that leaves the whole job (split, training, export, held-out quality, card)
inside 9 minutes on one H100/H200. They export to `outputs/gpu-release/neuroart-<kind>/` (not over `releases/`)
and `pack` it into at most 6 files of at most 15 MB (`--pack_dir`), the form in which a release trained on a remote
GPU machine travels back; `--unpack DIR` checks and restores it into `releases/` (or `--unpack_to`). `--dry_run` runs
the same recipe end to end on a CPU at toy scale (`DRY_RUN`), in a couple of minutes; `--steps sweep` trains each of
`GPU_SWEEPS[kind]` for `--sweep_seconds` and reports its validation loss (choose the size on the hardware).
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
# Decoding defaults written into the release's generation_config.json: `generate_music` and `write_poem` read the
# sampling settings when a call leaves them unset, and `generate_music(voices="auto", tonality="auto",
# chords="auto")` the steering (chosen against the training chorales, not the held-out ones; see the card).
GENERATION_DEFAULTS = {
    "music": {"do_sample": True, "temperature": 1.0, "top_k": 0, "top_p": 0.95,
              "max_voices": 5, "tonality": 2.0, "chords": 5.0},
    "poetry": {"do_sample": True, "temperature": 0.9, "top_k": 50, "top_p": 0.95},
}

RECIPES = {
    # A live discriminator (no spectral norm, He init, R1 gamma 0.1), a generator twice as wide at the fine scales,
    # bf16 where native, and the trained generator paints (--ema_decay 0): the EMA of the weights scored worse on
    # the held-out paintings. Why each choice, with the figures: docs/releases/gan.md.
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
    # Stage 1: the Chinese poet, bf16 where native (why, with the figures: docs/releases/poetry.md).
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
    # Stage 2: English. The Chinese poet learns 2,048 new sub-words (`--extend_vocabulary`, the old ids
    # kept) and trains on the Chinese poems and the English ones together (the sonnets and quatrains twice), with
    # blocks of 256 tokens so that a sonnet fits its positions; validated on the held-out Tang poems, so the
    # Chinese it already writes is watched while it learns.
    "poetry": [["--train_file", f"{DATA}/poetry/train_zh_en.jsonl", "--validation_file",
                f"{DATA}/poetry/val_tang.jsonl", "--extend_vocabulary", "2048", "--train_batch_size", "16",
                "--max_seq_length", "256", "--learning_rate", "1e-3", "--lr_warmup_steps", "200",
                "--max_train_cpu_seconds", "4800", "--max_train_steps", "100000", "--eval_steps", "500",
                "--sample_steps", "1000", "--checkpointing_steps", "500", "--checkpoints_total_limit", "2",
                "--seed", "0"],
               # Stage 3: the same data at a third of the learning rate, a new order, to settle both languages.
               ["--train_file", f"{DATA}/poetry/train_zh_en.jsonl", "--validation_file",
                f"{DATA}/poetry/val_tang.jsonl", "--train_batch_size", "16", "--max_seq_length", "256",
                "--learning_rate", "3e-4", "--lr_warmup_steps", "50", "--max_train_cpu_seconds", "2000",
                "--max_train_steps", "100000", "--eval_steps", "500", "--sample_steps", "1000",
                "--checkpointing_steps", "500", "--checkpoints_total_limit", "1", "--seed", "1"]],
    # Stage 2: the composer continued with a warm restart; stage 3: the rest of the budget at half the learning
    # rate (the validation curve and why: docs/releases/music.md). The painter has no later stage: two continuations
    # from its release scored worse or mixed (`release_sweep.json`, docs/releases/gan.md).
    "music": [["--train_data_dir", f"{DATA}/music/train", "--validation_data_dir", f"{DATA}/music/val",
               "--transpose", "3", "--train_batch_size", "16", "--max_seq_length", "256", "--learning_rate", "1e-3",
               "--lr_warmup_steps", "50", "--max_train_cpu_seconds", "3800", "--max_train_steps", "100000",
               "--eval_steps", "200", "--sample_steps", "400", "--checkpointing_steps", "200",
               "--checkpoints_total_limit", "2", "--seed", "1"],
              ["--train_data_dir", f"{DATA}/music/train", "--validation_data_dir", f"{DATA}/music/val",
               "--transpose", "3", "--train_batch_size", "16", "--max_seq_length", "256", "--learning_rate", "5e-4",
               "--lr_warmup_steps", "50", "--max_train_cpu_seconds", "3800", "--max_train_steps", "100000",
               "--eval_steps", "200", "--sample_steps", "400", "--checkpointing_steps", "200",
               "--checkpoints_total_limit", "2", "--seed", "2"]],
}
# GPU-scale recipes (`--gpu`): one CUDA device, bf16 autocast, `--max_train_seconds` so that split + training +
# export + quality + card + pack fit in 9 minutes of wall time. Starting points sized from the data and the compute
# (the poet: ~25M training characters, tens of millions of parameters for several epochs; the painter: 128 px with
# the 64 px release's live-discriminator recipe, a GPU-sized batch); `--steps sweep` measures the alternatives.
GPU_RECIPES = {
    "gan": ["--train_data_dir", f"{DATA}/paintings-128/train", "--resolution", "128",
            "--discriminator_head", "sum", "--no_spectral_norm", "--r1_gamma", "0.1", "--r1_interval", "16",
            "--discriminator_minibatch_std", "0", "--generator_base_channels", "32",
            "--discriminator_base_channels", "48", "--max_channels", "256", "--ema_decay", "0",
            "--max_train_seconds", "330", "--max_train_steps", "1000000", "--train_batch_size", "64",
            "--learning_rate", "2e-4", "--sample_steps", "2000", "--checkpointing_steps", "2000",
            "--checkpoints_total_limit", "1", "--dataloader_num_workers", "4", "--seed", "0"],
    "music": ["--train_data_dir", f"{DATA}/music/train", "--validation_data_dir", f"{DATA}/music/val",
              "--transpose", "5", "--hidden_size", "768", "--num_hidden_layers", "3", "--dropout", "0.3",
              "--train_batch_size", "64", "--max_seq_length", "512", "--learning_rate", "2e-3",
              "--lr_warmup_steps", "100", "--max_train_seconds", "240", "--max_train_steps", "1000000",
              "--eval_steps", "250", "--sample_steps", "100000", "--checkpointing_steps", "1000",
              "--checkpoints_total_limit", "1", "--seed", "0"],
    "poetry": ["--train_file", f"{DATA}/poetry/train_zh_en.jsonl", "--validation_file",
               f"{DATA}/poetry/val_tang.jsonl",
               "--hidden_size", "512", "--num_hidden_layers", "8", "--num_attention_heads", "8", "--dropout", "0.1",
               "--tokenizer_vocab_size", "10240", "--weight_decay", "0.1", "--train_batch_size", "128",
               "--learning_rate", "1e-3",
               "--lr_warmup_steps", "300", "--max_seq_length", "256", "--max_train_seconds", "240",
               "--max_train_steps", "1000000", "--eval_steps", "1000", "--sample_steps", "100000",
               "--checkpointing_steps", "2000", "--checkpoints_total_limit", "1", "--seed", "0"],
}
# `--steps sweep`: the alternatives to the GPU recipe, each trained for `--sweep_seconds` (overrides of its flags).
GPU_SWEEPS = {
    "poetry": [["--hidden_size", "384", "--num_hidden_layers", "6", "--num_attention_heads", "6"],
               ["--hidden_size", "512", "--num_hidden_layers", "8", "--num_attention_heads", "8"],
               ["--hidden_size", "640", "--num_hidden_layers", "10", "--num_attention_heads", "10"],
               ["--hidden_size", "768", "--num_hidden_layers", "12", "--num_attention_heads", "12"]],
    "gan": [["--generator_base_channels", "16", "--discriminator_base_channels", "32"],
            ["--generator_base_channels", "32", "--discriminator_base_channels", "48"],
            ["--generator_base_channels", "48", "--discriminator_base_channels", "64", "--train_batch_size", "32"]],
    "music": [["--hidden_size", "512", "--num_hidden_layers", "2"], ["--hidden_size", "768", "--num_hidden_layers", "3"],
              ["--hidden_size", "1024", "--num_hidden_layers", "3"]],
}
# `--dry_run`: the GPU recipe at toy scale on a CPU (the same steps end to end, a test runs it).
DRY_RUN = {
    "gan": ["--generator_base_channels", "4", "--discriminator_base_channels", "4", "--max_channels", "16",
            "--train_batch_size", "4", "--max_train_steps", "3", "--max_train_seconds", "60",
            "--max_train_samples", "48", "--dataloader_num_workers", "0", "--num_sample_images", "4"],
    "music": ["--hidden_size", "16", "--num_hidden_layers", "1", "--train_batch_size", "2", "--max_seq_length", "64",
              "--transpose", "0", "--max_train_steps", "3", "--max_train_seconds", "60", "--max_train_samples", "6",
              "--eval_steps", "3", "--sample_bars", "1"],
    "poetry": ["--hidden_size", "32", "--num_hidden_layers", "1", "--num_attention_heads", "2",
               "--train_batch_size", "4", "--max_seq_length", "64", "--max_train_steps", "3",
               "--max_train_seconds", "60", "--max_train_samples", "300", "--eval_steps", "3"],
}
GPU_WALL_LIMIT = 9 * 60  # seconds for the whole `--gpu` job on one H100/H200
PACK_PART_BYTES = 15_000_000
PACK_MAX_FILES = 6
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
              "out by piece, of which the benchmarks measure on the 17 whose tune no training chorale is set to "
              "(Bach set many hymn tunes more than once); transposition augmentation ±3 semitones. Not trained on "
              "music21's own corpus copy, JSB or Nottingham (GPL-3.0)."),
    "poetry": ("`../shared/data/poetry`: the Tang 绝句/律诗 (34,812, chinese-poetry/chinese-poetry, MIT; the poems are "
               "pre-modern and public domain) minus 1,200 held-out Tang poems, plus the 60,905 strict Song 绝句. "
               "Keywords (`<kw>`) are sampled from each poem's own lines for half the examples. Not trained on "
               "Debian's fortunes-zh or any other outside copy. English (stage 2): the Deep-speare sonnet corpus's "
               "2,451 `train` sonnets (Project Gutenberg, public domain; jhlau/deepspeare, Apache-2.0), their first "
               "two quatrains, and tiny-shakespeare's first 90% (karpathy/char-rnn, MIT; Shakespeare, public "
               "domain), lowercased and tokenized as Deep-speare ships them; its 284 `valid` sonnets are held out."),
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


def gpu_train_command(kind: str, output_dir: str, *, dry_run: bool = False, extra=()) -> list[str]:
    """The accelerate command of the GPU recipe: one CUDA device in bf16 (`training/configs/single_gpu.yaml`), or
    with `dry_run` the same recipe at toy scale on the CPU in fp32."""
    precision = "no" if dry_run else "bf16"
    device = ["--cpu"] if dry_run else ["--config_file", "training/configs/single_gpu.yaml"]
    return [sys.executable, "-m", "accelerate.commands.launch", *device, "--num_processes", "1",
            "--mixed_precision", precision, f"training/train_{kind}.py", "--output_dir", output_dir,
            *GPU_RECIPES[kind], *(DRY_RUN[kind] if dry_run else []), *extra, "--mixed_precision", precision]


def training_precision(kind: str) -> str:
    """bf16 autocast where the CPU runs it natively (AMX or AVX512-BF16: faster than fp32 there; the figures are in
    docs/releases/poetry.md), fp32 elsewhere (an AVX2-only CPU emulates bf16, many times slower). Chosen at run
    time, per machine; kinds outside BF16_KINDS always train in fp32."""
    from neuroart.gan.modeling_neuroart_gan import native_bf16

    return "bf16" if kind in BF16_KINDS and native_bf16("cpu") else "no"


def stage_dir(output_dir: str, stage: int) -> str:
    return output_dir if stage == 0 else f"{output_dir}{stage + 1}"


def stages(kind: str) -> int:
    return 1 + len(CONTINUATIONS.get(kind, []))


def release_dir(kind: str) -> Path:
    return REPO_ROOT / "releases" / f"neuroart-{kind}"


KEEP = {"gan": ["nearest_index.safetensors", "samples/grid.png"],
        "music": ["tokenizer.json", "passage_index.safetensors"],
        "poetry": ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "poem_lines.txt.gz",
                   "english_words.txt", "samples/poems.txt"]}


def export(kind: str, trained: Path, target: Path | None = None) -> Path:
    """Copy the run's Hub-ready files into the release folder, weights in float16 where the recipe says so."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM

    import neuroart  # noqa: F401  (registers the classes)
    from neuroart.poetry import LineIndex
    from neuroart.releases import LINE_INDEX, line_index_digest

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
    summary = json.loads((trained / "training_summary.json").read_text())
    if kind == "poetry" and (target / LINE_INDEX).is_file():
        # git leaves the index out (releases/.gitignore); this digest lets a clone rebuild and check it from the data
        lines = len(LineIndex.load(target / LINE_INDEX).lines)
        summary["line_index"] = {"file": LINE_INDEX, "lines": lines, "sha256": line_index_digest(target / LINE_INDEX)}
    (target / "training_summary.json").write_text(json.dumps(summary, indent=2))
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


def pack(folder: Path, pack_dir: Path, *, part_bytes: int = PACK_PART_BYTES, max_files: int = PACK_MAX_FILES
         ) -> list[Path]:
    """`folder` as an uncompressed tar cut into parts of at most `part_bytes`, plus `MANIFEST.json` (part names and
    sha256, the folder's name): at most `max_files` files in all, so a release trained on a remote machine travels
    back in a few files. Raises when it would take more."""
    import hashlib
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(folder, arcname=folder.name)
    data = buffer.getvalue()
    parts = -(-len(data) // part_bytes)
    if parts + 1 > max_files:
        raise SystemExit(f"{folder} packs into {parts} parts of {part_bytes / 1e6:.0f} MB (+ the manifest), more than "
                         f"the {max_files} files allowed: shrink the release (half-precision weights, fewer samples).")
    pack_dir.mkdir(parents=True, exist_ok=True)
    written, manifest = [], {"folder": folder.name, "bytes": len(data), "parts": []}
    for index in range(parts):
        chunk = data[index * part_bytes : (index + 1) * part_bytes]
        path = pack_dir / f"{folder.name}.tar.{index:02d}"
        path.write_bytes(chunk)
        manifest["parts"].append({"name": path.name, "sha256": hashlib.sha256(chunk).hexdigest()})
        written.append(path)
    (pack_dir / f"{folder.name}.MANIFEST.json").write_text(json.dumps(manifest, indent=1))
    return [*written, pack_dir / f"{folder.name}.MANIFEST.json"]


def unpack(pack_dir: Path, target_parent: Path) -> Path:
    """Check and join the parts that `pack` wrote in `pack_dir`; extract the folder into `target_parent`, replacing
    a folder of the same name. Returns the restored folder."""
    import hashlib
    import io
    import tarfile

    manifests = sorted(Path(pack_dir).glob("*.MANIFEST.json"))
    if len(manifests) != 1:
        raise SystemExit(f"{pack_dir} must hold exactly one *.MANIFEST.json (found {len(manifests)}).")
    manifest = json.loads(manifests[0].read_text())
    data = b""
    for part in manifest["parts"]:
        chunk = (Path(pack_dir) / part["name"]).read_bytes()
        if hashlib.sha256(chunk).hexdigest() != part["sha256"]:
            raise SystemExit(f"{part['name']} is damaged (sha256 differs from the manifest).")
        data += chunk
    if len(data) != manifest["bytes"]:
        raise SystemExit(f"The parts hold {len(data)} bytes, the manifest says {manifest['bytes']}.")
    target = Path(target_parent) / manifest["folder"]
    if target.exists():
        shutil.rmtree(target)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        names = tar.getnames()
        if any(not name.startswith(manifest["folder"]) or ".." in Path(name).parts for name in names):
            raise SystemExit("The pack holds paths outside its folder; refusing to extract it.")
        tar.extractall(Path(target_parent), filter="data")
    return target


def sweep(kind: str, out: str, seconds: float, env: dict, dry_run: bool = False) -> list[dict]:
    """Train each of GPU_SWEEPS[kind] for `seconds` of wall time; their validation figures, also written to
    `<out>-sweep/sweep.json`."""
    results = []
    for index, overrides in enumerate(GPU_SWEEPS[kind][: 2 if dry_run else None]):
        folder = f"{out}-sweep/{index}"
        budget = [] if dry_run else ["--max_train_seconds", str(seconds)]
        run(gpu_train_command(kind, folder, dry_run=dry_run, extra=[*overrides, *budget]), env=env)
        metrics = json.loads((REPO_ROOT / folder / "training_summary.json").read_text())["metrics"]
        results.append({"overrides": " ".join(overrides), **{k: metrics.get(k) for k in (
            "val_nats_per_char", "val_nats_per_token", "swd_vs_train", "steps", "train_seconds",
            "train_tokens_per_second", "hardware")}})
        print(json.dumps(results[-1]), flush=True)
    (REPO_ROOT / f"{out}-sweep").mkdir(parents=True, exist_ok=True)
    (REPO_ROOT / f"{out}-sweep" / "sweep.json").write_text(json.dumps(results, indent=1))
    return results


def gpu_main(args, env: dict) -> None:
    """`--gpu`: the GPU-scale release of `args.kind`, staged in outputs/gpu-release (see the module docstring)."""
    import time

    kind, started = args.kind, time.time()
    out = args.output_dir or f"outputs/release-{kind}-gpu{'-dry' if args.dry_run else ''}"
    stage = REPO_ROOT / "outputs" / ("gpu-release-dry" if args.dry_run else "gpu-release")
    target, results = stage / f"neuroart-{kind}", stage / "results"
    steps = args.steps or ["split", "train", "export", "quality", "card", "pack"]
    if "split" in steps:
        extra = ["--resolution", "128"] if kind == "gan" else []
        run([sys.executable, "-m", "neuroart.training.release_data", SPLIT[kind], *extra], env=env)
    if "sweep" in steps:
        sweep(kind, out, args.sweep_seconds, env, dry_run=args.dry_run)
    if "train" in steps:
        run(gpu_train_command(kind, out, dry_run=args.dry_run), env=env)
    if "export" in steps:
        print(f"exported {export(kind, REPO_ROOT / out, target)}")
    if "quality" in steps:
        results.mkdir(parents=True, exist_ok=True)
        quality = [sys.executable, "-m", "benchmarks.quality.release_quality", "--only", kind, f"--{kind}_model",
                   str(target), "--results_dir", str(results), "--threads", str(os.cpu_count() or 1),
                   "--device", "cpu" if args.dry_run else "auto", *(["--smoke"] if args.dry_run else [])]
        try:
            run(quality, env=env)
        except subprocess.CalledProcessError:  # a measurement that breaks on the GPU is retried on the CPU
            if args.dry_run:
                raise
            print("quality on the GPU failed; measuring on the CPU", flush=True)
            run([*quality[:-2], "--device", "cpu"], env=env)
        shutil.copyfile(results / "release_quality.json", target / "release_quality.json")
    if "card" in steps:
        from neuroart.training.release_card import write_release_card

        print(f"wrote {write_release_card(kind, REPO_ROOT / out, target, gpu=True, dry_run=args.dry_run, quality_file=results / 'release_quality.json')}")
    if "pack" in steps:
        for stray in target.glob("samples/step_*"):
            stray.unlink()
        files = pack(target, Path(args.pack_dir) if args.pack_dir else stage / "pack")
        print("packed " + ", ".join(f"{p.name} ({p.stat().st_size / 1e6:.1f} MB)" for p in files))
    wall = time.time() - started
    print(f"{kind} --gpu{' --dry_run' if args.dry_run else ''}: {wall:.0f} s of wall time"
          + ("" if args.dry_run or wall <= GPU_WALL_LIMIT else f", over the {GPU_WALL_LIMIT} s the recipe must fit"),
          flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=sorted(RECIPES))
    parser.add_argument("--steps", nargs="*", default=None,
                        choices=["split", "sweep", "train", "export", "quality", "card", "code", "pack"],
                        help="Default: split train export quality card (with --gpu: ... card pack). `code` only "
                             "refreshes the release folder's remote code from the package; `sweep` (--gpu) trains "
                             "the recipe's alternatives for --sweep_seconds each.")
    parser.add_argument("--gpu", action="store_true",
                        help="The GPU-scale recipe (GPU_RECIPES) on one CUDA device, staged in outputs/gpu-release "
                             "and packed for the trip back (see the module docstring).")
    parser.add_argument("--dry_run", action="store_true", help="With --gpu: the same recipe at toy scale on a CPU.")
    parser.add_argument("--sweep_seconds", type=float, default=45, help="With --steps sweep: seconds per point.")
    parser.add_argument("--pack_dir", default=None,
                        help="With --gpu: where the packed release goes (default outputs/gpu-release/pack).")
    parser.add_argument("--unpack", default=None, metavar="DIR",
                        help="Restore a packed release from DIR into releases/ (or --unpack_to) and stop.")
    parser.add_argument("--unpack_to", default=None, help="With --unpack: the parent folder (default releases/).")
    parser.add_argument("--output_dir", default=None, help="Training output (default outputs/release-<kind>).")
    parser.add_argument("--start_stage", type=int, default=1,
                        help="First stage `train` runs (1 = the recipe; 2 = its first continuation, from an existing "
                             "stage-1 output, e.g. a copy of the committed release).")
    args = parser.parse_args(argv)
    kind = args.kind
    if args.unpack:
        print(f"restored {unpack(Path(args.unpack), Path(args.unpack_to) if args.unpack_to else REPO_ROOT / 'releases')}")
        return
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "false"}
    if args.gpu:
        if not args.dry_run:
            import torch

            if not torch.cuda.is_available():
                raise SystemExit("--gpu needs a CUDA device; `--gpu --dry_run` runs the recipe at toy scale on a CPU.")
        return gpu_main(args, env)
    if args.dry_run or args.pack_dir:
        raise SystemExit("--dry_run and --pack_dir go with --gpu.")
    args.steps = args.steps or ["split", "train", "export", "quality", "card"]
    out = args.output_dir or f"outputs/release-{kind}"
    env["OMP_NUM_THREADS"] = "1"
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
        run([sys.executable, "-m", "benchmarks.quality.release_quality", "--only", kind], env=env)
    if "code" in args.steps:
        print(f"refreshed {refresh_code(kind) or 'nothing'} in {release_dir(kind)}")
    if "card" in args.steps:
        from neuroart.training.release_card import write_release_card

        print(f"wrote {write_release_card(kind, REPO_ROOT / final, stage_dirs=[REPO_ROOT / stage_dir(out, i) for i in range(stages(kind))])}")


if __name__ == "__main__":
    main()
