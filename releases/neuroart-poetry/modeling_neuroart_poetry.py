"""NeuroArt poetry model: a GPT-style decoder-only Transformer for classical Chinese and English verse.

Papers it follows: the Transformer (Vaswani et al., 2017, arXiv:1706.03762), GPT-2 (Radford et al., 2019), pre-norm
residual blocks (Xiong et al., 2020, arXiv:2002.04745) and tied embeddings (Press & Wolf, 2017, arXiv:1608.05859).
Layout after transformers' `modeling_gpt2.py` / `modeling_llama.py` and nanoGPT's `model.py`.

Attention goes through transformers' attention interface, so `attn_implementation` may be `"eager"`, `"sdpa"` or
`"flex_attention"`. The causal and padding mask is built by `create_causal_mask`, as Llama builds it, which stays
correct with a KV cache (raw `is_causal=True` SDPA would not once the query is shorter than the keys). Keys and
values live in a `DynamicCache`, passed as `cache` (transformers 5).

This file is Hub remote code: it imports only the standard library, torch, transformers and same-folder siblings.
"""

import copy
import math
import os
import shutil
import warnings

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.cache_utils import Cache, DynamicCache
from transformers.masking_utils import create_causal_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from .configuration_neuroart_poetry import NeuroArtPoetryConfig

# Same-folder helper modules saved beside the weights, so that an app can use them as Hub remote code, e.g.
# `get_class_from_dynamic_module("generation.write_poem", repo_id)`, without installing neuroart.
HELPER_MODULES = ("english.py", "generation.py", "lexicon.py", "logits_process.py", "prosody.py", "tokenization.py")

# Keyword arguments that transformers itself may pass to `forward` and that we accept: generate()'s, the loss
# functions' (`num_items_in_batch`, `shift_labels` under context parallelism), and those of padding-free collators
# (`cu_seq_lens_*`, `max_length_*`: packed sequences for flash attention; `seq_idx`). Any other unknown name is a
# mistake and raises a TypeError instead of being swallowed.
LOSS_KWARGS = ("num_items_in_batch", "shift_labels")
ATTENTION_KWARGS = ("cu_seq_lens_q", "cu_seq_lens_k", "max_length_q", "max_length_k")
ACCEPTED_EXTRA_KWARGS = {"cache_position", "token_type_ids", "seq_idx", *LOSS_KWARGS, *ATTENTION_KWARGS}


def _is_exporting() -> bool:
    """True under torch.export / torch.compile tracing, where Python checks on tensor values cannot run."""
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and (compiler.is_exporting() or compiler.is_compiling()))


def _take_legacy_cache(cache, kwargs: dict, owner: str):
    """`past_key_values=` is the pre-5 name of `cache`: accept it with a FutureWarning, as transformers does."""
    if "past_key_values" in kwargs:
        legacy = kwargs.pop("past_key_values")
        warnings.warn(f"{owner}: `past_key_values` is deprecated; pass `cache=` instead.", FutureWarning,
                      stacklevel=3)
        if cache is None:
            cache = legacy
    unknown = sorted(set(kwargs) - ACCEPTED_EXTRA_KWARGS)
    if unknown:
        raise TypeError(f"{owner}.forward() got unexpected keyword argument(s) {unknown}.")
    return cache


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
):
    """softmax(q k^T * scaling + mask) v. query/key/value: (B, heads, T, head_dim); returns (B, T, heads, head_dim)."""
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling  # (B, heads, T_q, T_kv)
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()  # (B, heads, T, d) -> (B, T, heads, d)
    return output, weights


class NeuroArtPoetryAttention(nn.Module):
    """Multi-head causal self-attention with a fused QKV projection."""

    def __init__(self, config: NeuroArtPoetryConfig, layer_idx: int):
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.num_heads = config.num_attention_heads
        self.head_dim = config.head_dim
        self.scaling = self.head_dim**-0.5
        self.is_causal = True
        self.attention_dropout = config.dropout
        self.qkv_proj = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.o_proj = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        cache: Cache | None = None,
        output_attentions: bool = False,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch, seq_len, _ = hidden_states.shape
        qkv = self.qkv_proj(hidden_states).view(batch, seq_len, 3, self.num_heads, self.head_dim)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # (B, T, 3, H, d) -> 3 x (B, H, T, d)
        if cache is not None:
            key, value = cache.update(key, value, self.layer_idx)
        implementation = self.config._attn_implementation
        if output_attentions:  # only eager materialises the weights; use it for this call, as transformers does
            implementation = "eager"
        attention_interface = ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention_forward)
        output, weights = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.attention_dropout if self.training else 0.0,
            scaling=self.scaling,
            **kwargs,
        )
        output = output.reshape(batch, seq_len, -1)  # (B, T, H, d) -> (B, T, hidden)
        return self.o_proj(output), weights


class NeuroArtPoetryMLP(nn.Module):
    def __init__(self, config: NeuroArtPoetryConfig):
        super().__init__()
        self.fc_in = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = nn.GELU(approximate="tanh")
        self.fc_out = nn.Linear(config.intermediate_size, config.hidden_size)

    def forward(self, hidden_states):
        return self.fc_out(self.act(self.fc_in(hidden_states)))


class NeuroArtPoetryBlock(GradientCheckpointingLayer):
    """Pre-norm block: x + attn(ln(x)), then x + mlp(ln(x)). Under gradient checkpointing (transformers'
    `GradientCheckpointingLayer`) its activations are recomputed in the backward pass instead of kept."""

    def __init__(self, config: NeuroArtPoetryConfig, layer_idx: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attn = NeuroArtPoetryAttention(config, layer_idx)
        self.ln_2 = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = NeuroArtPoetryMLP(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, hidden_states, attention_mask=None, cache=None, **kwargs):
        """Returns (hidden_states, attention weights (B, heads, T_q, T_kv) or None when the backend gives none)."""
        attn_output, weights = self.attn(self.ln_1(hidden_states), attention_mask=attention_mask, cache=cache,
                                         **kwargs)
        hidden_states = hidden_states + self.dropout(attn_output)
        hidden_states = hidden_states + self.dropout(self.mlp(self.ln_2(hidden_states)))
        return hidden_states, weights


class NeuroArtPoetryPreTrainedModel(PreTrainedModel):
    config_class = NeuroArtPoetryConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _can_compile_fullgraph = True  # static cache + torch.compile(fullgraph=True): tested
    _no_split_modules = ["NeuroArtPoetryBlock"]
    _supports_sdpa = True
    _supports_flex_attn = True
    _supports_attention_backend = True

    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, 0.0, std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, 0.0, std)
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)
        if isinstance(module, (NeuroArtPoetryAttention, NeuroArtPoetryMLP)):
            # GPT-2: scale the residual projections by 1/sqrt(2 * layers).
            residual = module.o_proj if isinstance(module, NeuroArtPoetryAttention) else module.fc_out
            init.normal_(residual.weight, 0.0, std / math.sqrt(2 * self.config.num_hidden_layers))


class NeuroArtPoetryModel(NeuroArtPoetryPreTrainedModel):
    """Token + position embeddings -> pre-norm blocks -> final LayerNorm."""

    def __init__(self, config: NeuroArtPoetryConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.embed_positions = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(NeuroArtPoetryBlock(config, i) for i in range(config.num_hidden_layers))
        self.norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast | tuple:
        cache = _take_legacy_cache(cache, kwargs, type(self).__name__)
        # Only the attention kwargs reach the layers (flash attention reads them; the other backends ignore them).
        kwargs = {k: v for k, v in kwargs.items() if k in ATTENTION_KWARGS}
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (output_hidden_states if output_hidden_states is not None
                                else self.config.output_hidden_states)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of `input_ids` or `inputs_embeds`.")
        use_cache = use_cache if use_cache is not None else self.config.use_cache
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)  # (B, T, hidden)
        if use_cache and cache is None:
            cache = DynamicCache(config=self.config)
        past = cache.get_seq_length() if cache is not None else 0
        if position_ids is None:
            position_ids = torch.arange(past, past + inputs_embeds.shape[1], device=inputs_embeds.device)[None]
        if not _is_exporting() and int(position_ids.max()) >= self.config.max_position_embeddings:
            raise ValueError(
                f"Sequence reaches position {int(position_ids.max())}, but the model has "
                f"max_position_embeddings={self.config.max_position_embeddings}; shorten the input or max_new_tokens."
            )
        mask_config = self.config
        if output_attentions and self.config._attn_implementation != "eager":
            # The layers switch to eager to return weights, so they need eager's explicit mask (sdpa's may be None).
            mask_config = copy.copy(self.config)
            mask_config._attn_implementation = "eager"
        mask = create_causal_mask(
            config=mask_config,
            inputs_embeds=inputs_embeds,
            attention_mask=attention_mask,
            cache=cache,
            position_ids=position_ids,
        )
        hidden_states = self.dropout(inputs_embeds + self.embed_positions(position_ids))
        all_hidden = [] if output_hidden_states else None  # GPT-2's convention: embeddings, then each block
        all_attentions = [] if output_attentions else None
        for layer in self.layers:
            if all_hidden is not None:
                all_hidden.append(hidden_states)
            hidden_states, weights = layer(hidden_states, attention_mask=mask, cache=cache, position_ids=position_ids,
                                           output_attentions=bool(output_attentions), **kwargs)
            if all_attentions is not None:
                all_attentions.append(weights)
        hidden_states = self.norm(hidden_states)
        if all_hidden is not None:
            all_hidden.append(hidden_states)  # the last entry is after the final LayerNorm, as in GPT-2
        all_hidden = tuple(all_hidden) if all_hidden is not None else None
        all_attentions = tuple(all_attentions) if all_attentions is not None else None
        cache = cache if use_cache else None
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if not return_dict:
            return tuple(v for v in (hidden_states, cache, all_hidden, all_attentions) if v is not None)
        return BaseModelOutputWithPast(last_hidden_state=hidden_states, cache=cache, hidden_states=all_hidden,
                                       attentions=all_attentions)


class NeuroArtPoetryForCausalLM(NeuroArtPoetryPreTrainedModel, GenerationMixin):
    """The poetry language model: `NeuroArtPoetryModel` plus a head tied to the token embedding."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: NeuroArtPoetryConfig):
        super().__init__(config)
        self.model = NeuroArtPoetryModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        cache: Cache | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> CausalLMOutputWithPast | tuple:
        cache = _take_legacy_cache(cache, kwargs, type(self).__name__)
        loss_kwargs = {k: kwargs.pop(k) for k in LOSS_KWARGS if k in kwargs}
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            **kwargs,
        )
        hidden_states = outputs.last_hidden_state
        keep = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        logits = self.lm_head(hidden_states[:, keep, :])  # (B, T_kept, vocab)
        loss = None
        if labels is not None or loss_kwargs.get("shift_labels") is not None:  # context parallelism: labels shifted
            loss = self.loss_function(logits=logits, labels=labels, vocab_size=self.config.vocab_size, **loss_kwargs)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if not return_dict:  # transformers' order: loss, logits, cache, hidden_states, attentions
            return tuple(v for v in (loss, logits, outputs.cache, outputs.hidden_states, outputs.attentions)
                         if v is not None)
        return CausalLMOutputWithPast(loss=loss, logits=logits, cache=outputs.cache,
                                      hidden_states=outputs.hidden_states, attentions=outputs.attentions)

    def save_pretrained(self, save_directory, *args, **kwargs):
        # The auto_map names every auto class: AutoModel loads the base model of this checkpoint.
        module = type(self).__module__.split(".")[-1]
        self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}),
                                "AutoModel": f"{module}.NeuroArtPoetryModel"}
        super().save_pretrained(save_directory, *args, **kwargs)
        if kwargs.get("is_main_process", True):  # the generation helpers travel with the weights (Spaces use them)
            here = os.path.dirname(os.path.abspath(__file__))
            for name in HELPER_MODULES:
                if os.path.exists(os.path.join(here, name)):
                    shutil.copyfile(os.path.join(here, name), os.path.join(save_directory, name))


__all__ = ["NeuroArtPoetryForCausalLM", "NeuroArtPoetryModel", "NeuroArtPoetryPreTrainedModel"]
