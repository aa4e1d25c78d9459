"""Music training: MIDI data with bad files, `accelerate launch training/train_music.py` on a folder, a Hub-style
dataset and the embedded music21 default, resuming, and the near-copy check of its samples."""

import json

import pytest

from neuroart import NeuroArtMusicForCausalLM
from neuroart.training.checkpointing import list_checkpoints
from neuroart.training.data import load_midi
from tests.helpers import launch_script, make_midi

pytest.importorskip("miditok")
from symusic import Score  # noqa: E402

from neuroart.music.generation import generate_music, load_tokenizer  # noqa: E402


def test_bad_midi_files_are_skipped_and_counted(tmp_path):
    folder = tmp_path / "midi"
    (folder / "sub").mkdir(parents=True)
    (folder / "good.mid").write_bytes(make_midi(0))
    (folder / "sub" / "good2.midi").write_bytes(make_midi(1))
    (folder / "zero.mid").write_bytes(b"")
    (folder / "header.mid").write_bytes(b"RIFF1234not midi at all")
    (folder / "truncated.mid").write_bytes(make_midi(2)[:30])
    (folder / "drums.mid").write_bytes(make_midi(3, drums=True))
    (folder / "silent.mid").write_bytes(Score(480).dumps_midi())
    (folder / "notes.txt").write_text("hello")
    items, source, counter = load_midi(train_data_dir=str(folder))
    assert sorted(name.split("/")[-1] for name, _ in items) == ["good.mid", "good2.midi"]
    assert counter["empty file"] == 1 and counter["not a MIDI file"] == 1 and counter["not a .mid/.midi file"] == 1
    assert counter["no pitched notes (empty or drums only)"] == 2
    assert counter["corrupt MIDI"] + counter["no pitched notes (empty or drums only)"] == 3


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("music_run")
    folder = root / "midi"
    folder.mkdir()
    for i in range(6):
        (folder / f"{i}.mid").write_bytes(make_midi(i))
    (folder / "broken.mid").write_bytes(b"MThd broken")
    _, log = launch_script("train_music.py", "--train_data_dir", folder, "--output_dir", root / "out",
                           "--max_train_steps", 10, "--checkpointing_steps", 5, "--sample_steps", 5, "--eval_steps", 5,
                           "--hidden_size", 32, "--num_hidden_layers", 1, "--train_batch_size", 4,
                           "--max_seq_length", 64, "--transpose", 1, "--sample_bars", 2)
    return root, log


@pytest.mark.slow
def test_launch_on_a_midi_folder(trained):
    root, log = trained
    out = root / "out"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "README.md", "samples/sample.mid",
                 "samples/sample.png", "samples/step_5.mid"):
        assert (out / name).exists(), name
    assert "kept 6, skipped 1" in log
    metrics = json.loads((out / "training_summary.json").read_text())["metrics"]
    assert metrics["steps"] == 10 and metrics["val_nats_per_token"] > 0 and metrics["val_step"] == 10  # final weights
    assert 0 <= metrics["sample_copy_rate"] <= 1  # the near-copy check against the training pieces
    model = NeuroArtMusicForCausalLM.from_pretrained(out)
    result = generate_music(model, load_tokenizer(out), num_bars=2, max_new_tokens=400, seed=0)
    assert len(result.token_ids) > 0 and result.token_errors == 0
    assert result.score.tracks and result.score.note_num() > 0  # the trained model writes notes that decode


def test_passage_index_finds_a_transposed_copy_and_not_a_new_piece():
    from symusic import Note, Score, Track

    from neuroart.music import PassageIndex

    def piece(pitches, shift=0):
        score, track = Score(480), Track("Soprano")
        for i, pitch in enumerate(pitches):
            track.notes.append(Note(i * 480, 480, pitch + shift, 80))
            track.notes.append(Note(i * 480, 480, pitch + shift - 12, 80))
        score.tracks.append(track)
        return score

    tune = [60, 62, 64, 65, 67, 65, 64, 62, 60, 67, 72, 71]
    index = PassageIndex.from_scores([piece(tune)])
    assert index.copy_rate(piece(tune, shift=5)) == 1.0  # transposed: still a copy
    assert index.copy_rate(piece([60, 61, 63, 66, 70, 75, 69, 64, 62, 61, 59, 58])) == 0.0
    assert index.copy_rate(piece(tune[:4])) == 0.0  # shorter than one passage


def test_a_copy_report_names_the_bars_and_the_index_travels_between_processes(tmp_path):
    """What the CLI and the Space tell a listener: which bars repeat a training piece; the index saved beside the
    weights reads back the same in a fresh process (stable digests, not Python's hash)."""
    import subprocess
    import sys

    from symusic import Note, Score, TimeSignature, Track

    from neuroart.music import PassageIndex

    def piece(pitches):  # one note per beat in 4/4: bar n holds beats 4(n-1) .. 4n-1
        score, track = Score(480), Track("Soprano")
        score.time_signatures.append(TimeSignature(0, 4, 4))
        for i, pitch in enumerate(pitches):
            track.notes.append(Note(i * 480, 480, pitch, 80))
        score.tracks.append(track)
        return score

    new = [60, 61, 63, 66, 70, 75, 69, 64]  # bars 1-2
    learned = [62, 64, 65, 67, 69, 67, 65, 64]  # bars 3-4: a training phrase
    index = PassageIndex.from_scores([piece(learned)])
    score = piece(new + learned + list(reversed(new)))  # 24 beats, 17 passages of 8 onsets
    report = index.report(score)
    assert (report.copied, report.total) == (1, 17) and report.spans == [(8 * 480, 15 * 480)]
    assert report.describe(score) == ("1 of its 17 passages of 8 onsets (6%) repeat a training piece note for note, "
                                      "up to transposition: bars 3-4")
    assert index.report(piece(new)).describe(piece(new)).startswith("none of its 1 passages")
    index.save(tmp_path / "passages.safetensors")
    passage = tuple((p - learned[0],) for p in learned)
    code = ("from neuroart.music import PassageIndex\nfrom neuroart.music.originality import passage_key\n"
            f"print(sorted(PassageIndex.load({str(tmp_path / 'passages.safetensors')!r}).seen), "
            f"passage_key({passage!r}))")
    fresh = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                           env={"PYTHONHASHSEED": "123", "PATH": ""})  # another hash seed: the same digest
    assert fresh.stdout.split() == [str(sorted(index.seen)).strip(), str(next(iter(index.seen)))], fresh.stderr


@pytest.mark.slow
def test_resume_music(trained, tmp_path):
    import shutil

    root, _ = trained
    shutil.copytree(root / "out" / "checkpoints" / "checkpoint-5", tmp_path / "r" / "checkpoints" / "checkpoint-5")
    _, log = launch_script("train_music.py", "--train_data_dir", root / "midi", "--output_dir", tmp_path / "r",
                           "--tokenizer_name_or_path", root / "out", "--max_train_steps", 7, "--hidden_size", 32,
                           "--num_hidden_layers", 1, "--train_batch_size", 4, "--max_seq_length", 64, "--transpose", 1,
                           "--resume_from_checkpoint", "latest", "--sample_bars", 2)
    assert "at step 5" in log
    assert [p.name for p in list_checkpoints(tmp_path / "r")] == ["checkpoint-5", "checkpoint-7"]


@pytest.mark.slow
def test_launch_on_the_music21_default(tmp_path):
    pytest.importorskip("music21")
    _, log = launch_script("train_music.py", "--output_dir", tmp_path / "d", "--max_train_steps", 2,
                           "--max_train_samples", 3, "--hidden_size", 32, "--num_hidden_layers", 1,
                           "--train_batch_size", 2, "--max_seq_length", 64, "--transpose", 0, "--sample_bars", 1,
                           env={"NEUROART_CACHE": str(tmp_path / "cache")})
    assert "embedded music21 Bach chorales (3 converted)" in log
    assert (tmp_path / "d" / "model.safetensors").exists()


@pytest.mark.slow
def test_midi_from_a_local_hub_style_dataset(tmp_path):
    """`--dataset_name` goes through `datasets.load_dataset`; here a local parquet dataset with MIDI bytes."""
    import datasets

    ds = datasets.Dataset.from_dict({"midi": [make_midi(i) for i in range(3)] + [b"junk"]},
                                    features=datasets.Features({"midi": datasets.Value("binary")}))
    (tmp_path / "ds").mkdir()
    ds.to_parquet(str(tmp_path / "ds" / "train.parquet"))
    items, source, counter = load_midi(dataset_name=str(tmp_path / "ds"))
    assert len(items) == 3 and counter["not a MIDI file"] == 1 and "Hub dataset" in source
