"""The one table of NeuroArt's model kinds.

Each kind names its config, its models and the auto classes that load them, the function a user calls to make
art, its card template, its release id, its Space and the environment variable that points a Space or a tool at
another model. Registration (`neuroart.register`), the releases (`neuroart.releases`), the command line and the
tests iterate over `KINDS`; CONTRIBUTING.md lists what else a new kind needs (a training script, a recipe).

Classes are named by import path, so reading the table imports no torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

NAMESPACE = "neuroart"


@dataclass(frozen=True)
class Kind:
    name: str  # "gan": the CLI's `neuroart generate gan`, the folder modeling/gan/, the release neuroart-gan
    config: str  # import path of the config class
    models: dict  # auto class name -> import path of the model class it loads
    entry: str  # what a user calls to make art (documentation and the CLI's help)
    card: str  # the model card template in model_cards/ (named after the config's model_type)

    @property
    def repo_id(self) -> str:
        return f"{NAMESPACE}/neuroart-{self.name}"

    @property
    def env_var(self) -> str:
        """The variable that points the Spaces (and `neuroart demo`) at another model of this kind."""
        return f"NEUROART_{self.name.upper()}_MODEL"

    @property
    def space(self) -> str:
        return f"neuroart-{self.name}"

    def config_class(self):
        return _load(self.config)

    def model_classes(self) -> dict:
        """auto class name -> the model class it loads (imports torch)."""
        return {auto: _load(path) for auto, path in self.models.items()}


def _load(path: str):
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


KINDS = {
    "gan": Kind(
        name="gan",
        config="neuroart.gan.NeuroArtGANConfig",
        models={"AutoModel": "neuroart.gan.NeuroArtGANModel"},
        entry="NeuroArtGANModel.generate_images",
        card="neuroart_gan.md",
    ),
    "music": Kind(
        name="music",
        config="neuroart.music.NeuroArtMusicConfig",
        models={"AutoModel": "neuroart.music.NeuroArtMusicModel",
                "AutoModelForCausalLM": "neuroart.music.NeuroArtMusicForCausalLM"},
        entry="neuroart.music.generate_music",
        card="neuroart_music.md",
    ),
    "poetry": Kind(
        name="poetry",
        config="neuroart.poetry.NeuroArtPoetryConfig",
        models={"AutoModel": "neuroart.poetry.NeuroArtPoetryModel",
                "AutoModelForCausalLM": "neuroart.poetry.NeuroArtPoetryForCausalLM"},
        entry="neuroart.poetry.write_poem",
        card="neuroart_poetry.md",
    ),
}
NAMES = tuple(KINDS)


__all__ = ["KINDS", "NAMES", "NAMESPACE", "Kind"]
