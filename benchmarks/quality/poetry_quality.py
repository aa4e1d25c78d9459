#!/usr/bin/env python
"""Poetry quality, in one run:

1. Tiny-shakespeare (`poetry/en_tinyshakespeare_train90.txt`; its last 10% is held out here as validation):
   nanoGPT's published CPU config (GPT-2-style, n_layer 4, n_head 4, n_embd 128, block 64, batch 12, lr 1e-3
   cosine over 2000 iters to 1e-4, warm-up 100, AdamW beta2 0.99, dropout 0) against NeuroArt's recipe (the same
   width, depth, block and batch as a `NeuroArtPoetryForCausalLM`; peak lr 4e-3 with the cosine annealed over the
   *time budget*, beta2 0.95), both char-level, both for the same wall-clock budget. Validation nats/char on 64-char
   blocks. nanoGPT's schedule assumes 2000 iterations; a CPU budget that ends before them leaves its rate high.
2. Tang poems (`poetry/zh_tang_jueju_lushi.jsonl`): `training/train_poetry.py` for a CPU budget; held-out nats/char
   of the poem bodies (given the form prompt) against a character-bigram model (interpolated with the unigram) fit
   on the training bodies; then 200 generations per form with the constraints (`write_poem` candidates) and 200
   without (plain sampling after the same prompt), scored by `check_poem`: form, rhyme and tone accuracy,
   distinct-2 and the rate of lines copied verbatim from the training corpus.

    python -m benchmarks.quality.poetry_quality [--shakespeare_seconds 180] [--tang_cpu_seconds 2400] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.common import REPO_ROOT, setup_threads, shared_data, write_results


# ---------------------------------------------------------------------------------------------------------------
# Tiny-shakespeare
# ---------------------------------------------------------------------------------------------------------------
def char_data(path: Path):
    import torch

    text = path.read_text("utf-8")
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    split = int(0.9 * len(data))
    return data[:split], data[split:], len(chars)


def batches(data, block: int, batch: int, generator):
    import torch

    index = torch.randint(len(data) - block - 1, (batch,), generator=generator)
    return torch.stack([data[i : i + block + 1] for i in index])


def train_for_budget(model, train, block, batch, lr_at, seconds, max_iters, betas, seed):
    import torch

    generator = torch.Generator().manual_seed(seed)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                                  lr=lr_at(0, 0.0), betas=betas)
    model.train()
    start, step = time.time(), 0
    while step < max_iters and time.time() - start < seconds:
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, (time.time() - start) / seconds)
        x = batches(train, block, batch, generator)
        loss = _loss(model, x)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
    return step, time.time() - start


def _loss(model, x):
    import torch.nn.functional as F

    logits = model(input_ids=x[:, :-1]).logits
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1))


def eval_chars(model, val, block=64, blocks=200, seed=1234) -> float:
    import torch

    model.eval()
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    with torch.no_grad():
        for _ in range(blocks // 20):
            total += _loss(model, batches(val, block, 20, generator)).item()
    return total / (blocks // 20)


def shakespeare(seconds: float, seed: int) -> dict:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from neuroart import NeuroArtPoetryConfig, NeuroArtPoetryForCausalLM

    path = shared_data() / "poetry" / "en_tinyshakespeare_train90.txt"
    train, val, vocab = char_data(path)
    torch.manual_seed(seed)
    baseline = GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_positions=64, n_embd=128, n_layer=4, n_head=4,
                                          resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0,
                                          eos_token_id=0))

    def nanogpt_lr(step, _fraction):  # nanoGPT get_lr: warm-up 100, cosine over 2000 to 1e-4
        if step < 100:
            return 1e-3 * (step + 1) / 101
        ratio = min(1.0, (step - 100) / (2000 - 100))
        return 1e-4 + 0.5 * (1 + math.cos(math.pi * ratio)) * (1e-3 - 1e-4)

    base_steps, base_time = train_for_budget(baseline, train, 64, 12, nanogpt_lr, seconds, 2000, (0.9, 0.99), seed)
    base_loss = eval_chars(baseline, val)
    torch.manual_seed(seed)
    ours = NeuroArtPoetryForCausalLM(NeuroArtPoetryConfig(vocab_size=vocab, hidden_size=128, num_hidden_layers=4,
                                                          num_attention_heads=4, max_position_embeddings=128,
                                                          dropout=0.0, pad_token_id=0, bos_token_id=0,
                                                          eos_token_id=0))

    def budget_lr(step, fraction):  # warm-up 50 steps, then cosine from 4e-3 to 4e-4 over the time budget
        if step < 50:
            return 4e-3 * (step + 1) / 51
        return 4e-4 + 0.5 * (1 + math.cos(math.pi * min(1.0, fraction))) * (4e-3 - 4e-4)

    our_steps, our_time = train_for_budget(ours, train, 64, 12, budget_lr, seconds, 10**9, (0.9, 0.95), seed)
    our_loss = eval_chars(ours, val)
    return {"shakespeare_val_loss": round(our_loss, 4), "shakespeare_baseline_val_loss": round(base_loss, 4),
            "shakespeare_steps": our_steps, "shakespeare_baseline_steps": base_steps,
            "shakespeare_seconds": round(our_time, 1), "shakespeare_baseline_seconds": round(base_time, 1)}


# ---------------------------------------------------------------------------------------------------------------
# Tang
# ---------------------------------------------------------------------------------------------------------------
def bigram_nats_per_char(train_bodies, eval_bodies, lam: float = 0.95) -> float:
    unigram, bigram, context = Counter(), Counter(), Counter()
    for body in train_bodies:
        seq = ["<s>"] + list(body) + ["</s>"]
        unigram.update(seq[1:])
        for a, b in zip(seq, seq[1:]):
            bigram[a, b] += 1
            context[a] += 1
    vocab = len(unigram) + 1
    total_unigram = sum(unigram.values())
    nll, count = 0.0, 0
    for body in eval_bodies:
        seq = ["<s>"] + list(body) + ["</s>"]
        for a, b in zip(seq, seq[1:]):
            p_uni = (unigram[b] + 1) / (total_unigram + vocab)
            p_bi = bigram[a, b] / context[a] if context[a] else 0.0
            nll -= math.log(lam * p_bi + (1 - lam) * p_uni)
            count += 1
    return nll / count


def model_nats_per_char(model, tokenizer, poems) -> float:
    import torch

    from neuroart.poetry import format_prompt

    model.eval()
    nll, count = 0.0, 0
    with torch.no_grad():
        for poem in poems:
            prompt = tokenizer(format_prompt(poem["form"]), add_special_tokens=False).input_ids
            body = tokenizer(poem["text"] + tokenizer.eos_token, add_special_tokens=False).input_ids
            ids = prompt + body
            width = model.config.max_position_embeddings
            # A poem longer than the context (a long sonnet) is scored in windows that overlap by half: each
            # token once, with at least half a context before it (the sliding-window perplexity of HF's docs).
            done, start = len(prompt), 0
            while done < len(ids):
                window = torch.tensor([ids[start : start + width]], device=model.device)
                logits = model(input_ids=window, use_cache=False).logits[0].float()
                first = done - start  # the first position of the window still to be scored
                nll += torch.nn.functional.cross_entropy(logits[first - 1 : -1], window[0, first:],
                                                         reduction="sum").item()
                done = start + window.shape[1]
                start = max(0, done - width // 2)
            count += len(poem["text"]) + 1  # characters (newlines included) + the end of the poem
    return nll / count


def distinct_2(poems) -> float:
    bigrams = [line[i : i + 2] for poem in poems for line in poem.split("\n") for i in range(len(line) - 1)]
    return len(set(bigrams)) / max(1, len(bigrams))


def tang(cpu_seconds: float, seed: int, per_form: int, smoke: bool) -> tuple[dict, dict]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from neuroart.poetry import FORMS, LineIndex, check_poem, format_prompt, write_poem
    from neuroart.training.data import load_poems
    from neuroart.training.lm import split_train_eval
    from neuroart.training.train_poetry import normalise

    source = shared_data() / "poetry" / "zh_tang_jueju_lushi.jsonl"
    with tempfile.TemporaryDirectory() as tmp:
        data = source
        if smoke:
            data = Path(tmp) / "tang_small.jsonl"
            data.write_text("".join(line for _, line in zip(range(300), source.open(encoding="utf-8"))), "utf-8")
        out = Path(tmp) / "poet"
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--mixed_precision", "no",
               str(REPO_ROOT / "training" / "train_poetry.py"), "--train_file", str(data), "--output_dir", str(out),
               "--max_train_steps", "1000000", "--max_train_cpu_seconds", str(cpu_seconds), "--seed", str(seed),
               "--hidden_size", "256" if not smoke else "32", "--num_hidden_layers", "4" if not smoke else "2",
               "--num_attention_heads", "4" if not smoke else "2", "--train_batch_size", "32",
               "--learning_rate", "2e-3", "--max_seq_length", "128", "--eval_steps", "100000",
               "--checkpointing_steps", "1000000", "--sample_steps", "1000000", "--dropout", "0.0"]
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
        subprocess.run(cmd, check=True, env=env)
        model = AutoModelForCausalLM.from_pretrained(out).eval()
        tokenizer = AutoTokenizer.from_pretrained(out)
        training = json.loads((out / "training_summary.json").read_text())["metrics"]
        poems, _, _ = load_poems(train_file=str(data))
    poems = [normalise(p) for p in poems]
    train_poems, eval_poems = split_train_eval(poems, 5.0, seed)  # the split train_poetry.py used
    eval_sample = eval_poems[: 300 if not smoke else 20]
    summary = {
        "tang_val_nats_per_char": round(model_nats_per_char(model, tokenizer, eval_sample), 4),
        "tang_bigram_nats_per_char": round(bigram_nats_per_char([p["text"] for p in train_poems],
                                                                 [p["text"] for p in eval_sample]), 4),
        "tang_train_cpu_seconds": training["train_cpu_seconds"], "tang_train_steps": training["steps"],
    }
    index = LineIndex.from_poems(p["text"] for p in train_poems)
    batch = min(50, per_form)
    constrained, unconstrained, per_form_scores = [], [], {}
    for form in FORMS:
        made, free = [], []
        for k in range(math.ceil(per_form / batch)):
            poem = write_poem(model, tokenizer, form=form, seed=seed + k, num_candidates=batch, tone=True)
            made += [text for text, _, _ in poem.candidates]
            torch.manual_seed(seed + k)
            prompt = torch.tensor([tokenizer(format_prompt(form), add_special_tokens=False).input_ids])
            out = model.generate(prompt, do_sample=True, temperature=0.9, top_k=50, top_p=0.95,
                                 num_return_sequences=batch, max_new_tokens=FORMS[form][0] * (FORMS[form][1] + 2) + 1,
                                 pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            free += [tokenizer.decode(row[prompt.shape[1]:], skip_special_tokens=True).strip() for row in out]
        made, free = made[:per_form], free[:per_form]
        checks = [check_poem(text, form) for text in made]
        free_checks = [check_poem(text, form) for text in free]
        per_form_scores[form] = {
            "form": sum(c.form_ok for c in checks) / len(checks),
            "rhyme": sum(c.rhyme_ok for c in checks) / len(checks),
            "tone": sum(c.tone_ok for c in checks) / len(checks),
            "unconstrained_form": sum(c.form_ok for c in free_checks) / len(free_checks),
            "unconstrained_rhyme": sum(c.form_ok and c.rhyme_ok for c in free_checks) / len(free_checks),
            "unconstrained_tone": sum(c.form_ok and c.tone_ok for c in free_checks) / len(free_checks),
            "example": made[0],
        }
        constrained += [(t, c) for t, c in zip(made, checks)]
        unconstrained += [(t, c) for t, c in zip(free, free_checks)]
    n = len(constrained)
    summary.update(
        form_accuracy=round(sum(c.form_ok for _, c in constrained) / n, 4),
        rhyme_accuracy=round(sum(c.rhyme_ok for _, c in constrained) / n, 4),
        tone_accuracy=round(sum(c.tone_ok for _, c in constrained) / n, 4),
        copy_rate=round(index.copy_rate(t for t, _ in constrained), 4),
        distinct_2=round(distinct_2([t for t, _ in constrained]), 4),
        unconstrained_form_accuracy=round(sum(c.form_ok for _, c in unconstrained) / n, 4),
        unconstrained_rhyme_accuracy=round(sum(c.form_ok and c.rhyme_ok for _, c in unconstrained) / n, 4),
        unconstrained_tone_accuracy=round(sum(c.form_ok and c.tone_ok for _, c in unconstrained) / n, 4),
        unconstrained_copy_rate=round(index.copy_rate(t for t, _ in unconstrained), 4),
        generations_per_form=per_form,
    )
    return summary, {"per_form": per_form_scores, "tang_training": training}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads.")
    parser.add_argument("--shakespeare_seconds", type=float, default=180, help="Wall-clock budget per model.")
    parser.add_argument("--tang_cpu_seconds", type=float, default=2400, help="CPU budget of the Tang training run.")
    parser.add_argument("--per_form", type=int, default=200, help="Generations per form.")
    parser.add_argument("--seed", type=int, default=0, help="Seed.")
    parser.add_argument("--only", choices=["shakespeare", "tang"], default=None,
                        help="Run one part and update that part of an existing results file.")
    parser.add_argument("--smoke", action="store_true", help="Tiny budgets, for the test suite.")
    parser.add_argument("--results_dir", type=str, default=None, help="Where the JSON goes.")
    args = parser.parse_args()
    if args.smoke:
        args.shakespeare_seconds, args.tang_cpu_seconds, args.per_form = 2, 5, 4
    setup_threads(args.threads)
    from benchmarks import common

    if not (shared_data() / "poetry").is_dir():
        raise SystemExit(f"Shared poetry data not found at {shared_data()}; set NEUROART_SHARED_DATA.")
    if args.results_dir:
        common.RESULTS = Path(args.results_dir)
    summary, details = {}, {}
    previous = common.RESULTS / "poetry_quality.json"
    if args.only and previous.exists():  # refresh one part, keep the other's figures
        payload = json.loads(previous.read_text())
        summary, details = payload["summary"], {k: v for k, v in payload.items()
                                                if k not in ("summary", "machine", "command")}
    if args.only in (None, "shakespeare"):
        summary.update(shakespeare(args.shakespeare_seconds, args.seed))
        print(summary, flush=True)
    if args.only in (None, "tang"):
        tang_summary, tang_details = tang(args.tang_cpu_seconds, args.seed, args.per_form, args.smoke)
        summary.update(tang_summary)
        details.update(tang_details)
    budget = summary.get("budget", {})
    budget.update(threads=args.threads, **({"shakespeare_seconds_per_model": args.shakespeare_seconds}
                                           if args.only in (None, "shakespeare") else {}),
                  **({"tang_cpu_seconds": args.tang_cpu_seconds} if args.only in (None, "tang") else {}))
    summary["budget"] = budget
    write_results("poetry_quality", summary, details)


if __name__ == "__main__":
    main()
