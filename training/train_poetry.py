#!/usr/bin/env python
"""Train or fine-tune the NeuroArt poet: `accelerate launch training/train_poetry.py [--train_file poems.jsonl]`.

With no data flag it trains on the Tang and Song poems of Debian's `fortunes-zh`. Each poem becomes
`<s><form><title>…<kw>…<poem>BODY</s>` (form detected from the shape when not given; keywords sampled from the poem
for half the examples), so the model learns to follow form, title and keywords. Classical poems are normalised to
one line per 句. Texts are packed into `--max_seq_length` blocks; the model is a GPT-style decoder
(`NeuroArtPoetryForCausalLM`) trained with AdamW, warm-up + cosine decay (nanoGPT's recipe).

The output folder is Hub-ready: model, tokenizer, remote code, the training lines index (`poem_lines.txt.gz`, for
the copied-line check), the English words the poet may write (`english_words.txt`, when it learned English), sample
poems and a model card with data, hyperparameters and metrics.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spin-waiting cripples 2-vCPU machines

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
from pathlib import Path  # noqa: E402

from neuroart import NeuroArtPoetryConfig, NeuroArtPoetryForCausalLM  # noqa: E402
from neuroart.poetry import FORMS, LineIndex, check_poem, detect_form, format_poem, write_poem  # noqa: E402
from neuroart.poetry.english import verse_style  # noqa: E402
from neuroart.poetry.lexicon import LEXICON_FILE, WORD_RUN, Lexicon, lexicon_of  # noqa: E402
from neuroart.poetry.prosody import ENGLISH_FORMS, is_han, split_lines  # noqa: E402
from neuroart.training.args import (  # noqa: E402
    add_common_args,
    positive_int,
    refuse_architecture_changes,
    run_main,
)
from neuroart.training.data import SkipCounter, clean_poem_record, load_poems, stream_dataset  # noqa: E402
from neuroart.training.hub import export_model, publish  # noqa: E402
from neuroart.training.lm import (  # noqa: E402
    StreamedBlocks,
    add_lm_args,
    check_streaming_args,
    log_stream_source,
    pack,
    split_train_eval,
    train_causal_lm,
)
from neuroart.training.tracking import guarded_sample, init_trackers, logger, make_accelerator  # noqa: E402

# Fine-tuning on a small corpus (a user's few dozen poems) memorises it within 100 steps at the from-scratch
# settings (docs/training.md has the measurements). Below SMALL_CORPUS poems, a fine-tune
# takes these unless the command line sets them: a gentle learning rate with a short warm-up, validation on a tenth
# of the poems and copy checks every 10 steps, early stopping with the best validated weights, a step cap.
SMALL_CORPUS = 500
SMALL_CORPUS_DEFAULTS = {"learning_rate": 1e-4, "lr_warmup_steps": 10, "validation_split_percentage": 10.0,
                         "eval_steps": 10, "sample_steps": 10, "early_stopping_patience": 2, "max_train_steps": 300}


def small_corpus_defaults(args, poems: int) -> dict:
    """The SMALL_CORPUS_DEFAULTS a fine-tune on `poems` poems takes (those not set on the command line); applied to
    `args`, so the card's hyperparameters record them."""
    if not args.model_name_or_path or poems >= SMALL_CORPUS or args.validation_file:
        return {}
    chosen = {k: v for k, v in SMALL_CORPUS_DEFAULTS.items() if k not in getattr(args, "set_on_command_line", ())}
    if args.max_train_steps is not None and "max_train_steps" in chosen:
        chosen.pop("max_train_steps")
    for name, value in chosen.items():
        setattr(args, name, value)
    return chosen


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(parser, default_output_dir="neuroart-poetry", default_lr=1e-3)
    add_lm_args(parser, default_seq_len=128)
    parser.add_argument("--train_file", type=str, default=None,
                        help="Poems: .jsonl (text, optional title/author/form/keywords) or .txt (blank-line separated).")
    parser.add_argument("--validation_file", type=str, default=None,
                        help="Held-out poems (same formats as --train_file) for the validation loss, instead of a "
                             "random --validation_split_percentage of the training poems.")
    parser.add_argument("--text_column", type=str, default="text", help="Text column of --dataset_name.")
    parser.add_argument("--tokenizer_name_or_path", type=str, default=None,
                        help="Reuse this tokenizer (folder or Hub id) instead of training one on the data.")
    parser.add_argument("--tokenizer_vocab_size", type=positive_int, default=8192,
                        help="Target vocabulary of a newly trained tokenizer (all CJK characters are always kept).")
    parser.add_argument("--extend_vocabulary", type=int, default=0,
                        help="Fine-tunes: learn up to this many new sub-word tokens from the training poems that the "
                             "tokenizer does not cover (e.g. English for the Chinese poet), append them and grow the "
                             "model's embeddings; the old tokens keep their ids.")
    parser.add_argument("--hidden_size", type=positive_int, default=256, help="Model width (a new model; a fine-tune keeps its own).")
    parser.add_argument("--num_hidden_layers", type=positive_int, default=4, help="Transformer blocks (a new model; a fine-tune keeps its own).")
    parser.add_argument("--num_attention_heads", type=positive_int, default=4, help="Heads (a new model; a fine-tune keeps its own).")
    parser.add_argument("--dropout", type=float, default=0.1, help="Dropout (a new model; a fine-tune keeps its own).")
    parser.add_argument("--num_sample_poems", type=positive_int, default=1, help="Poems per form in each sample.")
    parser.add_argument("--max_copy_rate", type=float, default=0.05,
                        help="Share of sample lines that may be copies of training lines. At every --sample_steps "
                             "the run writes --copy_check_poems poems and checks them against its training poems; "
                             "above this share it stops there (or warns, --on_copy warn): a small corpus is "
                             "memorised fast. 1 turns the check off.")
    parser.add_argument("--copy_check_poems", type=positive_int, default=8, help="Poems written for each copy check.")
    parser.add_argument("--on_copy", choices=["stop", "warn"], default="stop",
                        help="What a copy rate above --max_copy_rate does: stop training there, or only warn.")
    parser.add_argument("--streaming_tokenizer_examples", type=positive_int, default=20_000,
                        help="With --streaming and no tokenizer given: train the tokenizer on this many examples.")
    args = parser.parse_args(argv)
    if args.dataset_name and args.train_file:
        parser.error("Give --dataset_name or --train_file, not both.")
    if args.extend_vocabulary < 0 or (args.extend_vocabulary and args.streaming):
        parser.error(f"--extend_vocabulary {args.extend_vocabulary}: use a positive number of tokens, without "
                     "--streaming (the new tokens are learned from the loaded poems).")
    check_streaming_args(parser, args)
    # Which small-corpus knobs the user chose: `small_corpus_defaults` leaves those alone.
    args.set_on_command_line = sorted(name for name in SMALL_CORPUS_DEFAULTS
                                      if getattr(args, name) != parser.get_default(name))
    refuse_architecture_changes(parser, args, NeuroArtPoetryConfig, {
        name: name for name in ("hidden_size", "num_hidden_layers", "num_attention_heads", "dropout")})
    return args


def normalise(poem: dict) -> dict:
    """Detect the form of classical poems and put each 句 on its own line, ending in its mark: a line without one
    (an unpunctuated corpus) gets `，` on odd lines and `。` on even ones, the shape the form processor writes."""
    form = poem.get("form") or detect_form(poem["text"])
    text = poem["text"]
    if form in FORMS:
        lines = split_lines(text)
        text = "\n".join(line if line[-1] in "，。？！；" else line + ("，" if i % 2 == 0 else "。")
                         for i, line in enumerate(lines))
    return {**poem, "text": text, "form": form}


def english_lexicon(poems, base: Lexicon | None = None) -> Lexicon | None:
    """The words of `poems`, as written and in the training verse style ("man's" and "man 's"), with `base`'s;
    None when there are none (a poet of classical Chinese alone)."""
    words = set(base.words) if base is not None else set()
    for poem in poems:
        if not is_han(poem["text"][:1]):  # classical poems have no English words to give
            words.update(WORD_RUN.findall(poem["text"].lower()), WORD_RUN.findall(verse_style(poem["text"])))
    return Lexicon(words) if words else None


def main(args):
    accelerator = make_accelerator(args, "neuroart-poetry", needed_bytes=300_000_000)
    rng = random.Random(args.seed)
    as_text = lambda p: format_poem(p["text"], p["form"], p.get("title"), p.get("keywords"), rng=rng)  # noqa: E731
    if args.streaming:  # corpora bigger than RAM: validation and tokenizer from the head, blocks packed on the fly
        stream = stream_dataset(args.dataset_name, args.dataset_config_name, args.dataset_split, args.cache_dir,
                                args.text_column)
        counter = SkipCounter()

        def to_poem(row):
            poem = clean_poem_record({**row, "text": row.get(args.text_column)}, counter)
            return normalise(poem) if poem is not None else None

        # One read of the head serves validation, the tokenizer and the copy-check index.
        head = list(map(to_poem, stream.take(max(args.streaming_eval_examples, args.streaming_tokenizer_examples))))
        head_poems = [p for p in head if p is not None]
        eval_poems = [p for p in head[: args.streaming_eval_examples] if p is not None]
        train_texts, eval_texts = [], [as_text(p) for p in eval_poems]
        source = log_stream_source(args)
    else:
        poems, source, counter = load_poems(train_file=args.train_file, dataset_name=args.dataset_name,
                                            dataset_config_name=args.dataset_config_name,
                                            dataset_split=args.dataset_split, text_column=args.text_column,
                                            cache_dir=args.cache_dir, max_samples=args.max_train_samples)
        logger.info("Data: %s; %s", source, counter.summary("poems"))
        poems = [normalise(p) for p in poems]
        chosen = small_corpus_defaults(args, len(poems))
        if chosen:
            logger.info("A small corpus (%d poems) for a fine-tune: %s (set any of them to choose otherwise).",
                        len(poems), ", ".join(f"--{k} {v}" for k, v in chosen.items()))
        if args.validation_file:  # a fixed held-out split (the release recipe): train on every loaded poem
            held, _, held_counter = load_poems(train_file=args.validation_file)
            logger.info("Validation: %s; %s", args.validation_file, held_counter.summary("poems"))
            train_poems, eval_poems = poems, [normalise(p) for p in held]
        else:
            train_poems, eval_poems = split_train_eval(poems, args.validation_split_percentage, args.seed)
        train_texts, eval_texts = [as_text(p) for p in train_poems], [as_text(p) for p in eval_poems]

    from transformers import AutoTokenizer

    if args.tokenizer_name_or_path:
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer_name_or_path)
    elif args.model_name_or_path:
        tokenizer = AutoTokenizer.from_pretrained(args.model_name_or_path)
    else:
        from neuroart.poetry import train_poetry_tokenizer

        corpus = train_texts + eval_texts
        if args.streaming:
            corpus = [as_text(p) for p in head_poems]
        tokenizer = train_poetry_tokenizer(corpus, vocab_size=args.tokenizer_vocab_size)
    if args.extend_vocabulary:
        from neuroart.poetry import extend_poetry_tokenizer

        uncovered = [p["text"] for p in train_poems if not any(is_han(c) for c in p["text"])]
        before = len(tokenizer)
        tokenizer = extend_poetry_tokenizer(tokenizer, uncovered, args.extend_vocabulary)
        logger.info("Vocabulary extended from %d to %d tokens, learned on %d poems without CJK.", before,
                    len(tokenizer), len(uncovered))
    encode = lambda texts: tokenizer(texts, add_special_tokens=False).input_ids  # noqa: E731
    eval_ids = encode(eval_texts) if eval_texts else []
    if args.streaming:
        def encode_row(row):
            poem = to_poem(row)
            return encode([as_text(poem)]) if poem is not None else []

        train_blocks = StreamedBlocks(stream, encode_row, args.max_seq_length, skip=args.streaming_eval_examples,
                                      seed=args.seed, shuffle_buffer=args.streaming_shuffle_buffer)
    else:
        train_blocks = pack(encode(train_texts), args.max_seq_length)
    eval_blocks = pack(eval_ids, args.max_seq_length) if eval_ids else None
    # Characters of the validation text, each control token counting as one character.
    special = set(tokenizer.all_special_ids)
    pieces = tokenizer.convert_ids_to_tokens([t for ids in eval_ids for t in ids])
    eval_chars = sum(1 if t in special else len(p) for t, p in zip((t for ids in eval_ids for t in ids), pieces))
    tokens_per_char = sum(len(i) for i in eval_ids) / max(1, eval_chars)

    if args.model_name_or_path:
        model = NeuroArtPoetryForCausalLM.from_pretrained(args.model_name_or_path)
        if args.extend_vocabulary and model.config.vocab_size < len(tokenizer):
            # New rows start at the mean of the old ones (transformers' mean resizing), so the first steps do not
            # put all the probability on untrained tokens.
            model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=64)
        if model.config.vocab_size < len(tokenizer):
            raise SystemExit(f"The tokenizer has {len(tokenizer)} tokens but the model only {model.config.vocab_size}.")
    else:
        model = NeuroArtPoetryForCausalLM(NeuroArtPoetryConfig(
            vocab_size=len(tokenizer), hidden_size=args.hidden_size, num_hidden_layers=args.num_hidden_layers,
            num_attention_heads=args.num_attention_heads, max_position_embeddings=max(256, args.max_seq_length),
            dropout=args.dropout, pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id))
    if max(args.max_seq_length, 0) > model.config.max_position_embeddings:
        raise SystemExit(f"--max_seq_length {args.max_seq_length} exceeds the model's "
                         f"{model.config.max_position_embeddings} positions.")
    init_trackers(accelerator, args, "neuroart-poetry")
    samples_dir = Path(args.output_dir) / "samples"

    # The copy check: lines of sample poems found among the training poems' lines.
    copy_index = None if args.streaming else LineIndex.from_poems(p["text"] for p in train_poems)
    # The English words the poet may write: those of its training poems (the head of a stream), and those of the
    # model it was fine-tuned from, which it still knows. None when it learned no English.
    lexicon = english_lexicon(head_poems if args.streaming else train_poems,
                              lexicon_of(model) if args.model_name_or_path else None)
    copy_forms = [f for f in FORMS if any(p.get("form") == f for p in train_poems)] if copy_index else []
    copy_history = []

    def copy_check(unwrapped, step) -> bool:
        """True when the samples copy more than --max_copy_rate of their lines and the run should stop."""
        if copy_index is None or not copy_forms or args.max_copy_rate >= 1:
            return False
        poems = [write_poem(unwrapped, tokenizer, form=copy_forms[i % len(copy_forms)], seed=args.seed + 1000 + i,
                            num_candidates=1).text for i in range(args.copy_check_poems)]
        rate = copy_index.copy_rate(poems)
        copy_history.append([step, round(rate, 4)])
        if rate <= args.max_copy_rate:
            return False
        logger.warning("Step %d: %.0f%% of the sample lines are copies of training lines (--max_copy_rate %.0f%%)%s.",
                       step, 100 * rate, 100 * args.max_copy_rate,
                       ": stopping here (a small corpus is memorised fast; --on_copy warn goes on)"
                       if args.on_copy == "stop" else "")
        return args.on_copy == "stop"

    def on_sample(unwrapped, step):
        guarded_sample(lambda: write_samples(unwrapped, step), step, "sample poems")
        return guarded_sample(lambda: copy_check(unwrapped, step), step, "copy check")

    from neuroart.poetry.english import writes_english

    sample_forms = list(FORMS) + (list(ENGLISH_FORMS) if writes_english(tokenizer) else [])

    def write_samples(unwrapped, step):
        unwrapped.eval()
        lines = []
        for form in sample_forms:
            for i in range(args.num_sample_poems):
                poem = write_poem(unwrapped, tokenizer, form=form, seed=args.seed + i, num_candidates=2,
                                  lexicon=lexicon)
                lines.append(f"[{form}]\n{poem.text}\n")
        samples_dir.mkdir(parents=True, exist_ok=True)
        (samples_dir / f"step_{step}.txt").write_text("\n".join(lines), encoding="utf-8")
        for tracker in accelerator.trackers:
            if tracker.name == "tensorboard":
                tracker.writer.add_text("samples", "\n\n".join(lines), step)

    metrics, trained = train_causal_lm(args, accelerator, model, train_blocks, eval_blocks, on_sample=on_sample)
    if "val_nats_per_token" in metrics:
        metrics["val_nats_per_char"] = round(metrics["val_nats_per_token"] * tokens_per_char, 4)
        metrics["val_nats_per_token"] = round(metrics["val_nats_per_token"], 4)
    if accelerator.is_main_process:
        model = trained.eval()
        if args.streaming:  # the copy check covers the head of the stream (the whole corpus may not fit in RAM)
            index = LineIndex.from_poems(p["text"] for p in head_poems)
        else:
            index = LineIndex.from_poems(p["text"] for p in train_poems)
        poems_out, checks, english_checks = [], [], []

        def final_poems():
            for form in sample_forms:
                poem = write_poem(model, tokenizer, form=form, seed=args.seed, num_candidates=4, line_index=index,
                                  lexicon=lexicon)
                poems_out.append(f"[{form}]\n{poem.text}\n")
                if form in FORMS:
                    checks.append(check_poem(poem.text, form))
                else:
                    english_checks.append(poem.check)

        guarded_sample(final_poems, metrics["steps"], "final sample poems")  # the model is exported whatever happens
        if copy_history:
            metrics["copy_checks"] = copy_history  # [step, share of sample lines copied from training], each check
        if checks:
            metrics["sample_form_accuracy"] = sum(c.form_ok for c in checks) / len(checks)
            metrics["sample_rhyme_accuracy"] = sum(c.rhyme_ok for c in checks) / len(checks)
        if english_checks:
            metrics["sample_english_rhyme_accuracy"] = sum(c["rhyme_ok"] for c in english_checks) / len(english_checks)
            metrics["sample_copy_rate"] = round(index.copy_rate(p.split("\n", 1)[1] for p in poems_out), 4)
            if metrics["sample_copy_rate"] > args.max_copy_rate:
                logger.warning("The final sample poems copy %.0f%% of their lines from the training poems (above "
                               "--max_copy_rate %.0f%%): train fewer steps or on more poems.",
                               100 * metrics["sample_copy_rate"], 100 * args.max_copy_rate)
        history = metrics.pop("loss_history")
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        tokenizer.save_pretrained(out)
        index.save(out / "poem_lines.txt.gz")
        if lexicon is not None:
            lexicon.save(out / LEXICON_FILE)
        samples_dir.mkdir(parents=True, exist_ok=True)
        (samples_dir / "poems.txt").write_text("\n".join(poems_out), encoding="utf-8")
        (out / "loss_history.json").write_text(json.dumps(history))
        card = {
            "repo_id": args.hub_model_id or str(args.output_dir),
            "training": (f"Trained with `training/train_poetry.py` on {source} ({counter.summary('poems')}; "
                         f"{'streamed' if args.streaming else len(train_poems)} train / {len(eval_poems)} "
                         f"validation poems) for {metrics['steps']} "
                         "steps" + (f", fine-tuned from `{args.model_name_or_path}`" if args.model_name_or_path
                                    else "") + ".\n\nSample poems (form-constrained decoding):\n\n```\n"
                         + "\n".join(poems_out) + "```"),
            "hyperparameters": {k: v for k, v in vars(args).items() if k != "hub_token"},
            "metrics": metrics,
            "datasets": [args.dataset_name] if args.dataset_name else [],
        }
        export_model(model, out, card_context=card)
        logger.info("Saved the poet to %s (%s).", out, ", ".join(f"{k}={v}" for k, v in metrics.items()))
        publish(args, out)
    accelerator.end_training()


if __name__ == "__main__":
    run_main(main, parse_args())
