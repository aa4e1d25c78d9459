#!/usr/bin/env python
"""Harmonisation by the music release, on the top lines of held-out Bach chorales.

    python -m benchmarks.quality.harmonisation [--pieces 8] [--beats 32] [--music_model releases/neuroart-music] [--smoke]

For each of the first `--pieces` held-out chorales of the release recipe (`neuroart.training.release_data music`)
whose tune no training chorale is set to (`val_new_tunes`: the model has not heard these melodies),
its soprano (first `--beats` quarter notes) is harmonised with `generate_music(..., harmonize=True,
key="chromatic")`, i.e. with no key mask, so the key figure measures the model, not the mask. Reported:
- how often the Soprano comes back note for note (the target: 100%);
- the share of the added notes in the melody's key (`estimate_key`, Krumhansl-Schmuckler), beside the same share
  for Bach's own alto, tenor and bass in those bars (the anchor: chorales modulate and use chromatic notes);
- added notes per piece and seconds per piece;
- then, as users harmonise (the default settings: the melody's key held softly), whole melodies of all the
  new-tune held-out chorales: how many come back note for note (`complete_melodies`).
Writes `benchmarks/results/harmonisation.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.common import REPO_ROOT, command_line, machine_info, setup_threads


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pieces", type=int, default=8)
    parser.add_argument("--beats", type=int, default=32)
    parser.add_argument("--music_model", default=str(REPO_ROOT / "releases" / "neuroart-music"))
    parser.add_argument("--smoke", action="store_true", help="One piece, 8 beats; writes nothing.")
    args = parser.parse_args(argv)
    setup_threads(1)
    from transformers import AutoModelForCausalLM

    import neuroart  # noqa: F401
    from benchmarks.common import release_split
    from benchmarks.quality.release_quality_music import harmonisation
    from neuroart.music.generation import load_tokenizer

    pieces, beats = (1, 8) if args.smoke else (args.pieces, args.beats)
    held_out = sorted(Path(release_split("music")["val_new_tunes_dir"]).glob("*.mid"))
    files = held_out[:pieces]
    model = AutoModelForCausalLM.from_pretrained(args.music_model).eval()
    started = time.time()
    result = harmonisation(model, load_tokenizer(args.music_model), files, beats=beats)
    result["seconds_per_piece"] = round((time.time() - started) / max(1, len(files)), 1)
    every = held_out[: 1 if args.smoke else None]
    whole = harmonisation(model, load_tokenizer(args.music_model), every, beats=None, key=None)
    result["complete_melodies"] = {"pieces": whole["harmonized_pieces"],
                                   "soprano_kept_rate": whole["harmonize_soprano_kept_rate"],
                                   "key": "the melody's, held softly (the default)", "beats": "all"}
    payload = {"result": result, "model": args.music_model, "pieces": [f.stem for f in files], "beats": beats,
               "command": command_line(argv),
               "machine": machine_info()}
    print(json.dumps(payload["result"]))
    if not args.smoke:
        out = REPO_ROOT / "benchmarks" / "results" / "harmonisation.json"
        out.write_text(json.dumps(payload, indent=2) + "\n")
    return payload


if __name__ == "__main__":
    main()
