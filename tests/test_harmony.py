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


def test_a_textbook_cadence_and_a_wrong_ending():
    # I - IV - V7 - I in C major: a plain authentic cadence.
    cadence = satb((64, 60, 55, 48), (65, 60, 57, 53), (65, 62, 59, 43), (64, 60, 55, 48))
    assert ends_on_cadence(cadence, "C") == {"authentic": True, "on_tonic": True}
    report = harmony_report(cadence, "C")
    assert report["triads_or_sevenths"] == report["onsets"] == 4
    assert report["cadence_authentic"] and report["parallel_fifths_octaves"] == 0 and report["crossing_onsets"] == 0
    # A 4-3 suspension over the dominant does not hide the cadence.
    suspended = satb((64, 60, 55, 48), (72, 65, 60, 43), (71, 65, 62, 43), (72, 64, 55, 48))
    assert ends_on_cadence(suspended, "C")["authentic"]
    # Ending on the dominant (a half cadence) is no authentic ending on the tonic.
    half = satb((64, 60, 55, 48), (65, 60, 57, 53), (67, 62, 59, 43))
    assert ends_on_cadence(half, "C") == {"authentic": False, "on_tonic": False}
    # IV - I (plagal) is not authentic, though it ends on the tonic.
    plagal = satb((65, 60, 57, 53), (64, 60, 55, 48))
    assert ends_on_cadence(plagal, "C") == {"authentic": False, "on_tonic": True}


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
