"""Shared test set-up: one thread, no network, a private HF cache, tiny configs and a fresh-process runner."""

import os

# Before torch is imported: the 2-vCPU machines lose badly to OpenMP spin-waits and thread contention.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import subprocess  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]

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


@pytest.fixture(autouse=True, scope="session")
def _private_hf_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("hf_home")
    os.environ["HF_HOME"] = str(home)
    os.environ["HF_HUB_CACHE"] = str(home / "hub")
    from neuroart import releases

    releases.install()  # what `make install` does: the releases load by repo id, offline (as in the README)
    yield home


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.gpu` tests run only where CUDA is available."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (no GPU on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


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


@pytest.fixture(scope="session")
def quickstart_models(tmp_path_factory):
    """`neuroart quickstart --tiny --no-launch` once per session: three loadable models on the embedded defaults."""
    pytest.importorskip("music21")
    from neuroart.training.data import FORTUNES_DIR

    if not (FORTUNES_DIR / "tang300").exists():
        pytest.skip("Debian fortunes-zh is not installed (apt-get install fortunes-zh); .ci/run installs it")
    root = tmp_path_factory.mktemp("quickstart") / "neuroart-models"
    result = subprocess.run([sys.executable, "-m", "neuroart.cli", "quickstart", "--train", "--tiny", "--no-launch",
                             "--output_dir", str(root)], capture_output=True, text=True, timeout=900,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    if result.returncode != 0:
        pytest.fail(f"neuroart quickstart failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return root


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

