"""The NeuroArt music model: an LSTM/GRU language model over miditok MIDI tokens.

`generate_music` lives in `generation.py`, the tokenizer and MIDI I/O (`build_tokenizer`, `score_to_midi_bytes`) in
`tokenization.py`, `render_audio` and `piano_roll_image` in `audio.py` (they need miditok/symusic only when called),
the near-copy check against the training pieces (`PassageIndex`) in `originality.py`.
"""

from .configuration_neuroart_music import NeuroArtMusicConfig
from .generation import (
    build_tokenizer,
    generate_music,
    in_scale_rate,
    load_tokenizer,
    piano_roll_image,
    render_audio,
    score_to_midi_bytes,
)
from .modeling_neuroart_music import (
    NeuroArtMusicForCausalLM,
    NeuroArtMusicModel,
    NeuroArtMusicPreTrainedModel,
    NeuroArtMusicState,
)
from .originality import PASSAGE_INDEX_FILE, CopyReport, PassageIndex

__all__ = [
    "build_tokenizer",
    "generate_music",
    "in_scale_rate",
    "load_tokenizer",
    "piano_roll_image",
    "render_audio",
    "score_to_midi_bytes",
    "NeuroArtMusicConfig",
    "NeuroArtMusicForCausalLM",
    "NeuroArtMusicModel",
    "NeuroArtMusicPreTrainedModel",
    "NeuroArtMusicState",
    "PASSAGE_INDEX_FILE",
    "CopyReport",
    "PassageIndex",
]
