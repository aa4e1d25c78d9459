"""CUDA paths (`@pytest.mark.gpu`, skipped without CUDA): generation on the GPU with the same seed twice and under
bf16 autocast, each training script for a few steps in bf16, and FSDP with one process. `benchmarks/speed/gpu_smoke.py`
runs the same paths at GPU-sized settings and measures throughput."""

import json
import subprocess
import sys

import pytest
import torch

from neuroart import NeuroArtGANModel, NeuroArtMusicForCausalLM, NeuroArtPoetryForCausalLM
from tests.helpers import REPO_ROOT, make_midi, tiny_gan_config, tiny_music_config, tiny_poetry_config

pytestmark = pytest.mark.gpu
DEVICE = "cuda"
PRECISIONS = [None, torch.bfloat16, torch.float16]


def autocast(dtype):
    return torch.autocast(DEVICE, dtype=dtype) if dtype is not None else torch.autocast(DEVICE, enabled=False)


@pytest.mark.parametrize("dtype", PRECISIONS)
def test_generate_images_on_cuda(dtype):
    torch.manual_seed(0)
    model = NeuroArtGANModel(tiny_gan_config(num_classes=2)).to(DEVICE).eval()
    with autocast(dtype):
        first, second = (model.generate_images(6, seed=3, output_type="pt") for _ in range(2))
    assert torch.equal(first, second) and torch.isfinite(first).all()
    cpu = NeuroArtGANModel(model.config).eval()
    cpu.load_state_dict(model.state_dict())
    if dtype is None:  # the latents are drawn on the CPU: the same seed paints the same picture on either device
        torch.testing.assert_close(first.cpu(), cpu.generate_images(6, seed=3, output_type="pt"), atol=2e-3, rtol=0)


@pytest.mark.parametrize("dtype", PRECISIONS)
@pytest.mark.parametrize("lean", [True, False])
def test_generate_music_and_harmonise_on_cuda(dtype, lean):
    from neuroart.music.generation import build_tokenizer, generate_music

    tokenizer = build_tokenizer()
    torch.manual_seed(0)
    model = NeuroArtMusicForCausalLM(tiny_music_config(
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer["BOS_None"],
        eos_token_id=tokenizer["EOS_None"])).to(DEVICE).eval()
    with autocast(dtype):
        runs = [generate_music(model, tokenizer, max_new_tokens=120, seed=2, lean=lean)
                for _ in range(2)]
        harmonised = [generate_music(model, tokenizer, primer=make_midi(1, bars=2), harmonize=True, seed=1,
                                     lean=lean) for _ in range(2)]
    assert runs[0].sequence == runs[1].sequence and len(runs[0].sequence) > 10
    assert harmonised[0].sequence == harmonised[1].sequence


@pytest.mark.parametrize("dtype", PRECISIONS)
def test_write_poem_on_cuda(dtype):
    from neuroart.poetry import check_poem, detect_form, format_poem, train_poetry_tokenizer, write_poem
    from tests.helpers.corpora import ENGLISH, POEMS, VOCAB_EXTRA

    texts = [format_poem(body, detect_form(body), title) for title, body in POEMS] + ENGLISH * 3 + [VOCAB_EXTRA]
    tokenizer = train_poetry_tokenizer(texts, vocab_size=600, min_frequency=1)
    torch.manual_seed(0)
    model = NeuroArtPoetryForCausalLM(tiny_poetry_config(vocab_size=len(tokenizer), max_position_embeddings=160))
    model = model.to(DEVICE).eval()
    with autocast(dtype):
        poems = [write_poem(model, tokenizer, form="五言绝句", seed=4, num_candidates=3).text for _ in range(2)]
    assert poems[0] == poems[1] and check_poem(poems[0], "五言绝句").form_ok
    # English, its words held to a lexicon (the mask built on the CPU, applied on the GPU)
    import re

    from neuroart.poetry import Lexicon
    from neuroart.poetry.english import verse_style

    lexicon = Lexicon(re.findall(r"[a-z']+", ENGLISH[0]))
    with autocast(dtype):
        verses = [write_poem(model, tokenizer, form="quatrain", seed=4, num_candidates=2, lexicon=lexicon).text
                  for _ in range(2)]
    assert verses[0] == verses[1] and set(re.findall(r"[a-z']+", verse_style(verses[0]))) <= lexicon.words


def _launch(script, out, *args, config="single_gpu.yaml"):
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
           str(REPO_ROOT / "training" / "configs" / config), "--num_processes", "1", "--mixed_precision", "bf16",
           str(REPO_ROOT / "training" / script), "--output_dir", str(out), "--mixed_precision", "bf16",
           "--max_train_steps", "4", "--sample_steps", "2", "--checkpointing_steps", "2", *map(str, args)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout + result.stderr


@pytest.mark.parametrize("script", ["train_gan.py", "train_music.py", "train_poetry.py"])
def test_training_scripts_in_bf16_on_cuda(script, tmp_path):
    """A few bf16 steps on the GPU, samples included (none fails), and an export that loads on a CPU."""
    from transformers import AutoModel

    from tests.helpers import data_args

    log = _launch(script, tmp_path / "out", *data_args(script, tmp_path), "--sample_steps", "2")
    assert "failed" not in log
    metrics = json.loads((tmp_path / "out" / "training_summary.json").read_text())["metrics"]
    assert metrics["steps"] == 4 and "precision bf16" in metrics["hardware"]
    AutoModel.from_pretrained(tmp_path / "out", device_map="cpu")


def test_fsdp_one_process_exports_a_folder_that_loads_on_a_cpu(tmp_path):
    from transformers import AutoModelForCausalLM

    from tests.helpers import data_args

    _launch("train_poetry.py", tmp_path / "out", *data_args("train_poetry.py", tmp_path), config="fsdp.yaml")
    metrics = json.loads((tmp_path / "out" / "training_summary.json").read_text())["metrics"]
    assert "FSDP" in metrics["hardware"]
    AutoModelForCausalLM.from_pretrained(tmp_path / "out", device_map="cpu")
