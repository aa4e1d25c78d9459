"""The two language models behave like transformers models: legacy argument names, unknown-argument errors,
attentions and hidden states, continuation from a returned state, torch.export, and the poet's attention view."""

import warnings

import pytest
import torch

from neuroart import NeuroArtMusicForCausalLM, NeuroArtPoetryConfig, NeuroArtPoetryForCausalLM  # noqa: E402
from tests.helpers import tiny_music_config, tiny_poetry_config


def poet(**overrides):
    torch.manual_seed(0)
    return NeuroArtPoetryForCausalLM(tiny_poetry_config(**overrides)).eval()


def composer(rnn_type="lstm"):
    torch.manual_seed(0)
    return NeuroArtMusicForCausalLM(tiny_music_config(rnn_type=rnn_type)).eval()


def ids(batch=2, length=9, seed=1):
    return torch.randint(4, 50, (batch, length), generator=torch.Generator().manual_seed(seed))


MODELS = [("poetry", poet), ("lstm", lambda: composer("lstm")), ("gru", lambda: composer("gru"))]


@pytest.mark.parametrize("name,make", MODELS)
def test_legacy_cache_names_are_aliases_with_a_warning(name, make):
    model, x = make(), ids()
    full = model(x).logits
    prefix = model(x[:, :4], use_cache=True)
    for legacy in ("past_key_values",) + (("cache_params",) if name != "poetry" else ()):
        prefix = model(x[:, :4], use_cache=True)  # a fresh cache each time (the poet's grows in place)
        with pytest.warns(FutureWarning, match=legacy):
            continued = model(x[:, 4:], **{legacy: prefix.cache})
        torch.testing.assert_close(continued.logits, full[:, 4:], rtol=1e-4, atol=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(x[:, 4:], cache=model(x[:, :4], use_cache=True).cache)  # the main name warns nothing


@pytest.mark.parametrize("name,make", MODELS)
def test_unknown_keyword_arguments_are_an_error(name, make):
    model = make()
    with pytest.raises(TypeError, match="past_key_value_s|attn_mask"):
        model(ids(), attn_mask=torch.ones(2, 9))
    with pytest.raises(TypeError, match="past_key_value_s"):
        model.model(ids(), past_key_value_s=None)
    model(ids(), cache_position=torch.arange(9))  # names transformers itself passes are accepted


def test_poet_attentions_and_hidden_states():
    model, x = poet(), ids()
    out = model(x, output_attentions=True, output_hidden_states=True)
    layers, heads = model.config.num_hidden_layers, model.config.num_attention_heads
    assert len(out.attentions) == layers and len(out.hidden_states) == layers + 1
    assert all(a.shape == (2, heads, 9, 9) for a in out.attentions)
    assert all(h.shape == (2, 9, model.config.hidden_size) for h in out.hidden_states)
    torch.testing.assert_close(out.attentions[0].sum(-1), torch.ones(2, heads, 9))  # rows are distributions
    assert torch.all(out.attentions[0].triu(1) == 0)  # causal
    torch.testing.assert_close(out.hidden_states[-1], model.model(x).last_hidden_state)
    # The same weights and logits whichever attention implementation is configured (weights come from eager).
    eager = poet()
    eager.config._attn_implementation = "eager"
    sdpa = poet()
    sdpa.config._attn_implementation = "sdpa"
    a, b = eager(x, output_attentions=True), sdpa(x, output_attentions=True)
    for wa, wb in zip(a.attentions, b.attentions):
        torch.testing.assert_close(wa, wb)
    torch.testing.assert_close(sdpa(x).logits, eager(x).logits, rtol=1e-4, atol=1e-5)
    # return_dict=False follows transformers' order: (loss, logits, cache, hidden_states, attentions)
    loss, logits, cache, hidden, attentions = model(x, labels=x, output_attentions=True, output_hidden_states=True,
                                                    use_cache=True, return_dict=False)
    assert loss.dim() == 0 and logits.shape[:2] == (2, 9) and len(hidden) == 3 and len(attentions) == 2
    assert cache.get_seq_length() == 9


def test_poet_generate_returns_attentions_and_hidden_states():
    model, x = poet(), ids()
    out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=3, do_sample=False,
                         output_attentions=True, output_hidden_states=True, return_dict_in_generate=True)
    assert len(out.attentions) == 3 and len(out.attentions[0]) == model.config.num_hidden_layers
    assert out.attentions[0][0].shape[-2:] == (9, 9) and out.attentions[1][0].shape[-2:] == (1, 10)
    assert len(out.hidden_states) == 3 and len(out.hidden_states[0]) == model.config.num_hidden_layers + 1
    # Assisted decoding with the output flags (it reads outputs.attentions) gives the greedy tokens.
    greedy = model.generate(x[:1], attention_mask=torch.ones_like(x[:1]), max_new_tokens=6, do_sample=False)
    assisted = model.generate(x[:1], attention_mask=torch.ones_like(x[:1]), assistant_model=poet(), max_new_tokens=6,
                              do_sample=False, output_attentions=True, return_dict_in_generate=True)
    assert torch.equal(assisted.sequences, greedy) and len(assisted.attentions) == 6


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_composer_hidden_states_per_layer(rnn_type):
    model, x = composer(rnn_type), ids()
    out = model(x, output_hidden_states=True)
    assert len(out.hidden_states) == model.config.num_hidden_layers + 1 and out.attentions is None
    base = model(x)
    torch.testing.assert_close(out.logits, base.logits)
    torch.testing.assert_close(out.cache.h, base.cache.h)
    torch.testing.assert_close(out.hidden_states[-1], model.model(x).last_hidden_state)
    padded = torch.ones_like(x)
    padded[0, :3] = 0  # the left-padded path returns per-layer outputs too
    assert len(model(x, attention_mask=padded, output_hidden_states=True).hidden_states) == 3
    gen = model.generate(x[:1], max_new_tokens=3, output_hidden_states=True, return_dict_in_generate=True)
    assert len(gen.hidden_states) == 3
    logits, cache, hidden = model(x, output_hidden_states=True, return_dict=False)
    assert logits.shape[:2] == (2, 9) and len(hidden) == 3


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_composer_continues_from_its_returned_state(rnn_type):
    """Two chunks of 64 tokens (greedy), the second passed the first's state, equal one call of 128."""
    model, prompt = composer(rnn_type), ids(1, 3)
    whole = model.generate(prompt, max_new_tokens=128, min_new_tokens=128, do_sample=False)
    first = model.generate(prompt, max_new_tokens=64, min_new_tokens=64, do_sample=False,
                           return_dict_in_generate=True)
    assert first.cache.get_seq_length() == 3 + 63  # the last sampled token is not run yet
    second = model.generate(first.sequences, cache=first.cache, max_new_tokens=64, min_new_tokens=64,
                            do_sample=False)
    assert torch.equal(second, whole)


@pytest.mark.parametrize("name,make", MODELS)
def test_export_with_dynamic_batch_and_length_matches_eager(name, make):
    model = make()
    batch, length = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("length", min=2, max=128)
    program = torch.export.export(model, (ids(2, 9),), kwargs={"use_cache": False},
                                  dynamic_shapes={"input_ids": {0: batch, 1: length}, "use_cache": None}, strict=False)
    for shape in ((3, 17), (1, 5)):
        x = ids(*shape, seed=7)
        torch.testing.assert_close(program.module()(x, use_cache=False).logits, model(x, use_cache=False).logits,
                                   rtol=1e-4, atol=1e-5)


def test_unusual_but_legal_config_values_load():
    config = NeuroArtPoetryConfig(**{**tiny_poetry_config().to_dict(), "layer_norm_eps": 1.0})
    assert config.layer_norm_eps == 1.0
    with pytest.raises(ValueError, match="layer_norm_eps"):
        NeuroArtPoetryConfig(layer_norm_eps=0.0)
    with pytest.raises(ValueError, match="hidden_size"):
        NeuroArtPoetryConfig(hidden_size=10**6, num_attention_heads=1)  # ~10^13 parameters: refused before allocation


def test_attention_view_of_a_tiny_poet():
    from neuroart.poetry.attention import ATTENTION_CAPTION, attention_view, line_attention
    from neuroart.poetry.tokenization import SPECIAL_TOKENS
    from tests.helpers import make_char_tokenizer

    tokenizer = make_char_tokenizer(["白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。\n登楼"])
    tokenizer.add_special_tokens({"additional_special_tokens": [t for t in SPECIAL_TOKENS if t not in
                                                                tokenizer.all_special_tokens]})
    model = poet(vocab_size=len(tokenizer))
    poem = "白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。"
    labels, rows = line_attention(model, tokenizer, poem, form=None, title="登楼", keywords=["山"])
    assert len(rows) == 2 and all(abs(sum(r) - 1) < 1e-5 for r in rows)
    assert "登" in labels and "山" in labels and "诗" in labels  # the title, the keyword, the <poem> mark
    assert sum(v > 0 for v in rows[0]) < sum(v > 0 for v in rows[1])  # line 2 also sees line 1
    image = attention_view(model, tokenizer, poem, title="登楼", keywords=["山"])
    assert image.size[0] > image.size[1] > 0 and len(image.getcolors(maxcolors=1 << 20)) > 3
    assert "title" in ATTENTION_CAPTION and "keywords" in ATTENTION_CAPTION


def test_attention_view_without_a_cjk_font_numbers_its_columns(monkeypatch):
    """No CJK font on the machine: a warning, and numbered columns instead of boxes."""
    from neuroart.poetry import attention
    from tests.helpers import make_char_tokenizer

    monkeypatch.setattr(attention, "_cjk_font", lambda size: None)
    tokenizer = make_char_tokenizer(["白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。"])
    model = poet(vocab_size=len(tokenizer))
    with pytest.warns(UserWarning, match="No CJK font"):
        image = attention.attention_view(model, tokenizer, "白日依山尽，黄河入海流。\n欲穷千里目，更上一层楼。")
    assert image.size[0] > 0


def test_a_cjk_font_is_found_where_one_is_installed():
    from neuroart.poetry.attention import _cjk_font

    font = _cjk_font(16)
    if font is None:
        pytest.skip("no CJK font on this machine (.ci/run installs fonts-wqy-microhei)")
    assert font.getmask("诗").getbbox() is not None


@pytest.mark.parametrize("name,make", MODELS)
def test_trainer_and_padding_free_kwargs_are_accepted(name, make):
    """What transformers' Trainer, its loss functions and padding-free collators pass: `shift_labels` (context
    parallelism: the labels already shifted, no `labels`), `num_items_in_batch`, `cu_seq_lens_*`, `max_length_*`
    and `seq_idx`. The loss is the same as from `labels`; a misspelled name still raises."""
    model, x = make(), ids()
    expected = model(x, labels=x).loss
    shifted = torch.nn.functional.pad(x[:, 1:], (0, 1), value=-100)  # (B, T): the next token, -100 at the end
    torch.testing.assert_close(model(x, shift_labels=shifted).loss, expected)
    cu = torch.tensor([0, 9, 18], dtype=torch.int32)
    packed = model(x, labels=x, num_items_in_batch=torch.tensor(16), cu_seq_lens_q=cu, cu_seq_lens_k=cu,
                   max_length_q=9, max_length_k=9, seq_idx=None)
    torch.testing.assert_close(packed.loss, expected)
    with pytest.raises(TypeError, match="shift_lables"):
        model(x, shift_lables=shifted)


@pytest.mark.parametrize("name,make", MODELS)
def test_gradient_checkpointing_gives_the_same_gradients(name, make):
    """`gradient_checkpointing_enable()` (poet: per block; composer: the recurrence) changes memory, not maths."""
    grads = []
    for checkpointing in (False, True):
        model = make().train()
        if name == "poetry":
            model.config.dropout = 0.0
            for module in model.modules():
                if isinstance(module, torch.nn.Dropout):
                    module.p = 0.0
        else:
            model.model.dropout.p, model.model.rnn.dropout = 0.0, 0.0
        calls = []
        if checkpointing:
            enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
            enable({"use_reentrant": False})
            for module in model.modules():  # count the checkpointed calls (poet: each block; composer: the RNN)
                original = getattr(module, "_gradient_checkpointing_func", None)
                if original is not None and module.gradient_checkpointing:
                    module._gradient_checkpointing_func = (
                        lambda *a, _original=original, _calls=calls, **k: _calls.append(1) or _original(*a, **k))
        x = ids()
        model(x, labels=x, use_cache=False).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
        if checkpointing:
            assert len(calls) == (model.config.num_hidden_layers if name == "poetry" else 1)
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 3
    for key in grads[0]:
        torch.testing.assert_close(grads[1][key], grads[0][key], rtol=1e-5, atol=1e-6)


def test_poet_compiles_fullgraph_with_a_static_cache():
    """`_can_compile_fullgraph = True`: a StaticCache decode step compiled with fullgraph=True gives eager's logits."""
    from transformers import StaticCache

    model = poet()
    assert type(model)._can_compile_fullgraph
    x = ids(1, 6)
    eager = model(x).logits[:, -1]
    cache = StaticCache(config=model.config, max_cache_len=16)
    model(x[:, :-1], cache=cache, use_cache=True)
    step = torch.compile(model.forward, fullgraph=True, dynamic=False)
    out = step(input_ids=x[:, -1:], cache=cache, use_cache=True,
               position_ids=torch.tensor([[5]]), cache_position=torch.tensor([5]))
    torch.testing.assert_close(out.logits[:, -1], eager, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name,make", MODELS)
def test_trainer_fine_tunes_a_few_steps(name, make, tmp_path):
    """transformers.Trainer fine-tunes both language models: the loss falls on a repeated batch and the result
    saves and loads through the auto classes."""
    pytest.importorskip("accelerate")
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    model = make().train()
    data = [{"input_ids": row, "labels": row} for row in ids(8, 12, seed=3)]
    args = TrainingArguments(output_dir=str(tmp_path / "run"), per_device_train_batch_size=4, max_steps=12,
                             learning_rate=5e-3, logging_steps=1, report_to=[], save_strategy="no",
                             use_cpu=True, dataloader_num_workers=0, seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=data)
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 12 and losses[-1] < losses[0]
    trainer.save_model(str(tmp_path / "final"))
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "final")
    torch.testing.assert_close(loaded.eval()(ids()).logits, model.eval()(ids()).logits)


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_composer_exports_a_generation_step_with_its_state(rnn_type):
    """The state is a pytree node: torch.export takes it in and gives it back (default `use_cache=True`), so a
    generation step exports; a left-padded prompt's real tokens come out as in eager mode (the mask is honoured)."""
    model, x = composer(rnn_type), ids()
    batch, length = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("length", min=2, max=128)
    prefix = model(x[:, :5])
    state_shapes = [{1: batch}] * (2 if rnn_type == "lstm" else 1)
    program = torch.export.export(model, (x[:, 5:6],), kwargs={"cache": prefix.cache},
                                  dynamic_shapes={"input_ids": {0: batch}, "cache": state_shapes}, strict=False)
    for rows in (2, 3):
        x = ids(rows, 9, seed=rows)
        prefix = model(x[:, :5])
        ours, eager = program.module()(x[:, 5:6], cache=prefix.cache), model(x[:, 5:6], cache=prefix.cache)
        torch.testing.assert_close(ours.logits, eager.logits, rtol=1e-4, atol=1e-5)
        assert type(ours.cache) is type(eager.cache) and ours.cache.seen_tokens == eager.cache.seen_tokens == 6
        torch.testing.assert_close(ours.cache.h, eager.cache.h, rtol=1e-4, atol=1e-5)
    program = torch.export.export(model, (x,), kwargs={"attention_mask": torch.ones_like(x)},
                                  dynamic_shapes={"input_ids": {0: batch, 1: length},
                                                  "attention_mask": {0: batch, 1: length}}, strict=False)
    x = ids(3, 11, seed=5)
    mask = torch.ones_like(x)
    mask[0, :4] = mask[2, :1] = 0  # left padding
    ours, eager = program.module()(x, attention_mask=mask), model(x, attention_mask=mask)
    torch.testing.assert_close(ours.logits[0, 4:], eager.logits[0, 4:], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.logits[1:, 1:], eager.logits[1:, 1:], rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours.cache.h, eager.cache.h, rtol=1e-4, atol=1e-5)
