#!/usr/bin/env python
"""Does the composer sound like Bach? The harmony measures of `neuroart.music.harmony` on the music release and,
beside them, on Bach's own held-out chorales (the anchor).

    python -m benchmarks.quality.harmony [--music_model releases/neuroart-music] [--pieces 12] [--bars 8] [--smoke]

Three sets, pooled over their pieces:
- bach: the held-out chorales of the release recipe (`neuroart.training.release_data music`) whose tune no training
  chorale is set to (17 of the 28, `val_new_tunes`: the harmonised set must not hand the model a melody it trained
  on in another setting), whole;
- free: `--pieces` pieces of `--bars` bars from the release at seeds 0.., its default settings, with the model's
  own NLL per token of what it wrote (the price of the steering); free_chords_off, the same with `chords=0`; and
  free_own_key, with `key=None` (the model's own key: none drawn from the training keys, none held);
- harmonised: the soprano of each held-out chorale (whole; its Soprano track, not the trumpets above it in the
  Christmas Oratorio's), harmonised with the default settings at two seeds (i and 100 + i); harmonised_key_mask,
  the same with the added voices masked to the melody's key (`key=estimate_key(melody)`, the default until
  2026-12-07).
For bach, free and free_own_key, the pieces' keys (`estimate_key`), the share in minor, and the share whose first
`--bars` bars are in the key of their first chord (Bach's chorales are longer: this is the measure that compares).
Measures: triads and seventh chords among the chord onsets, pieces ending on an authentic cadence, on the tonic of
the key `estimate_key` finds, and on the root of their first chord (where they began), parallel fifths and octaves
per 100 voice-leading steps, onsets with a voice crossing, notes outside the SATB ranges, each voice's mean pitch,
the bass's leaps (more than a fourth), pieces with named S/A/T/B voices. A one-track piece is split into voices by
height at each onset, so it cannot cross by construction: crossings count only where the voices are named.
Originality, where the model ships its training passages (`passage_index.safetensors`): the share of each set's
8-onset passages (every voice, up to transposition) found in a training chorale, and the pieces with any; Bach's
held-out chorales are the anchor (before 2026-12-07 all 28 were, and one of them, Riemenschneider 100 = BWV 18, is
the training set's no. 126 in another version).
Writes `benchmarks/results/harmony.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from benchmarks.common import REPO_ROOT, setup_threads, write_results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--music_model", default=str(REPO_ROOT / "releases" / "neuroart-music"))
    parser.add_argument("--pieces", type=int, default=48, help="Free pieces (seeds 0..pieces-1), with and without chords.")
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--smoke", action="store_true", help="Two pieces of each set; writes nothing.")
    args = parser.parse_args(argv)
    setup_threads(1)
    import torch
    from transformers import AutoModelForCausalLM

    import neuroart  # noqa: F401
    from benchmarks.common import release_split
    from neuroart.music import PASSAGE_INDEX_FILE, PassageIndex
    from neuroart.music.generation import estimate_key, generate_music, load_tokenizer, melody_line, to_score
    from neuroart.music.harmony import cadence_chord, harmony_report, pool, sonorities
    from neuroart.music.theory import parse_key

    files = sorted(Path(release_split("music")["val_new_tunes_dir"]).glob("*.mid"))[: 2 if args.smoke else None]
    pieces = 2 if args.smoke else args.pieces
    model = AutoModelForCausalLM.from_pretrained(args.music_model).eval()
    tokenizer = load_tokenizer(args.music_model)
    started = time.time()
    bach_scores = [to_score(path) for path in files]  # parsed once: harmony, keys and copies read them
    bach = [harmony_report(score) for score in bach_scores]
    def compose(seed, **settings):
        return generate_music(model, tokenizer, num_bars=args.bars, seed=seed, max_new_tokens=2048, **settings)

    def own_nll(pieces) -> float:
        """The model's own mean negative log-likelihood per token of what it wrote: the price of the steering."""
        total = count = 0.0
        for piece in pieces:
            ids = torch.tensor([piece.sequence])
            with torch.inference_mode():
                logits = model(ids).logits[0, :-1].float()
            total += torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="sum").item()
            count += ids.shape[1] - 1
        return round(total / max(1, count), 3)

    index_file = Path(args.music_model) / PASSAGE_INDEX_FILE
    index = PassageIndex.load(index_file) if index_file.is_file() else None

    def copies(scores) -> dict:
        """The share of the pieces' passages found in the training chorales, and how many pieces have any."""
        if index is None:
            return {}
        reports = [index.report(score) for score in scores]
        return {"copied_passage_share": round(sum(r.copied for r in reports) / max(1, sum(r.total for r in reports)),
                                              4),
                "pieces_with_a_copied_passage": sum(r.copied > 0 for r in reports)}

    def keys(scores) -> dict:
        """The pieces' keys (`estimate_key`), most frequent first, the share in minor, and the share whose first
        `--bars` bars are in the key of their first chord (its root is their key's tonic)."""
        scores = list(scores)
        found = Counter(estimate_key(score) for score in scores)
        return {"minor_share": round(sum(n for k, n in found.items() if k.endswith("m")) / max(1, found.total()), 3),
                "first_bars_in_opening_key_share": round(sum(map(opens_in_key, scores)) / max(1, len(scores)), 3),
                "keys": dict(found.most_common())}

    def opens_in_key(score) -> bool:
        signature = score.time_signatures[0] if len(score.time_signatures) else None
        quarters = 4 * signature.numerator / signature.denominator if signature else 4
        head = score.copy()
        for track in head.tracks:
            track.notes = [n for n in track.notes if n.time < args.bars * quarters * score.ticks_per_quarter]
        first = next((c for c in (cadence_chord(p) for _, p in sonorities(head)) if c is not None), None)
        return first is not None and first.root == parse_key(estimate_key(head))[0]

    clock = time.perf_counter()
    steered = [compose(seed) for seed in range(pieces)]
    steered_seconds, clock = (time.perf_counter() - clock) / pieces, time.perf_counter()
    plain = [compose(seed, chords=0) for seed in range(pieces)]  # the anchor: the same model without the steering
    plain_seconds = (time.perf_counter() - clock) / pieces
    own_key = [compose(seed, key=None) for seed in range(pieces)]  # the model's own key: no key drawn, none held
    free = [harmony_report(piece.score) for piece in steered]
    harmonised, masked, harmonised_scores = [], [], []
    for i, path in enumerate(files):
        melody = melody_line(path)  # the chorale's Soprano track, not an obbligato above it
        for seed in (i, 100 + i):  # two settings of each: one seed set's parallels vary by about 0.3 per 100 steps
            harmonised_scores.append(generate_music(model, tokenizer, primer=melody, harmonize=True, seed=seed).score)
            harmonised.append(harmony_report(harmonised_scores[-1]))
            masked.append(harmony_report(generate_music(model, tokenizer, primer=melody, harmonize=True,
                                                        key=estimate_key(melody), seed=seed).score))
    summary = {"bach": {**pool(bach), **keys(bach_scores), **copies(bach_scores)},
               "free": {**pool(free), "own_nll_per_token": own_nll(steered), **keys(p.score for p in steered),
                        **copies(p.score for p in steered)},
               "free_chords_off": {**pool([harmony_report(piece.score) for piece in plain]),
                                   "own_nll_per_token": own_nll(plain)},
               "free_own_key": {**pool([harmony_report(piece.score) for piece in own_key]),
                                "own_nll_per_token": own_nll(own_key), **keys(p.score for p in own_key)},
               "harmonised": {**pool(harmonised), **copies(harmonised_scores)},
               "harmonised_key_mask": pool(masked),
               "seconds_per_free_piece": {"chords": round(steered_seconds, 3), "chords_off": round(plain_seconds, 3),
                                          "ratio": round(steered_seconds / plain_seconds, 2)},
               "seconds": round(time.time() - started, 1)}
    print(json.dumps(summary))
    if not args.smoke:
        write_results("harmony", summary, {"model": args.music_model, "bars": args.bars,
                                           "held_out_chorales": [f.stem for f in files]})
    return summary


if __name__ == "__main__":
    main()
