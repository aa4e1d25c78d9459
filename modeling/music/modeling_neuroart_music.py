"""NeuroArt music model: an LSTM/GRU language model over MIDI tokens, with `generate()` that carries the state.

Papers it follows: LSTM (Hochreiter & Schmidhuber, 1997), GRU (Cho et al., 2014, arXiv:1406.1078), LSTM music
generation (Eck & Schmidhuber, 2002), weight tying (Press & Wolf, 2017, arXiv:1608.05859), over REMI tokens
(Huang & Yang, 2020, arXiv:2002.00212).

`generate()` comes from transformers' `GenerationMixin`. The model returns its recurrent state as `outputs.cache`
(a `NeuroArtMusicState`), generate hands it back on the next step, and the model then reads only the newest token,
so each new token costs O(1) instead of re-running the prefix. Beam search reorders the state through
`NeuroArtMusicState.reorder_cache`. This is the pattern of transformers' xLSTM.

Left-padded prompts: where `attention_mask` has zeros, the prompt is run one step at a time and padded steps leave
the state unchanged, so a padded row gives the same tokens as its unpadded prompt.

This file is Hub remote code: it imports only the standard library, torch, transformers and same-folder siblings.
"""

import functools
import math
import os
import shutil
import warnings

import torch
import torch.utils._pytree as pytree
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast

from .configuration_neuroart_music import NeuroArtMusicConfig

# Same-folder helper modules saved beside the weights, so that an app can use them as Hub remote code, e.g.
# `get_class_from_dynamic_module("generation.generate_music", repo_id)`, without installing neuroart.
HELPER_MODULES = ("generation.py", "sampling.py", "logits_process.py", "harmony_process.py", "cadence_process.py",
                  "texture_process.py", "harmonization.py", "harmony.py", "theory.py", "tokenization.py", "audio.py",
                  "originality.py")

# Keyword arguments that transformers itself may pass to `forward` and that we accept: generate()'s, the loss
# functions' (`num_items_in_batch`, `shift_labels` under context parallelism) and those of padding-free collators
# (`cu_seq_lens_*`, `max_length_*`, `seq_idx`: an RNN has no attention to give them to). Any other unknown name
# raises a TypeError instead of being swallowed.
LOSS_KWARGS = ("num_items_in_batch", "shift_labels")
ACCEPTED_EXTRA_KWARGS = {"cache_position", "token_type_ids", "position_ids", "seq_idx", "cu_seq_lens_q",
                         "cu_seq_lens_k", "max_length_q", "max_length_k", *LOSS_KWARGS}


@functools.cache
def _cpu_has_native_bf16() -> bool:
    """Whether this CPU runs bfloat16 natively (AMX or AVX512-BF16, from /proc/cpuinfo; assumed so where it cannot
    be read). oneDNN has no bf16 LSTM kernel without it: `nn.LSTM` under CPU bf16 autocast raises "could not create
    a primitive descriptor"."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            return bool({"amx_bf16", "avx512_bf16"} & set(cpuinfo.read().split()))
    except OSError:
        return True


# Copied from neuroart.poetry.modeling_neuroart_poetry._is_exporting
def _is_exporting() -> bool:
    """True under torch.export / torch.compile tracing, where Python checks on tensor values cannot run."""
    compiler = getattr(torch, "compiler", None)
    return bool(compiler is not None and (compiler.is_exporting() or compiler.is_compiling()))


def _take_legacy_cache(cache, kwargs: dict, owner: str):
    """`past_key_values=` and `cache_params=` are older names of `cache`: accepted with a FutureWarning."""
    for legacy_name in ("past_key_values", "cache_params"):
        if legacy_name in kwargs:
            legacy = kwargs.pop(legacy_name)
            warnings.warn(f"{owner}: `{legacy_name}` is deprecated; pass `cache=` instead.", FutureWarning,
                          stacklevel=3)
            if cache is None:
                cache = legacy
    unknown = sorted(set(kwargs) - ACCEPTED_EXTRA_KWARGS)
    if unknown:
        raise TypeError(f"{owner}.forward() got unexpected keyword argument(s) {unknown}.")
    return cache


class NeuroArtMusicState:
    """The recurrent state of every layer: `h` (and `c` for an LSTM), each (num_layers, batch, hidden).

    It answers what `generate()` asks of a cache object, so a returned state can be passed back to continue a piece
    exactly where the previous call ended: `generate(all_ids_so_far, cache=previous.cache, ...)` runs only the ids
    the state has not seen yet. It cannot be cropped or rolled back (no assisted decoding)."""

    is_compileable = False  # what generate() checks before compiling the forward

    def __init__(self, h: torch.Tensor, c: torch.Tensor | None = None, seen_tokens: int = 0):
        self.h = h
        self.c = c
        self.seen_tokens = seen_tokens

    @property
    def is_linear(self) -> list[bool]:
        # Per layer. generate() slices a restarted prompt to the ids the cache has not seen only when some layer is
        # not "linear"; saying False makes `generate(all_ids, cache=state)` feed just the new ids, as we need.
        return [False] * len(self)

    @property
    def is_sliding(self) -> list[bool]:
        return [False] * len(self)

    def get_max_cache_shape(self, layer_idx: int = 0) -> int:
        return -1  # unbounded

    def get_mask_sizes(self, *args, **kwargs):
        return self.seen_tokens, 0

    def __len__(self) -> int:
        return self.h.shape[0]

    @classmethod
    def from_torch(cls, state, seen_tokens: int) -> "NeuroArtMusicState":
        return cls(*state, seen_tokens=seen_tokens) if isinstance(state, tuple) else cls(state, seen_tokens=seen_tokens)

    def as_torch(self):
        """The state in the form `nn.LSTM` / `nn.GRU` take: `(h, c)` or `h`."""
        return (self.h, self.c) if self.c is not None else self.h

    def get_seq_length(self, layer_idx: int = 0) -> int:
        return self.seen_tokens

    def reorder_cache(self, beam_idx: torch.LongTensor):
        """Beam search: keep the rows of the surviving beams."""
        self.h = self.h.index_select(1, beam_idx.to(self.h.device))
        if self.c is not None:
            self.c = self.c.index_select(1, beam_idx.to(self.c.device))

    def __repr__(self):
        return f"NeuroArtMusicState(layers={self.h.shape[0]}, batch={self.h.shape[1]}, seen_tokens={self.seen_tokens})"


def _flatten_state(state: NeuroArtMusicState):
    return ([state.h] if state.c is None else [state.h, state.c]), (state.c is not None, state.seen_tokens)


def _unflatten_state(children, context) -> NeuroArtMusicState:
    has_c, seen_tokens = context
    return NeuroArtMusicState(children[0], children[1] if has_c else None, seen_tokens=seen_tokens)


def _flatten_state_with_keys(state: NeuroArtMusicState):
    children, context = _flatten_state(state)
    return [(pytree.GetAttrKey(name), child) for name, child in zip(("h", "c"), children)], context


# A pytree node, so that torch.export can take the state as an input and return it (a generation step exports with
# its state). Remote code may load this module more than once under other names: each class registers once.
try:
    pytree.register_pytree_node(NeuroArtMusicState, _flatten_state, _unflatten_state,
                                serialized_type_name=f"{__name__}.NeuroArtMusicState",
                                flatten_with_keys_fn=_flatten_state_with_keys)
except ValueError:  # already registered (a module reloaded in the same process)
    pass


class NeuroArtMusicPreTrainedModel(PreTrainedModel):
    config_class = NeuroArtMusicConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _no_split_modules = ["NeuroArtMusicModel"]
    _is_stateful = True  # no assisted generation: the state cannot be rolled back

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        # Otherwise generate() passes a DynamicCache as `cache`; our state is a NeuroArtMusicState.
        return False

    def _init_weights(self, module):
        std = self.config.initializer_range
        if isinstance(module, nn.Embedding):
            init.normal_(module.weight, 0.0, std)
        elif isinstance(module, nn.Linear):
            init.normal_(module.weight, 0.0, std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, (nn.LSTM, nn.GRU)):
            bound = 1.0 / math.sqrt(module.hidden_size)
            for name, param in module.named_parameters():
                init.uniform_(param, -bound, bound)
                if isinstance(module, nn.LSTM) and name.startswith("bias_hh"):
                    # Forget-gate bias 1 (Jozefowicz et al., 2015): gates are ordered input, forget, cell, output.
                    with torch.no_grad():
                        forget = param[module.hidden_size : 2 * module.hidden_size]
                        if not getattr(param, "_is_hf_initialized", False):
                            forget.fill_(1.0)


class NeuroArtMusicModel(NeuroArtMusicPreTrainedModel):
    """Token embedding -> stacked LSTM/GRU. Returns hidden states (B, T, hidden) and the new state."""

    def __init__(self, config: NeuroArtMusicConfig):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        rnn_class = nn.LSTM if config.rnn_type == "lstm" else nn.GRU
        self.rnn = rnn_class(
            config.hidden_size,
            config.hidden_size,
            num_layers=config.num_hidden_layers,
            dropout=config.dropout if config.num_hidden_layers > 1 else 0.0,
            batch_first=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        # transformers' `gradient_checkpointing_enable()` sets this: in training the recurrence's activations (every
        # gate of every step) are then recomputed in the backward pass instead of kept.
        self.gradient_checkpointing = False
        self.post_init()

    def _zero_state(self, batch_size: int, like: torch.Tensor):
        zeros = like.new_zeros(self.config.num_hidden_layers, batch_size, self.config.hidden_size)
        return (zeros, zeros.clone()) if self.config.rnn_type == "lstm" else zeros

    def _run_masked(self, inputs_embeds: torch.Tensor, state, step_mask: torch.Tensor):
        """Run step by step; where `step_mask` (B, T) is 0 the state is carried through unchanged."""
        if state is None:
            state = self._zero_state(inputs_embeds.shape[0], inputs_embeds)
        outputs = []
        for t in range(inputs_embeds.shape[1]):
            out_t, new_state = self.rnn(inputs_embeds[:, t : t + 1], state)
            keep = step_mask[:, t].to(inputs_embeds.dtype)[None, :, None]  # (B,) -> (1, B, 1), over layers/hidden
            if isinstance(new_state, tuple):
                state = tuple(keep * new + (1 - keep) * old for new, old in zip(new_state, state))
            else:
                state = keep * new_state + (1 - keep) * state
            outputs.append(out_t)
        return torch.cat(outputs, dim=1), state

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: NeuroArtMusicState | None = None,
        inputs_embeds: torch.Tensor | None = None,
        use_cache: bool | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast | tuple:
        """`output_hidden_states=True` returns (embeddings, the output of each recurrent layer); an RNN has no
        attention, so `attentions` stays None whatever `output_attentions` says."""
        cache = _take_legacy_cache(cache, kwargs, type(self).__name__)
        output_hidden_states = (output_hidden_states if output_hidden_states is not None
                                else self.config.output_hidden_states)
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of `input_ids` or `inputs_embeds`.")
        use_cache = use_cache if use_cache is not None else self.config.use_cache
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        hidden = self.dropout(inputs_embeds)  # (B, T, hidden)
        seq_len = hidden.shape[1]
        state = cache.as_torch() if cache is not None else None
        step_mask = None if attention_mask is None else attention_mask[:, -seq_len:]
        all_hidden = None
        if _is_exporting():  # the data-dependent padding check cannot run: the scan applies any mask as it goes
            all_hidden, new_state = self._run_scan(hidden, state, step_mask)
            hidden = all_hidden[-1]
        elif step_mask is not None and not bool(step_mask.all()):
            hidden, new_state = self._run_masked(hidden, state, step_mask)
        elif output_hidden_states:
            all_hidden, new_state = self._run_layer_by_layer(hidden, state)
            hidden = all_hidden[-1]
        elif seq_len == 1 and not self.training:  # one step of generation: the lean cell step
            top, new_state = self.step(hidden[:, 0], self._zero_state(hidden.shape[0], hidden) if state is None
                                       else state)
            hidden = top[:, None]  # (B, hidden) -> (B, 1, hidden)
        elif self.gradient_checkpointing and self.training and torch.is_grad_enabled():
            hidden, new_state = self._run_rnn(self._gradient_checkpointing_func, hidden, state)
        else:
            hidden, new_state = self._run_rnn(None, hidden, state)
        if output_hidden_states and all_hidden is None:  # (padded prompt) per-layer outputs by a second pass
            all_hidden, _ = self._run_layer_by_layer(self.dropout(inputs_embeds), state)
        hidden = self.dropout(hidden)
        seen = (cache.seen_tokens if cache is not None else 0) + seq_len
        new_cache = NeuroArtMusicState.from_torch(new_state, seen) if use_cache else None
        hidden_states = (inputs_embeds, *all_hidden[:-1], hidden) if output_hidden_states and all_hidden else None
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if not return_dict:
            return tuple(v for v in (hidden, new_cache, hidden_states) if v is not None)
        return BaseModelOutputWithPast(last_hidden_state=hidden, cache=new_cache, hidden_states=hidden_states)

    def _run_rnn(self, checkpoint, hidden: torch.Tensor, state):
        """`self.rnn` over the sequence (through `checkpoint` when given). Under CPU bf16 autocast on a CPU without
        native bf16, in the weights' dtype with autocast off: oneDNN has no bf16 LSTM kernel there."""
        run = self.rnn if checkpoint is None else (lambda x, s: checkpoint(self.rnn, x, s))
        if (hidden.device.type != "cpu" or not torch.is_autocast_enabled("cpu")
                or torch.get_autocast_dtype("cpu") != torch.bfloat16 or _cpu_has_native_bf16()):
            return run(hidden, state)
        dtype = self.rnn.weight_ih_l0.dtype
        if state is not None:
            state = tuple(s.to(dtype) for s in state) if isinstance(state, tuple) else state.to(dtype)
        with torch.autocast("cpu", enabled=False):
            return run(hidden.to(dtype), state)

    def step(self, inputs: torch.Tensor, state):
        """One time step in eval mode, layer by layer through `torch.lstm_cell` / `torch.gru_cell` (what
        `nn.LSTMCell` runs): `inputs` (B, hidden) embeddings and the state as `nn.LSTM` takes it -> (top layer's
        output (B, hidden), new state). Calling `nn.LSTM` for a single step costs several times more on a CPU, and
        generation is nothing but single steps; `generate()` and `generate_music` both come through here."""
        lstm = self.config.rnn_type == "lstm"
        # One dtype for every operand: the weights' own, or the caller's autocast dtype. The cell ops are not all on
        # autocast's lists (CPU), and a state from a bf16 prompt pass meeting fp32 weights (or the reverse) fails
        # with "expected mat1 and mat2 to have the same dtype"; autocast is off inside so nothing is cast twice.
        device_type = inputs.device.type
        dtype = (torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type)
                 else self.rnn.weight_ih_l0.dtype)
        state = tuple(s.to(dtype) for s in state) if lstm else state.to(dtype)
        hs, cs = [], []
        x = inputs.to(dtype)
        with torch.autocast(device_type, enabled=False):
            for index in range(self.config.num_hidden_layers):
                weights = [getattr(self.rnn, f"{kind}_l{index}").to(dtype)
                           for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                if lstm:
                    x, c = torch.lstm_cell(x, (state[0][index], state[1][index]), *weights)  # each (B, hidden)
                    cs.append(c)
                else:
                    x = torch.gru_cell(x, state[index], *weights)
                hs.append(x)
        h = torch.stack(hs)  # L x (B, hidden) -> (L, B, hidden)
        return x, ((h, torch.stack(cs)) if lstm else h)

    def _run_scan(self, hidden: torch.Tensor, state, step_mask: torch.Tensor | None = None):
        """The same recurrence written with the gate equations inside `scan`, which torch.export can trace with a
        dynamic sequence length (nn.LSTM would be unrolled to the example's length). Where `step_mask` (B, T) is 0
        the state is carried through unchanged, as in `_run_masked` (each layer still passes its new output up).
        Returns (per-layer outputs, final state), like `_run_layer_by_layer`; used only while exporting."""
        from torch._higher_order_ops.scan import scan  # torch >= 2.5; private module, public behaviour

        lstm = self.config.rnn_type == "lstm"
        if state is None:
            state = self._zero_state(hidden.shape[0], hidden)
        if step_mask is None:
            step_mask = hidden.new_ones(hidden.shape[:2])
        keeps = step_mask.to(hidden.dtype).transpose(0, 1)[..., None]  # (B, T) -> (T, B, 1)
        outputs, finals = [], []
        for index in range(self.config.num_hidden_layers):
            w_ih, w_hh, b_ih, b_hh = (getattr(self.rnn, f"{kind}_l{index}")
                                      for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            projected = (hidden @ w_ih.T + b_ih).transpose(0, 1)  # (B, T, gates) -> (T, B, gates)

            if lstm:
                def step(carry, xs, w_hh=w_hh, b_hh=b_hh):
                    (h, c), (x, keep) = carry, xs
                    i, f, g, o = (x + h @ w_hh.T + b_hh).chunk(4, dim=-1)  # PyTorch's gate order
                    new_c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                    new_h = torch.sigmoid(o) * torch.tanh(new_c)
                    return (keep * new_h + (1 - keep) * h, keep * new_c + (1 - keep) * c), new_h.clone()

                (h, c), out = scan(step, (state[0][index], state[1][index]), (projected, keeps))
                finals.append((h, c))
            else:
                def step(h, xs, w_hh=w_hh, b_hh=b_hh):
                    x, keep = xs
                    x_r, x_z, x_n = x.chunk(3, dim=-1)
                    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=-1)
                    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
                    new_h = (1 - z) * torch.tanh(x_n + r * h_n) + z * h
                    return keep * new_h + (1 - keep) * h, new_h.clone()

                h, out = scan(step, state[index], (projected, keeps))
                finals.append((h,))
            hidden = out.transpose(0, 1)  # (T, B, hidden) -> (B, T, hidden)
            outputs.append(hidden)
        if lstm:
            return outputs, (torch.stack([f[0] for f in finals]), torch.stack([f[1] for f in finals]))
        return outputs, torch.stack([f[0] for f in finals])

    def _run_layer_by_layer(self, hidden: torch.Tensor, state):
        """The stacked RNN one layer at a time (the same weights and kernels as `self.rnn`), keeping each layer's
        output: returns ([output of layer 1, ..., layer N], final state)."""
        layers, outputs, finals = self.config.num_hidden_layers, [], []
        lstm = self.config.rnn_type == "lstm"
        if state is None:
            state = self._zero_state(hidden.shape[0], hidden)
        for index in range(layers):
            weights = [getattr(self.rnn, f"{kind}_l{index}") for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            layer_state = (state[0][index : index + 1], state[1][index : index + 1]) if lstm else state[index : index + 1]
            function = torch._VF.lstm if lstm else torch._VF.gru  # what nn.LSTM / nn.GRU call, for one layer
            hidden, *final = function(hidden, layer_state if lstm else layer_state, weights, True, 1, 0.0,
                                      self.training, False, True)
            outputs.append(hidden)
            finals.append(final)
            if self.training and index < layers - 1 and self.rnn.dropout:
                hidden = nn.functional.dropout(hidden, self.rnn.dropout, True)
        if lstm:
            new_state = (torch.cat([f[0] for f in finals]), torch.cat([f[1] for f in finals]))
        else:
            new_state = torch.cat([f[0] for f in finals])
        return outputs, new_state


class NeuroArtMusicForCausalLM(NeuroArtMusicPreTrainedModel, GenerationMixin):
    """The music language model: `NeuroArtMusicModel` plus a (tied) projection to token logits."""

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: NeuroArtMusicConfig):
        super().__init__(config)
        self.model = NeuroArtMusicModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        cache: NeuroArtMusicState | None = None,
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
        loss_kwargs = {k: kwargs[k] for k in LOSS_KWARGS if k in kwargs}
        outputs = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            cache=cache,
            inputs_embeds=inputs_embeds,
            use_cache=use_cache,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        hidden = outputs.last_hidden_state
        keep = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        logits = self.lm_head(hidden[:, keep, :])  # (B, T_kept, vocab)
        loss = None
        if labels is not None or loss_kwargs.get("shift_labels") is not None:  # context parallelism: labels shifted
            loss = self.loss_function(logits=logits, labels=labels, vocab_size=self.config.vocab_size, **loss_kwargs)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        if not return_dict:  # transformers' order: loss, logits, cache, hidden_states
            return tuple(v for v in (loss, logits, outputs.cache, outputs.hidden_states) if v is not None)
        return CausalLMOutputWithPast(loss=loss, logits=logits, cache=outputs.cache,
                                      hidden_states=outputs.hidden_states)

    def save_pretrained(self, save_directory, *args, **kwargs):
        # The auto_map names every auto class: AutoModel loads the base model of this checkpoint.
        module = type(self).__module__.split(".")[-1]
        self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}),
                                "AutoModel": f"{module}.NeuroArtMusicModel"}
        super().save_pretrained(save_directory, *args, **kwargs)
        if kwargs.get("is_main_process", True):  # the generation helpers travel with the weights (Spaces use them)
            here = os.path.dirname(os.path.abspath(__file__))
            for name in HELPER_MODULES:
                if os.path.exists(os.path.join(here, name)):
                    shutil.copyfile(os.path.join(here, name), os.path.join(save_directory, name))


__all__ = ["NeuroArtMusicForCausalLM", "NeuroArtMusicModel", "NeuroArtMusicPreTrainedModel", "NeuroArtMusicState"]
