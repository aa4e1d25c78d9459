"""The Hub-ready output folder of a training run, and `--push_to_hub`."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import torch

from neuroart.hub import write_model_card

# Training byproducts that stay out of the pushed repo.
IGNORE_PATTERNS = ["checkpoints/*", "logs/*", "*.tmp", ".tmp-*"]


def gather_full_model(accelerator, model, prepared: dict | None = None):
    """The trained model with its full weights on the main process (None on the others), for the final samples and
    the export. Every process must call it: under FSDP `accelerator.get_state_dict` gathers the shards, a
    collective, and the sharded module itself cannot be saved ("invalid python storage") or sampled from on one
    process. Under FSDP a fresh copy on the CPU gets the gathered weights; otherwise the unwrapped model is it.

    `prepared` maps submodule names to their prepared modules when a model's parts were prepared one by one (the
    GAN's generator and discriminator); parts not named (the GAN's EMA generator) are never sharded and are copied.
    """
    from accelerate.utils import DistributedType

    parts = prepared if prepared is not None else {"": model}
    states = {name: accelerator.get_state_dict(module) for name, module in parts.items()}  # every process
    if not accelerator.is_main_process:
        return None
    unwrapped = model if prepared is not None else accelerator.unwrap_model(model)
    if accelerator.distributed_type != DistributedType.FSDP:
        return unwrapped
    full = type(unwrapped)(unwrapped.config)
    full.generation_config = copy.deepcopy(getattr(unwrapped, "generation_config", None))
    if prepared is not None:
        for name, module in unwrapped.named_children():
            if name not in prepared:  # never sharded: its weights are whole on every process
                full.get_submodule(name).load_state_dict(module.state_dict())
    for name, state in states.items():
        target = full.get_submodule(name) if name else full
        missing, unexpected = target.load_state_dict(state, strict=False)
        tied = set(getattr(target, "_tied_weights_keys", None) or ())
        if unexpected or set(missing) - tied:
            raise RuntimeError(f"The gathered weights do not fit the model: missing {sorted(set(missing) - tied)}, "
                               f"unexpected {sorted(unexpected)}.")
        if hasattr(target, "tie_weights"):
            target.tie_weights()
    return full


def shown_path(value):
    """A path as a card may show it: relative to the working directory when under it, else `<local>/<name>`, never
    the machine's absolute path (user names, mount points). Anything else is returned unchanged."""
    if not isinstance(value, (str, Path)) or not str(value):
        return value
    text = str(value)
    if not Path(text).is_absolute():
        return text
    try:
        return str(Path(text).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return f"<local>/{Path(text).name}"


def shown_context(card_context: dict) -> dict:
    """The card context with every absolute path (the repo id, paths in the hyperparameters and in the training text)
    shown as `shown_path` shows it."""
    context = dict(card_context)
    if "repo_id" in context:
        context["repo_id"] = shown_path(context["repo_id"])
        if context["repo_id"].startswith("<local>/"):
            context["repo_id"] = context["repo_id"].split("/", 1)[1]
    if isinstance(context.get("hyperparameters"), dict):
        context["hyperparameters"] = {k: shown_path(v) for k, v in context["hyperparameters"].items()}
    if isinstance(context.get("training"), str):
        for value in (card_context.get("hyperparameters") or {}).values():
            if isinstance(value, str) and Path(value).is_absolute():
                context["training"] = context["training"].replace(value, shown_path(value))
    return context


def export_model(model, output_dir, *, card_context: dict, extra_files: dict | None = None) -> Path:
    """Save `model` into `output_dir` with a card rendered from the run's context (absolute paths shown relative or
    by name: `shown_context`); copy `extra_files`."""
    output_dir = Path(output_dir)
    card_context = shown_context(card_context)
    bad = [name for name, tensor in model.state_dict().items() if tensor.is_floating_point()
           and not bool(torch.isfinite(tensor).all())]
    if bad:  # never publish a diverged model
        raise SystemExit(f"Refusing to save non-finite weights ({len(bad)} tensors, e.g. {bad[0]}); resume from an "
                         "earlier checkpoint with a lower learning rate.")
    model.save_pretrained(output_dir)
    for name, source in (extra_files or {}).items():
        target = output_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(source).resolve() != target.resolve():
            shutil.copyfile(source, target)
    write_model_card(model, output_dir, **card_context)
    (output_dir / "training_summary.json").write_text(
        json.dumps({k: v for k, v in card_context.items() if k != "training"}, indent=2, default=str))
    return output_dir


# Files of a run that hold the user's own training data: pushed only when asked for (`--push_training_thumbnails`).
PRIVATE_DATA_FILES = ["nearest_index.safetensors"]


def push_output_dir(output_dir, repo_id: str | None, *, token: str | None = None, private: bool = False,
                    commit_message: str = "Upload NeuroArt model", include_private_data: bool = False):
    """Upload the output folder (without checkpoints and logs, and without PRIVATE_DATA_FILES unless
    `include_private_data`) to `repo_id` (default: the folder's name)."""
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    repo_id = api.create_repo(repo_id or Path(output_dir).resolve().name, private=private, exist_ok=True).repo_id
    ignore = IGNORE_PATTERNS + ([] if include_private_data else PRIVATE_DATA_FILES)
    return api.upload_folder(repo_id=repo_id, folder_path=str(output_dir), commit_message=commit_message,
                             ignore_patterns=ignore)


def publish(args, output_dir) -> None:
    """`--push_to_hub`: upload the finished output folder and log where it went. The thumbnails of the user's own
    training images (the GAN's nearest-image index) stay behind unless `--push_training_thumbnails` says otherwise."""
    if not args.push_to_hub:
        return
    import logging

    log = logging.getLogger("neuroart.training")
    with_data = getattr(args, "push_training_thumbnails", False)
    held_back = [name for name in PRIVATE_DATA_FILES if (Path(output_dir) / name).exists()]
    if held_back and not with_data:
        log.info("Not pushed: %s (thumbnails of your training images; --push_training_thumbnails uploads them).",
                 ", ".join(held_back))
    info = push_output_dir(output_dir, args.hub_model_id, token=args.hub_token, private=args.hub_private_repo,
                           include_private_data=with_data)
    log.info("Pushed to %s", info.commit_url)
