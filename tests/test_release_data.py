"""The release recipes' splits of the curated data: deterministic, disjoint by painting and by piece, and the music
split's held-out chorales sorted by whether the model trained on their tune."""

import json

import pytest

from tests.helpers import shared_data_dir

pytest.importorskip("symusic")

from neuroart.training import release_data  # noqa: E402


@pytest.fixture(scope="module")
def chorales():
    folder = shared_data_dir() / "midi" / "bach_chorales"
    if not any(folder.glob("*.mid")):
        pytest.skip(f"no Bach chorales under {folder} (set NEUROART_SHARED_DATA)")
    return folder


def test_chorale_tunes_groups_settings_of_one_tune_and_a_transposed_copy(chorales, tmp_path):
    from symusic import Score

    names = ["riem100_bwv18.mid", "riem126_bwv18.mid",  # BWV 18's chorale in two versions
             "riem021_bwv153.mid", "riem074_bwv244.mid",  # the Passion chorale in BWV 153 and the St Matthew
             "riem019_bwv351.mid", "riem352_bwv312.mid"]  # two other tunes
    score = Score(str(chorales / "riem019_bwv351.mid"))
    copy = tmp_path / "transposed.mid"
    score.shift_pitch(3).dump_midi(str(copy))
    groups = release_data.chorale_tunes([chorales / name for name in names] + [copy])
    by_name = sorted(sorted(path.name for path in group) for group in groups)
    assert by_name == [["riem019_bwv351.mid", "transposed.mid"], ["riem021_bwv153.mid", "riem074_bwv244.mid"],
                       ["riem100_bwv18.mid", "riem126_bwv18.mid"], ["riem352_bwv312.mid"]]


def test_music_split_is_by_piece_and_its_new_tunes_share_no_tune_with_training(chorales, tmp_path):
    summary = release_data.split_music(chorales.parent.parent, tmp_path)
    train = {path.name for path in (tmp_path / "music" / "train").glob("*.mid")}
    val = {path.name for path in (tmp_path / "music" / "val").glob("*.mid")}
    new = {path.name for path in (tmp_path / "music" / "val_new_tunes").glob("*.mid")}
    assert (len(train), len(val)) == (summary["train_pieces"], summary["val_pieces"]) == (251, 28)
    assert not train & val and new < val and new == set(summary["val_new_tune_files"])
    assert set(summary["tune_mates"]) == val - new
    assert all(set(mates) <= train for mates in summary["tune_mates"].values())
    for group in release_data.chorale_tunes(sorted((tmp_path / "music" / "train").glob("*.mid"))
                                            + sorted((tmp_path / "music" / "val_new_tunes").glob("*.mid"))):
        names = {path.name for path in group}
        assert not (names & new and names & train), names
    again = release_data.split_music(chorales.parent.parent, tmp_path)  # remade in place, the same
    assert again == json.loads((tmp_path / "music" / "split.json").read_text()) == summary


def test_music_split_by_tune_holds_out_every_setting_of_a_tune_together(chorales, tmp_path):
    summary = release_data.split_music(chorales.parent.parent, tmp_path, by="tune")
    val = {path.name for path in (tmp_path / "music" / "val").glob("*.mid")}
    assert summary["by"] == "tune" and 28 <= len(val) == summary["val_pieces"] < 40
    assert set(summary["val_new_tune_files"]) == val and not summary["tune_mates"]
    assert summary["train_pieces"] + len(val) == 279
    with pytest.raises(ValueError, match="by='bar' is unknown"):
        release_data.split_music(chorales.parent.parent, tmp_path, by="bar")


def test_painting_split_keeps_each_painting_and_its_crops_on_one_side(tmp_path):
    if not (shared_data_dir() / "paintings" / "whole" / "64").is_dir():
        pytest.skip(f"no paintings under {shared_data_dir()} (set NEUROART_SHARED_DATA)")
    summary = release_data.split_paintings(shared_data_dir(), tmp_path)
    sides = {}
    for side in ("train", "val"):
        for path in (tmp_path / "paintings" / side).rglob("*.jpg"):
            sides.setdefault(release_data.painting_id(path.resolve()), set()).add(side)
    assert all(len(found) == 1 for found in sides.values())
    assert sum("val" in found for found in sides.values()) == summary["val_paintings"]
    assert {path.parent.name for path in (tmp_path / "paintings" / "val").rglob("*.jpg")} == {
        path.parent.name for path in (tmp_path / "paintings" / "train").rglob("*.jpg")}  # every era on both sides
