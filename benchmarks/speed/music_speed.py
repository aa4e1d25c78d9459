#!/usr/bin/env python
"""Music speed: `generate()` with the carried recurrent state vs full recompute (`use_cache=False`) at 128, 1024
and 2048 new tokens, and training tokens/s vs a bare `torch.nn.LSTM` language model of the same shape, in one run.

    python -m benchmarks.speed.music_speed [--threads 1] [--smoke]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.common import setup_threads, write_results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (set explicitly: contention dominates).")
    parser.add_argument("--vocab_size", type=int, default=534, help="Vocabulary (plain REMI is 534).")
    parser.add_argument("--hidden_size", type=int, default=384, help="Width.")
    parser.add_argument("--layers", type=int, default=2, help="Layers.")
    parser.add_argument("--batch_size", type=int, default=16, help="Training batch.")
    parser.add_argument("--seq_len", type=int, default=256, help="Training sequence length.")
    parser.add_argument("--steps", type=int, default=10, help="Timed training steps.")
    parser.add_argument("--recompute_max", type=int, default=1024, help="Longest generation timed with recompute.")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes, for the test suite.")
    parser.add_argument("--results_dir", type=str, default=None, help="Where the JSON goes.")
    args = parser.parse_args()
    lengths = [128, 1024, 2048]
    if args.smoke:
        args.hidden_size, args.steps, args.batch_size, args.seq_len, args.recompute_max = 16, 1, 2, 16, 32
        lengths = [16, 32, 64]
    setup_threads(args.threads)
    import torch
    from torch import nn

    from benchmarks import common
    from neuroart import NeuroArtMusicConfig, NeuroArtMusicForCausalLM

    torch.manual_seed(0)
    model = NeuroArtMusicForCausalLM(NeuroArtMusicConfig(vocab_size=args.vocab_size, hidden_size=args.hidden_size,
                                                         num_hidden_layers=args.layers, dropout=0.0)).eval()
    prompt = torch.tensor([[1, 5, 9, 13]])
    details = {}
    model.generate(prompt, max_new_tokens=32, min_new_tokens=32, do_sample=False, pad_token_id=0)  # warm-up
    for n in lengths:
        for mode, use_cache in (("state", True), ("recompute", False)):
            if mode == "recompute" and n > args.recompute_max:
                continue
            start = time.perf_counter()
            model.generate(prompt, max_new_tokens=n, min_new_tokens=n, do_sample=False, use_cache=use_cache,
                           pad_token_id=0)
            details[f"tokens_per_s_{mode}_{n}"] = round(n / (time.perf_counter() - start), 1)

    class BareLSTMLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(args.vocab_size, args.hidden_size)
            self.rnn = nn.LSTM(args.hidden_size, args.hidden_size, args.layers, batch_first=True)
            self.head = nn.Linear(args.hidden_size, args.vocab_size, bias=False)
            self.head.weight = self.embed.weight

        def forward(self, x):
            return self.head(self.rnn(self.embed(x))[0])

    batch = torch.randint(4, args.vocab_size, (args.batch_size, args.seq_len))

    def tokens_per_second(forward_loss, params):
        optimizer = torch.optim.AdamW(params, 1e-3)

        def step():
            loss = forward_loss()
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()

        step()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        return batch.numel() * args.steps / (time.perf_counter() - start)

    ours = NeuroArtMusicForCausalLM(NeuroArtMusicConfig(vocab_size=args.vocab_size, hidden_size=args.hidden_size,
                                                        num_hidden_layers=args.layers, dropout=0.0)).train()
    bare = BareLSTMLM().train()
    ce = nn.functional.cross_entropy
    details["train_tokens_per_s_neuroart"] = round(tokens_per_second(
        lambda: ours(input_ids=batch, labels=batch, use_cache=False).loss, ours.parameters()), 1)
    details["train_tokens_per_s_bare_lstm"] = round(tokens_per_second(
        lambda: ce(bare(batch)[:, :-1].reshape(-1, args.vocab_size), batch[:, 1:].reshape(-1)), bare.parameters()), 1)
    mid, short, long = lengths[1], lengths[0], lengths[2]
    summary = {
        "speedup_1024": round(details[f"tokens_per_s_state_{mid}"] / details[f"tokens_per_s_recompute_{mid}"], 2),
        "flatness_2048_vs_128": round(details[f"tokens_per_s_state_{long}"] / details[f"tokens_per_s_state_{short}"], 3),
        "train_ratio_vs_lstm": round(details["train_tokens_per_s_neuroart"] / details["train_tokens_per_s_bare_lstm"], 3),
        "tokens_per_s_state_1024": details[f"tokens_per_s_state_{mid}"],
        "budget": {"threads": args.threads, "model": [args.vocab_size, args.hidden_size, args.layers],
                   "train_batch": [args.batch_size, args.seq_len], "steps": args.steps, "lengths": lengths},
    }
    if args.results_dir:
        common.RESULTS = Path(args.results_dir)
    write_results("music_speed", summary, details)


if __name__ == "__main__":
    main()
