"""The release models in `releases/`: Hub-ready, installed into an empty HF cache by the product's own command, loaded
offline by repo id with and without the package, the default of the CLI and the studio, and fine-tunable."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from neuroart.kinds import KINDS as TABLE
from neuroart.kinds import NAMES
from tests.helpers import REPO_ROOT, launch_script, run_python, shared_data_dir, wait_for_page

RELEASES = REPO_ROOT / "releases"
KINDS = list(NAMES)  # the one table of kinds
MAX_BYTES = 25 * 1024 * 1024


def release(kind: str) -> Path:
    folder = RELEASES / f"neuroart-{kind}"
    if not (folder / "config.json").exists():
        pytest.skip(f"no release of {kind} in releases/ yet (make release-{kind})")
    return folder


def fresh_cache(tmp_path) -> dict:
    """An empty HF cache, offline, and the release installed into it with `neuroart models install`."""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"),
           "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "neuroart.cli", "models", "install"], capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return env


@pytest.mark.parametrize("kind", KINDS)
def test_release_folder_is_hub_ready_and_small(kind):
    folder = release(kind)
    files = [p for p in folder.rglob("*") if p.is_file()]
    names = {p.relative_to(folder).as_posix() for p in files}
    assert {"config.json", "model.safetensors", "README.md", f"modeling_neuroart_{kind}.py"} <= names
    assert not any(n.endswith((".bin", ".pt", ".pkl", ".pth")) for n in names)  # safetensors only
    assert sum(p.stat().st_size for p in files) < MAX_BYTES
    card = (folder / "README.md").read_text()
    assert f"make release-{kind}" in card and "CPU-seconds" in card and "held-out" in card
    config = json.loads((folder / "config.json").read_text())
    assert config["dtype"] == "float32"


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_install_then_load_by_repo_id_offline_with_and_without_the_package(kind, tmp_path):
    release(kind)
    env = fresh_cache(tmp_path)
    cache = Path(env["HF_HUB_CACHE"]) / f"models--neuroart--neuroart-{kind}"
    assert (cache / "refs" / "main").exists() and any((cache / "snapshots").iterdir())
    use = {
        "gan": """
            from transformers import AutoModel
            model = AutoModel.from_pretrained("neuroart/neuroart-gan"{trust})
            images = model.generate_images(2, seed=0, output_type="pt")
            assert images.shape[-1] == 64 and next(model.parameters()).dtype.is_floating_point
            print("OK", type(model).__module__, float(images.std()))
        """,
        "music": """
            import torch
            from transformers import AutoModelForCausalLM
            model = AutoModelForCausalLM.from_pretrained("neuroart/neuroart-music"{trust})
            out = model.generate(torch.tensor([[model.config.bos_token_id]]), max_new_tokens=16, do_sample=False)
            assert out.shape[1] > 1 and next(model.parameters()).dtype == torch.float32
            print("OK", type(model).__module__)
        """,
        "poetry": """
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer, pipeline
            model = AutoModelForCausalLM.from_pretrained("neuroart/neuroart-poetry"{trust})
            tokenizer = AutoTokenizer.from_pretrained("neuroart/neuroart-poetry")
            assert next(model.parameters()).dtype == torch.float32
            text = pipeline("text-generation", model="neuroart/neuroart-poetry"{trust})(
                "<s><七言绝句><poem>春", max_new_tokens=8, do_sample=False)[0]["generated_text"]
            assert text.startswith("<s><七言绝句><poem>春") and len(text) > len("<s><七言绝句><poem>春")
            from transformers.dynamic_module_utils import get_class_from_dynamic_module
            write_poem = get_class_from_dynamic_module("generation.write_poem", "neuroart/neuroart-poetry")
            poem = write_poem(model, tokenizer, form="quatrain", seed=0, num_candidates=1)
            assert poem.settings["lexicon"] == "english_words.txt", poem.settings  # read from the cache by repo id
            print("OK", type(model).__module__, len(tokenizer))
        """,
    }[kind]
    import textwrap

    use = textwrap.dedent(use)
    with_package = run_python("import neuroart\n" + use.format(trust=""), env=env)
    assert "OK neuroart." in with_package
    remote = run_python(use.format(trust=", trust_remote_code=True"), env=env, block_neuroart=True)
    assert "OK transformers_modules." in remote


def test_install_is_idempotent_and_matches_the_folder(tmp_path):
    from neuroart import releases

    if not any(releases.release_folder(k) for k in KINDS):
        pytest.skip("no releases yet")
    first = releases.install(cache_dir=tmp_path)
    second = releases.install(cache_dir=tmp_path)
    assert first == second and first
    for repo, commit in first.items():
        kind = repo.split("-")[-1]
        assert commit == releases.folder_commit(releases.release_folder(kind))
        snapshot = releases.installed_folder(kind, tmp_path)
        assert (snapshot / "model.safetensors").read_bytes() == (
            releases.release_folder(kind) / "model.safetensors").read_bytes()


@pytest.mark.slow
def test_generate_without_model_uses_the_release(tmp_path):
    folder = release("gan")
    env = fresh_cache(tmp_path)
    subprocess.run([sys.executable, "-m", "neuroart.cli", "generate", "gan", "--num_images", "2", "--out",
                    str(tmp_path / "out")], check=True, env=env, capture_output=True, timeout=300)
    from PIL import Image

    painting = Image.open(tmp_path / "out" / "painting_0_0.png")
    assert painting.text["neuroart:model"] == "neuroart/neuroart-gan" and painting.size == (64, 64)
    from neuroart import NeuroArtGANModel

    expected = NeuroArtGANModel.from_pretrained(folder).generate_images(2, seed=0)[0]
    assert painting.convert("RGB").tobytes() == expected.convert("RGB").tobytes()
    if (RELEASES / "neuroart-poetry" / "config.json").exists():
        out = subprocess.run([sys.executable, "-m", "neuroart.cli", "generate", "poetry", "--form", "五言绝句",
                              "--keywords", "月", "--out", str(tmp_path / "out")], check=True, env=env,
                             capture_output=True, text=True, timeout=300).stdout
        assert "月" in out
        assert "neuroart/neuroart-poetry" in next((tmp_path / "out").glob("poem_*.txt")).read_text()
        for flags, recorded in (([], '"lexicon": "english_words.txt"'), (["--no_lexicon"], '"lexicon": null')):
            target = tmp_path / f"en{len(flags)}"
            subprocess.run([sys.executable, "-m", "neuroart.cli", "generate", "poetry", "--form", "quatrain",
                            "--out", str(target), *flags], check=True, env=env, capture_output=True, timeout=300)
            assert recorded in next(target.glob("poem_*.txt")).read_text()  # the footer says which words held


@pytest.mark.slow
def test_generate_music_with_the_release_s_decoding_defaults_and_overrides(tmp_path):
    """`neuroart generate music` uses the release's voices cap (5) by default; --voices/--tonality override it."""
    release("music")
    env = fresh_cache(tmp_path)
    from neuroart.music.generation import midi_provenance, to_score

    def most_sounding(path):
        notes = [n for t in to_score(path.read_bytes()).tracks for n in t.notes]
        return max(sum(m.time <= n.time < m.time + m.duration for m in notes) for n in notes)

    for flags, cap in (([], 5), (["--voices", "2", "--tonality", "0"], 2)):
        out = tmp_path / f"out{cap}"
        subprocess.run([sys.executable, "-m", "neuroart.cli", "generate", "music", "--bars", "4", "--seed", "1",
                        "--out", str(out), *flags], check=True, env=env, capture_output=True, timeout=300)
        midi = next(out.glob("music_*.mid"))
        assert 0 < most_sounding(midi) <= cap
        if flags:
            assert "voices=2" in midi_provenance(midi.read_bytes())[0]


@pytest.mark.slow
def test_fine_tune_the_painting_release_on_a_tiny_folder(tmp_path):
    release("gan")
    env = fresh_cache(tmp_path)
    from PIL import Image

    data = tmp_path / "mine"
    data.mkdir()
    for i in range(8):  # a few of "my paintings": colour fields
        Image.new("RGB", (80, 80), (30 * i, 200 - 20 * i, 90)).save(data / f"p{i}.png")
    out = tmp_path / "my-style"
    _, log = launch_script("train_gan.py", "--model_name_or_path", "neuroart/neuroart-gan", "--train_data_dir", data,
                           "--resolution", 64, "--max_train_steps", 3, "--train_batch_size", 4, "--output_dir", out,
                           "--no_nearest_index", env={k: env[k] for k in ("HF_HOME", "HF_HUB_CACHE")})
    assert "every image gets style label" in log or "unconditional" in log
    from neuroart import NeuroArtGANModel

    tuned = NeuroArtGANModel.from_pretrained(out)
    assert tuned.generate_images(1, seed=0, output_type="pt").shape[-1] == 64


@pytest.mark.slow
def test_demo_path_serves_the_studio_on_the_releases_without_training(tmp_path):
    """`make demo` = install + `neuroart quickstart`: samples from the releases, then the studio is served."""
    for kind in KINDS:
        release(kind)

    from tests.helpers.spaces import free_port

    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"),
           "OMP_NUM_THREADS": "1"}
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "neuroart.cli", "quickstart", "--output_dir",
                                str(tmp_path / "demo"), "--port", str(port)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True, env=env)
    wait_for_page(process, f"http://127.0.0.1:{port}/", "NeuroArt Studio", timeout=400, poll=2)
    samples = tmp_path / "demo" / "samples"
    assert list(samples.glob("painting_*.png")) and list(samples.glob("music_*.mid")) and list(
        samples.glob("poem_*.txt"))
    assert not (tmp_path / "demo" / "neuroart-gan").exists()  # nothing was trained


@pytest.mark.slow
def test_studio_on_the_releases_carries_its_theme(tmp_path):
    """The studio with no model variables set uses the releases (by repo id, offline, remote code only), and its
    poem contains every character of the theme."""
    for kind in KINDS:
        release(kind)
    env = fresh_cache(tmp_path)
    for kind in KINDS:
        env[TABLE[kind].env_var] = None  # unset: the studio must fall back to the release ids
    app_path = REPO_ROOT / "spaces" / "neuroart-studio" / "app.py"
    out = run_python(
        f"""
        import importlib.util, json
        spec = importlib.util.spec_from_file_location("studio", {str(app_path)!r})
        app = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(app)
        painting, poem, wav, settings, bundle = app.create("春江花月", "", 3)
        english = app.create("sunset over the sea", "", 3)
        print(json.dumps({{"size": painting.size, "poem": poem, "models": settings.get("models"),
                          "originality": settings["originality"],
                          "english": english[1], "english_settings": english[3]["poem"]}}, ensure_ascii=False))
        """,
        block_neuroart=True, env={**env, "GRADIO_ANALYTICS_ENABLED": "False"}, cwd=REPO_ROOT.parent, timeout=600,
    )
    result = json.loads(out.strip().split("\n")[-1])
    body = result["poem"].split("\n\n")[1]  # title, poem, footer
    assert all(c in body for c in "春江花月"), result["poem"]
    assert "neuroart/neuroart-gan" in json.dumps(result["models"])
    # The releases ship their training indexes: each work is checked against its own training data.
    found = result["originality"]
    assert 0 < found["painting"]["nearest_training_rms"] and found["painting"]["near_copy"] is False
    assert 0 <= found["music"]["copied_passages"] <= found["music"]["passages"] > 0
    if (RELEASES / "neuroart-poetry" / "poem_lines.txt.gz").exists():  # rebuilt from the data by models install
        assert isinstance(found["poem"]["copied_lines"], list)
    # An English theme: an English quatrain from the release poet, no fallback note.
    assert result["english_settings"]["form"] == "quatrain" and "note" not in result["english_settings"]
    assert len([line for line in result["english"].split("\n\n")[1].split("\n") if line.strip()]) == 4


def test_the_poet_s_line_index_is_rebuilt_from_the_data_not_kept_in_git(tmp_path):
    """git holds the poet's weights, not the 5 MB of training lines its copy check reads: a clone rebuilds them from
    the release split, byte for byte the lines the release recorded, and refuses other data's lines."""
    import shutil

    from neuroart import releases
    from neuroart.poetry import LineIndex

    folder = release("poetry")
    tracked = subprocess.run(["git", "ls-files", "releases"], cwd=REPO_ROOT, capture_output=True, text=True).stdout
    assert tracked and not any(name.endswith(".gz") for name in tracked.split())
    expected = json.loads((folder / "training_summary.json").read_text())["line_index"]
    copy = tmp_path / "neuroart-poetry"
    shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(releases.LINE_INDEX, "__pycache__"))
    assert "no poetry data" in releases.build_line_index(copy, tmp_path / "nowhere")
    assert not (copy / releases.LINE_INDEX).exists()
    if not (shared_data_dir() / "poetry").is_dir():
        pytest.skip(f"no shared poetry data at {shared_data_dir()} (set NEUROART_SHARED_DATA)")
    assert releases.build_line_index(copy) is None
    index = copy / releases.LINE_INDEX
    assert releases.line_index_digest(index) == expected["sha256"]
    lines = LineIndex.load(index).lines
    assert len(lines) == expected["lines"] and "白日依山尽" in lines  # 王之涣 《登鹳雀楼》, a training poem
    summary = json.loads((copy / "training_summary.json").read_text())
    summary["line_index"]["sha256"] = "0" * 64  # a release trained on other poems
    (copy / "training_summary.json").write_text(json.dumps(summary))
    assert "differ" in releases.build_line_index(copy) and not index.exists()


def test_push_uploads_the_release_folders_as_they_are(tmp_path, monkeypatch):
    from neuroart import releases
    from tests.helpers.hub import FakeHub

    kinds = [k for k in KINDS if releases.release_folder(k)]
    if not kinds:
        pytest.skip("no releases yet")
    with FakeHub(tmp_path / "storage") as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", "hf_fake")
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        import huggingface_hub.constants as hf_constants

        monkeypatch.setattr(hf_constants, "ENDPOINT", hub.url)
        monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
        if "poetry" in kinds and releases.build_line_index(releases.release_folder("poetry")):
            with pytest.raises(FileNotFoundError, match=releases.LINE_INDEX):  # never a poet without its copy check
                releases.push(["poetry"], namespace="neuroart")
            kinds.remove("poetry")
        pushed = releases.push(kinds, namespace="neuroart")
    assert set(pushed) == {f"neuroart/neuroart-{k}" for k in kinds}
    if "poetry" in kinds:
        assert (tmp_path / "storage" / "neuroart" / "neuroart-poetry" / releases.LINE_INDEX).is_file()
    for kind in kinds:
        source = releases.release_folder(kind)
        target = tmp_path / "storage" / "neuroart" / f"neuroart-{kind}"
        for path in source.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert (target / path.relative_to(source)).read_bytes() == path.read_bytes(), path


def test_the_release_poet_writes_english_verse_that_keeps_its_rhyme_scheme():
    """The release learned English (sonnets, tiny-shakespeare): a quatrain (ABAB) and a sonnet (ABAB CDCD EFEF GG)
    from it keep their line count and every rhyme pair (CMUdict), with nothing relaxed, and every word is one of
    its training poems' (`english_words.txt`)."""
    import re

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from neuroart.poetry import check_english_poem, write_poem
    from neuroart.poetry.english import verse_style

    folder = release("poetry")
    model, tokenizer = AutoModelForCausalLM.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)
    lexicon = set((folder / "english_words.txt").read_text(encoding="utf-8").split())
    for form, scheme, lines in (("quatrain", "ABAB", 4), ("sonnet", "ABABCDCDEFEFGG", 14)):
        poem = write_poem(model, tokenizer, form=form, seed=0)
        verdict = check_english_poem(poem.text, scheme, lines)
        assert verdict["lines_ok"] and verdict["rhyme_ok"], poem.text
        assert not poem.relaxed and not any("\u4e00" <= c <= "\u9fff" for c in poem.text)
        assert set(re.findall(r"[a-z']+", verse_style(poem.text))) <= lexicon, poem.text


def test_release_code_is_the_package_code():
    """Each release ships the package's current remote code (so the Spaces, which run the shipped helpers, get the
    features the package documents)."""
    import importlib

    for kind in KINDS:
        folder = release(kind)
        helpers = getattr(importlib.import_module(f"neuroart.{kind}.modeling_neuroart_{kind}"), "HELPER_MODULES", ())
        assert all((folder / name).exists() for name in helpers), f"{folder} lacks one of its helpers {helpers}"
        for path in folder.glob("*.py"):
            source = REPO_ROOT / "modeling" / kind / path.name
            assert source.exists() and path.read_bytes() == source.read_bytes(), (
                f"{path} differs from {source}: copy it (python -m neuroart.training.release {kind} --steps code)")


def test_the_music_release_s_decoding_defaults_survive_loading():
    """`generation_config.json`'s own keys (the voices cap, the tonality weight) are what `voices="auto"` and
    `tonality="auto"` read; a config marked `_from_model_config` would lose them on load."""
    from transformers import GenerationConfig

    from neuroart.training.release import GENERATION_DEFAULTS

    for kind, defaults in GENERATION_DEFAULTS.items():
        loaded = GenerationConfig.from_pretrained(release(kind))
        assert {name: getattr(loaded, name, None) for name in defaults} == defaults
    prior = GenerationConfig.from_pretrained(release("music")).meter_prior  # `meter="auto"`: the training metres
    assert max(prior, key=prior.get) == "4/4" and 0 < prior["3/4"] < 0.2 and abs(sum(prior.values()) - 1) < 1e-3


@pytest.mark.slow
def test_the_release_composer_harmonizes_and_steers_density():
    """On the music release: a melody stays note for note as the top voice, and density low < medium < high in
    notes per bar at fixed seeds."""
    from transformers import AutoModelForCausalLM

    from neuroart.music.generation import generate_music, load_tokenizer, notes_per_bar
    from tests.helpers import check_harmonisation, chorale_tune

    folder = release("music")
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = load_tokenizer(folder)
    melody = chorale_tune()
    score = generate_music(model, tokenizer, primer=melody, harmonize=True, seed=0).score
    added = check_harmonisation(score, melody)
    assert len(added) >= 2 * len(melody.tracks[0].notes)  # the release writes real parts, not a bare line
    assert {t.name for t in score.tracks} == {"Soprano", "Alto", "Tenor", "Bass"}
    density = {d: sum(notes_per_bar(generate_music(model, tokenizer, num_bars=4, density=d, seed=s).score)
                      for s in range(3)) / 3 for d in ("low", "medium", "high")}
    assert density["low"] < density["medium"] < density["high"], density
