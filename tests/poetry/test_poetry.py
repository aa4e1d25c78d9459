"""Tiny-config unit tests of the poetry GPT: KV cache, padding, attention backends, pipeline, round trip."""

import json

import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer, DynamicCache, pipeline

from neuroart import NeuroArtPoetryForCausalLM, NeuroArtPoetryModel
from tests.helpers import make_char_tokenizer, tiny_poetry_config


def make(seed=0, **kw):
    torch.manual_seed(seed)
    return NeuroArtPoetryForCausalLM(tiny_poetry_config(**kw)).eval()


def prompt(batch=2, length=6, seed=1):
    return torch.randint(3, 96, (batch, length), generator=torch.Generator().manual_seed(seed))


def test_forward_loss_and_cache():
    model = make()
    x = prompt()
    out = model(input_ids=x, labels=x)
    assert out.logits.shape == (2, 6, 96)
    assert isinstance(out.cache, DynamicCache) and out.cache.get_seq_length() == 6
    assert out.loss.item() == pytest.approx(torch.log(torch.tensor(96.0)).item(), rel=0.1)
    assert model(input_ids=x, logits_to_keep=1).logits.shape == (2, 1, 96)


def test_greedy_generate_with_cache_equals_without():
    model = make()
    x = prompt()
    kwargs = dict(max_new_tokens=30, min_new_tokens=30, do_sample=False)
    assert torch.equal(model.generate(x, **kwargs), model.generate(x, use_cache=False, **kwargs))


def test_beam_search_and_sampling():
    model = make()
    x = prompt()
    kwargs = dict(max_new_tokens=10, min_new_tokens=10, num_beams=3)
    assert torch.equal(model.generate(x, **kwargs), model.generate(x, use_cache=False, **kwargs))
    out = model.generate(x, do_sample=True, top_k=10, top_p=0.9, temperature=0.8, num_return_sequences=3,
                         max_new_tokens=12, min_new_tokens=12)
    assert out.shape == (6, 18)


def test_left_padded_batch_equals_unpadded_prompts():
    model = make()
    x = prompt(length=6)
    short = x[:1, :4]
    batch = torch.cat([torch.cat([torch.zeros(1, 2, dtype=torch.long), short], 1), x[1:]])
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1] * 6])
    kwargs = dict(max_new_tokens=10, min_new_tokens=10, do_sample=False)
    out = model.generate(batch, attention_mask=mask, **kwargs)
    assert torch.equal(out[0, 6:], model.generate(short, **kwargs)[0, 4:])
    assert torch.equal(out[1, 6:], model.generate(x[1:], **kwargs)[0, 6:])


@torch.no_grad()
def test_attention_backends_agree():
    model = make()
    x = prompt()
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1] * 6])
    outputs = {}
    for implementation in ("eager", "sdpa", "flex_attention"):
        model.set_attn_implementation(implementation)
        outputs[implementation] = model(input_ids=x, attention_mask=mask).logits
    model.set_attn_implementation("sdpa")
    assert torch.allclose(outputs["eager"][:, 2:], outputs["sdpa"][:, 2:], atol=1e-5)
    assert torch.allclose(outputs["eager"][:, 2:], outputs["flex_attention"][:, 2:], atol=1e-5)


def test_too_long_input_is_a_clear_error():
    model = make()
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(input_ids=torch.ones(1, 65, dtype=torch.long))


def test_round_trip_auto_classes(tmp_path):
    model = make()
    model.save_pretrained(tmp_path)
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert set(auto_map) == {"AutoConfig", "AutoModel", "AutoModelForCausalLM"}
    x = prompt()
    lm = AutoModelForCausalLM.from_pretrained(tmp_path)
    assert torch.equal(lm(input_ids=x).logits, model(input_ids=x).logits)
    assert lm.lm_head.weight.data_ptr() == lm.model.embed_tokens.weight.data_ptr()
    base = AutoModel.from_pretrained(tmp_path)
    assert isinstance(base, NeuroArtPoetryModel)
    assert torch.equal(base(input_ids=x).last_hidden_state, model.model(input_ids=x).last_hidden_state)
    eager = AutoModelForCausalLM.from_pretrained(tmp_path, attn_implementation="eager")
    assert eager.config._attn_implementation == "eager"
    assert torch.allclose(eager(input_ids=x).logits, model(input_ids=x).logits, atol=1e-5)


def test_text_generation_pipeline_from_folder(tmp_path):
    tokenizer = make_char_tokenizer(["床前明月光，疑是地上霜。", "举头望明月，低头思故乡。", "the moon"])
    assert tokenizer("明月").input_ids == [tokenizer.convert_tokens_to_ids("明"), tokenizer.convert_tokens_to_ids("月")]
    model = make(vocab_size=len(tokenizer))
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    assert AutoTokenizer.from_pretrained(tmp_path)("明月").input_ids == tokenizer("明月").input_ids
    generator = pipeline("text-generation", model=str(tmp_path))
    out = generator("床前", max_new_tokens=5, do_sample=False)
    assert out[0]["generated_text"].startswith("床前")
    sampled = generator(["明月", "the"], max_new_tokens=4, do_sample=True, top_k=5, num_return_sequences=2,
                        return_full_text=False)
    assert len(sampled) == 2 and len(sampled[0]) == 2
