#!/usr/bin/env python
"""Train or fine-tune the NeuroArt composer: `accelerate launch training/train_music.py [--train_data_dir MIDI/]`.

With no data flag it trains on the Bach chorales that music21 ships (converted to MIDI once and cached). MIDI is
tokenized with a miditok REMI tokenizer (saved in the output folder, so `miditok.REMI.from_pretrained(folder)` and
the model load from the same repo) through `datasets.map` (cached, `--preprocessing_num_workers`). Training pieces
are augmented by pitch transposition (`--transpose`), wrapped in BOS/EOS and packed into `--max_seq_length` blocks.
The model is an LSTM/GRU LM (`NeuroArtMusicForCausalLM`) trained with the shared LM loop (AdamW, warm-up, cosine,
validation nats/token, checkpoints). Every `--sample_steps` a sample MIDI and piano roll go to `output_dir/samples`.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spin-waiting cripples 2-vCPU machines

import argparse  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

from neuroart import NeuroArtMusicConfig, NeuroArtMusicForCausalLM  # noqa: E402
from neuroart.music import PASSAGE_INDEX_FILE, PassageIndex  # noqa: E402
from neuroart.music.generation import (  # noqa: E402
    build_tokenizer,
    encode,
    generate_music,
    key_prior,
    load_tokenizer,
    meter_prior,
    piano_roll_image,
    render_audio,
    score_to_midi_bytes,
    to_score,
)
from neuroart.training.args import (  # noqa: E402
    add_common_args,
    positive_int,
    refuse_architecture_changes,
    run_main,
)
from neuroart.training.data import SkipCounter, check_midi, load_midi, midi_bytes, stream_dataset  # noqa: E402
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
from neuroart.training.tracking import guarded_sample, init_trackers, log_image, logger, make_accelerator  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(parser, default_output_dir="neuroart-music", default_lr=2e-3)
    add_lm_args(parser, default_seq_len=256)
    parser.add_argument("--train_data_dir", type=str, default=None, help="A folder of .mid/.midi files (recursive).")
    parser.add_argument("--validation_data_dir", type=str, default=None,
                        help="A folder of held-out .mid files for the validation loss, instead of a random "
                             "--validation_split_percentage of the training pieces.")
    parser.add_argument("--midi_column", type=str, default="midi", help="Column of --dataset_name with MIDI bytes or paths.")
    parser.add_argument("--tokenizer_name_or_path", type=str, default=None,
                        help="Reuse a saved miditok tokenizer (folder with tokenizer.json, or Hub id).")
    parser.add_argument("--tokenizer_vocab_size", type=int, default=None,
                        help="Train BPE on the data up to this vocabulary (default: plain REMI, about 530 tokens).")
    parser.add_argument("--transpose", type=int, default=3,
                        help="Augment training pieces with every transposition in [-N, N] semitones (0 = off).")
    parser.add_argument("--preprocessing_num_workers", type=int, default=None, help="Processes for datasets.map.")
    parser.add_argument("--rnn_type", type=str, default="lstm", choices=["lstm", "gru"], help="Recurrent cell.")
    parser.add_argument("--hidden_size", type=positive_int, default=384, help="Width (a new model; a fine-tune keeps its own).")
    parser.add_argument("--num_hidden_layers", type=positive_int, default=2, help="Layers (a new model; a fine-tune keeps its own).")
    parser.add_argument("--dropout", type=float, default=0.1, help="Dropout (a new model; a fine-tune keeps its own).")
    parser.add_argument("--sample_bars", type=positive_int, default=8, help="Bars in each sample.")
    parser.add_argument("--max_copy_rate", type=float, default=0.05,
                        help="Share of the final sample's 8-onset passages that may repeat a training piece's (up to "
                             "transposition); above it the run warns (a few pieces are memorised fast). The card "
                             "records the rate either way.")
    args = parser.parse_args(argv)
    if args.dataset_name and args.train_data_dir:
        parser.error("Give --dataset_name or --train_data_dir, not both.")
    if not 0 <= args.transpose <= 12:
        parser.error(f"--transpose {args.transpose} must lie in [0, 12].")
    check_streaming_args(parser, args)
    refuse_architecture_changes(parser, args, NeuroArtMusicConfig, {
        name: name for name in ("rnn_type", "hidden_size", "num_hidden_layers", "dropout")})
    return args


def encode_piece(data: bytes, tokenizer, transpose: int) -> list[list[int]]:
    """[BOS] + ids + [EOS] of one piece in every transposition within [-transpose, transpose] that stays on the
    piano; nearest shifts first."""
    bos, eos = tokenizer["BOS_None"], tokenizer["EOS_None"]
    score = to_score(data)
    pitches = [n.pitch for t in score.tracks for n in t.notes]
    out = []
    for shift in sorted(range(-transpose, transpose + 1), key=abs):
        if pitches and (min(pitches) + shift < 21 or max(pitches) + shift > 108):
            continue
        ids = encode(tokenizer, score.shift_pitch(shift) if shift else score)
        if ids:
            out.append([bos] + ids + [eos])
    return out


def tokenize(items, tokenizer, transpose: int, num_proc, cache_dir=None) -> list[list[int]]:
    """MIDI bytes -> `encode_piece` for every piece, through `datasets.map`."""
    import datasets

    def encode_batch(batch):
        return {"input_ids": [ids for data in batch["midi"] for ids in encode_piece(data, tokenizer, transpose)]}

    ds = datasets.Dataset.from_dict({"name": [n for n, _ in items], "midi": [b for _, b in items]},
                                    features=datasets.Features({"name": datasets.Value("string"),
                                                                "midi": datasets.Value("binary")}))
    ds = ds.map(encode_batch, batched=True, batch_size=16, num_proc=num_proc, remove_columns=["name", "midi"],
                desc="tokenizing MIDI")
    return ds["input_ids"]


def main(args):
    accelerator = make_accelerator(args, "neuroart-music", needed_bytes=300_000_000)
    if args.streaming:  # corpora bigger than RAM (Lakh MIDI): validation from the head, blocks packed on the fly
        stream = stream_dataset(args.dataset_name, args.dataset_config_name, args.dataset_split, args.cache_dir,
                                args.midi_column)
        counter = SkipCounter()

        def usable(row) -> bytes | None:
            data = midi_bytes(row[args.midi_column], counter)
            return data if data is not None and check_midi(data, counter) is not None else None

        head = [data for data in map(usable, stream.take(args.streaming_eval_examples)) if data is not None]
        eval_items = [(f"head[{i}]", data) for i, data in enumerate(head)]
        train_items = eval_items  # only for training a BPE vocabulary below
        source = log_stream_source(args)
    else:
        items, source, counter = load_midi(train_data_dir=args.train_data_dir, dataset_name=args.dataset_name,
                                           dataset_config_name=args.dataset_config_name,
                                           dataset_split=args.dataset_split, midi_column=args.midi_column,
                                           cache_dir=args.cache_dir, max_samples=args.max_train_samples)
        logger.info("Data: %s; %s", source, counter.summary("MIDI files"))
        if args.validation_data_dir:  # a fixed held-out split (the release recipe): train on every loaded piece
            eval_items, _, held_counter = load_midi(train_data_dir=args.validation_data_dir)
            logger.info("Validation: %s; %s", args.validation_data_dir, held_counter.summary("MIDI files"))
            train_items = items
        else:
            train_items, eval_items = split_train_eval(items, args.validation_split_percentage, args.seed)
    if args.tokenizer_name_or_path or args.model_name_or_path:
        tokenizer = load_tokenizer(args.tokenizer_name_or_path or args.model_name_or_path)
    else:
        tokenizer = build_tokenizer()
        if args.tokenizer_vocab_size:
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                files = []
                for i, (_, data) in enumerate(train_items):
                    files.append(Path(tmp) / f"{i}.mid")
                    files[-1].write_bytes(data)
                tokenizer.train(vocab_size=args.tokenizer_vocab_size, model="BPE", files_paths=files)
    with accelerator.main_process_first():
        eval_ids = tokenize(eval_items, tokenizer, 0, None) if eval_items else []
        if args.streaming:
            def encode_row(row):
                data = usable(row)
                return encode_piece(data, tokenizer, args.transpose) if data is not None else []

            train_blocks = StreamedBlocks(stream, encode_row, args.max_seq_length, skip=args.streaming_eval_examples,
                                          seed=args.seed, shuffle_buffer=args.streaming_shuffle_buffer)
        else:
            train_ids = tokenize(train_items, tokenizer, args.transpose, args.preprocessing_num_workers)
            train_blocks = pack(train_ids, args.max_seq_length)
            logger.info("%d training sequences (with transpositions), %d blocks.", len(train_ids), len(train_blocks))
    eval_blocks = pack(eval_ids, args.max_seq_length) if eval_ids else None
    logger.info("%d validation blocks.", 0 if eval_blocks is None else len(eval_blocks))

    if args.model_name_or_path:
        model = NeuroArtMusicForCausalLM.from_pretrained(args.model_name_or_path)
        if model.config.vocab_size < len(tokenizer):
            raise SystemExit(f"The tokenizer has {len(tokenizer)} tokens but the model only {model.config.vocab_size}.")
    else:
        model = NeuroArtMusicForCausalLM(NeuroArtMusicConfig(
            rnn_type=args.rnn_type, vocab_size=len(tokenizer), hidden_size=args.hidden_size,
            num_hidden_layers=args.num_hidden_layers, dropout=args.dropout, pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer["BOS_None"], eos_token_id=tokenizer["EOS_None"]))
    if not args.streaming:  # `generate_music(meter="auto", key="auto")` draws a new piece's metre and key as often
        # as these pieces use them (a model's own choice of key drifts with the transpositions it was trained on)
        scores = [to_score(data) for _, data in train_items]  # parsed once: the priors and the copy index
        prior, keys = meter_prior(tokenizer, scores), key_prior(scores)
        if prior:
            model.generation_config.meter_prior = prior
            logger.info("Metres of the training pieces: %s.", prior)
        if keys:
            model.generation_config.key_prior = keys
            logger.info("Keys of the training pieces: %s.", keys)
        model.generation_config._from_model_config = False  # else transformers drops the keys on load
    init_trackers(accelerator, args, "neuroart-music")
    samples = Path(args.output_dir) / "samples"

    def write_sample(unwrapped, step, name=None):
        unwrapped.eval()
        score = generate_music(unwrapped, tokenizer, num_bars=args.sample_bars, max_new_tokens=2048, seed=args.seed).score
        samples.mkdir(parents=True, exist_ok=True)
        name = name or f"step_{step}"
        (samples / f"{name}.mid").write_bytes(score_to_midi_bytes(score, {"step": step, "seed": args.seed}))
        image = piano_roll_image(score)
        image.save(samples / f"{name}.png")
        log_image(accelerator, "piano_roll", image, step)
        return score

    def on_sample(unwrapped, step):
        guarded_sample(lambda: write_sample(unwrapped, step), step, "sample piece")

    metrics, trained = train_causal_lm(args, accelerator, model, train_blocks, eval_blocks, on_sample=on_sample)
    if "val_nats_per_token" in metrics:
        metrics["val_nats_per_token"] = round(metrics["val_nats_per_token"], 4)
    if accelerator.is_main_process:
        model = trained.eval()
        out = Path(args.output_dir)

        def final_sample():
            final = write_sample(model, metrics["steps"], name="sample")
            engine = render_audio(final, out / "samples" / "sample.wav")  # FluidSynth when installed, else built-in
            logger.info("Rendered samples/sample.wav with %s.", engine)
            return final

        final_score = guarded_sample(final_sample, metrics["steps"], "final sample piece")
        wrote = final_score is not None
        index = None
        if not args.streaming:  # shipped beside the weights: the CLI and the Space report a piece's copies with it
            index = PassageIndex.from_scores(scores)  # the training pieces, parsed above
            out.mkdir(parents=True, exist_ok=True)
            index.save(out / PASSAGE_INDEX_FILE)
        if wrote and index is not None:
            def copy_check():
                rate = index.copy_rate(final_score)
                if rate > args.max_copy_rate:
                    logger.warning("%.0f%% of the final sample's passages repeat training pieces (--max_copy_rate "
                                   "%.0f%%): train fewer steps or on more pieces.", 100 * rate, 100 * args.max_copy_rate)
                return round(rate, 4)

            rate = guarded_sample(copy_check, metrics["steps"], "copy check")
            if rate is not None:
                metrics["sample_copy_rate"] = rate
        history = metrics.pop("loss_history")
        (out / "loss_history.json").write_text(json.dumps(history))
        card = {
            "repo_id": args.hub_model_id or str(args.output_dir),
            "training": (f"Trained with `training/train_music.py` on {source} ({counter.summary('MIDI files')}; "
                         f"{'streamed' if args.streaming else len(train_items)} train / {len(eval_items)} "
                         "validation pieces, transpositions "
                         f"±{args.transpose}) for {metrics['steps']} steps"
                         + (f", fine-tuned from `{args.model_name_or_path}`" if args.model_name_or_path else "")
                         + f". Tokenizer: miditok REMI, {len(tokenizer)} tokens (saved as `tokenizer.json`)."),
            "hyperparameters": {k: v for k, v in vars(args).items() if k != "hub_token"},
            "metrics": metrics,
            "sample": "samples/sample.png" if wrote else None,
            "datasets": [args.dataset_name] if args.dataset_name else [],
        }
        export_model(model, out, card_context=card)
        tokenizer.save(out / "tokenizer.json")
        logger.info("Saved the composer to %s (%s).", out, ", ".join(f"{k}={v}" for k, v in metrics.items()))
        publish(args, out)
    accelerator.end_training()


if __name__ == "__main__":
    run_main(main, parse_args())
