"""The flags every training script shares, named as in the diffusers/transformers example scripts."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {value}")
    return value


def add_common_args(parser: argparse.ArgumentParser, *, default_output_dir: str, default_lr: float) -> None:
    """Register the shared flags on `parser`."""
    data = parser.add_argument_group("data")
    data.add_argument("--dataset_name", type=str, default=None,
                      help="A dataset on the Hugging Face Hub (e.g. huggan/wikiart) or a local dataset folder.")
    data.add_argument("--dataset_config_name", type=str, default=None, help="The dataset's configuration name.")
    data.add_argument("--dataset_split", type=str, default="train", help="Which split of --dataset_name to train on.")
    data.add_argument("--cache_dir", type=str, default=None, help="Where datasets and models are cached.")
    data.add_argument("--max_train_samples", type=int, default=None,
                      help="Truncate the training data to this many examples (for quick runs).")

    model = parser.add_argument_group("model")
    model.add_argument("--model_name_or_path", type=str, default=None,
                       help="Fine-tune from this released model (Hub id or folder) instead of training from scratch.")

    train = parser.add_argument_group("training")
    train.add_argument("--output_dir", type=str, default=default_output_dir,
                       help="Where the Hub-ready model folder, checkpoints, samples and logs are written.")
    train.add_argument("--seed", type=int, default=0, help="Seed for model init, data order and sampling.")
    train.add_argument("--train_batch_size", type=positive_int, default=16, help="Batch size per process.")
    train.add_argument("--num_train_epochs", type=positive_int, default=100,
                       help="Epochs to train; --max_train_steps, when given, wins.")
    train.add_argument("--max_train_steps", type=positive_int, default=None,
                       help="Total optimisation steps; overrides --num_train_epochs.")
    train.add_argument("--max_train_cpu_seconds", type=positive_float, default=None,
                       help="Stop once the training loop has used this much process CPU time (all threads), for "
                            "fixed-budget comparisons; the model is saved as usual.")
    train.add_argument("--max_train_seconds", type=positive_float, default=None,
                       help="Stop once training has run this many wall-clock seconds (the budget that means something "
                            "on a GPU); with --max_train_cpu_seconds too, whichever ends first. The model is saved "
                            "as usual.")
    train.add_argument("--learning_rate", type=positive_float, default=default_lr, help="Initial learning rate.")
    train.add_argument("--gradient_accumulation_steps", type=positive_int, default=1,
                       help="Micro-batches to accumulate before each optimisation step.")
    train.add_argument("--mixed_precision", type=str, default=None, choices=["no", "fp16", "bf16"],
                       help="Mixed precision; bf16 autocast also works on recent CPUs. Default: accelerate's config.")
    train.add_argument("--dataloader_num_workers", type=int, default=0, help="Data loading worker processes.")

    gpu = parser.add_argument_group("GPU")
    gpu.add_argument("--torch_compile", action="store_true",
                     help="Compile the model(s) with torch.compile (inductor) when accelerate prepares them; pays "
                          "off on long GPU runs, costs a compile first.")
    gpu.add_argument("--no_tf32", action="store_true",
                     help="On CUDA, keep full-precision fp32 matmuls and convolutions (TF32 is on by default; bf16 "
                          "autocast runs are unaffected either way).")

    ckpt = parser.add_argument_group("checkpointing")
    ckpt.add_argument("--checkpointing_steps", type=positive_int, default=500,
                      help="Save a resumable checkpoint every N optimisation steps.")
    ckpt.add_argument("--checkpoints_total_limit", type=positive_int, default=None,
                      help="Keep at most this many checkpoints (oldest are deleted).")
    ckpt.add_argument("--resume_from_checkpoint", type=str, default=None,
                      help='Resume from a checkpoint folder, or "latest" for the newest complete one in output_dir.')

    log = parser.add_argument_group("logging")
    log.add_argument("--debug", action="store_true", help="Show the full traceback of an error.")
    log.add_argument("--report_to", type=str, default=None,
                     help='Tracker for metrics and samples: "tensorboard", "wandb", "all" or none (default).')
    log.add_argument("--logging_dir", type=str, default="logs", help="Tracker folder, relative to output_dir.")
    log.add_argument("--sample_steps", type=positive_int, default=250,
                     help="Write samples (and log them to the tracker) every N steps.")

    hub = parser.add_argument_group("hub")
    hub.add_argument("--push_to_hub", action="store_true", help="Upload the output folder to the Hub at the end.")
    hub.add_argument("--hub_model_id", type=str, default=None,
                     help="Repo to push to (defaults to the output folder's name).")
    hub.add_argument("--hub_token", type=str, default=None, help="Hub token (default: the logged-in one).")
    hub.add_argument("--hub_private_repo", action="store_true", help="Create the repo as private.")


def refuse_architecture_changes(parser, args, config_class, flags: dict) -> None:
    """A fine-tune (`--model_name_or_path`) keeps its model's architecture: an architecture flag set on the command
    line to something other than its default, and other than what the model was built with, is refused with one
    line naming both (argparse's exit 2), rather than silently ignored. `flags`: the flag's dest -> the config field,
    or (field, a function from the flag's value to the field's)."""
    if not getattr(args, "model_name_or_path", None):
        return
    try:
        config = config_class.from_pretrained(args.model_name_or_path)
    except Exception:  # noqa: BLE001  (a missing or unreadable model is reported when the script loads it)
        return
    clashes = []
    for dest, field in flags.items():
        field, convert = field if isinstance(field, tuple) else (field, None)
        value = getattr(args, dest)
        if value == parser.get_default(dest):
            continue
        wanted = convert(value) if convert else value
        if getattr(config, field, None) != wanted:
            flag = "--" + dest + ("" if isinstance(value, bool) else f" {value}")
            clashes.append(f"{flag} (the model has {field}={getattr(config, field, None)!r})")
    if clashes:
        parser.error(f"fine-tuning {args.model_name_or_path} keeps its architecture: " + "; ".join(clashes)
                     + ". Drop these flags, or train a new model without --model_name_or_path.")


# Exceptions that mean a mistake in what the user gave (a path, a dataset name), not a bug: one line, not a traceback.
USER_ERRORS = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


def run_main(main, args) -> None:
    """Run a script's `main(args)`. A user mistake (a `SystemExit` with a message, or one of USER_ERRORS) prints one
    line, `<script>: error: <what is wrong and how to fix it>`, and exits with code 2; `--debug` shows the
    traceback instead. (Under `accelerate launch`, `-q` also drops accelerate's own report of the failed process.)"""
    try:
        main(args)
    except SystemExit as error:
        if not isinstance(error.code, str) or getattr(args, "debug", False):
            raise
        message = error.code
    except USER_ERRORS as error:
        if getattr(args, "debug", False):
            raise
        message = f"{error.strerror or error}: {error.filename}" if getattr(error, "filename", None) else str(error)
    else:
        return
    print(f"{Path(sys.argv[0]).name}: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(2)
