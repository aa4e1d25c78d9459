"""The NeuroArt poetry model: a GPT-style Transformer for classical Chinese and English verse.

- `NeuroArtPoetryConfig`, `NeuroArtPoetryForCausalLM`: the model (Hub remote code).
- `write_poem`: generation with guaranteed form, acrostics, rhyme and tone (`generation.py`).
- `check_poem`, `check_english_poem`: the public checker (`prosody.py`).
- `Lexicon`: the English words the poet may write, shipped as `english_words.txt` (`lexicon.py`).
- `train_poetry_tokenizer`, `format_poem`, `format_prompt`: tokenizer and training format (`tokenization.py`).
"""

from .configuration_neuroart_poetry import NeuroArtPoetryConfig
from .generation import LineIndex, Poem, write_poem
from .lexicon import Lexicon
from .modeling_neuroart_poetry import NeuroArtPoetryForCausalLM, NeuroArtPoetryModel, NeuroArtPoetryPreTrainedModel
from .prosody import FORMS, check_english_poem, check_poem, detect_form
from .tokenization import extend_poetry_tokenizer, format_poem, format_prompt, train_poetry_tokenizer

__all__ = [
    "FORMS",
    "Lexicon",
    "LineIndex",
    "NeuroArtPoetryConfig",
    "NeuroArtPoetryForCausalLM",
    "NeuroArtPoetryModel",
    "NeuroArtPoetryPreTrainedModel",
    "Poem",
    "check_english_poem",
    "check_poem",
    "detect_form",
    "extend_poetry_tokenizer",
    "format_poem",
    "format_prompt",
    "train_poetry_tokenizer",
    "write_poem",
]
