#!/usr/bin/env python
"""Poetry speed: NeuroArt's GPT vs `transformers.GPT2LMHeadModel` of the same width, depth, heads, vocabulary and
context, in one run: training tokens/s (fp32 and bf16 autocast), cached `generate` tokens/s, and the overhead of
form-constrained decoding (`write_poem`) over plain sampling of the same number of tokens.

    python -m benchmarks.speed.poetry_speed [--threads 2] [--smoke]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.common import setup_threads, write_results


def train_tokens_per_second(model, batch, steps: int, bf16: bool) -> float:
    import torch

    optimizer = torch.optim.AdamW(model.parameters(), 1e-4)
    model.train()

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return batch.numel() * steps / (time.perf_counter() - start)


def generate_tokens_per_second(model, prompt, new_tokens: int, repeats: int) -> float:
    import torch

    model.eval()
    best = float("inf")
    for _ in range(repeats):
        torch.manual_seed(0)
        start = time.perf_counter()
        model.generate(prompt, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=True, top_k=50,
                       pad_token_id=0)
        best = min(best, time.perf_counter() - start)
    return new_tokens * prompt.shape[0] / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads.")
    parser.add_argument("--vocab_size", type=int, default=8000, help="Vocabulary of both models.")
    parser.add_argument("--hidden_size", type=int, default=256, help="Width of both models.")
    parser.add_argument("--layers", type=int, default=4, help="Depth of both models.")
    parser.add_argument("--heads", type=int, default=4, help="Heads of both models.")
    parser.add_argument("--context", type=int, default=256, help="Context length of both models.")
    parser.add_argument("--batch_size", type=int, default=16, help="Training batch.")
    parser.add_argument("--seq_len", type=int, default=128, help="Training sequence length.")
    parser.add_argument("--steps", type=int, default=8, help="Timed training steps.")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes, for the test suite.")
    parser.add_argument("--results_dir", type=str, default=None, help="Where the JSON goes.")
    args = parser.parse_args()
    if args.smoke:
        args.vocab_size, args.hidden_size, args.layers, args.heads, args.steps = 600, 32, 2, 2, 1
        args.batch_size, args.seq_len = 2, 16
    setup_threads(args.threads)
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    from benchmarks import common
    from neuroart import NeuroArtPoetryConfig, NeuroArtPoetryForCausalLM
    from neuroart.poetry import format_poem, train_poetry_tokenizer, write_poem

    torch.manual_seed(0)
    ours = NeuroArtPoetryForCausalLM(NeuroArtPoetryConfig(
        vocab_size=args.vocab_size, hidden_size=args.hidden_size, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, max_position_embeddings=args.context, dropout=0.0))
    gpt2 = GPT2LMHeadModel(GPT2Config(vocab_size=args.vocab_size, n_embd=args.hidden_size, n_layer=args.layers,
                                      n_head=args.heads, n_positions=args.context, resid_pdrop=0.0, embd_pdrop=0.0,
                                      attn_pdrop=0.0, bos_token_id=1, eos_token_id=2))
    batch = torch.randint(3, args.vocab_size, (args.batch_size, args.seq_len))
    details = {"params_M": {"neuroart": round(ours.num_parameters() / 1e6, 3),
                            "gpt2": round(gpt2.num_parameters() / 1e6, 3)}}
    for precision in ("fp32", "bf16"):
        steps = args.steps if precision == "fp32" else max(1, args.steps // 4)
        for name, model in (("neuroart", ours), ("gpt2", gpt2)):
            details[f"train_tokens_per_s_{name}_{precision}"] = round(
                train_tokens_per_second(model, batch, steps, precision == "bf16"), 1)
    prompt = torch.randint(3, args.vocab_size, (1, 8))
    new_tokens = 16 if args.smoke else 128
    best = {"neuroart": 0.0, "gpt2": 0.0}
    for _ in range(5):  # alternate the two models so background load hits both alike; keep each one's best
        for name, model in (("neuroart", ours), ("gpt2", gpt2)):
            best[name] = max(best[name], generate_tokens_per_second(model, prompt, new_tokens, 1))
    for name, rate in best.items():
        details[f"generate_tokens_per_s_{name}"] = round(rate, 1)

    # Constrained decoding overhead: write_poem (七言律诗: 8 x 9 + 1 = 73 tokens, 1 candidate) vs plain sampling of
    # the same number of tokens, same model and tokenizer.
    poems = ["白日依山尽，\n黄河入海流。\n欲穷千里目，\n更上一层楼。", "床前明月光，\n疑是地上霜。\n举头望明月，\n低头思故乡。"]
    chars = "".join(chr(c) for c in range(0x4E00, 0x4E00 + min(3000, args.vocab_size - 200)))
    tokenizer = train_poetry_tokenizer([format_poem(p, "五言绝句") for p in poems] + [chars], vocab_size=args.vocab_size,
                                       min_frequency=1)
    poet = NeuroArtPoetryForCausalLM(NeuroArtPoetryConfig(
        vocab_size=len(tokenizer), hidden_size=args.hidden_size, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, max_position_embeddings=args.context, dropout=0.0)).eval()
    write_poem(poet, tokenizer, form="七言律诗", seed=0, num_candidates=1, tone=True)  # warm-up (tables)
    constrained = plain = float("inf")
    prompt_ids = torch.tensor([tokenizer("<s><七言律诗><poem>", add_special_tokens=False).input_ids])
    for seed in range(3):
        start = time.perf_counter()
        write_poem(poet, tokenizer, form="七言律诗", seed=seed, num_candidates=1, tone=True)
        constrained = min(constrained, time.perf_counter() - start)
        start = time.perf_counter()
        torch.manual_seed(seed)
        poet.generate(prompt_ids, max_new_tokens=73, min_new_tokens=73, do_sample=True, top_k=50, top_p=0.95,
                      temperature=0.9, pad_token_id=0)
        plain = min(plain, time.perf_counter() - start)
    details.update(constrained_seconds=round(constrained, 4), plain_sampling_seconds=round(plain, 4))

    summary = {
        "train_ratio_fp32": round(details["train_tokens_per_s_neuroart_fp32"] / details["train_tokens_per_s_gpt2_fp32"], 3),
        "train_ratio_bf16": round(details["train_tokens_per_s_neuroart_bf16"] / details["train_tokens_per_s_gpt2_bf16"], 3),
        "generate_ratio": round(details["generate_tokens_per_s_neuroart"] / details["generate_tokens_per_s_gpt2"], 3),
        "constrained_overhead": round(constrained / plain, 3),
        "train_tokens_per_s_fp32": details["train_tokens_per_s_neuroart_fp32"],
        "train_tokens_per_s_bf16": details["train_tokens_per_s_neuroart_bf16"],
        "generate_tokens_per_s": details["generate_tokens_per_s_neuroart"],
        "budget": {"threads": args.threads, "steps": args.steps, "batch": [args.batch_size, args.seq_len],
                   "model": [args.vocab_size, args.hidden_size, args.layers, args.heads, args.context]},
    }
    if args.results_dir:
        common.RESULTS = Path(args.results_dir)
    write_results("poetry_speed", summary, details)


if __name__ == "__main__":
    main()
