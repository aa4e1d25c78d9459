"""The music part of `release_quality.py`: the release composer on the held-out Bach chorales of its recipe whose tune
no training chorale is set to (17 of the 28: `val_new_tunes`, see `release_data.chorale_tunes`).

- nats per token and per quarter-note frame on those chorales (the frame is the unit of the literature's JSB
  figures, e.g. an LSTM's 8.45 nats/frame on JSB, Bai et al. 2018; indicative, since JSB is a quarter-note
  piano-roll), beside the same on the 11 held-out settings of tunes the model trained on (`_seen_tunes`) and on all
  28 (`_all_held_out`, the figure reported until 2026-12-07);
- Yang & Lerch's overlap of generated vs held-out statistics (pitch-class histogram, pitch range, polyphony,
  notes per bar, inter-onset interval; 1 = indistinguishable), 8 bars from no primer;
- the controls: in-scale rate with `key` (target 1.0) and without, notes per bar with `density` low/high as a ratio
  of the free pieces' at the same seeds (targets <= 0.7 and >= 1.4) and of the held-out chorales', grammar errors
  per token;
- harmonisation: the soprano of held-out chorales (first 32 beats) harmonised with `harmonize=True`,
  `key="chromatic"` (no key mask): how often the Soprano comes back note for note (target 100%), and how often the
  added voices are in the melody's key (`estimate_key`), beside the same rate for Bach's own lower voices.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.quality.music_quality import FEATURES, features, free_pieces, heldout_nll, overlap_area


def music_section(model_dir: str, smoke: bool, seed: int = 0, device: str = "cpu") -> dict:
    from benchmarks.common import release_split
    from neuroart import NeuroArtMusicForCausalLM
    from neuroart.music.generation import (
        generate_music,
        in_scale_rate,
        load_tokenizer,
        notes_per_bar,
        to_score,
    )

    split = release_split("music")
    val_files = sorted(Path(split["val_new_tunes_dir"]).glob("*.mid"))
    seen_tunes = sorted(path for path in Path(split["val_dir"]).glob("*.mid") if path.name in split["tune_mates"])
    if smoke:
        val_files, seen_tunes = val_files[:3], seen_tunes[:1]
    model = NeuroArtMusicForCausalLM.from_pretrained(model_dir).eval().to(device)
    tokenizer = load_tokenizer(model_dir)
    nll, tokens, frames = heldout_nll(model, tokenizer, val_files)
    seen_nll, seen_tokens, seen_frames = heldout_nll(model, tokenizer, seen_tunes)
    reference = [f for f in (features(to_score(p)) for p in val_files) if f]
    pieces = 4 if smoke else 24
    bars = 2 if smoke else 8
    free, generated, errors, count = free_pieces(model, tokenizer, bars, pieces, seed, max_new_tokens=bars * 300)
    overlaps = {n: round(overlap_area(generated, reference, n), 4) for n in FEATURES} if len(generated) > 1 else {}
    keys = ["C", "G", "Am", "F", "Dm", "D"]
    steered = [generate_music(model, tokenizer, num_bars=bars, key=keys[i % len(keys)], max_new_tokens=bars * 300,
                              seed=seed + i).score for i in range(pieces // 2)]
    notes = sum(s.note_num() for s in steered)
    key_rate = sum(in_scale_rate(s, keys[i % len(keys)]) * s.note_num() for i, s in enumerate(steered)) / max(1, notes)
    free_notes = sum(s.note_num() for s in free)
    free_rate = sum(in_scale_rate(s, keys[i % len(keys)]) * s.note_num() for i, s in enumerate(free)) / max(1, free_notes)
    validation_density = sum(f["notes_per_bar"] for f in reference) / len(reference)
    density = {}
    for level in ("low", "high"):
        scores = [generate_music(model, tokenizer, num_bars=bars, density=level, max_new_tokens=bars * 300,
                                 seed=seed + i).score for i in range(pieces)]  # the free pieces' seeds
        density[level] = sum(notes_per_bar(s) for s in scores) / len(scores)
    same_seeds_free = sum(notes_per_bar(s) for s in free) / len(free)
    harmony = harmonisation(model, tokenizer, val_files[: 2 if smoke else 8], seed)
    result = {
        "model": str(model_dir), "val_pieces": len(val_files), **harmony,
        "val_nats_per_token": round(nll / tokens, 4), "val_nats_per_frame": round(nll / frames, 4),
        "val_seen_tunes_pieces": len(seen_tunes),
        "val_nats_per_token_seen_tunes": round(seen_nll / max(1, seen_tokens), 4),
        "val_nats_per_token_all_held_out": round((nll + seen_nll) / (tokens + seen_tokens), 4),
        "val_nats_per_frame_all_held_out": round((nll + seen_nll) / (frames + seen_frames), 4),
        "overlap_mean": round(sum(overlaps.values()) / max(1, len(overlaps)), 4), "overlap": overlaps,
        "key_in_scale_rate": round(key_rate, 4), "key_in_scale_rate_unsteered": round(free_rate, 4),
        "token_error_rate": round(errors / max(1, count), 4),
        "notes_per_bar_validation": round(validation_density, 2),
        "notes_per_bar_free": round(sum(notes_per_bar(s) for s in free) / len(free), 2),
        "notes_per_bar_density_low": round(density["low"], 2),
        "notes_per_bar_density_high": round(density["high"], 2),
        "density_low_ratio": round(density["low"] / validation_density, 3),
        "density_high_ratio": round(density["high"] / validation_density, 3),
        # The measure `density` is steered on: against the free pieces at the same seeds (targets <= 0.7, >= 1.4).
        "density_low_vs_free": round(density["low"] / same_seeds_free, 3),
        "density_high_vs_free": round(density["high"] / same_seeds_free, 3),
        "generated_pieces": pieces, "bars": bars,
    }
    print("music", json.dumps({k: v for k, v in result.items() if not isinstance(v, dict)}), flush=True)
    return result


def harmonisation(model, tokenizer, files, seed: int = 0, beats: int | None = 32, key: str | None = "chromatic",
                  ) -> dict:
    """Harmonise each chorale's soprano (its first `beats` quarter notes, all of it for None) with `key` (
    "chromatic" or None: no key mask, the melody's key held softly, what users get; a key: masked to its scale);
    the added notes are counted in the melody's key (`estimate_key`), as Bach's own lower voices are."""
    from symusic import Score

    from neuroart.music.generation import encode, estimate_key, generate_music, in_scale_rate, melody_line, to_score

    kept, added_in, added_notes, bach_in, bach_notes = 0, 0.0, 0, 0.0, 0
    for i, path in enumerate(files):
        score = to_score(path)
        limit = (beats or 10**6) * score.ticks_per_quarter
        voices = [t for t in score.tracks if t.notes]
        satb = [t for t in voices if t.name in ("Soprano", "Alto", "Tenor", "Bass")]
        voices = satb if len(satb) == 4 else voices  # a chorale's four voices, without its obbligato instruments
        soprano = max(voices, key=lambda t: sum(n.pitch for n in t.notes) / len(t.notes))
        melody = Score(score.ticks_per_quarter)
        melody.time_signatures, melody.tempos = score.time_signatures, score.tempos
        melody.tracks.append(soprano.copy())
        melody.tracks[0].notes = [n for n in soprano.notes if n.time < limit]
        melody = melody_line(melody)
        melody_key = estimate_key(melody)  # what the added notes are measured against; `key` is what decoding gets
        setting = generate_music(model, tokenizer, primer=melody, harmonize=True, key=key, seed=seed + i).score
        expected = tokenizer.decode(encode(tokenizer, melody))
        got = [t for t in setting.tracks if t.name == "Soprano"]
        scale = setting.ticks_per_quarter / expected.ticks_per_quarter
        want = [(n.time, n.duration, n.pitch) for t in expected.tracks for n in t.notes]
        kept += bool(got) and [(n.time / scale, n.duration / scale, n.pitch) for n in got[0].notes] == want
        lower = Score(setting.ticks_per_quarter)
        lower.tracks.extend(t for t in setting.tracks if t.name != "Soprano")
        added_in += in_scale_rate(lower, melody_key) * lower.note_num()
        added_notes += lower.note_num()
        bach = Score(score.ticks_per_quarter)
        for track in voices:
            if track is not soprano:
                bach.tracks.append(track.copy())
                bach.tracks[-1].notes = [n for n in track.notes if n.time < limit]
        bach_in += in_scale_rate(bach, melody_key) * bach.note_num()
        bach_notes += bach.note_num()
    return {"harmonized_pieces": len(files), "harmonize_soprano_kept_rate": round(kept / max(1, len(files)), 4),
            "harmonize_added_in_key_rate": round(added_in / max(1, added_notes), 4),
            "harmonize_bach_lower_voices_in_key_rate": round(bach_in / max(1, bach_notes), 4),
            "harmonize_added_notes_per_piece": round(added_notes / max(1, len(files)), 1)}
