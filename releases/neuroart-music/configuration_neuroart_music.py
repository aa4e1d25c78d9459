"""Configuration of the NeuroArt music model: an LSTM or GRU language model over MIDI tokens.

The model follows the recurrent music language models of Eck & Schmidhuber (2002, "Finding temporal structure in
music: blues improvisation with LSTM recurrent networks") and Magenta's Performance RNN (Simon & Oore, 2017), over
REMI tokens (Huang & Yang, 2020, "Pop Music Transformer", arXiv:2002.00212) made by miditok.

This file is Hub remote code: it imports only the standard library and transformers.
"""

from transformers import PreTrainedConfig

RNN_TYPES = ("lstm", "gru")


MAX_PARAMETERS = 20_000_000_000  # 80 GB in float32: more than any machine this model is meant for


def _require(name: str, value, ok: bool, allowed: str):
    """Raise a ValueError naming the field, the value and what is allowed."""
    if not ok:
        raise ValueError(f"NeuroArtMusicConfig: `{name}={value!r}` is invalid; {allowed}.")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class NeuroArtMusicConfig(PreTrainedConfig):
    r"""
    Configuration of [`NeuroArtMusicModel`] and [`NeuroArtMusicForCausalLM`].

    Args:
        rnn_type (`str`, defaults to `"lstm"`): `"lstm"` or `"gru"`.
        vocab_size (`int`, defaults to 1024): size of the MIDI token vocabulary (miditok REMI is about 550 tokens
            before BPE).
        hidden_size (`int`, defaults to 512): size of the token embeddings and of every recurrent layer.
        num_hidden_layers (`int`, defaults to 3): stacked recurrent layers.
        dropout (`float`, defaults to 0.1): dropout on embeddings, between layers and before the head.
        tie_word_embeddings (`bool`, defaults to `True`): share the input embedding and the output projection.
        pad_token_id / bos_token_id / eos_token_id (`int`, defaults to 0 / 1 / 2): miditok's `PAD_None`,
            `BOS_None`, `EOS_None` when its special tokens are `["PAD", "BOS", "EOS", "MASK"]`.
        initializer_range (`float`, defaults to 0.02): std of the embedding and head init.
    """

    model_type = "neuroart_music"

    rnn_type: str = "lstm"
    vocab_size: int = 1024
    hidden_size: int = 512
    num_hidden_layers: int = 3
    dropout: float = 0.1
    tie_word_embeddings: bool = True
    initializer_range: float = 0.02
    use_cache: bool = True
    pad_token_id: int | None = 0
    bos_token_id: int | None = 1
    eos_token_id: int | None = 2

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        _require("rnn_type", self.rnn_type, self.rnn_type in RNN_TYPES, f"use one of {RNN_TYPES}")
        for name in ("vocab_size", "hidden_size", "num_hidden_layers"):  # what breaks the model, not what is unusual
            value = getattr(self, name)
            _require(name, value, _is_int(value) and value >= 1, "use a positive integer")
        gates = 4 if self.rnn_type == "lstm" else 3
        estimate = self.vocab_size * self.hidden_size + self.num_hidden_layers * 2 * gates * self.hidden_size**2
        if estimate > MAX_PARAMETERS:  # a tampered or mistyped config.json must fail before allocating memory
            raise ValueError(
                f"NeuroArtMusicConfig: `hidden_size={self.hidden_size}`, `num_hidden_layers={self.num_hidden_layers}` "
                f"and `vocab_size={self.vocab_size}` give about {estimate:.2e} parameters, more than "
                f"{MAX_PARAMETERS:.0e}; check these fields.")
        _require("dropout", self.dropout, isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1,
                 "use a float in [0, 1)")
        _require("tie_word_embeddings", self.tie_word_embeddings, isinstance(self.tie_word_embeddings, bool),
                 "use true or false")
        for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
            value = getattr(self, name)
            _require(name, value, value is None or (_is_int(value) and 0 <= value < self.vocab_size),
                     f"use None or a token id in [0, {self.vocab_size - 1}]")


__all__ = ["NeuroArtMusicConfig"]
