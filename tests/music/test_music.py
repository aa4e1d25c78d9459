"""Tiny-config unit tests of the music RNN: state-carrying generate, beam search, sampling, padding, round trip."""

import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM

from neuroart import NeuroArtMusicForCausalLM, NeuroArtMusicModel
from neuroart.music import NeuroArtMusicState
from tests.helpers import tiny_music_config

RNN_TYPES = ["lstm", "gru"]


def make(rnn_type, seed=0, **kw):
    torch.manual_seed(seed)
    return NeuroArtMusicForCausalLM(tiny_music_config(rnn_type=rnn_type, **kw)).eval()


def prompt(batch=2, length=6, seed=1):
    return torch.randint(3, 64, (batch, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_forward_and_loss(rnn_type):
    model = make(rnn_type)
    x = prompt()
    out = model(input_ids=x, labels=x)
    assert out.logits.shape == (2, 6, 64)
    assert isinstance(out.cache, NeuroArtMusicState) and out.cache.get_seq_length() == 6
    assert out.loss.item() == pytest.approx(torch.log(torch.tensor(64.0)).item(), rel=0.1)


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_state_carrying_equals_full_recompute(rnn_type):
    model = make(rnn_type)
    x = prompt()
    full = model(input_ids=x).logits
    first = model(input_ids=x[:, :4], use_cache=True)
    step = model(input_ids=x[:, 4:5], cache=first.cache)
    step2 = model(input_ids=x[:, 5:6], cache=step.cache)
    assert torch.allclose(full[:, 5], step2.logits[:, -1], atol=1e-5)


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_greedy_generate_with_state_equals_without(rnn_type):
    model = make(rnn_type)
    x = prompt()
    with_state = model.generate(x, max_new_tokens=24, min_new_tokens=24, do_sample=False)
    without = model.generate(x, max_new_tokens=24, min_new_tokens=24, do_sample=False, use_cache=False)
    assert with_state.shape == (2, 30)
    assert torch.equal(with_state, without)


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_decode_steps_see_only_the_new_token(rnn_type):
    """The state is reused: after the prompt, each forward call receives one token."""
    model = make(rnn_type)
    lengths = []
    steps = []

    def record(module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        lengths.append(ids.shape[1])

    hook = model.model.register_forward_pre_hook(record, with_kwargs=True)
    step = model.model.step
    model.model.step = lambda *a, **k: steps.append(1) or step(*a, **k)  # the lean cell step takes single tokens
    model.generate(prompt(), max_new_tokens=10, min_new_tokens=10, do_sample=False)
    hook.remove()
    del model.model.step
    assert lengths[0] == 6 and set(lengths[1:]) == {1} and len(lengths) == 10
    assert len(steps) == 9  # every one-token call went through the lean cell step


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_beam_search_reorders_state(rnn_type):
    model = make(rnn_type)
    x = prompt()
    kwargs = dict(max_new_tokens=12, min_new_tokens=12, num_beams=4, do_sample=False)
    with_state = model.generate(x, **kwargs)
    without = model.generate(x, use_cache=False, **kwargs)
    assert torch.equal(with_state, without)
    returned = model.generate(x, num_return_sequences=3, **kwargs)
    assert returned.shape == (6, 18)


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_sampling_controls(rnn_type):
    model = make(rnn_type)
    x = prompt()
    kwargs = dict(do_sample=True, temperature=0.8, top_k=5, top_p=0.9, num_return_sequences=3, max_new_tokens=10,
                  min_new_tokens=10)
    torch.manual_seed(3)
    a = model.generate(x, **kwargs)
    torch.manual_seed(3)
    b = model.generate(x, **kwargs)
    assert a.shape == (6, 16) and torch.equal(a, b)
    # top_k=1 sampling is greedy
    greedy = model.generate(x, max_new_tokens=10, min_new_tokens=10, do_sample=False)
    assert torch.equal(model.generate(x, do_sample=True, top_k=1, max_new_tokens=10, min_new_tokens=10), greedy)


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_left_padding_matches_unpadded(rnn_type):
    model = make(rnn_type)
    x = prompt(batch=2, length=6)
    short = x[:1, :3]
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), short], dim=1)
    batch = torch.cat([padded, x[1:]])
    mask = torch.tensor([[0, 0, 0, 1, 1, 1], [1] * 6])
    kwargs = dict(max_new_tokens=8, min_new_tokens=8, do_sample=False)
    out = model.generate(batch, attention_mask=mask, **kwargs)
    assert torch.equal(out[0, 6:], model.generate(short, **kwargs)[0, 3:])
    assert torch.equal(out[1, 6:], model.generate(x[1:], **kwargs)[0, 6:])


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_round_trip_auto_classes(rnn_type, tmp_path):
    model = make(rnn_type)
    model.save_pretrained(tmp_path)
    import json

    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert set(auto_map) == {"AutoConfig", "AutoModel", "AutoModelForCausalLM"}
    x = prompt()
    lm = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert isinstance(lm, NeuroArtMusicForCausalLM)
    assert torch.equal(lm(input_ids=x).logits, model(input_ids=x).logits)
    assert lm.lm_head.weight.data_ptr() == lm.model.embed_tokens.weight.data_ptr()  # tie survives loading
    base = AutoModel.from_pretrained(tmp_path)
    assert isinstance(base, NeuroArtMusicModel)
    assert torch.equal(base(input_ids=x).last_hidden_state, model.model(input_ids=x).last_hidden_state)
    assert torch.equal(lm.generate(x, max_new_tokens=8, do_sample=False),
                       model.generate(x, max_new_tokens=8, do_sample=False))


@pytest.mark.parametrize("rnn_type", RNN_TYPES)
def test_cell_step_runs_in_one_dtype(rnn_type):
    """The lean cell step takes a state in another dtype than its weights (a bf16 prompt pass on fp32 weights, as
    under CUDA autocast) and computes in the weights' dtype, or in the caller's autocast dtype; bf16 weights give
    the same greedy tokens through the lean step and through nn.LSTM."""
    model = make(rnn_type)
    base = model.model
    x = base.embed_tokens(prompt(length=1))[:, 0]
    zeros = base._zero_state(2, x.to(torch.bfloat16))  # a bf16 state, fp32 weights
    out, state = base.step(x, zeros)
    assert out.dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, state = base.step(x, base._zero_state(2, x))
    assert out.dtype == torch.bfloat16 and (state[0] if rnn_type == "lstm" else state).dtype == torch.bfloat16
    half = make(rnn_type).to(torch.bfloat16)
    ids = prompt()
    greedy = half.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=8)
    full = ids
    for _ in range(8):  # no cache: nn.LSTM over the whole prefix every step
        logits = half(full, use_cache=False).logits[:, -1]
        full = torch.cat([full, logits.argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(greedy, full)
