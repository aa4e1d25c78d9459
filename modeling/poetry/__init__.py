"""The NeuroArt poetry model: a GPT-style Transformer for classical Chinese and English verse."""

from .configuration_neuroart_poetry import NeuroArtPoetryConfig
from .modeling_neuroart_poetry import NeuroArtPoetryForCausalLM, NeuroArtPoetryModel, NeuroArtPoetryPreTrainedModel

__all__ = ["NeuroArtPoetryConfig", "NeuroArtPoetryForCausalLM", "NeuroArtPoetryModel", "NeuroArtPoetryPreTrainedModel"]
