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

Importing it changes one process setting, and only without a network: when the Hub endpoint does not answer
within a second, huggingface_hub goes offline for the process, so the installed releases load at once instead of
after minutes of retries (`neuroart.network`; `HF_HUB_OFFLINE` set either way, or `NEUROART_NETWORK_PROBE=0`, skips
the check). On small CPUs set `OMP_WAIT_POLICY=PASSIVE` before torch is first
imported (OpenMP's default spin-wait makes 2-thread PyTorch up to 60x slower on small ops on 2-vCPU machines); the
entry points (the `neuroart` CLI, the training scripts, the Spaces, the benchmarks) do it themselves.
"""

from .network import offline_if_unreachable

offline_if_unreachable()  # before anything asks the Hub for a file

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM  # noqa: E402
from transformers.pipelines import PIPELINE_REGISTRY  # noqa: E402

from .gan import NeuroArtGANConfig, NeuroArtGANModel, NeuroArtGANPipeline  # noqa: E402
from .music import NeuroArtMusicConfig, NeuroArtMusicForCausalLM, NeuroArtMusicModel  # noqa: E402
from .poetry import NeuroArtPoetryConfig, NeuroArtPoetryForCausalLM, NeuroArtPoetryModel  # noqa: E402

__version__ = "0.1.0"

AutoConfig.register(NeuroArtGANConfig.model_type, NeuroArtGANConfig, exist_ok=True)
AutoModel.register(NeuroArtGANConfig, NeuroArtGANModel, exist_ok=True)
NeuroArtGANConfig.register_for_auto_class("AutoConfig")
NeuroArtGANModel.register_for_auto_class("AutoModel")
PIPELINE_REGISTRY.register_pipeline(
    "unconditional-image-generation", pipeline_class=NeuroArtGANPipeline, pt_model=AutoModel, type="image"
)

from .hub import add_model_card_hooks  # noqa: E402

for _model_class in (NeuroArtGANModel, NeuroArtMusicForCausalLM, NeuroArtPoetryForCausalLM):
    add_model_card_hooks(_model_class)  # save_pretrained writes the model card; push_to_hub keeps it

for _config, _base, _lm in (
    (NeuroArtMusicConfig, NeuroArtMusicModel, NeuroArtMusicForCausalLM),
    (NeuroArtPoetryConfig, NeuroArtPoetryModel, NeuroArtPoetryForCausalLM),
):
    AutoConfig.register(_config.model_type, _config, exist_ok=True)
    AutoModel.register(_config, _base, exist_ok=True)
    AutoModelForCausalLM.register(_config, _lm, exist_ok=True)
    _config.register_for_auto_class("AutoConfig")
    _base.register_for_auto_class("AutoModel")
    _lm.register_for_auto_class("AutoModelForCausalLM")

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
