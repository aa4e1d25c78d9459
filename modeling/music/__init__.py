"""The NeuroArt music model: an LSTM/GRU language model over miditok MIDI tokens."""

from .configuration_neuroart_music import NeuroArtMusicConfig
from .modeling_neuroart_music import (
    NeuroArtMusicForCausalLM,
    NeuroArtMusicModel,
    NeuroArtMusicPreTrainedModel,
    NeuroArtMusicState,
)

__all__ = [
    "NeuroArtMusicConfig",
    "NeuroArtMusicForCausalLM",
    "NeuroArtMusicModel",
    "NeuroArtMusicPreTrainedModel",
    "NeuroArtMusicState",
]
