"""Model cards and Hub pushes for NeuroArt models.

This is the one place where cards are written. `write_model_card` renders `model_cards/<model_type>.md` (a
`string.Template`) into `README.md` beside the weights. Training scripts call it with what they know: the data, the
hyperparameters, metrics and a sample image.

`push_model_to_hub` replaces transformers' `push_to_hub` for our models: that one would overwrite our card with a
generic one. It saves into a temporary folder, renders the card with the real repo id, and uploads it in one commit.

`add_model_card_hooks(cls)` (applied by `import neuroart` to the three model classes) makes `save_pretrained` write
the card and `push_to_hub` go through `push_model_to_hub`, so every folder the package saves is a Hub-ready repo.
The remote code that ships beside the weights knows nothing of cards: it cannot import this package.
"""

from __future__ import annotations

import functools
import json
import os
import string
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

CARD_LICENSE = "mit"


def _format_params(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.1f}K"


def _markdown_metrics(metrics: dict | None) -> str:
    if not metrics:
        return "No metrics recorded yet."
    rows = ["| metric | value |", "| --- | --- |"]
    for key, value in metrics.items():
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        rows.append(f"| {key} | {shown} |")
    return "\n".join(rows)


def render_model_card(model, repo_id: str | None = None, **context: Any) -> str:
    """Render the card of `model` as markdown text.

    Context keys understood by every template (all optional): `repo_id`, `title`, `training` (markdown),
    `metrics` (dict), `sample` (a relative image path), `datasets` (list of Hub dataset ids), `license`.
    """
    config = model.config
    template_text = resources.files("neuroart.model_cards").joinpath(f"{config.model_type}.md").read_text("utf-8")
    repo_id = repo_id or model.name_or_path or f"org/{config.model_type.replace('_', '-')}"
    values = {key: value for key, value in config.to_dict().items() if isinstance(value, (int, float, str, bool))}
    datasets = context.pop("datasets", None) or []
    training = context.pop("training", None)
    hyperparameters = context.pop("hyperparameters", None)
    if training is None:
        training = "This checkpoint has not been trained by a NeuroArt training script (no training record)."
    if hyperparameters:
        training += "\n\n```json\n" + json.dumps(hyperparameters, indent=2, sort_keys=True, default=str) + "\n```"
    sample = context.pop("sample", None)
    values.update(
        repo_id=repo_id,
        title=context.pop("title", None) or repo_id.rstrip("/").split("/")[-1],
        license=context.pop("license", CARD_LICENSE),
        num_parameters=_format_params(sum(p.numel() for p in model.parameters())),
        training=training,
        metrics=_markdown_metrics(context.pop("metrics", None)),
        sample=f"![samples]({sample})" if sample else "",
        datasets_yaml="".join(["datasets:\n"] + [f"- {d}\n" for d in datasets]) if datasets else "",
        rnn_type_upper=str(values.get("rnn_type", "")).upper(),
    )
    if config.model_type == "neuroart_gan":  # say which discriminator it has and which generator paints
        values["discriminator_kind"] = ("a spectrally normalised projection discriminator" if values["use_spectral_norm"]
                                        else "a projection discriminator without spectral norm (R1 regularised)")
        values["painting_generator"] = ("an EMA generator that paints" if values.get("ema_decay", 0) > 0
                                        else "a painting copy of the trained generator (`ema_decay` 0: no average)")
    values.update({key: str(value) for key, value in context.items()})
    return string.Template(template_text).safe_substitute(values)


def write_model_card(model, save_directory: str | os.PathLike, **context: Any) -> Path:
    """Write `README.md` into `save_directory` and return its path."""
    path = Path(save_directory) / "README.md"
    path.write_text(render_model_card(model, **context), encoding="utf-8")
    return path


def push_model_to_hub(
    model,
    repo_id: str,
    *,
    commit_message: str | None = None,
    private: bool | None = None,
    token: str | bool | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    max_shard_size: int | str | None = "50GB",
    tags: list[str] | None = None,
    card_context: dict | None = None,
    extra_files: dict[str, str | os.PathLike] | None = None,
    **unused: Any,
):
    """Save `model` with its card (and any `extra_files`, {path in repo: local path}) and upload it as one commit.

    Returns the `CommitInfo` of the upload.
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token if isinstance(token, str) else None)
    repo_id = api.create_repo(repo_id, private=private, exist_ok=True).repo_id
    with tempfile.TemporaryDirectory() as tmp_dir:
        model.save_pretrained(tmp_dir, max_shard_size=max_shard_size)
        context = dict(card_context or {})
        write_model_card(model, tmp_dir, repo_id=repo_id, **context)
        for path_in_repo, local_path in (extra_files or {}).items():
            target = Path(tmp_dir) / path_in_repo
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(Path(local_path).read_bytes())
        if tags:
            card_path = Path(tmp_dir) / "README.md"
            text = card_path.read_text("utf-8").replace("- custom_code\n", "- custom_code\n" + "".join(
                f"- {tag}\n" for tag in tags), 1)
            card_path.write_text(text, "utf-8")
        return api.upload_folder(
            repo_id=repo_id,
            folder_path=tmp_dir,
            commit_message=commit_message or f"Upload {type(model).__name__}",
            revision=revision,
            create_pr=create_pr,
        )


def add_model_card_hooks(cls):
    """Wrap `cls.save_pretrained` to write the model card after the weights (on the main process), and route
    `cls.push_to_hub` through `push_model_to_hub`. Idempotent; returns `cls`."""
    if getattr(cls, "_neuroart_card_hooks", False):
        return cls
    save_pretrained = cls.save_pretrained

    @functools.wraps(save_pretrained)
    def save_with_card(self, save_directory, *args, **kwargs):
        result = save_pretrained(self, save_directory, *args, **kwargs)
        if kwargs.get("is_main_process", True):
            write_model_card(self, save_directory)
        return result

    @functools.wraps(cls.push_to_hub)
    def push_with_card(self, repo_id: str, **kwargs):
        return push_model_to_hub(self, repo_id, **kwargs)

    cls.save_pretrained, cls.push_to_hub = save_with_card, push_with_card
    cls._neuroart_card_hooks = True
    return cls


__all__ = ["add_model_card_hooks", "push_model_to_hub", "render_model_card", "write_model_card"]
