"""Configuration of the NeuroArt poetry model: a GPT-style decoder-only Transformer.

The architecture follows GPT-2 (Radford et al., 2019, "Language Models are Unsupervised Multitask Learners") with
pre-norm blocks (Xiong et al., 2020, arXiv:2002.04745) and tied input/output embeddings (Press & Wolf, 2017).

This file is Hub remote code: it imports only the standard library and transformers.
"""

from transformers import PreTrainedConfig

MAX_PARAMETERS = 20_000_000_000  # 80 GB in float32: more than any machine this model is meant for


def _require(name: str, value, ok: bool, allowed: str):
    """Raise a ValueError naming the field, the value and what is allowed."""
    if not ok:
        raise ValueError(f"NeuroArtPoetryConfig: `{name}={value!r}` is invalid; {allowed}.")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class NeuroArtPoetryConfig(PreTrainedConfig):
    r"""
    Configuration of [`NeuroArtPoetryModel`] and [`NeuroArtPoetryForCausalLM`].

    Args:
        vocab_size (`int`, defaults to 8192): tokenizer size (one token per CJK character, byte-level BPE for Latin).
        hidden_size (`int`, defaults to 384): width of the residual stream.
        num_hidden_layers (`int`, defaults to 6): Transformer blocks.
        num_attention_heads (`int`, defaults to 6): heads per block; must divide `hidden_size`.
        intermediate_size (`int`, *optional*): MLP width, `4 * hidden_size` when None.
        max_position_embeddings (`int`, defaults to 256): longest sequence (learned absolute positions).
        dropout (`float`, defaults to 0.1): dropout on embeddings, attention weights and residual branches.
        layer_norm_eps (`float`, defaults to 1e-5): LayerNorm epsilon.
        initializer_range (`float`, defaults to 0.02): std of the normal init (residual projections are scaled by
            `1/sqrt(2 * num_hidden_layers)`, as in GPT-2).
        tie_word_embeddings (`bool`, defaults to `True`): share the token embedding and the LM head.
        pad_token_id / bos_token_id / eos_token_id (`int`, defaults to 0 / 1 / 2).
    """

    model_type = "neuroart_poetry"
    keys_to_ignore_at_inference = ["cache"]

    vocab_size: int = 8192
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 6
    intermediate_size: int | None = None
    max_position_embeddings: int = 256
    dropout: float = 0.1
    layer_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    tie_word_embeddings: bool = True
    use_cache: bool = True
    pad_token_id: int | None = 0
    bos_token_id: int | None = 1
    eos_token_id: int | None = 2

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        # Reject what breaks the model, not what is merely unusual.
        for name in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "max_position_embeddings"):
            value = getattr(self, name)
            _require(name, value, _is_int(value) and value >= 1, "use a positive integer")
        if self.hidden_size % self.num_attention_heads != 0:
            raise ValueError(
                f"NeuroArtPoetryConfig: `hidden_size={self.hidden_size}` is not divisible by "
                f"`num_attention_heads={self.num_attention_heads}`; choose heads that divide the hidden size "
                f"(e.g. {[h for h in range(1, 17) if self.hidden_size % h == 0]})."
            )
        if self.intermediate_size is None:
            self.intermediate_size = 4 * self.hidden_size
        _require("intermediate_size", self.intermediate_size, _is_int(self.intermediate_size) and self.intermediate_size >= 1,
                 "use None (4 x hidden_size) or a positive integer")
        estimate = (self.vocab_size + self.max_position_embeddings) * self.hidden_size + self.num_hidden_layers * (
            4 * self.hidden_size**2 + 2 * self.hidden_size * self.intermediate_size)
        if estimate > MAX_PARAMETERS:  # a tampered or mistyped config.json must fail before allocating memory
            raise ValueError(
                f"NeuroArtPoetryConfig: `hidden_size={self.hidden_size}`, `num_hidden_layers={self.num_hidden_layers}`, "
                f"`intermediate_size={self.intermediate_size}` and `vocab_size={self.vocab_size}` give about "
                f"{estimate:.2e} parameters, more than {MAX_PARAMETERS:.0e}; check these fields.")
        _require("dropout", self.dropout, isinstance(self.dropout, (int, float)) and 0 <= self.dropout < 1,
                 "use a float in [0, 1)")
        _require("layer_norm_eps", self.layer_norm_eps,
                 isinstance(self.layer_norm_eps, (int, float)) and 0 < self.layer_norm_eps < float("inf"),
                 "use a positive float (e.g. 1e-5)")
        _require("tie_word_embeddings", self.tie_word_embeddings, isinstance(self.tie_word_embeddings, bool),
                 "use true or false")
        for name in ("pad_token_id", "bos_token_id", "eos_token_id"):
            value = getattr(self, name)
            _require(name, value, value is None or (_is_int(value) and 0 <= value < self.vocab_size),
                     f"use None or a token id in [0, {self.vocab_size - 1}]")

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


__all__ = ["NeuroArtPoetryConfig"]
