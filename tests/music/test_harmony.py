"""The harmony measures (`neuroart.music.harmony`) on hand-written four-part examples."""

import pytest

pytest.importorskip("symusic")

from neuroart.music.harmony import cadence_chord, chord_name, ends_on_cadence, harmony_report, voices  # noqa: E402


def satb(*chords, named=True, beats=1):
    """A Score with one chord (soprano, alto, tenor, bass MIDI pitches) per `beats` quarter notes, 480 tpq."""
    from symusic import Note, Score, Track

    score = Score(480)
    tracks = [Track(name=name if named else "", program=0) for name in ("Soprano", "Alto", "Tenor", "Bass")]
    for i, chord in enumerate(chords):
        for track, pitch in zip(tracks, chord):
            track.notes.append(Note(i * beats * 480, beats * 480, pitch, 80))
    score.tracks.extend(tracks)
    return score


def test_chords_are_named_as_music21_names_them():
    assert chord_name([60, 64, 67]) == (0, "major")
    assert chord_name([57, 60, 64, 69]) == (9, "minor")  # doubled root: still a triad
    assert chord_name([43, 59, 62, 65]) == (7, "dominant seventh")
    assert chord_name([59, 62, 65]) == (11, "diminished")
    assert chord_name([60, 65, 67]) is None  # a suspended fourth
    assert chord_name([60, 62, 64]) is None  # a cluster
    assert chord_name([48, 55, 60]) is None  # an open fifth
    # Incomplete chords count at a cadence: a tripled root with its third, a V7 without its fifth.
    assert cadence_chord([43, 55, 59, 67]) == (7, "major")
    assert cadence_chord([38, 60, 66]) == (2, "dominant seventh")


def ending(score, key):
    """`ends_on_cadence`'s harmonic flags (root position is tested on its own)."""
    return {name: value for name, value in ends_on_cadence(score, key).items()
            if name in ("authentic", "on_tonic", "home")}


def test_a_textbook_cadence_and_a_wrong_ending():
    # I - IV - V7 - I in C major: a plain authentic cadence.
    cadence = satb((64, 60, 55, 48), (65, 60, 57, 53), (65, 62, 59, 43), (64, 60, 55, 48))
    assert ends_on_cadence(cadence, "C") == {"authentic": True, "on_tonic": True, "home": True, "root_position": True,
                                             "bass_from_dominant": True, "opens_in_root_position": True}
    report = harmony_report(cadence, "C")
    assert report["triads_or_sevenths"] == report["onsets"] == 4
    assert report["cadence_authentic"] and report["parallel_fifths_octaves"] == 0 and report["crossing_onsets"] == 0
    # A 4-3 suspension over the dominant does not hide the cadence.
    suspended = satb((64, 60, 55, 48), (72, 65, 60, 43), (71, 65, 62, 43), (72, 64, 55, 48))
    assert ends_on_cadence(suspended, "C")["authentic"]
    # Ending on the dominant (a half cadence) is no authentic ending on the tonic.
    half = satb((64, 60, 55, 48), (65, 60, 57, 53), (67, 62, 59, 43))
    assert ending(half, "C") == {"authentic": False, "on_tonic": False, "home": False}
    # IV - I (plagal) is not authentic, though it ends on the tonic; it opened on F, so it ends away from home.
    plagal = satb((65, 60, 57, 53), (64, 60, 55, 48))
    assert ending(plagal, "C") == {"authentic": False, "on_tonic": True, "home": False}
    # I in C, then a cadence in G (D7 - G): authentic, but not where it began.
    away = satb((64, 60, 55, 48), (66, 62, 57, 50), (67, 62, 59, 43))
    assert ending(away, "C") == {"authentic": True, "on_tonic": False, "home": False}


def test_root_position_and_the_bass_of_the_cadence_are_read():
    # Opening on C over E (a sixth chord), G7 in root position, ending on C over G (a six-four): no root position,
    # and the bass stays on G instead of falling to C.
    inverted = satb((64, 60, 55, 52), (65, 62, 59, 43), (72, 64, 60, 55))
    flags = ends_on_cadence(inverted, "C")
    assert flags["authentic"] and not flags["root_position"] and not flags["bass_from_dominant"]
    assert not flags["opens_in_root_position"]
    # V6 - I: the bass rises from the leading note (B2 - C3), not from the dominant.
    leading = satb((64, 60, 55, 48), (62, 55, 55, 47), (60, 55, 52, 48))
    assert ends_on_cadence(leading, "C")["root_position"] and not ends_on_cadence(leading, "C")["bass_from_dominant"]
    # The bass falling a fifth (G3 - C3) counts as rising a fourth does; a repeated final bass note is looked past.
    falling = satb((64, 60, 55, 48), (67, 62, 59, 55), (64, 60, 55, 48), (64, 60, 55, 48))
    assert ends_on_cadence(falling, "C")["bass_from_dominant"]


def test_parallel_fifths_and_octaves_are_counted_and_contrary_motion_is_not():
    # C major to D minor with the bass and tenor a fifth apart both times, moving up together: one parallel fifth
    # (tenor-bass), and soprano-bass octaves C-C to D-D: one parallel octave.
    parallel = satb((72, 64, 55, 48), (74, 65, 57, 50))
    report = harmony_report(parallel)
    assert report["voice_leading_steps"] == 1 and report["parallel_fifths_octaves"] == 2
    # The same chords in contrary motion: none.
    contrary = satb((72, 64, 55, 48), (69, 65, 62, 50))
    assert harmony_report(contrary)["parallel_fifths_octaves"] == 0
    # A held fifth (no motion) is no parallel.
    held = satb((72, 64, 55, 48), (72, 64, 55, 48))
    assert harmony_report(held)["parallel_fifths_octaves"] == 0


def test_a_voice_crossing_and_notes_out_of_range():
    crossing = satb((72, 64, 55, 48), (67, 69, 60, 48))  # the alto above the soprano on beat 2
    report = harmony_report(crossing)
    assert report["crossing_onsets"] == 1 and report["named_voices"]
    low = satb((72, 64, 55, 30))  # a bass far below E2
    assert harmony_report(low)["out_of_range_notes"] == 1
    # One unnamed texture is split by height at each onset: S, A, T, B from the top, so it cannot cross.
    from symusic import Score, Track

    merged = Score(480)
    track = Track(program=0)
    for part in crossing.tracks:
        track.notes.extend(part.notes)
    merged.tracks.append(track)
    lines = voices(merged)
    assert [n.pitch for n in lines["Soprano"]] == [72, 69] and [n.pitch for n in lines["Bass"]] == [48, 48]
    assert harmony_report(merged)["crossing_onsets"] == 0 and not harmony_report(merged)["named_voices"]


def test_each_voice_has_a_register_and_the_bass_its_leaps():
    from neuroart.music.harmony import pool

    # The bass goes C3, G2 (a fourth down: a step of the measure's kind, not a leap), then C3-A3 (a sixth up).
    piece = satb((72, 64, 55, 48), (71, 62, 55, 43), (72, 64, 55, 48), (72, 64, 60, 57))
    report = harmony_report(piece)
    assert report["bass_steps"] == 3 and report["bass_leaps"] == 1
    pooled = pool([report, harmony_report(satb((76, 67, 60, 48)))])
    assert pooled["mean_pitch"] == {"Soprano": 72.6, "Alto": 64.2, "Tenor": 57.0, "Bass": 48.8}
    assert pooled["bass_leap_share"] == round(1 / 3, 3)


def test_passing_notes_and_notes_struck_again_between_beats():
    from symusic import Note, Score, Track

    # Soprano C5, D5 on the half beat, E5: a passing note. Alto E4, E4 again on the half beat: struck again.
    score = Score(480)
    soprano, alto = Track(name="Soprano"), Track(name="Alto")
    soprano.notes.extend([Note(0, 240, 72, 80), Note(240, 240, 74, 80), Note(480, 480, 76, 80)])
    alto.notes.extend([Note(0, 240, 64, 80), Note(240, 240, 64, 80), Note(480, 480, 67, 80)])
    tenor, bass = Track(name="Tenor"), Track(name="Bass")
    tenor.notes.append(Note(0, 960, 55, 80))
    bass.notes.extend([Note(0, 480, 48, 80), Note(480, 480, 48, 80)])  # repeated on the beat: not counted
    score.tracks.extend([soprano, alto, tenor, bass])
    report = harmony_report(score)
    assert report["passing_notes"] == 1 and report["restruck_off_beat"] == 1


# ------------------------------------------------------------------------------------------------------------------
# The decoding that steers towards them (`neuroart.music.generation`)
# ------------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tokenizer():
    from neuroart.music.generation import build_tokenizer

    return build_tokenizer()


def penalties(processor, tokenizer, tokens):
    """{pitch: nats added} for every Pitch token after reading `tokens` (token names)."""
    import torch

    ids = torch.tensor([[tokenizer.vocab[t] for t in ["BOS_None", *tokens]]])
    scores = processor(ids, torch.zeros(1, len(tokenizer)))
    return {int(name.split("_")[1]): float(scores[0, i]) for name, i in tokenizer.vocab.items()
            if name.startswith("Pitch_")}


def notes(*pitches, duration="Duration_1.0.8"):
    return [t for p in pitches for t in ("Program_0", f"Pitch_{p}", "Velocity_87", duration)]


def test_chord_steering_keeps_an_onset_a_triad_or_seventh(tokenizer):
    from neuroart.music.generation import ChordLogitsProcessor

    start = ["Bar_None", "TimeSig_4/4", "Position_0"]
    two = penalties(ChordLogitsProcessor(tokenizer, 3.0), tokenizer, start + notes(48, 64))  # C and E sound
    assert two[55] == 0 and two[58] == 0 and two[57] == 0  # G (C major), B-flat (C7), A (A minor)
    assert two[50] == -3.0 and two[49] == -3.0  # D (an added second), C-sharp: no chord holds them with C and E
    three = penalties(ChordLogitsProcessor(tokenizer, 3.0), tokenizer, start + notes(48, 55, 64))  # C, G, E
    assert three[72] == 0 and three[70] == 0 and three[69] == 0  # a doubled C, C7, Am7: complete chords
    assert three[62] == -3.0  # D: the fourth voice may not make a cluster
    # A note held from the previous onset counts: a half-note C under beat 2.
    held = penalties(ChordLogitsProcessor(tokenizer, 3.0), tokenizer,
                     start + notes(48, duration="Duration_2.0.8") + ["Position_8"] + notes(64))
    assert held[55] == 0 and held[50] == -3.0


def test_the_ending_is_steered_to_dominant_then_tonic(tokenizer):
    from neuroart.music.generation import CadenceLogitsProcessor

    bar = ["Bar_None", "TimeSig_4/4"]
    in_middle = penalties(CadenceLogitsProcessor(tokenizer, 5.0, num_bars=3, key="C"), tokenizer,
                          bar + ["Position_0"] + notes(60))
    assert set(in_middle.values()) == {0.0}  # bar 1 of 3: free
    dominant = penalties(CadenceLogitsProcessor(tokenizer, 5.0, num_bars=3, key="C"), tokenizer,
                         bar + ["Position_0"] + notes(60) + bar + ["Position_16"])
    assert dominant[43] == dominant[55] == 0 and dominant[59] == dominant[62] == -5.0  # G7 over G: its bass first
    upper = penalties(CadenceLogitsProcessor(tokenizer, 5.0, num_bars=3, key="C"), tokenizer,
                      bar + ["Position_0"] + notes(60) + bar + ["Position_16"] + notes(43))
    assert upper[67] == upper[71] == upper[62] == upper[65] == 0  # G7: G, B, D, F
    assert upper[60] == upper[64] == -5.0
    tonic = penalties(CadenceLogitsProcessor(tokenizer, 5.0, num_bars=3, key="Am"), tokenizer,
                      bar + ["Position_0"] + notes(60) + bar + bar + ["Position_0"] + notes(45))
    assert tonic[57] == tonic[60] == tonic[64] == 0 and tonic[62] == tonic[68] == -5.0  # A minor's triad


def test_the_final_chord_is_in_root_position(tokenizer):
    """The final chord's first note, its bass (an onset's notes come from the bottom up), is the tonic at E3 or
    below; a note under it must be the tonic too. In a harmonisation the bass goes under the melody's last note,
    still to come."""
    from neuroart.music.generation import CadenceLogitsProcessor

    last = ["Bar_None", "TimeSig_4/4", "Position_0"] + notes(60) + ["Bar_None", "TimeSig_4/4", "Position_0"]
    bass = penalties(CadenceLogitsProcessor(tokenizer, 5.0, num_bars=2, key="Am"), tokenizer, last)
    assert bass[45] == bass[33] == 0 and bass[48] == bass[52] == -5.0  # A, not C or E (a 6/4)
    assert bass[57] == -5.0  # A3: a final bass lies at E3 or below
    above = penalties(CadenceLogitsProcessor(tokenizer, 5.0, num_bars=2, key="Am"), tokenizer, last + notes(45))
    assert above[52] == above[60] == above[57] == 0 and above[40] == -5.0 and above[33] == 0  # E2 under A2: no
    # A harmonisation ending on C5 in A minor: the bass is an A below it.
    melody = {(1, 0): 72}
    harmonised = CadenceLogitsProcessor(tokenizer, 5.0, key="Am", zones=((0, 16), (1, 0)), melody=melody)
    under = penalties(harmonised, tokenizer, last)
    assert under[45] == under[33] == 0 and under[57] == -5.0  # A3: too high for a final bass
    assert under[64] == under[81] == -10.0  # E4 (not the root), A5 (over the melody), both too high: twice
    # The opening chord's bass is the tonic too, in any octave.
    opening = penalties(CadenceLogitsProcessor(tokenizer, 5.0, num_bars=4, opening="Am"), tokenizer,
                        ["Bar_None", "TimeSig_4/4", "Position_0"])
    assert opening[45] == opening[57] == 0 and opening[48] == -5.0


def test_the_final_chord_of_a_free_piece_is_held_to_the_end(tokenizer):
    """In the last bar of a 3-bar piece, a note struck on beat 1 is held for the bar's 4 beats: shorter lengths lose
    the strength; on beat 3 two beats are enough. Before the cadence lengths are the model's."""
    import torch

    from neuroart.music.generation import CadenceLogitsProcessor

    def lengths(tokens):
        ids = torch.tensor([[tokenizer.vocab[t] for t in ["BOS_None", *tokens]]])
        scores = CadenceLogitsProcessor(tokenizer, 5.0, num_bars=3, key="C")(ids, torch.zeros(1, len(tokenizer)))
        return {name: float(scores[0, i]) for name, i in tokenizer.vocab.items() if name.startswith("Duration_")}

    bar, note = ["Bar_None", "TimeSig_4/4"], ["Program_0", "Pitch_60", "Velocity_87"]
    last = lengths(bar + ["Position_0"] + notes(60) + bar + ["Position_0"] + notes(67) + bar + ["Position_0"] + note)
    assert last["Duration_1.0.8"] == last["Duration_3.4.8"] == -5.0
    assert last["Duration_4.0.4"] == last["Duration_6.0.4"] == 0
    third = lengths(bar + ["Position_0"] + notes(60) + bar + ["Position_0"] + notes(67) + bar + ["Position_16"] + note)
    assert third["Duration_1.0.8"] == -5.0 and third["Duration_2.0.8"] == 0
    first = lengths(bar + ["Position_0"] + note)
    assert first["Duration_1.0.8"] == first["Duration_0.4.8"] == 0


def test_a_new_piece_opens_on_the_tonic_triad(tokenizer):
    from neuroart.music.generation import CadenceLogitsProcessor

    start = ["Bar_None", "TimeSig_4/4", "Position_0"]
    before = penalties(CadenceLogitsProcessor(tokenizer, 5.0, num_bars=4, opening="Gm"), tokenizer, start)
    assert before[43] == before[55] == 0 and before[58] == before[62] == -5.0  # in root position: G in the bass
    bass = penalties(CadenceLogitsProcessor(tokenizer, 5.0, num_bars=4, opening="Gm"), tokenizer, start + notes(43))
    assert bass[55] == bass[58] == bass[62] == bass[67] == 0  # G minor's triad: G, B-flat, D
    assert bass[59] == bass[60] == bass[57] == -5.0  # B natural (G major's third), C, A
    # Three voices without the third: the fourth must be it.
    bare = penalties(CadenceLogitsProcessor(tokenizer, 5.0, num_bars=4, opening="Gm"), tokenizer,
                     start + notes(43, 55, 62))
    assert bare[58] == bare[70] == 0 and bare[67] == -5.0
    # The next onset is the model's again; and without `opening` the first chord is free.
    after = penalties(CadenceLogitsProcessor(tokenizer, 5.0, num_bars=4, opening="Gm"), tokenizer,
                      start + notes(43, 58, 62, 67) + ["Position_8"])
    assert set(after.values()) == {0.0}
    free = penalties(CadenceLogitsProcessor(tokenizer, 5.0, num_bars=4), tokenizer, start)
    assert set(free.values()) == {0.0}


def test_parallel_fifths_are_steered_away(tokenizer):
    from neuroart.music.generation import VoiceLeadingLogitsProcessor

    # C3-G3 on beat 1, then D3 on beat 2: A3 would move in parallel fifths with it, F3 or B3 would not.
    tokens = ["Bar_None", "TimeSig_4/4", "Position_0"] + notes(48, 55) + ["Position_8"] + notes(50)
    after = penalties(VoiceLeadingLogitsProcessor(tokenizer, 4.0), tokenizer, tokens)
    assert after[57] == -4.0 and after[53] == 0 and after[59] == 0
    assert after[62] == 0  # D4 over D3 is an octave, but its predecessor (the nearest, G3) was a fifth over C3


def test_parallels_are_caught_whatever_order_an_onsets_notes_come_in(tokenizer):
    """The tokenizer writes an onset's short notes first: here the alto and tenor before the bass. The bass still
    takes its voice from the bottom: after C#3-F4-G#4-F5, with E-flat 4 and B-flat 4 written, E-flat 3 moves in
    parallel fifths with the alto (G#4 -> B-flat 4 over C#3 -> E-flat 3); D3 does not."""
    from neuroart.music.generation import VoiceLeadingLogitsProcessor

    tokens = (["Bar_None", "TimeSig_4/4", "Position_0"] + notes(49, 65, 68, 77) + ["Position_8"]
              + notes(63, 70, duration="Duration_0.4.8"))
    after = penalties(VoiceLeadingLogitsProcessor(tokenizer, 4.0), tokenizer, tokens)
    assert after[51] == -4.0 and after[50] == 0 and after[46] == 0


def test_a_keyboard_texture_follows_nearest_lines_instead_of_matching_every_voice():
    """Beyond six voices the matchings grow combinatorially (twelve voices, five moving: 792 ways to choose theirs):
    each note follows its nearest line instead."""
    import torch

    from neuroart.music.generation import VoiceLeadingLogitsProcessor

    candidates = torch.arange(40, 90)
    assert VoiceLeadingLogitsProcessor._predecessors(list(range(48, 84, 3)), [], [50, 55, 60, 64, 67],
                                                     candidates) is None
    before, moved = VoiceLeadingLogitsProcessor._predecessors([48, 55, 64, 72], [], [50], candidates)
    assert moved.shape == (50, 1) and before[candidates.tolist().index(74)] == 72


def test_the_last_voice_is_checked_against_the_voices_it_gives_the_others(tokenizer):
    """G2-D4-G4-B4, then B-flat 3, F4 and A4 written: a top voice (D5) would make them bass, tenor and alto, and
    B-flat 3 -> F4 parallel fifths with G2 -> D4 below it; a new bass (E3) under them makes them tenor, alto and
    soprano instead, and nothing moves in parallel."""
    from neuroart.music.generation import VoiceLeadingLogitsProcessor

    tokens = ["Bar_None", "TimeSig_4/4", "Position_0"] + notes(43, 62, 67, 71) + ["Position_8"] + notes(58, 65, 69)
    after = penalties(VoiceLeadingLogitsProcessor(tokenizer, 4.0), tokenizer, tokens)
    assert after[74] == -4.0 and after[52] == 0


def test_a_harmonised_melody_keeps_the_top_voice(tokenizer):
    """D3-F4-B-flat 4 under the melody's D5, the tenor's F4 held; on beat 2 the melody's C5 is due. A bass C3 moves
    in parallel octaves with it (D-D to C-C). Matched by least motion alone, C5 could as well have taken the alto's
    B-flat 4 (a tie) and hidden it; the melody keeps the top voice, so C3 loses the strength and B-flat 2 does not."""
    from neuroart.music.generation import VoiceLeadingLogitsProcessor

    tokens = (["Bar_None", "TimeSig_4/4", "Position_0"] + notes(50, 70, 74) + notes(65, duration="Duration_2.0.8")
              + ["Position_8"])
    melody = {(0, 0): 74, (0, 8): 72}
    after = penalties(VoiceLeadingLogitsProcessor(tokenizer, 4.0, melody=melody), tokenizer, tokens)
    assert after[48] == -4.0 and after[46] == 0
    assert after[65] == 0 and after[69] == 0  # the alto may step down under it


def test_the_last_voice_of_a_high_chord_is_steered_into_the_bass_range(tokenizer):
    """E5, C5 and G4 sound: the fourth note is the bass, so it belongs in E2-C4 (C4 and G3 free; D4, a bass
    above C4, and F5, which would make G4 the bass, lose the strength); a melody's E5 still to come counts as a
    voice; and the first note of an onset is free wherever some voice can sing it."""
    from neuroart.music.generation import RangeLogitsProcessor

    start = ["Bar_None", "TimeSig_4/4", "Position_0"]
    last = penalties(RangeLogitsProcessor(tokenizer, 3.0), tokenizer, start + notes(76, 72, 67))
    assert last[60] == last[55] == last[40] == 0
    assert last[62] == last[64] == -3.0 and last[38] == -3.0
    assert last[77] == -9.0  # F5 on top: E5, C5 and G4 under it, out of the alto's, tenor's and bass's ranges
    due = penalties(RangeLogitsProcessor(tokenizer, 3.0, melody={(0, 0): 76}), tokenizer, start + notes(72, 67))
    assert due == last
    first = penalties(RangeLogitsProcessor(tokenizer, 3.0), tokenizer, start)
    assert first[40] == first[62] == first[79] == 0 and first[39] == first[80] == -3.0
    # A note held from the beat before counts as a voice (the half-note G4 under beat 2).
    held = penalties(RangeLogitsProcessor(tokenizer, 3.0), tokenizer,
                     start + notes(67, duration="Duration_2.0.8") + notes(76, 72) + ["Position_8"] + notes(76, 72))
    assert held[60] == 0 and held[62] == -3.0


def test_a_note_is_not_struck_again_off_the_beat(tokenizer):
    """Eighth notes C4 and E4 end on the half beat: striking either again there loses the strength, a passing D4 or
    a held-through G does not; on the beat a repeated note is free."""
    from neuroart.music.generation import RestrikeLogitsProcessor

    start = ["Bar_None", "TimeSig_4/4", "Position_0"]
    eighths = start + notes(60, 64, duration="Duration_0.4.8") + notes(43, duration="Duration_1.0.8")
    off = penalties(RestrikeLogitsProcessor(tokenizer, 3.0), tokenizer, eighths + ["Position_4"])
    assert off[60] == off[64] == -3.0 and off[62] == off[43] == off[72] == 0
    on = penalties(RestrikeLogitsProcessor(tokenizer, 3.0), tokenizer, start + notes(60, 64) + ["Position_8"])
    assert set(on.values()) == {0.0}
    # Once the onset's notes are written the rule still holds for the next one.
    later = penalties(RestrikeLogitsProcessor(tokenizer, 3.0), tokenizer, eighths + ["Position_4"] + notes(62))
    assert later[60] == -3.0 and later[62] == 0


def test_range_costs_place_the_voices_still_to_come_where_they_help():
    import torch

    from neuroart.music.texture_process import RangeLogitsProcessor

    candidates = torch.tensor([38, 50, 62, 70, 82])
    processor = RangeLogitsProcessor.__new__(RangeLogitsProcessor)  # the ranges alone, no tokenizer
    processor.low, processor.high = [60, 55, 48, 40], [79, 74, 67, 60]
    # One voice so far (C5): B-flat 4 is out of the tenor's range but may be the alto, D4 the tenor or the alto;
    # below E2 or above G5 no voice sings.
    assert processor.costs([72], candidates).tolist() == [1, 0, 0, 0, 1]
    # Five notes: the fifth joins the bass, so both lowest must be bass notes.
    assert processor.costs([76, 72, 67, 48], candidates).tolist() == [1, 0, 1, 2, 4]


def test_free_chorales_come_back_in_four_named_voices_and_cadence(tokenizer):
    import torch

    from neuroart import NeuroArtMusicForCausalLM
    from neuroart.music.generation import generate_music
    from neuroart.music.harmony import VOICES
    from tests.helpers import tiny_music_config

    torch.manual_seed(0)
    config = tiny_music_config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                               bos_token_id=tokenizer["BOS_None"], eos_token_id=tokenizer["EOS_None"])
    model = NeuroArtMusicForCausalLM(config).eval()
    score = generate_music(model, tokenizer, num_bars=2, seed=0, voices=4, max_new_tokens=400).score
    assert [t.name for t in score.tracks] == [v for v in VOICES if any(t.name == v for t in score.tracks)]
    assert {t.name for t in score.tracks} <= set(VOICES) and len(score.tracks) >= 2
    # Without a voices cap (e.g. a piano primer's texture) the piece stays as the tokenizer decodes it.
    plain = generate_music(model, tokenizer, num_bars=2, seed=0, voices=None, max_new_tokens=400).score
    assert not {t.name for t in plain.tracks} & set(VOICES)


def test_steered_voices_stay_in_their_ranges_and_a_primer_keeps_its_own_register(tokenizer):
    """An untrained model writes pitches anywhere: the chord steering alone leaves about three quarters of a free
    piece's notes and a third of a harmonisation's outside the SATB ranges. With the range steering (on with
    `chords`) they stay in them; after a primer, whose register is the user's, it is off."""
    import torch

    from neuroart import NeuroArtMusicForCausalLM
    from neuroart.music.generation import generate_music
    from neuroart.music.harmony import harmony_report, pool
    from tests.helpers import chorale_tune, make_midi, tiny_music_config

    torch.manual_seed(0)
    config = tiny_music_config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                               bos_token_id=tokenizer["BOS_None"], eos_token_id=tokenizer["EOS_None"])
    model = NeuroArtMusicForCausalLM(config).eval()
    free = [harmony_report(generate_music(model, tokenizer, num_bars=2, seed=seed, voices=4, chords=5.0, key="C",
                                          max_new_tokens=400).score) for seed in range(4)]
    set_ = [harmony_report(generate_music(model, tokenizer, primer=chorale_tune(), harmonize=True, seed=seed,
                                          chords=5.0).score) for seed in range(4)]
    assert pool(free)["out_of_range_share"] <= 0.05 and pool(set_)["out_of_range_share"] <= 0.05
    primed = [harmony_report(generate_music(model, tokenizer, primer=make_midi(3, bars=1), num_bars=2, seed=seed,
                                            voices=4, chords=5.0, key="C", max_new_tokens=400).score)
              for seed in range(4)]
    assert pool(primed)["out_of_range_share"] > 0.2


def test_harmonisations_keep_four_voices_and_a_full_final_chord(tokenizer):
    """Even an untrained model writes at most three notes under the melody at any moment (held ones count), and the
    final chord sounds in all four voices."""
    import torch

    from neuroart import NeuroArtMusicForCausalLM
    from neuroart.music.generation import generate_music
    from neuroart.music.harmony import sonorities
    from tests.helpers import check_harmonisation, chorale_tune, tiny_music_config

    torch.manual_seed(0)
    config = tiny_music_config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                               bos_token_id=tokenizer["BOS_None"], eos_token_id=tokenizer["EOS_None"])
    model = NeuroArtMusicForCausalLM(config).eval()
    melody = chorale_tune()
    for seed in range(4):
        score = generate_music(model, tokenizer, primer=melody, harmonize=True, seed=seed).score
        check_harmonisation(score, melody)
        chords = sonorities(score)
        assert max(len(pitches) for _, pitches in chords) <= 4
        assert len(chords[-1][1]) == 4, chords[-1]


def test_a_harmonisation_holds_its_final_chord_under_the_melodys_last_note(tokenizer):
    """With the cadence on, the lower voices strike the final chord with the melody's last note and hold it to the
    melody's end: nothing moves under the last note (Bach: 26 of 28 held-out chorales; the release before: 8)."""
    import torch

    from neuroart import NeuroArtMusicForCausalLM
    from neuroart.music.generation import generate_music
    from tests.helpers import chorale_tune, tiny_music_config

    torch.manual_seed(0)
    config = tiny_music_config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                               bos_token_id=tokenizer["BOS_None"], eos_token_id=tokenizer["EOS_None"])
    model = NeuroArtMusicForCausalLM(config).eval()
    for seed in range(4):
        score = generate_music(model, tokenizer, primer=chorale_tune(), harmonize=True, seed=seed, chords=5.0).score
        last = next(t for t in score.tracks if t.name == "Soprano").notes[-1]
        lower = [n for t in score.tracks if t.name != "Soprano" for n in t.notes]
        assert all(n.time <= last.time for n in lower)
        final = [n for n in lower if n.time == last.time]
        assert final and all(n.time + n.duration >= last.time + last.duration for n in final)


def test_a_melody_cadences_on_the_chord_its_ending_allows():
    """The last note as the root when a note before it fits that root's dominant seventh; a melody that falls a
    half step to its end (F-E) cadences on the chord it ends on as a third (G7-C); a repeated last note cadences
    on its first sounding."""
    from neuroart.music.cadence_process import melody_cadence

    falling_fifth = {(0, 0): 67, (0, 8): 62, (1, 0): 60}  # G, D, C: D is V7's fifth over C
    assert melody_cadence(falling_fifth) == (((0, 8), (1, 0)), "C", True)
    phrygian = {(0, 0): 67, (0, 8): 65, (1, 0): 64}  # G, F, E: no dominant of E holds F; G7 of C does
    assert melody_cadence(phrygian) == (((0, 8), (1, 0)), "C", False)
    repeated = {(0, 0): 70, (0, 8): 69, (1, 0): 69}  # B-flat, A, A: C7 of F, landing on the first A
    assert melody_cadence(repeated) == (((0, 0), (0, 8)), "F", False)
    assert melody_cadence({(0, 0): 60}) == (None, None, False)


def test_a_melody_opens_on_the_tonic_when_its_first_note_allows():
    from neuroart.music.cadence_process import melody_opening

    assert melody_opening({(0, 8): 64, (0, 0): 67, (1, 0): 60}, "C") == "C"  # G first: the fifth of C
    assert melody_opening({(0, 0): 70, (0, 8): 69}, "Gm") == "Gm"  # B-flat: the third of G minor
    assert melody_opening({(0, 0): 71}, "Gm") is None  # B natural: not in G minor's triad
    assert melody_opening({(0, 0): 62, (0, 8): 60}, "C") is None  # D: the model chooses (V, or ii)
    assert melody_opening({}, "C") is None
    # The chord the setting will close on comes first: B opens an E-major (or minor) close, not G's tonic ...
    assert melody_opening({(0, 0): 71}, "G", final="E", either_third=True) == "Em"  # in G major, E minor
    # ... where the first note belongs to it; else the key's tonic does.
    assert melody_opening({(0, 0): 67}, "C", final="A") == "C"


def test_a_harmonisation_opens_on_the_tonic_and_ends_where_it_began(tokenizer):
    import torch

    from neuroart import NeuroArtMusicForCausalLM
    from neuroart.music.generation import generate_music
    from neuroart.music.harmony import cadence_chord, sonorities
    from tests.helpers import chorale_tune, tiny_music_config

    torch.manual_seed(0)
    config = tiny_music_config(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                               bos_token_id=tokenizer["BOS_None"], eos_token_id=tokenizer["EOS_None"])
    model = NeuroArtMusicForCausalLM(config).eval()
    for seed in range(3):  # a G-major tune that opens and ends on G: so does its setting, even by a random model
        setting = generate_music(model, tokenizer, primer=chorale_tune(), harmonize=True, seed=seed, chords=5.0).score
        chords = sonorities(setting)
        # (a random model may write fewer than four voices: the opening's notes are G major's, over a G)
        assert {p % 12 for p in chords[0][1]} <= {7, 11, 2} and chords[0][1][0] % 12 == 7
        assert cadence_chord(chords[-1][1]).root == 7
