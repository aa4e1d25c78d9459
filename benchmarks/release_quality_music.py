"""The music part of `release_quality.py`: the release composer on the 28 held-out Bach chorales of its recipe.

- nats per token and per quarter-note frame on the held-out chorales (the unit of the literature's JSB figures,
  e.g. an LSTM's 8.45 nats/frame on JSB, Bai et al. 2018; indicative, since JSB is a quarter-note piano-roll);
- Yang & Lerch's overlap of generated vs held-out statistics (pitch-class histogram, pitch range, polyphony,
  notes per bar, inter-onset interval; 1 = indistinguishable), 8 bars from no primer;
- the controls: in-scale rate with `key` (target 1.0) and without, notes per bar with `density` low/high as a ratio
  of the held-out chorales' (targets <= 0.7 and >= 1.4), grammar errors per token.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from music_quality import features, heldout_nll, overlap_area  # noqa: E402


def music_section(model_dir: str, smoke: bool, seed: int = 0) -> dict:
    from release_quality import release_split

    from neuroart import NeuroArtMusicForCausalLM
    from neuroart.music.generation import (
        generate_music,
        in_scale_rate,
        load_tokenizer,
        notes_per_bar,
        to_score,
    )

    split = release_split("music")
    val_files = sorted(Path(split["val_dir"]).glob("*.mid"))
    if smoke:
        val_files = val_files[:3]
    model = NeuroArtMusicForCausalLM.from_pretrained(model_dir).eval()
    tokenizer = load_tokenizer(model_dir)
    nll, tokens, frames = heldout_nll(model, tokenizer, val_files)
    reference = [f for f in (features(to_score(p)) for p in val_files) if f]
    pieces = 4 if smoke else 24
    bars = 2 if smoke else 8
    generated, errors, count, free = [], 0, 0, []
    for i in range(pieces):
        result = generate_music(model, tokenizer, num_bars=bars, max_new_tokens=bars * 300, seed=seed + i,
                                return_details=True)
        errors += result.token_errors
        count += len(result.token_ids)
        free.append(result.score)
        f = features(result.score)
        if f:
            generated.append(f)
    names = ["pitch_class_histogram", "pitch_range", "polyphony", "notes_per_bar", "inter_onset_interval"]
    overlaps = {n: round(overlap_area(generated, reference, n), 4) for n in names} if len(generated) > 1 else {}
    keys = ["C", "G", "Am", "F", "Dm", "D"]
    steered = [generate_music(model, tokenizer, num_bars=bars, key=keys[i % len(keys)], max_new_tokens=bars * 300,
                              seed=seed + i) for i in range(pieces // 2)]
    notes = sum(s.note_num() for s in steered)
    key_rate = sum(in_scale_rate(s, keys[i % len(keys)]) * s.note_num() for i, s in enumerate(steered)) / max(1, notes)
    free_notes = sum(s.note_num() for s in free)
    free_rate = sum(in_scale_rate(s, keys[i % len(keys)]) * s.note_num() for i, s in enumerate(free)) / max(1, free_notes)
    validation_density = sum(f["notes_per_bar"] for f in reference) / len(reference)
    density = {}
    for level in ("low", "high"):
        scores = [generate_music(model, tokenizer, num_bars=bars, density=level, max_new_tokens=bars * 300,
                                 seed=seed + i) for i in range(pieces // 3)]
        density[level] = sum(notes_per_bar(s) for s in scores) / len(scores)
    result = {
        "model": str(model_dir), "val_pieces": len(val_files),
        "val_nats_per_token": round(nll / tokens, 4), "val_nats_per_frame": round(nll / frames, 4),
        "overlap_mean": round(sum(overlaps.values()) / max(1, len(overlaps)), 4), "overlap": overlaps,
        "key_in_scale_rate": round(key_rate, 4), "key_in_scale_rate_unsteered": round(free_rate, 4),
        "token_error_rate": round(errors / max(1, count), 4),
        "notes_per_bar_validation": round(validation_density, 2),
        "notes_per_bar_free": round(sum(notes_per_bar(s) for s in free) / len(free), 2),
        "notes_per_bar_density_low": round(density["low"], 2),
        "notes_per_bar_density_high": round(density["high"], 2),
        "density_low_ratio": round(density["low"] / validation_density, 3),
        "density_high_ratio": round(density["high"] / validation_density, 3),
        "generated_pieces": pieces, "bars": bars,
    }
    print("music", json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}), flush=True)
    return result
