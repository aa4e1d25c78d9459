"""NeuroArt: Hugging Face Hub-native generative art models.

Importing `neuroart` registers the three models with the transformers auto classes:

- `neuroart_gan`: `NeuroArtGANConfig` / `NeuroArtGANModel` (AutoModel), plus the `unconditional-image-generation`
  pipeline;
- `neuroart_music`: `NeuroArtMusicConfig` / `NeuroArtMusicModel` (AutoModel) / `NeuroArtMusicForCausalLM`
  (AutoModelForCausalLM);
- `neuroart_poetry`: `NeuroArtPoetryConfig` / `NeuroArtPoetryModel` (AutoModel) / `NeuroArtPoetryForCausalLM`
  (AutoModelForCausalLM).

It also marks each class for its auto class, so `save_pretrained` writes the remote code and an `auto_map` that
lets `AutoModel…from_pretrained(..., trust_remote_code=True)` load the model where `neuroart` is not installed, and
gives the three models their model card on `save_pretrained` and `push_to_hub` (`neuroart.hub`).
Only torch and transformers are needed.

The `neuroart` command defers all of this until a command needs a model (`neuroart --help` loads no torch); any
other import does it at once. Importing it changes one process setting, and only without a network: when the Hub endpoint does not answer
within a second, huggingface_hub goes offline for the process, so the installed releases load at once instead of
after minutes of retries (`neuroart.network`; `HF_HUB_OFFLINE` set either way, or `NEUROART_NETWORK_PROBE=0`, skips
the check). On small CPUs set `OMP_WAIT_POLICY=PASSIVE` before torch is first
imported (OpenMP's default spin-wait makes 2-thread PyTorch up to 60x slower on small ops on 2-vCPU machines); the
entry points (the `neuroart` CLI, the training scripts, the Spaces, the benchmarks) do it themselves.
"""

import os
import sys

__version__ = "0.1.0"
__all__ = [
    "NeuroArtGANConfig",
    "NeuroArtGANModel",
    "NeuroArtGANPipeline",
    "NeuroArtMusicConfig",
    "NeuroArtMusicForCausalLM",
    "NeuroArtMusicModel",
    "NeuroArtPoetryConfig",
    "NeuroArtPoetryForCausalLM",
    "NeuroArtPoetryModel",
]
_registered = False


def register() -> None:
    """Register the models of `neuroart.kinds.KINDS` with the transformers auto classes (once): what `import
    neuroart` does."""
    global _registered
    if _registered:
        return
    from .network import offline_if_unreachable

    offline_if_unreachable()  # before anything asks the Hub for a file

    import transformers
    from transformers.pipelines import PIPELINE_REGISTRY

    from .gan import NeuroArtGANPipeline
    from .hub import add_model_card_hooks
    from .kinds import KINDS

    # Each kind of the table: its config for AutoConfig, each model class for its auto class, and both marked so that
    # save_pretrained writes the remote code and the auto_map; the class an auto class loads last writes the card.
    for kind in KINDS.values():
        config = kind.config_class()
        transformers.AutoConfig.register(config.model_type, config, exist_ok=True)
        config.register_for_auto_class("AutoConfig")
        models = kind.model_classes()
        for auto, model_class in models.items():
            getattr(transformers, auto).register(config, model_class, exist_ok=True)
            model_class.register_for_auto_class(auto)
        add_model_card_hooks(model_class)  # save_pretrained writes the model card; push_to_hub keeps it
        globals().update({c.__name__: c for c in [config, *models.values()]})
    PIPELINE_REGISTRY.register_pipeline(
        "unconditional-image-generation", pipeline_class=NeuroArtGANPipeline, pt_model=transformers.AutoModel,
        type="image"
    )
    globals()["NeuroArtGANPipeline"] = NeuroArtGANPipeline
    _registered = True


def __getattr__(name: str):
    """The model classes, for a process (the `neuroart` command) that deferred `register()`."""
    if name in __all__:
        register()
        return globals()[name]
    raise AttributeError(f"module 'neuroart' has no attribute {name!r}")


# The `neuroart` command registers when a command needs a model, so that `--help` and argument errors answer at once.
if os.path.basename(sys.argv[0] if sys.argv else "") != "neuroart":
    register()
