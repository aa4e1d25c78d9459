"""The `neuroart` command line: quickstart on the embedded defaults (tiny budget), generate, check-poem."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT, wait_for_page

pytestmark = pytest.mark.slow  # subprocesses end to end: `make test-fast` leaves them out



def cli(*args, cwd=None, check=True):
    result = subprocess.run([sys.executable, "-m", "neuroart.cli", *map(str, args)], capture_output=True, text=True,
                            cwd=cwd, timeout=900, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if check and result.returncode != 0:
        pytest.fail(f"neuroart {' '.join(map(str, args))} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


@pytest.fixture(scope="module")
def models(quickstart_models):
    return quickstart_models


def test_quickstart_trains_three_loadable_models(models):
    report = json.loads((models / "quickstart.json").read_text())
    assert all(info["ok"] for info in report.values()) and len(report) == 3
    for name in ("neuroart-gan", "neuroart-music", "neuroart-poetry"):
        assert (models / name / "model.safetensors").exists() and (models / name / "README.md").exists()


def test_generate_each_kind(models, tmp_path):
    cli("generate", "gan", "--model", models / "neuroart-gan", "--num_images", 2, "--out", tmp_path)
    from PIL import Image

    painting = Image.open(tmp_path / "painting_0_1.png")
    assert painting.text["AI-generated"] == "true"
    out = cli("generate", "gan", "--model", models / "neuroart-gan", "--num_images", 2, "--style", "circles",
              "--walk_to", 5, "--frames", 4, "--nearest", "--out", tmp_path)
    assert (tmp_path / "walk_0_5.png").exists() and "nearest training thumbnails" in out.stdout
    assert "not a style" in cli("generate", "gan", "--model", models / "neuroart-gan", "--style", "cubism",
                                check=False).stderr
    cli("generate", "music", "--model", models / "neuroart-music", "--bars", 1, "--key", "C", "--out", tmp_path)
    assert (tmp_path / "music_0.mid").exists() and (tmp_path / "music_0.wav").exists()
    out = cli("generate", "poetry", "--model", models / "neuroart-poetry", "--form", "五言绝句", "--acrostic", "春风明月",
              "--out", tmp_path)
    lines = out.stdout.strip().split("\n")
    assert "".join(line[0] for line in lines[-4:]) == "春风明月"
    assert "AI-generated" in next(Path(tmp_path).glob("poem_*.txt")).read_text()


def test_a_painting_that_copies_a_training_image_is_flagged(tmp_path):
    """Where the painter ships its training thumbnails, `neuroart generate gan` flags a near-copy (here: the release
    painter with an index made of its own painting for seed 3) and its manifest records each painting's distance."""
    import shutil

    import torch

    from neuroart import NeuroArtGANModel
    from neuroart.gan import save_nearest_index

    release = REPO_ROOT / "releases" / "neuroart-gan"
    if not (release / "model.safetensors").exists():
        pytest.skip("no painter release in releases/ (make release-gan)")
    model_dir = tmp_path / "painter"
    shutil.copytree(release, model_dir)
    painted = NeuroArtGANModel.from_pretrained(model_dir).generate_images(1, seed=3, output_type="pt")  # (1, C, H, W)
    save_nearest_index((painted * 255).round().to(torch.uint8), model_dir / "nearest_index.safetensors")
    flagged = cli("generate", "gan", "--model", model_dir, "--seed", 3, "--num_images", 1, "--out", tmp_path / "a")
    assert "painting 0 is a near-copy of a training image" in flagged.stderr
    bulk = cli("generate", "gan", "--model", model_dir, "--seed", 2, "--num", 2, "--out", tmp_path / "b")
    assert "painting_3.png is a near-copy" in bulk.stderr and "painting_2.png" not in bulk.stderr
    manifest = [json.loads(line) for line in (tmp_path / "b" / "manifest.jsonl").read_text().splitlines()]
    distances = {record["seed"]: record["nearest_training_rms"] for record in manifest}
    assert distances[3] < 0.01 < distances[2]


def test_a_keyword_that_cannot_be_placed_is_reported(models, tmp_path):
    result = cli("generate", "poetry", "--model", models / "neuroart-poetry", "--form", "五言绝句", "--keywords",
                 "春江花月夜长相思", "--out", tmp_path)
    assert "note: keyword 春江花月夜长相思: longer than a line" in result.stderr


def test_a_line_copied_from_the_training_poems_is_reported(models, tmp_path):
    """The training lines shipped beside the weights (`poem_lines.txt.gz`) flag a line the poet copied verbatim."""
    import shutil

    from neuroart.poetry import LineIndex

    model = tmp_path / "poet"
    shutil.copytree(models / "neuroart-poetry", model)
    first = cli("generate", "poetry", "--model", model, "--form", "五言绝句", "--out", tmp_path / "a")
    line = LineIndex.normalise(first.stdout.strip().split("\n")[-3])  # the poem's second line
    LineIndex([line]).save(model / "poem_lines.txt.gz")  # as if the poet had read it in training
    again = cli("generate", "poetry", "--model", model, "--form", "五言绝句", "--out", tmp_path / "b")
    assert again.stdout == first.stdout and f"note: found verbatim in the training poems: {line}" in again.stderr
    (model / "poem_lines.txt.gz").unlink()  # a model without the index writes as ever, unflagged
    assert "found verbatim" not in cli("generate", "poetry", "--model", model, "--form", "五言绝句", "--out",
                                       tmp_path / "c").stderr


def test_a_passage_copied_from_the_training_pieces_is_reported(models, tmp_path):
    """The training passages shipped beside the weights (`passage_index.safetensors`, written by train_music.py)
    tell the listener which bars of a piece repeat a training piece; the manifest counts them."""
    import shutil

    from symusic import Score

    from neuroart.music import PASSAGE_INDEX_FILE, PassageIndex

    model = tmp_path / "composer"
    shutil.copytree(models / "neuroart-music", model)
    assert (model / PASSAGE_INDEX_FILE).is_file()  # the training script ships it
    args = ("generate", "music", "--model", model, "--bars", 8, "--midi_only")
    cli(*args, "--out", tmp_path / "a")
    piece = Score(str(tmp_path / "a" / "music_0.mid"))
    PassageIndex.from_scores([piece]).save(model / PASSAGE_INDEX_FILE)  # as if the model had learned this piece
    again = cli(*args, "--out", tmp_path / "b")
    assert "note: seed 0: " in again.stderr and "(100%) repeat a training piece note for note" in again.stderr
    assert re.search(r"up to transposition: bars? \d+(-\d+)?$", again.stderr.strip())  # where it repeats
    cli(*args, "--num", 1, "--out", tmp_path / "c")
    entry = json.loads((tmp_path / "c" / "manifest.jsonl").read_text())
    assert entry["copied_passages"] == entry["passages"] > 0


def test_help_loads_no_torch():
    """`neuroart --help` and `neuroart generate gan --help` answer without importing torch or transformers (the
    console script defers the model registration until a command needs a model)."""
    for args in (["--help"], ["generate", "gan", "--help"]):
        code = ("import sys\nsys.argv = ['neuroart', *%r]\nimport neuroart.cli as cli\n"
                "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
                "print('LOADED', 'torch' in sys.modules, 'transformers' in sys.modules)" % (args,))
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert "usage: neuroart" in result.stdout and "LOADED False False" in result.stdout, result.stdout[-500:]


def test_device_option(models, tmp_path):
    """`--device cpu` runs there; a CUDA device on a machine without one is a one-line error, not a traceback."""
    import torch

    cli("generate", "poetry", "--model", models / "neuroart-poetry", "--device", "cpu", "--out", tmp_path)
    if not torch.cuda.is_available():
        result = cli("generate", "gan", "--model", models / "neuroart-gan", "--device", "cuda", "--out", tmp_path,
                     check=False)
        assert result.returncode != 0 and "no CUDA device" in result.stderr and "Traceback" not in result.stderr


def test_user_mistakes_are_one_line_errors(tmp_path):
    """A missing folder, an unknown repo id and a damaged MIDI primer: exit code 2, one line saying what is wrong, no
    traceback (`--debug` shows it); a training script's mistake is one line under `accelerate launch -q` too."""
    from tests.helpers import make_midi

    damaged = tmp_path / "cut.mid"
    damaged.write_bytes(make_midi(1)[:60])
    for args, expected in ((["generate", "gan", "--model", tmp_path / "does-not-exist"], "neither a local folder"),
                           (["generate", "poetry", "--model", "neuroart/no-such-model"], "neither a local folder"),
                           (["generate", "music", "--primer", damaged, "--harmonize"], "not a readable MIDI file")):
        result = cli(*args, check=False)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().count("\n") == 0 and expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    result = cli("--debug", "generate", "gan", "--model", tmp_path / "does-not-exist", check=False)
    assert "Traceback" in result.stderr
    result = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "-q", "--cpu", "--num_processes", "1",
                             "training/train_poetry.py", "--train_file", tmp_path / "none.jsonl", "--output_dir",
                             tmp_path / "out"], capture_output=True, text=True, timeout=300,
                            cwd=REPO_ROOT)
    assert result.returncode != 0 and "train_poetry.py: error: --train_file" in result.stderr
    assert "Traceback" not in result.stderr


def test_out_of_range_numbers_are_refused_cleanly(tmp_path):
    result = cli("generate", "gan", "--model", tmp_path, "--num_images", 100000, check=False)
    assert result.returncode == 2 and "must lie in [1, 256]" in result.stderr and "Traceback" not in result.stderr
    for kind, flag, value in (("music", "--seed", -1), ("music", "--top_p", 3), ("gan", "--frames", 10_000),
                              ("music", "--bars", 0), ("poetry", "--num", 0)):
        result = cli("generate", kind, "--model", tmp_path, flag, value, check=False)
        assert result.returncode == 2 and "must lie in" in result.stderr, flag


def test_a_flag_of_another_model_is_an_error(tmp_path):
    for kind, flag, value in (("poetry", "--bars", 4), ("gan", "--form", "五言绝句"), ("music", "--truncation", 0.5),
                              ("gan", "--top_p", 0.9)):
        result = cli("generate", kind, "--model", tmp_path, flag, value, check=False)
        assert result.returncode == 2 and "unrecognized arguments" in result.stderr, (kind, flag)


def test_bulk_creation_writes_a_manifest_and_resumes(models, tmp_path):
    out = tmp_path / "bulk"
    cli("generate", "gan", "--model", models / "neuroart-gan", "--num", 20, "--seed", 100, "--batch_size", 8,
        "--out", out)
    paintings = sorted(out.glob("painting_*.png"))
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(paintings) == 20 and sorted(e["seed"] for e in manifest) == list(range(100, 120))
    # each work is reproducible from its own seed alone
    from PIL import Image
    from transformers import AutoModel

    model = AutoModel.from_pretrained(models / "neuroart-gan", trust_remote_code=True).eval()
    single = model.generate_images(1, seed=107, output_type="np")[0]
    import numpy as np

    written = np.asarray(Image.open(out / "painting_107.png").convert("RGB"), dtype=np.float32) / 255
    assert np.abs(written - single).max() <= 1 / 255 + 1e-6
    stamps = {p: p.stat().st_mtime_ns for p in paintings}
    again = cli("generate", "gan", "--model", models / "neuroart-gan", "--num", 20, "--seed", 100, "--out", out)
    assert "0 new, 20 already there" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in paintings} == stamps
    assert len((out / "manifest.jsonl").read_text().splitlines()) == 20
    (out / "painting_105.png").unlink()  # a lost file is made again, alone
    assert "1 new" in cli("generate", "gan", "--model", models / "neuroart-gan", "--num", 20, "--seed", 100,
                          "--out", out).stdout
    poems = tmp_path / "poems"
    cli("generate", "poetry", "--model", models / "neuroart-poetry", "--num", 3, "--form", "五言绝句", "--out", poems)
    entries = [json.loads(line) for line in (poems / "manifest.jsonl").read_text().splitlines()]
    assert [e["seed"] for e in entries] == [0, 1, 2] and all(e["check"]["form_ok"] for e in entries)
    music = tmp_path / "music"
    cli("generate", "music", "--model", models / "neuroart-music", "--num", 2, "--bars", 1, "--midi_only",
        "--out", music)
    assert len(list(music.glob("music_*.mid"))) == 2 and not list(music.glob("*.wav"))
    # --key auto (the default): each piece's key drawn from the model's training keys, by its seed; none: the model's
    pieces = [json.loads(line) for line in (music / "manifest.jsonl").read_text().splitlines()]
    prior = json.loads((models / "neuroart-music" / "generation_config.json").read_text())["key_prior"]
    assert all(e["key"] == "auto" and e["home_key"] in prior for e in pieces)
    own = tmp_path / "own"
    cli("generate", "music", "--model", models / "neuroart-music", "--num", 1, "--bars", 1, "--midi_only",
        "--key", "none", "--out", own)
    assert json.loads((own / "manifest.jsonl").read_text())["home_key"] is None


def test_primer_that_is_not_midi_is_refused(models, tmp_path):
    fake = tmp_path / "fake.mid"
    fake.write_text("hello")
    result = cli("generate", "music", "--model", models / "neuroart-music", "--primer", fake, check=False)
    assert result.returncode == 2 and "not a MIDI file" in result.stderr and "Traceback" not in result.stderr


def test_harmonize_from_the_command_line(models, tmp_path):
    from symusic import Score

    from tests.helpers import check_harmonisation, chorale_tune

    melody = tmp_path / "tune.mid"
    chorale_tune().dump_midi(str(melody))
    cli("generate", "music", "--model", models / "neuroart-music", "--primer", melody, "--harmonize", "--seed", 3,
        "--out", tmp_path)
    check_harmonisation(Score(str(tmp_path / "music_3.mid")), chorale_tune())
    refused = cli("generate", "music", "--model", models / "neuroart-music", "--harmonize", check=False)
    assert refused.returncode != 0 and "--primer" in refused.stderr


def test_check_poem_exit_codes():
    good = cli("check-poem", "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。")
    assert json.loads(good.stdout)["rhyme_ok"] is True
    bad = cli("check-poem", "白日依山尽，黄河入海流。欲穷千里目，更上一层去。", check=False)
    assert bad.returncode == 1 and json.loads(bad.stdout)["rhyme_ok"] is False


def test_quickstart_opens_the_studio_on_its_models(models):
    """What `neuroart quickstart` does after training (without --no-launch): serve the studio on the models."""

    from tests.helpers.spaces import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", f"from neuroart.cli import launch_studio; "
                                f"launch_studio({str(models)!r}, {port})"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    wait_for_page(process, f"http://127.0.0.1:{port}/", "NeuroArt Studio", timeout=180, poll=1)
