#!/usr/bin/env python
"""Creation speed on the release models, each path against its anchor in the same run:

- music: the lean sampling loop (`sample_tokens`, generate_music's default) with the grammar mask, 1,024 new tokens,
  batch 1, against a bare `nn.LSTMCell` sampling loop of the same shape (embedding, cells, head, softmax,
  multinomial; no masks); also `generate()` with the same mask, the release's decoding defaults (grammar, voices,
  tonality), batch 32, and the achieved FLOP/s against a float32 matmul measured in the same run;
- poetry: `write_poem` poems/s at 4 candidates with every constraint (form, rhyme, tone, no stutter, keywords)
  against unconstrained `generate()` of the same number of tokens for 4 sequences;
- painting: `neuroart generate gan --num N` (batched, PNG files and manifest written) against the raw generator
  (`model(noise)`) on the same number of images; bfloat16 vs float32 (images/s and mean absolute pixel
  difference) and the precision that `precision="auto"` picks on this CPU.

    python -m benchmarks.speed.creation_speed [--threads 1] [--smoke]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.common import (
    REPO_ROOT,
    setup_threads,
    timed_pair,
    write_results,
)
from benchmarks.common import timed as best_of  # noqa: E402  (best wall time of `repeats` calls)


def music(args, results: dict) -> None:
    import torch
    from torch import nn
    from transformers import AutoModelForCausalLM, SuppressTokensLogitsProcessor

    from neuroart.music.generation import (
        REMIGrammarLogitsProcessor,
        TonalityLogitsProcessor,
        VoicesLogitsProcessor,
        _TokenTypes,
        load_tokenizer,
        sample_tokens,
    )

    path = REPO_ROOT / "releases" / "neuroart-music"
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    tokenizer = load_tokenizer(path)
    types = _TokenTypes(tokenizer)
    config = model.config
    hidden, layers, vocab = config.hidden_size, config.num_hidden_layers, config.vocab_size
    n = args.music_tokens
    no_eos = SuppressTokensLogitsProcessor([types.eos])  # every run writes exactly n tokens

    class BareCells(nn.Module):  # the anchor: the same shape, nothing but the arithmetic and the sampling
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, hidden)
            self.cells = nn.ModuleList(nn.LSTMCell(hidden, hidden) for _ in range(layers))
            self.head = nn.Linear(hidden, vocab, bias=False)

        @torch.inference_mode()
        def sample(self, batch, steps, generator):
            token = torch.ones(batch, dtype=torch.long)
            state = [(torch.zeros(batch, hidden), torch.zeros(batch, hidden)) for _ in self.cells]
            for _ in range(steps):
                x = self.embed(token)
                for i, cell in enumerate(self.cells):
                    state[i] = cell(x, state[i])
                    x = state[i][0]
                probs = torch.softmax(self.head(x).float(), dim=-1)
                token = torch.multinomial(probs, 1, generator=generator).squeeze(1)

    bare = BareCells().eval()
    prompt = torch.tensor([[types.bos]])

    def lean(processors, batch=1, steps=n, top_p=0.95):
        torch.manual_seed(0)
        sample_tokens(model, prompt.expand(batch, 1), [no_eos, *processors], max_new_tokens=steps, top_p=top_p,
                      eos_token_id=types.eos, pad_token_id=tokenizer.pad_token_id)

    def generate(processors):
        torch.manual_seed(0)
        model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=True, top_p=0.95, max_new_tokens=n,
                       logits_processor=[no_eos, *processors], eos_token_id=types.eos,
                       pad_token_id=tokenizer.pad_token_id)

    lean([REMIGrammarLogitsProcessor(types)], steps=32)  # warm-up
    t_bare = best_of(lambda: bare.sample(1, n, torch.Generator().manual_seed(0)), args.repeats)
    t_lean = best_of(lambda: lean([REMIGrammarLogitsProcessor(types)]), args.repeats)
    t_lean_plain = best_of(lambda: lean([]), args.repeats)
    t_lean_full_softmax = best_of(lambda: lean([REMIGrammarLogitsProcessor(types)], top_p=1.0), args.repeats)
    t_defaults = best_of(lambda: lean([REMIGrammarLogitsProcessor(types), VoicesLogitsProcessor(tokenizer, 5, types),
                                       TonalityLogitsProcessor(tokenizer, 2.0, types)]), args.repeats)
    t_generate = best_of(lambda: generate([REMIGrammarLogitsProcessor(types)]), 1)
    batch, batch_steps = args.music_batch, args.music_batch_tokens
    t_batch = best_of(lambda: lean([REMIGrammarLogitsProcessor(types)], batch=batch, steps=batch_steps), 1)
    # FLOPs per token: per layer two (4H x H) matmuls, then the (V x H) head; x2 for multiply-add.
    flops_per_token = 2 * (layers * 8 * hidden * hidden + vocab * hidden)
    size = args.matmul_size
    a, b = torch.randn(size, size), torch.randn(size, size)
    peak = 2 * size**3 / best_of(lambda: torch.mm(a, b), 5)
    tps = {"bare_lstmcell_loop": n / t_bare, "lean_grammar": n / t_lean, "lean_no_processors": n / t_lean_plain,
           "lean_grammar_top_p_1": n / t_lean_full_softmax, "lean_release_defaults": n / t_defaults, "generate_grammar": n / t_generate,
           f"lean_grammar_batch{batch}": batch * batch_steps / t_batch}
    results["music_tokens_per_s"] = {k: round(v, 1) for k, v in tps.items()}
    results["music_model"] = {"layers": layers, "hidden": hidden, "vocab": vocab, "new_tokens": n}
    summary = results["summary"]
    summary["music_lean_vs_bare_cells"] = round(tps["lean_grammar"] / tps["bare_lstmcell_loop"], 3)
    summary["music_lean_no_mask_vs_bare_cells"] = round(tps["lean_no_processors"] / tps["bare_lstmcell_loop"], 3)
    # The bare loop samples from the full softmax; generate_music's default is top_p=0.95 (a sort per step).
    summary["music_lean_top_p_1_vs_bare_cells"] = round(tps["lean_grammar_top_p_1"] / tps["bare_lstmcell_loop"], 3)
    summary["music_generate_vs_bare_cells"] = round(tps["generate_grammar"] / tps["bare_lstmcell_loop"], 3)
    summary["music_lean_tokens_per_s"] = round(tps["lean_grammar"], 1)
    summary["music_release_defaults_tokens_per_s"] = round(tps["lean_release_defaults"], 1)
    summary[f"music_batch{batch}_tokens_per_s"] = round(tps[f"lean_grammar_batch{batch}"], 1)
    summary["music_matmul_peak_gflops"] = round(peak / 1e9, 2)
    summary["music_lean_gflops"] = round(tps["lean_grammar"] * flops_per_token / 1e9, 3)
    summary[f"music_batch{batch}_share_of_peak"] = round(
        tps[f"lean_grammar_batch{batch}"] * flops_per_token / peak, 4)


def poetry(args, results: dict) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from neuroart.poetry.generation import format_prompt, write_poem

    path = REPO_ROOT / "releases" / "neuroart-poetry"
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    form, keywords, count = "七言绝句", ["春", "江"], args.poems
    write_poem(model, tokenizer, form, keywords=keywords, tone=True, seed=0)  # warm-up
    poems = []

    def constrained():
        poems.clear()
        poems.extend(write_poem(model, tokenizer, form, keywords=keywords, tone=True, num_candidates=4, seed=s)
                     for s in range(count))

    new_tokens = 4 * (7 + 2) + 1  # what write_poem samples for a 七言绝句 (lines x (chars + 2) + 1)
    ids = torch.tensor([tokenizer(format_prompt(form, None, keywords), add_special_tokens=False).input_ids])

    def unconstrained():
        for s in range(count):
            torch.manual_seed(s)
            model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=0.9, top_k=50,
                           top_p=0.95, num_return_sequences=4, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                           pad_token_id=tokenizer.pad_token_id)

    # In turns and twice as many times: the ratio is a 5-10% effect, as large as the drift of a shared machine.
    t_constrained, t_plain = timed_pair(constrained, unconstrained, 2 * args.repeats)
    summary = results["summary"]
    summary["poetry_write_poem_poems_per_s"] = round(count / t_constrained, 2)
    summary["poetry_unconstrained_poems_per_s"] = round(count / t_plain, 2)
    summary["poetry_constrained_vs_unconstrained"] = round(t_plain / t_constrained, 3)
    results["poetry_sample"] = poems[0].text if poems else None
    results["poetry_all_keywords_placed"] = all(not p.relaxed for p in poems)


def painting(args, results: dict) -> None:
    import torch
    from transformers import AutoModel

    import neuroart.gan.modeling_neuroart_gan as gan_module
    from neuroart.cli import main as cli

    path = REPO_ROOT / "releases" / "neuroart-gan"
    model = AutoModel.from_pretrained(path).eval()
    count, batch = args.images, 64
    noise = torch.randn(count, model.config.latent_dim, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(count) % max(1, model.config.num_classes) if model.config.num_classes else None

    @torch.inference_mode()
    def raw(precision="fp32"):
        for start in range(0, count, batch):
            y = None if labels is None else labels[start:start + batch]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                model(noise[start:start + batch], y)

    def bulk():  # what `neuroart generate gan --num` runs per batch, on the loaded model
        with tempfile.TemporaryDirectory() as out:
            model.paint_to_folder(range(count), out, chunk_size=batch, precision="fp32")
            assert len(list(Path(out).glob("painting_*.png"))) == count

    def command():  # the whole command: model load, manifest and progress bar included
        with tempfile.TemporaryDirectory() as out:
            code = cli(["generate", "gan", "--model", str(path), "--num", str(count), "--batch_size", str(batch),
                        "--out", out, "--precision", "fp32"])
            assert code == 0 and len(list(Path(out).glob("painting_*.png"))) == count

    raw()  # warm-up
    t_raw = best_of(raw, args.repeats)
    t_bulk = best_of(bulk, args.repeats)
    t_command = best_of(command, 1)
    bf16_count = min(count, 64)
    t_bf16 = best_of(lambda: model.generate_images(bf16_count, seed=0, output_type="pt", precision="bf16"), 1)
    t_fp32 = best_of(lambda: model.generate_images(bf16_count, seed=0, output_type="pt", precision="fp32"), 1)
    fp32 = model.generate_images(bf16_count, seed=0, output_type="pt", precision="fp32")
    bf16 = model.generate_images(bf16_count, seed=0, output_type="pt", precision="bf16")
    summary = results["summary"]
    summary["gan_raw_images_per_s"] = round(count / t_raw, 1)
    summary["gan_bulk_images_per_s"] = round(count / t_bulk, 1)
    summary["gan_bulk_vs_raw"] = round(t_raw / t_bulk, 3)
    summary["gan_command_images_per_s"] = round(count / t_command, 1)
    summary["gan_native_bf16"] = gan_module.native_bf16("cpu")
    summary["gan_auto_precision"] = gan_module.resolve_precision("auto")
    summary["gan_bf16_vs_fp32_speed"] = round(t_fp32 / t_bf16, 3)
    summary["gan_bf16_mean_abs_diff"] = round(float((fp32 - bf16).abs().mean()), 5)
    summary["gan_bf16_max_abs_diff"] = round(float((fp32 - bf16).abs().max()), 4)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (set explicitly: contention dominates).")
    parser.add_argument("--music_tokens", type=int, default=1024)
    parser.add_argument("--music_batch", type=int, default=32)
    parser.add_argument("--music_batch_tokens", type=int, default=256, help="New tokens per row at --music_batch.")
    parser.add_argument("--matmul_size", type=int, default=1024)
    parser.add_argument("--poems", type=int, default=10, help="Poems per timed run.")
    parser.add_argument("--images", type=int, default=512, help="Paintings per timed run.")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=["music", "poetry", "painting"], default=None)
    parser.add_argument("--smoke", action="store_true", help="Small counts, for the test suite.")
    parser.add_argument("--results_dir", type=str, default=None, help="Where the JSON goes.")
    args = parser.parse_args()
    if args.smoke:
        args.music_tokens, args.music_batch, args.music_batch_tokens, args.matmul_size = 64, 4, 16, 256
        args.poems, args.images, args.repeats = 1, 16, 1
    setup_threads(args.threads)
    from benchmarks import common

    if args.results_dir:
        common.RESULTS = Path(args.results_dir)
    results = {"summary": {}}
    for part, fn in (("music", music), ("poetry", poetry), ("painting", painting)):
        if args.only is None or part in args.only:
            fn(args, results)
    write_results("creation_speed", results.pop("summary"), results)


if __name__ == "__main__":
    main()
