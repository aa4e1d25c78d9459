"""What the tests share: tiny configs and training arguments, a fresh-process runner, `accelerate launch` of the
training scripts, MIDI, chorale and image fixtures, a tiny character tokenizer, a refused network, the shared data's
location. Imported as `tests.helpers` (conftest.py holds only the pytest
set-up: environment, fixtures, markers)."""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Tiny models and short runs for the training scripts' end-to-end tests.
TINY_GAN_ARGS = ["--resolution", 32, "--train_batch_size", 4, "--num_default_images", 24,
                 "--generator_base_channels", 4, "--discriminator_base_channels", 4, "--max_channels", 32, "--seed", 0]
TINY_MUSIC_ARGS = ["--hidden_size", 16, "--num_hidden_layers", 1, "--max_seq_length", 32, "--train_batch_size", 2,
                   "--transpose", 0, "--sample_bars", 1, "--sample_steps", 1000, "--eval_steps", 1000, "--seed", 0]
TINY_POETRY_ARGS = ["--hidden_size", 32, "--num_hidden_layers", 1, "--num_attention_heads", 2, "--max_seq_length", 32,
                    "--train_batch_size", 2, "--sample_steps", 1000, "--eval_steps", 1000, "--seed", 0]

# Prepended to fresh-process scripts: make `neuroart` unimportable, as on a machine that only has transformers.
BLOCK_NEUROART = textwrap.dedent(
    """
    import sys
    class _BlockNeuroArt:
        def find_spec(self, name, path=None, target=None):
            if name == "neuroart" or name.startswith("neuroart."):
                raise ImportError("neuroart is blocked in this process")
            return None
    sys.meta_path.insert(0, _BlockNeuroArt())
    """
)


def run_python(code: str, *, block_neuroart: bool = False, env: dict | None = None, cwd=None, timeout=300) -> str:
    """Run `code` in a fresh interpreter; return stdout, fail the test with stderr on a non-zero exit.
    `env` overrides os.environ; a value of None unsets that variable."""
    script = (BLOCK_NEUROART if block_neuroart else "") + textwrap.dedent(code)
    full_env = {key: value for key, value in {**os.environ, **(env or {})}.items() if value is not None}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout
    )
    if result.returncode != 0:
        pytest.fail(f"subprocess failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result.stdout


def launch_script(script: str, *args, check: bool = True, num_processes: int = 1, env: dict | None = None):
    """`accelerate launch training/<script> ...` in a subprocess; returns (returncode, combined output)."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(num_processes),
           "--mixed_precision", "no", str(REPO_ROOT / "training" / script), *map(str, args)]
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    result = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=900)
    output = result.stdout + result.stderr
    if check and result.returncode != 0:
        pytest.fail(f"{script} failed:\n{output[-5000:]}")
    return result.returncode, output


def wait_for_page(process, url: str, text: str, timeout: float, poll: float = 1.0) -> None:
    """Poll `url` until it serves a page containing `text` (within `timeout` s, while `process` lives), then stop
    the process group; fails with the process's output if it died first."""
    import signal
    import time
    import urllib.request

    try:
        deadline, page = time.time() + timeout, ""
        while time.time() < deadline and process.poll() is None:
            try:
                page = urllib.request.urlopen(url, timeout=5).read().decode()
                break
            except OSError:
                time.sleep(poll)
        assert text in page, process.stdout.read() if process.poll() is not None else "no page"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def tiny_gan_config(**overrides):
    from neuroart import NeuroArtGANConfig

    kwargs = dict(image_size=32, latent_dim=16, generator_base_channels=8, discriminator_base_channels=8,
                  max_channels=32)
    kwargs.update(overrides)
    return NeuroArtGANConfig(**kwargs)


def tiny_music_config(**overrides):
    from neuroart import NeuroArtMusicConfig

    kwargs = dict(vocab_size=64, hidden_size=32, num_hidden_layers=2)
    kwargs.update(overrides)
    return NeuroArtMusicConfig(**kwargs)


def tiny_poetry_config(**overrides):
    from neuroart import NeuroArtPoetryConfig

    kwargs = dict(vocab_size=96, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64)
    kwargs.update(overrides)
    return NeuroArtPoetryConfig(**kwargs)


def shared_data_dir() -> Path:
    """`NEUROART_SHARED_DATA` (default ../shared/data beside the repo)."""
    return Path(os.environ.get("NEUROART_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def make_midi(seed: int = 0, bars: int = 4, long_note: bool = False, drums: bool = False, program: int = 0) -> bytes:
    """A small two-voice piece in C major (480 ticks per quarter), as MIDI bytes."""
    import random

    from symusic import Note, Score, Track

    rng = random.Random(seed)
    score = Score(480)
    melody, bass = Track(program=program, is_drum=drums), Track(program=32, is_drum=drums)
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    for beat in range(bars * 4):
        melody.notes.append(Note(beat * 480, 480, rng.choice(scale), 80))
        if beat % 4 == 0:
            bass.notes.append(Note(beat * 480, 1920, 48 + rng.choice([0, 5, 7]), 70))
    if long_note:
        bass.notes.append(Note(0, 480 * 4 * 6, 36, 60))  # 24 beats, longer than REMI's 12
    score.tracks.extend([melody, bass])
    return score.dumps_midi()


def chorale_tune():
    """A 4/4 hymn-like melody on the grid (G major), 480 ticks per quarter, with a half-note ending."""
    from symusic import Note, Score, Track

    score, track, time = Score(480), Track(name="melody", program=0), 0
    for pitch, beats in [(67, 1), (67, 1), (74, 1), (71, 1), (69, 1), (67, 1), (69, 1), (71, 1), (69, 2),
                         (71, 1), (72, 1), (74, 1), (72, 1), (71, 1), (69, 1), (67, 2)]:
        track.notes.append(Note(time, beats * 480, pitch, 80))
        time += beats * 480
    score.tracks.append(track)
    return score


def check_harmonisation(score, melody):
    """The Soprano track equals the melody note for note; every added note lies under the latest melody note;
    at most three added notes start together. Returns the added notes."""
    tpq = score.ticks_per_quarter
    soprano = [t for t in score.tracks if t.name == "Soprano"]
    assert len(soprano) == 1
    got = [(n.time / tpq, n.duration / tpq, n.pitch) for n in soprano[0].notes]
    assert got == [(n.time / 480, n.duration / 480, n.pitch) for n in melody.tracks[0].notes]
    added = sorted((n.time / tpq, n.pitch) for t in score.tracks if t.name != "Soprano" for n in t.notes)
    tune = [(n.time / 480, n.pitch) for n in melody.tracks[0].notes]
    for time, pitch in added:
        latest = [p for t, p in tune if t <= time]
        assert pitch < (latest[-1] if latest else tune[0][1]), (time, pitch)
        assert time < max(n.time + n.duration for n in melody.tracks[0].notes) / 480  # nothing after the melody
    onsets = [time for time, _ in added]
    assert all(onsets.count(t) <= 3 for t in set(onsets))
    return added


def make_char_tokenizer(texts):
    """A tiny character-level PreTrainedTokenizerFast (the poetry issue trains the real one)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    chars = sorted({c for t in texts for c in t})
    vocab = {tok: i for i, tok in enumerate(specials + chars)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>")


def write_image_folder(root: Path, per_class: int = 6, size: int = 40, bad: bool = False) -> Path:
    """A tiny imagefolder with two style classes (and, optionally, bad files)."""
    from neuroart.training.abstract_art import abstract_art

    for style in ("grid", "stripes"):
        folder = root / style
        folder.mkdir(parents=True)
        for i in range(per_class):
            abstract_art(style, i, size).save(folder / f"{i}.png")
    if bad:
        write_bad_images(root / "grid")
    return root


def data_args(script, tmp_path):
    """Tiny data each script trains on (the GAN uses its procedural default)."""
    if script == "train_music.py":
        folder = tmp_path / "midi"
        folder.mkdir(exist_ok=True)
        for i in range(4):
            (folder / f"{i}.mid").write_bytes(make_midi(i))
        return ["--train_data_dir", folder, *TINY_MUSIC_ARGS]
    if script == "train_poetry.py":
        from tests.helpers.corpora import POEMS

        path = tmp_path / "poems.jsonl"
        path.write_text("\n".join(json.dumps({"title": t, "text": b}, ensure_ascii=False) for t, b in POEMS * 4))
        return ["--train_file", path, *TINY_POETRY_ARGS]
    return TINY_GAN_ARGS


def no_network() -> dict:
    """A Hub endpoint that refuses every connection (the case that cost minutes of retries), offline mode unset."""
    return {"HF_HUB_OFFLINE": None, "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"}


def closed_port() -> int:
    with socket.socket() as sock:  # a port nobody listens on: connections are refused at once
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_bad_images(folder: Path) -> dict:
    """One file per kind of bad input; returns {name: expected outcome ("kept" or a skip reason)}."""
    import numpy as np
    from PIL import Image

    from neuroart.training.abstract_art import abstract_art

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zero.jpg").write_bytes(b"")
    buffer = abstract_art("grid", 99, 64)
    buffer.save(folder / "full.jpg")
    data = (folder / "full.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (folder / "full.jpg").unlink()
    (folder / "text.jpg").write_text("<svg xmlns='http://www.w3.org/2000/svg'></svg>")
    (folder / "notes.txt").write_text("not an image")
    Image.new("L", (48, 48), 128).save(folder / "gray.png")
    Image.new("RGBA", (48, 48), (255, 0, 0, 128)).save(folder / "rgba.png")
    Image.fromarray((np.arange(48 * 48).reshape(48, 48) * 20).astype(np.uint16)).save(folder / "deep16.png")
    Image.new("CMYK", (48, 48), (0, 255, 0, 0)).save(folder / "cmyk.jpg")
    Image.new("RGB", (4, 4)).save(folder / "tiny.png")
    frames = [Image.new("P", (48, 48), i) for i in range(3)]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:])
    return {"gray.png": "kept", "rgba.png": "kept", "deep16.png": "kept", "cmyk.jpg": "kept", "anim.gif": "kept"}


def tiny_models() -> dict:
    """An untrained poet (with a tiny word tokenizer), composer (with the REMI tokenizer) and painter, one of each
    kind: `poet`, `words`, `composer`, `remi`, `painter`."""
    import torch

    from neuroart import NeuroArtGANModel, NeuroArtMusicForCausalLM, NeuroArtPoetryForCausalLM
    from neuroart.music.generation import build_tokenizer
    from neuroart.poetry import detect_form, format_poem, train_poetry_tokenizer
    from tests.helpers.corpora import ENGLISH, POEMS, VOCAB_EXTRA

    texts = [format_poem(body, detect_form(body), title) for title, body in POEMS] + ENGLISH * 3 + [VOCAB_EXTRA]
    words = train_poetry_tokenizer(texts, vocab_size=600, min_frequency=1)
    torch.manual_seed(0)
    poet = NeuroArtPoetryForCausalLM(tiny_poetry_config(vocab_size=len(words), max_position_embeddings=160)).eval()
    remi = build_tokenizer()
    composer = NeuroArtMusicForCausalLM(tiny_music_config(
        vocab_size=len(remi), pad_token_id=remi.pad_token_id, bos_token_id=remi["BOS_None"],
        eos_token_id=remi["EOS_None"])).eval()
    return {"poet": poet, "words": words, "composer": composer, "remi": remi,
            "painter": NeuroArtGANModel(tiny_gan_config()).eval()}
