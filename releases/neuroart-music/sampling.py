"""Sampling for the NeuroArt composer: the lean decoding loop, the sampling settings' defaults, and the seeded
global stream that transformers' `generate()` needs.

- `sample_tokens`: the lean loop, one cell step per token, drawing from a `torch.Generator` of its own (the same
  tokens as `generate()` for the same seed);
- `sampling_settings`: `temperature`, `top_k` and `top_p` as given, else the model's `generation_config`, else
  transformers' defaults;
- `seeded_rng`: a private, seeded copy of torch's global stream for `generate()`, under the one lock that every
  NeuroArt model in the process shares.

A helper module shipped beside the weights (`HELPER_MODULES`). Hub remote code: the standard library, torch and
transformers only.
"""

from __future__ import annotations

import contextlib
import threading
import time

import torch
from transformers import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

# One lock for torch's global random stream, shared by every model in the process: music and poetry (and every
# copy of this remote code, loaded under other module names) seed that stream per call, so two of them at once
# must take turns, or a poem and a piece made together would draw from each other's stream. It hangs on
# torch.random, the one module that every copy sees.
_RNG_LOCK = torch.random.__dict__.setdefault("_neuroart_global_stream_lock", threading.RLock())


# Copied from neuroart.poetry.generation.seeded_rng
@contextlib.contextmanager
def seeded_rng(seed: int, device=None):
    """Run a block on a private random stream seeded with `seed`: the global generator state is saved, seeded,
    and restored afterwards, under a lock, so concurrent calls never draw from each other's stream."""
    devices = [device] if device is not None and torch.device(device).type == "cuda" else []
    with _RNG_LOCK, torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


# Copied from neuroart.poetry.generation.sampling_settings
def sampling_settings(model, temperature=None, top_k=None, top_p=None) -> dict:
    """The sampling settings of a call: each one given, else the model's `generation_config` value (a release ships
    the ones it was measured with), else transformers' own default (temperature 1, top-k 50, top-p 1: the same for
    every NeuroArt model). Out-of-range values raise a ValueError naming the setting."""
    config = getattr(model, "generation_config", None)
    settings = {"temperature": 1.0, "top_k": 50, "top_p": 1.0}
    for name, value in (("temperature", temperature), ("top_k", top_k), ("top_p", top_p)):
        value = getattr(config, name, None) if value is None else value
        settings[name] = settings[name] if value is None else value
    if isinstance(settings["temperature"], bool) or not 0 < float(settings["temperature"]) <= 5:
        raise ValueError(f"temperature={settings['temperature']!r} is out of range; use (0, 5].")
    if isinstance(settings["top_k"], bool) or not 0 <= int(settings["top_k"]) <= 100_000:
        raise ValueError(f"top_k={settings['top_k']!r} is out of range; use 0 (off) to 100000.")
    if isinstance(settings["top_p"], bool) or not 0 < float(settings["top_p"]) <= 1:
        raise ValueError(f"top_p={settings['top_p']!r} is out of range; use (0, 1] (1 = off).")
    return {"temperature": float(settings["temperature"]), "top_k": int(settings["top_k"]),
            "top_p": float(settings["top_p"])}


@torch.inference_mode()
def sample_tokens(model, input_ids: torch.LongTensor, logits_processor=None, stopping_criteria=None,
                  max_new_tokens: int = 512, do_sample: bool = True, temperature: float = 1.0, top_k: int = 0,
                  top_p: float = 1.0, eos_token_id: int | None = None, pad_token_id: int = 0,
                  max_time: float | None = None, cache=None, generator: torch.Generator | None = None):
    """The lean sampling loop: the same tokens as `model.generate(input_ids, do_sample=..., temperature=...,
    top_k=..., top_p=..., logits_processor=..., stopping_criteria=..., eos_token_id=..., max_time=..., cache=...)`
    for the same random stream, without generate()'s per-step bookkeeping. Each step is one `model.model.step`
    (the cell step generate() also takes), the processors, the warpers in generate()'s order (temperature, top-k,
    top-p) and one `torch.multinomial` (or argmax) over (B, vocab) float32 scores. Finished rows get `pad_token_id`.
    The draws come from `generator` (a `torch.Generator` on the model's device; None: torch's global stream): a
    generator seeded with `s` draws what the global stream draws after `torch.manual_seed(s)`, so the tokens equal
    generate()'s under `seeded_rng(s)`.

    Returns `(sequences (B, prompt + new), state)`, the state as a `NeuroArtMusicState` of the model's class."""
    started = time.time()
    processors = list(logits_processor or [])  # called directly: LogitsProcessorList inspects signatures per step
    if do_sample:
        if temperature != 1.0:
            processors.append(TemperatureLogitsWarper(temperature))
        if top_k:
            processors.append(TopKLogitsWarper(top_k=top_k, min_tokens_to_keep=1))
        if top_p is not None and top_p < 1.0:
            processors.append(TopPLogitsWarper(top_p=top_p, min_tokens_to_keep=1))
    criteria = list(stopping_criteria or [])
    unseen = input_ids if cache is None else input_ids[:, cache.get_seq_length():]
    out = model(unseen, cache=cache, use_cache=True)  # the prompt, in one pass
    logits, state_class = out.logits[:, -1].float(), type(out.cache)
    state, seen = out.cache.as_torch(), out.cache.seen_tokens
    base, lm_head = model.model, model.lm_head
    batch, length = input_ids.shape
    buffer = input_ids.new_full((batch, length + max_new_tokens), pad_token_id)  # (B, prompt + max new)
    buffer[:, :length] = input_ids
    unfinished = torch.ones(batch, dtype=torch.bool, device=input_ids.device)
    for _ in range(max_new_tokens):
        scores = logits
        for processor in processors:
            scores = processor(buffer[:, :length], scores)
        if do_sample:
            tokens = torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1,
                                       generator=generator).squeeze(1)  # (B,)
        else:
            tokens = scores.argmax(dim=-1)
        tokens = torch.where(unfinished, tokens, pad_token_id)
        buffer[:, length] = tokens
        length += 1
        if eos_token_id is not None:
            unfinished &= tokens != eos_token_id
        for criterion in criteria:
            unfinished &= ~criterion(buffer[:, :length], scores)
        if not unfinished.any() or length == buffer.shape[1] or (
                max_time is not None and time.time() - started > max_time):
            break
        hidden, state = base.step(base.embed_tokens(tokens), state)  # (B, hidden)
        seen += 1
        logits = lm_head(hidden).float()  # (B, vocab)
    return buffer[:, :length].clone(), state_class.from_torch(state, seen)


__all__ = ["sample_tokens", "sampling_settings", "seeded_rng"]
