"""Music generation: tokenizer round trips, primer continuation, bars, key steering, the grammar, voices, tonality,
harmonisation, continuation from the state, the lean loop, audio and piano roll. Training: test_train_music.py."""

import wave

import pytest
import torch

from tests.helpers import check_harmonisation, chorale_tune, make_midi, tiny_music_config

pytest.importorskip("miditok")
from symusic import Score  # noqa: E402

from neuroart import NeuroArtMusicForCausalLM  # noqa: E402
from neuroart.music.generation import (  # noqa: E402
    build_tokenizer,
    encode,
    estimate_key,
    generate_music,
    in_scale_rate,
    load_tokenizer,
    melody_line,
    meter_prior,
    midi_provenance,
    notes_per_bar,
    parse_key,
    piano_roll_image,
    render_audio,
    repair_tokens,
    scale_pitch_classes,
    score_to_midi_bytes,
    to_score,
)


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="module")
def untrained(tokenizer):
    torch.manual_seed(0)
    config = tiny_music_config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                               bos_token_id=tokenizer["BOS_None"], eos_token_id=tokenizer["EOS_None"])
    return NeuroArtMusicForCausalLM(config).eval()


def notes_of(score):
    """(onset, duration, pitch) in quarter notes, all tracks merged, sorted."""
    tpq = score.ticks_per_quarter
    return sorted((n.time / tpq, n.duration / tpq, n.pitch) for t in score.tracks for n in t.notes)


def test_midi_tokens_midi_round_trip(tokenizer):
    midi = make_midi(1)
    ids = encode(tokenizer, midi)
    assert len(ids) > 20 and repair_tokens(tokenizer, ids)[1] == 0
    decoded = tokenizer.decode(ids)
    assert notes_of(decoded) == notes_of(to_score(midi))


def test_long_notes_are_split_not_lost(tokenizer):
    midi = make_midi(2, bars=6, long_note=True)
    decoded = tokenizer.decode(encode(tokenizer, midi))
    held = [n for n in notes_of(decoded) if n[2] == 36]
    assert sum(d for _, d, _ in held) == 24 and held[0][0] == 0  # 24 beats kept, as consecutive notes


def test_tokenizer_saved_with_the_model(tokenizer, untrained, tmp_path):
    from miditok import REMI

    untrained.save_pretrained(tmp_path)
    tokenizer.save(tmp_path / "tokenizer.json")
    midi = make_midi(3)
    assert encode(load_tokenizer(tmp_path), midi) == encode(tokenizer, midi)
    assert encode(REMI.from_pretrained(str(tmp_path)), midi) == encode(tokenizer, midi)
    assert NeuroArtMusicForCausalLM.from_pretrained(tmp_path).config.vocab_size == len(tokenizer)


def test_primer_continuation_keep_primer_both_ways(tokenizer, untrained):
    primer = make_midi(4, bars=2)
    primer_notes = notes_of(to_score(primer))
    kept = generate_music(untrained, tokenizer, primer=primer, keep_primer=True, max_new_tokens=120, seed=1,
                          num_bars=2).score
    new_only = generate_music(untrained, tokenizer, primer=primer, keep_primer=False, max_new_tokens=120, seed=1,
                              num_bars=2).score
    kept_notes = notes_of(kept)
    assert set(primer_notes) <= set(kept_notes)  # every primer note kept as it was
    added = [n for n in kept_notes if n not in primer_notes]
    assert added and min(n[0] for n in added) >= max(n[0] for n in primer_notes)  # the new ones come after it
    assert notes_of(new_only) and notes_of(new_only)[: len(primer_notes)] != primer_notes  # new notes, not the primer


def test_num_bars_stops_at_a_bar_count(tokenizer, untrained):
    stopped_by_bars = 0
    for bars in (1, 3):
        for seed in (0, 2):
            result = generate_music(untrained, tokenizer, num_bars=bars, max_new_tokens=3000, seed=seed, density=-3)  # an untrained model: Bar made likelier
            count = sum(1 for t in result.token_ids if t == tokenizer["Bar_None"])
            if result.sequence[-1] == tokenizer["EOS_None"] or len(result.sequence) == 1 + 3000:
                assert count <= bars  # the model ended the piece itself, or the token cap came first
            else:  # otherwise exactly `bars` bars, cut at the next bar line
                assert count == bars and result.sequence[-1] == tokenizer["Bar_None"]
                stopped_by_bars += 1
    assert stopped_by_bars >= 1


def test_key_steering_raises_the_in_scale_rate(tokenizer, untrained):
    steered, free = [], []
    for seed in range(3):
        steered.append(generate_music(untrained, tokenizer, key="F#m", max_new_tokens=400, seed=seed).score)
        free.append(generate_music(untrained, tokenizer, max_new_tokens=400, seed=seed).score)
    notes = lambda scores: sum(s.note_num() for s in scores)  # noqa: E731
    assert notes(steered) > 0 and notes(free) > 0
    rate = sum(in_scale_rate(s, "F#m") * s.note_num() for s in steered) / notes(steered)
    free_rate = sum(in_scale_rate(s, "F#m") * s.note_num() for s in free) / notes(free)
    assert rate == 1.0 and free_rate < 0.95
    assert parse_key("Bb") == (10, False) and parse_key("c# minor") == (1, True)
    with pytest.raises(ValueError, match="key"):
        generate_music(untrained, tokenizer, key="H")


def test_density_and_validation(tokenizer, untrained):
    dense = generate_music(untrained, tokenizer, density="high", max_new_tokens=300, seed=0).score
    sparse = generate_music(untrained, tokenizer, density="low", max_new_tokens=300, seed=0).score
    assert dense.note_num() > sparse.note_num()
    assert notes_per_bar(dense) > 0
    with pytest.raises(ValueError, match="num_bars"):
        generate_music(untrained, tokenizer, num_bars=0)


def test_high_density_moves_time_forward_by_the_nearest_onset(tokenizer):
    """density > 0: among the positions the grammar allows (those after the current one) the nearest is favoured
    most, ending the bar or the piece costs as much as the last eighth of a 4/4 bar, and a rest more; shorter
    notes and more notes per onset gain. density < 0 ends bars sooner and leaves positions alone."""
    from neuroart.music.generation import DensityLogitsProcessor

    vocab = tokenizer.vocab
    dense = DensityLogitsProcessor(tokenizer, 1.5).bias
    positions = sorted((int(t.split("_")[1]), i) for t, i in vocab.items() if t.startswith("Position_"))
    bias = [float(dense[i]) for _, i in positions]
    assert bias == sorted(bias, reverse=True) and bias[0] == 0.0 and bias[-1] < bias[0]
    per_beat = max(tokenizer.config.beat_res.values())
    last = min(float(dense[i]) for p, i in positions if p < 4 * per_beat)  # the last position of a 4/4 bar
    for token in ("Bar_None", "EOS_None"):  # the bar's end: as late as its last eighth
        assert float(dense[vocab[token]]) <= last, token
    for token in (t for t in vocab if t.startswith("Rest_")):
        assert float(dense[vocab[token]]) < last, token
    pitch = next(i for t, i in vocab.items() if t.startswith("Pitch_"))
    assert float(dense[pitch]) == 1.5 and float(dense[vocab["Duration_0.1.8"]]) > 0 > float(dense[vocab["Duration_2.0.8"]])
    sparse = DensityLogitsProcessor(tokenizer, -1.0).bias
    assert float(sparse[vocab["Bar_None"]]) == 1.0 and all(float(sparse[i]) == 0.0 for _, i in positions)


def test_midi_provenance_wav_and_piano_roll(tokenizer, tmp_path):
    score = to_score(make_midi(5))
    midi = score_to_midi_bytes(score, {"model": "tiny", "seed": 7})
    assert "AI-generated" in midi_provenance(midi)[0] and "seed=7" in midi_provenance(midi)[0]
    assert to_score(midi).note_num() == score.note_num()
    engine = render_audio(score, tmp_path / "out.wav", engine="builtin")
    with wave.open(str(tmp_path / "out.wav")) as handle:
        assert engine == "builtin" and handle.getnframes() / handle.getframerate() > 7.5  # 4 bars at 120 bpm = 8 s
    image = piano_roll_image(score)
    assert image.size == (1000, 400) and len(image.getcolors(100000)) > 2


@pytest.mark.slow
def test_fluidsynth_engine_when_installed(tmp_path):
    import shutil

    from neuroart.music.audio import _soundfont

    if not shutil.which("fluidsynth") or _soundfont() is None:
        pytest.skip("FluidSynth and a GM soundfont are not installed (apt-get install fluidsynth fluid-soundfont-gm)")
    assert render_audio(to_score(make_midi(0)), tmp_path / "f.wav") == "fluidsynth"
    with wave.open(str(tmp_path / "f.wav")) as handle:
        assert handle.getnframes() > 0


def test_grammar_mask_leaves_nothing_to_repair(tokenizer, untrained):
    masked = [generate_music(untrained, tokenizer, max_new_tokens=150, seed=s) for s in range(3)]
    free = [generate_music(untrained, tokenizer, max_new_tokens=150, seed=s, grammar=False)
            for s in range(3)]
    assert sum(c.token_errors for c in masked) == 0
    assert all(len(c.token_ids) + c.unfinished == 150 for c in masked)  # a note cut off at the limit is no error
    assert sum(c.token_errors for c in free) > 3 * 3  # an untrained model breaks the grammar constantly unmasked


def test_time_moves_forward_and_the_metre_stays(tokenizer, untrained):
    """By construction, even from an untrained model: a piece opens with a Bar, Positions rise within each bar and
    stay inside its TimeSig, one metre throughout; miditok's own error check agrees (it was 10-40% unmasked)."""
    from miditok import TokSequence

    for seed in range(6):
        ids = generate_music(untrained, tokenizer, max_new_tokens=300, seed=seed).token_ids
        tokens = [tokenizer[i] for i in ids]
        assert tokens[0] == "Bar_None"
        metres = {t for t in tokens if t.startswith("TimeSig_")}
        assert len(metres) <= 1, metres
        per_bar = 8 * int(next(iter(metres)).split("_")[1].split("/")[0]) if metres else None
        position = -1
        for token in tokens:
            if token == "Bar_None":
                position = -1
            elif token.startswith("Position_"):
                value = int(token.split("_")[1])
                assert value > position and (per_bar is None or value < per_bar), (seed, value, position)
                position = value
        assert tokenizer.tokens_errors(TokSequence(ids=ids)) == 0


def test_backwards_time_is_repaired_and_counted(tokenizer):
    ids = [tokenizer[t] for t in ("Bar_None", "TimeSig_4/4", "Position_8", "Program_0", "Pitch_60", "Velocity_63",
                                  "Duration_1.0.8", "Position_4", "Program_0", "Pitch_62", "Velocity_63",
                                  "Duration_1.0.8", "Position_16", "Program_0", "Pitch_64", "Velocity_63",
                                  "Duration_1.0.8")]
    clean, dropped = repair_tokens(tokenizer, ids)
    assert dropped == 5 and [tokenizer[i] for i in clean if tokenizer[i].startswith("Pitch")] == ["Pitch_60", "Pitch_64"]


def _most_sounding(score) -> int:
    notes = [n for t in score.tracks for n in t.notes]
    return max(sum(m.time <= n.time < m.time + m.duration for m in notes) for n in notes)


def test_voices_cap_holds_by_construction(tokenizer, untrained):
    # (An untrained model: the cap, the 1-beat silence limit and rests only in silence leave it few notes per piece
    # before it picks EOS, hence 8 seeds.)
    capped = [generate_music(untrained, tokenizer, num_bars=4, max_new_tokens=400, seed=s, voices=3).score for s in range(8)]
    free = [generate_music(untrained, tokenizer, num_bars=4, max_new_tokens=400, seed=s, voices=None).score for s in range(8)]
    assert all(s.note_num() > 0 for s in capped) and sum(s.note_num() for s in capped) > 50
    assert max(_most_sounding(s) for s in capped) <= 3 < max(_most_sounding(s) for s in free)
    with pytest.raises(ValueError, match="voices"):
        generate_music(untrained, tokenizer, voices=0)


def test_no_long_silence_under_the_voices_cap(tokenizer, untrained):
    """With a voices cap the music never falls silent for more than a beat (a rest is timed from the last note's
    end, as miditok decodes it); without one an untrained model leaves long gaps."""
    def longest_gap(score):
        notes, end, gap = sorted((n.time, n.time + n.duration) for t in score.tracks for n in t.notes), 0, 0
        for start, stop in notes:
            gap, end = max(gap, start - end), max(end, stop)
        return gap / score.ticks_per_quarter

    capped = [generate_music(untrained, tokenizer, num_bars=4, max_new_tokens=400, seed=s, voices=4).score for s in range(8)]
    free = [generate_music(untrained, tokenizer, num_bars=4, max_new_tokens=400, seed=s, voices=None).score for s in range(8)]
    assert max(longest_gap(s) for s in capped if s.note_num()) <= 1.0 < max(longest_gap(s) for s in free)


def test_tonality_keeps_the_piece_in_its_key(tokenizer, untrained):
    def in_own_key(score):
        key = estimate_key(score)
        pitches = [n.pitch for t in score.tracks for n in t.notes]
        return sum(p % 12 in scale_pitch_classes(key) for p in pitches) / len(pitches)

    tonal = [in_own_key(generate_music(untrained, tokenizer, num_bars=4, max_new_tokens=400, seed=s, tonality=6.0).score)
             for s in range(4)]
    free = [in_own_key(generate_music(untrained, tokenizer, num_bars=4, max_new_tokens=400, seed=s, tonality=0).score)
            for s in range(4)]
    assert sum(tonal) / 4 > sum(free) / 4 + 0.1 and min(tonal) > 0.85
    with pytest.raises(ValueError, match="tonality"):
        generate_music(untrained, tokenizer, tonality=-1)


def test_same_seed_same_music_under_concurrent_load(tokenizer, untrained):
    from concurrent.futures import ThreadPoolExecutor

    def compose(seed):
        return generate_music(untrained, tokenizer, max_new_tokens=60, seed=seed).token_ids

    alone = [compose(s) for s in range(3)]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(compose, [0, 1, 2, 0, 1, 2]))
    assert together == alone + alone
    torch.manual_seed(7)
    before = torch.rand(1)
    torch.manual_seed(7)
    compose(4)
    assert torch.equal(torch.rand(1), before)  # the global stream is left as it was


def test_harmonize_keeps_every_note_of_melodies_that_used_to_stop_early(tokenizer, untrained):
    """Two melodies that the harmoniser cut short (issue 27): a half note on beat 2 and a one-beat rest that
    reaches the bar line (REMI times the rest from the note's end and writes no Bar), and a chromatic note that the
    key mask bans (the melody's own pitch was then left with no token at all)."""
    from symusic import Note, Score, Track

    def tune(notes):
        score, track, time = Score(480), Track(name="melody", program=0), 0
        for pitch, beats, rest in notes:
            track.notes.append(Note(time, beats * 480, pitch, 80))
            time += (beats + rest) * 480
        score.tracks.append(track)
        return score

    resting = tune([(62, 1, 0), (67, 1, 0), (69, 1, 0), (71, 1, 0), (69, 1, 0), (67, 2, 1),
                    (69, 1, 0), (71, 1, 0), (72, 1, 0), (71, 1, 0), (69, 1, 0), (67, 2, 1), (67, 4, 0)])
    chromatic = tune([(67, 1, 0), (67, 1, 0), (67, 1, 0), (66, 1, 0), (70, 1, 0), (69, 1, 0), (67, 1, 0),
                      (66, 1, 0), (67, 2, 0), (74, 2, 0), (72, 1, 0), (71, 1, 0), (69, 2, 0)])
    for melody in (resting, chromatic):
        for seed in range(4):
            piece = generate_music(untrained, tokenizer, primer=melody, harmonize=True, seed=seed)
            check_harmonisation(piece.score, melody)
            assert piece.melody_missing == 0


def test_harmonize_keeps_the_melody_as_the_top_voice(tokenizer, untrained):
    """Even an untrained model, sampling at random, cannot move the melody: the processor forces it."""
    melody = chorale_tune()

    def lower_voices(score):
        lower = Score(score.ticks_per_quarter)
        lower.tracks.extend(t for t in score.tracks if t.name != "Soprano")
        return lower

    soft = []
    for seed in range(3):
        score = generate_music(untrained, tokenizer, primer=melody, harmonize=True, seed=seed).score
        check_harmonisation(score, melody)
        soft.append(in_scale_rate(lower_voices(score), "G"))
        masked = generate_music(untrained, tokenizer, primer=melody, harmonize=True, key="G", seed=seed).score
        check_harmonisation(masked, melody)
        assert in_scale_rate(lower_voices(masked), "G") == 1.0  # a named key masks the added voices to its scale
    assert min(soft) < 1.0  # by default the melody's key is held softly: a random model strays from it
    late = chorale_tune()  # a melody that starts after a rest of 7.5 beats (REMI rests cross bar lines unmarked)
    late.tracks[0].notes = [type(n)(n.time + 3600, n.duration, n.pitch, n.velocity) for n in late.tracks[0].notes]
    check_harmonisation(generate_music(untrained, tokenizer, primer=late, harmonize=True, seed=0).score, late)
    assert estimate_key(melody) == "G"
    shifted = chorale_tune()
    shifted.tracks[0].notes = [type(n)(n.time, n.duration, n.pitch + 2, n.velocity) for n in shifted.tracks[0].notes]
    assert estimate_key(shifted) == "A"
    # A polyphonic primer is harmonised from its skyline; the bytes of a MIDI file work too.
    score = generate_music(untrained, tokenizer, primer=make_midi(3, bars=2), harmonize=True, seed=0).score
    assert [t.name for t in score.tracks][0] == "Soprano"
    with pytest.raises(ValueError, match="melody"):
        generate_music(untrained, tokenizer, harmonize=True)
    # The top line of a chorale: a lower voice moving under a held soprano note is not melody.
    from symusic import Note, Track

    chorale, soprano, alto = Score(480), Track(), Track()
    soprano.notes.extend([Note(0, 960, 72, 80), Note(960, 480, 74, 80)])
    alto.notes.extend([Note(0, 480, 60, 80), Note(480, 480, 62, 80), Note(960, 480, 64, 80)])
    chorale.tracks.extend([soprano, alto])
    assert [(n.time, n.duration, n.pitch) for n in melody_line(chorale).tracks[0].notes] == [(0, 960, 72),
                                                                                            (960, 480, 74)]
    # A track named as the melody is the melody, whatever plays above it (a Christmas Oratorio chorale's trumpets).
    trumpet, named = Track(name="Trumpet 1,2"), Track(name="Soprano")
    trumpet.notes.extend([Note(0, 480, 84, 80), Note(480, 480, 86, 80)])
    named.notes.extend(soprano.notes)
    oratorio = Score(480)
    oratorio.tracks.extend([trumpet, named, alto])
    assert [(n.time, n.pitch) for n in melody_line(oratorio).tracks[0].notes] == [(0, 72), (960, 74)]
    named.name = "lead vocals"
    assert [(n.time, n.pitch) for n in melody_line(oratorio).tracks[0].notes] == [(0, 72), (960, 74)]


def test_continue_a_piece_from_its_state(tokenizer, untrained):
    """"Add 2 more bars": the continuation reads the model's returned state (no re-reading), gives what re-reading
    the whole piece gives, and with keep_primer returns the whole piece."""
    import dataclasses

    piece = generate_music(untrained, tokenizer, num_bars=2, max_new_tokens=600, seed=3,
                           density=-3)  # (an untrained model: Bar made likelier, so the bar count ends the piece)
    assert piece.sequence[-1] == tokenizer["Bar_None"] and piece.unfinished == 0
    assert piece.state is not None and piece.state.get_seq_length() == len(piece.sequence) - 1
    more = generate_music(untrained, tokenizer, num_bars=2, max_new_tokens=600, seed=4, continue_from=piece)
    assert more.sequence[: len(piece.sequence)] == piece.sequence
    assert sum(t == tokenizer["Bar_None"] for t in more.token_ids) <= 2
    reread = generate_music(untrained, tokenizer, num_bars=2, max_new_tokens=600, seed=4,
                            continue_from=dataclasses.replace(piece, state=None))
    assert reread.token_ids == more.token_ids
    whole = generate_music(untrained, tokenizer, num_bars=2, max_new_tokens=600, seed=4, continue_from=piece,
                           keep_primer=True)
    assert whole.token_ids == piece.token_ids + more.token_ids
    with pytest.raises(ValueError, match="continue_from"):
        generate_music(untrained, tokenizer, primer=make_midi(1), continue_from=piece)


@pytest.mark.parametrize("rnn_type", ["lstm", "gru"])
def test_lean_sampling_gives_generates_tokens(tokenizer, rnn_type):
    """The lean loop (`sample_tokens`, generate_music's default) and transformers' generate() write the same tokens
    for the same seed: greedy and sampled, with the grammar and the other processors, a bar count, a batch with a
    row that stops early, and a continued piece."""
    from neuroart.music.generation import REMIGrammarLogitsProcessor, _TokenTypes, sample_tokens

    torch.manual_seed(1)
    config = tiny_music_config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, rnn_type=rnn_type,
                               bos_token_id=tokenizer["BOS_None"], eos_token_id=tokenizer["EOS_None"])
    model = NeuroArtMusicForCausalLM(config).eval()
    for seed in range(3):
        kwargs = dict(max_new_tokens=120, seed=seed, voices=3, tonality=2.0)
        lean, full = generate_music(model, tokenizer, **kwargs), generate_music(model, tokenizer, lean=False, **kwargs)
        assert lean.sequence == full.sequence and len(lean.sequence) > 10
        assert torch.equal(lean.state.h, full.state.h) and lean.state.seen_tokens == full.state.seen_tokens
        more = dict(max_new_tokens=40, seed=seed + 10, continue_from=lean)
        assert (generate_music(model, tokenizer, **more).sequence
                == generate_music(model, tokenizer, lean=False, **more).sequence)
    bars = dict(num_bars=2, seed=4)
    assert generate_music(model, tokenizer, **bars).sequence == generate_music(model, tokenizer, lean=False, **bars).sequence
    # Greedy, a batch of 3 prompts, EOS allowed (rows finish at different steps and are padded as generate() pads).
    types = _TokenTypes(tokenizer)
    prompt = torch.tensor([[types.bos]] * 3)
    with torch.no_grad():
        model.lm_head.weight[types.eos] += 0.05  # make EOS likely enough that some rows end early
    for do_sample in (False, True):
        torch.manual_seed(3)
        ours, _ = sample_tokens(model, prompt, [REMIGrammarLogitsProcessor(types)], max_new_tokens=80,
                                do_sample=do_sample, top_k=20, top_p=0.9, temperature=0.8, eos_token_id=types.eos,
                                pad_token_id=tokenizer.pad_token_id)
        torch.manual_seed(3)
        theirs = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=do_sample,
                                top_k=20 if do_sample else None, top_p=0.9 if do_sample else None,
                                temperature=0.8 if do_sample else None, max_new_tokens=80,
                                logits_processor=[REMIGrammarLogitsProcessor(types)], eos_token_id=types.eos,
                                pad_token_id=tokenizer.pad_token_id)
        assert torch.equal(ours, theirs)


def test_composition_save_writes_midi_with_provenance_and_audio(tokenizer, untrained, tmp_path):
    piece = generate_music(untrained, tokenizer, max_new_tokens=80, seed=6)
    paths = piece.save(tmp_path / "out", {"model": "tiny"}, audio=True)
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["music_6.mid", "music_6.wav", "music_6.png"]
    midi = open(paths[0], "rb").read()
    # The meta text records the model (as given), the seed and the call's settings (the contract's provenance).
    assert midi == score_to_midi_bytes(piece.score, {**piece.provenance, "model": "tiny"})
    assert piece.settings["max_new_tokens"] == 80 and piece.settings["temperature"] == 1.0
    assert any("seed" in line for line in midi_provenance(midi))
    with wave.open(paths[1]) as audio:
        assert audio.getnframes() > 0


def _metres(tokenizer, composition) -> set[str]:
    return {tokenizer[i].split("_", 1)[1] for i in composition.token_ids if tokenizer[i].startswith("TimeSig_")}


def test_meter_sets_the_metre_of_a_new_piece(tokenizer, untrained, tmp_path):
    def compose(seed, **kwargs):
        return generate_music(untrained, tokenizer, num_bars=2, max_new_tokens=200, seed=seed,
                              **kwargs)

    assert all(_metres(tokenizer, compose(s, meter="3/4")) == {"3/4"} for s in range(6))
    drawn = [_metres(tokenizer, compose(s, meter={"4/4": 0.5, "6/8": 0.5})) for s in range(16)]
    assert set().union(*drawn) == {"4/4", "6/8"} and all(len(m) == 1 for m in drawn)
    untrained.generation_config.meter_prior = {"6/8": 1.0}  # "auto" (the default) reads the model's prior
    try:
        assert all(_metres(tokenizer, compose(s)) == {"6/8"} for s in range(4))
    finally:
        del untrained.generation_config.meter_prior
    with pytest.raises(ValueError, match="meter='7/4'"):
        compose(0, meter="7/4")
    with pytest.raises(ValueError, match="primer"):
        compose(0, meter="3/4", primer=make_midi())


def test_meter_prior_counts_the_opening_metres(tokenizer):
    from symusic import TimeSignature

    def piece(numerator):
        score = to_score(make_midi())
        score.time_signatures = [TimeSignature(0, numerator, 4)]
        return score

    assert meter_prior(tokenizer, [piece(4), piece(4), piece(4), piece(3)]) == {"4/4": 0.75, "3/4": 0.25}


def test_key_prior_counts_the_keys_and_draw_key_draws_by_the_seed():
    from symusic import Note, Score, Track

    from neuroart.music.generation import draw_key, key_prior

    def chord(*pitches):
        score, track = Score(480), Track(program=0)
        track.notes.extend(Note(0, 1920, p, 80) for p in pitches)
        score.tracks.append(track)
        return score

    assert key_prior([chord(60, 64, 67), chord(48, 64, 67, 72), chord(57, 60, 64), chord()]) == {"C": 0.6667,
                                                                                                  "Am": 0.3333}
    prior = {"G": 0.5, "Gm": 0.25, "Bb": 0.25}
    drawn = [draw_key(prior, seed) for seed in range(40)]
    assert drawn == [draw_key(prior, seed) for seed in range(40)] and set(drawn) == set(prior)
    assert 12 <= drawn.count("G") <= 28
    with pytest.raises(ValueError, match="H#"):
        draw_key({"H#": 1.0}, 0)
    with pytest.raises(ValueError, match="key_prior"):
        draw_key({"G": 0}, 0)


def test_key_auto_opens_and_cadences_a_new_piece_in_a_key_drawn_from_the_prior(tokenizer, untrained):
    from neuroart.music.generation import TonalityLogitsProcessor, draw_key
    from neuroart.music.harmony import sonorities

    prior = {"Gm": 0.5, "D": 0.5}
    untrained.generation_config.key_prior = prior  # "auto" (the default) reads the model's prior
    try:
        pieces = [generate_music(untrained, tokenizer, num_bars=3, seed=s, chords=10.0, voices=4)
                  for s in range(8)]  # untrained: a firm steer, against its flat odds
        homes = [piece.settings["home_key"] for piece in pieces]
        assert homes == [draw_key(prior, s) for s in range(8)] and set(homes) == set(prior)
        for piece, home in zip(pieces, homes):
            tonic, minor = parse_key(home)
            triad = {tonic % 12, (tonic + (3 if minor else 4)) % 12, (tonic + 7) % 12}
            chords = sonorities(piece.score)
            assert {p % 12 for p in chords[0][1]} <= triad  # it opens on the tonic triad
            assert {p % 12 for p in chords[-1][1]} <= triad  # and ends on it (the trained model: on its root)
            assert piece.settings["key"] == "auto"
        # None leaves the key to the model; a primer brings its own; a named key opens the piece too.
        for settings in ({"key": None}, {"primer": make_midi()}):
            assert generate_music(untrained, tokenizer, num_bars=1, seed=0, voices=4,
                                  **settings).settings["home_key"] is None
        named = generate_music(untrained, tokenizer, num_bars=2, seed=0, key="A", chords=5.0, voices=4)
        assert {p % 12 for p in sonorities(named.score)[0][1]} <= {9, 1, 4}
    finally:
        del untrained.generation_config.key_prior
    with pytest.raises(ValueError, match="H#"):
        generate_music(untrained, tokenizer, num_bars=1, key="H#")
    # The home key is held from the first note (without one, only once eight notes have set up a key).
    ids = torch.tensor([[tokenizer.vocab[t] for t in ["BOS_None", "Bar_None", "TimeSig_4/4", "Position_0"]]])
    f_sharp, f = tokenizer.vocab["Pitch_66"], tokenizer.vocab["Pitch_65"]
    held = TonalityLogitsProcessor(tokenizer, 2.0, home="G")(ids, torch.zeros(1, len(tokenizer)))
    assert held[0, f] == -2.0 and held[0, f_sharp] == 0
    assert TonalityLogitsProcessor(tokenizer, 2.0)(ids, torch.zeros(1, len(tokenizer)))[0, f] == 0


def test_max_new_tokens_leaves_room_for_the_bars_and_says_when_it_cut_a_piece_short(tokenizer, untrained):
    import warnings

    from neuroart.music.generation import TOKENS_PER_BAR

    with warnings.catch_warnings():  # an untrained model fills its bars with notes: it may still run out
        warnings.simplefilter("ignore")
        piece = generate_music(untrained, tokenizer, num_bars=3, seed=0)
    assert piece.settings["max_new_tokens"] == 3 * TOKENS_PER_BAR
    assert generate_music(untrained, tokenizer, seed=0, max_new_tokens=None).settings["max_new_tokens"] == 512
    with pytest.warns(UserWarning, match="token limit"):
        generate_music(untrained, tokenizer, num_bars=8, seed=0, max_new_tokens=40, density=3)
