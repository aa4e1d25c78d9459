"""Every benchmark runs end to end in its smoke mode (tiny budgets; results go to a temporary folder), as a module:
`python -m benchmarks.<speed|quality|sweeps>.<name>` from the repository root."""

import json
import subprocess
import sys

import pytest

from tests.helpers import REPO_ROOT, shared_data_dir

pytestmark = pytest.mark.slow  # subprocesses end to end: `make test-fast` leaves them out

SPEED = ["gan_speed", "poetry_speed", "music_speed", "creation_speed"]
QUALITY = {"gan_quality": "paintings", "poetry_quality": "poetry", "music_quality": "midi"}
KEYS = {
    "gan_speed": ["images_per_s_64_fp32", "images_per_s_64_bf16", "images_per_s_128_bf16",
                  "generate_ratio_vs_dcgan_64_bf16", "train_steps_per_s_ratio_vs_dcgan"],
    "gan_quality": ["swd_neuroart", "swd_dcgan", "budget_cpu_seconds"],
    "poetry_speed": ["train_ratio_fp32", "train_ratio_bf16", "generate_ratio", "constrained_overhead"],
    "poetry_quality": ["shakespeare_val_loss", "shakespeare_baseline_val_loss", "tang_val_nats_per_char",
                       "tang_bigram_nats_per_char", "form_accuracy", "rhyme_accuracy", "tone_accuracy", "copy_rate",
                       "distinct_2"],
    "music_speed": ["speedup_1024", "flatness_2048_vs_128", "train_ratio_vs_lstm"],
    "creation_speed": ["music_lean_vs_bare_cells", "music_lean_top_p_1_vs_bare_cells", "music_matmul_peak_gflops", "poetry_constrained_vs_unconstrained",
                       "gan_bulk_vs_raw", "gan_auto_precision", "gan_bf16_mean_abs_diff"],
    "music_quality": ["val_nats_per_token", "val_nats_per_frame", "overlap_mean", "key_in_scale_rate",
                      "key_in_scale_rate_unsteered", "token_error_rate"],
}


def benchmark(name: str) -> list[str]:
    """The command that runs benchmark `name` (a module of benchmarks/speed, quality or sweeps)."""
    (path,) = REPO_ROOT.glob(f"benchmarks/*/{name}.py")
    return [sys.executable, "-m", f"benchmarks.{path.parent.name}.{name}"]


def run_benchmark(name, tmp_path):
    result = subprocess.run([*benchmark(name), "--smoke",
                             "--results_dir", str(tmp_path)], capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    payload = json.loads((tmp_path / f"{name}.json").read_text())
    for key in KEYS[name]:
        assert key in payload["summary"], key
    assert payload["machine"]["torch"] and "omp_wait_policy" in payload["machine"]
    return payload


@pytest.mark.parametrize("name", SPEED)
def test_speed_benchmark_smoke(name, tmp_path):
    run_benchmark(name, tmp_path)


@pytest.mark.parametrize("name", sorted(QUALITY))
def test_quality_benchmark_smoke(name, tmp_path):
    if not (shared_data_dir() / QUALITY[name]).is_dir():
        pytest.skip(f"shared data {QUALITY[name]}/ not found at {shared_data_dir()} (set NEUROART_SHARED_DATA)")
    payload = run_benchmark(name, tmp_path)
    if name == "poetry_quality":
        assert payload["summary"]["form_accuracy"] == 1.0


def test_spaces_latency_smoke(quickstart_models, tmp_path):
    pytest.importorskip("gradio")
    result = subprocess.run([*benchmark("spaces_latency"), "--models",
                             str(quickstart_models), "--repeats", "1", "--skip_default_policy", "--results_dir",
                             str(tmp_path)], capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    summary = json.loads((tmp_path / "spaces_latency.json").read_text())["summary"]
    assert {"neuroart-gan/paint_s", "neuroart-music/compose_s", "neuroart-poetry/write_s",
            "neuroart-studio/create_s"} <= set(summary)


def test_memory_benchmark_smoke(tmp_path):
    result = subprocess.run([*benchmark("memory"), "--smoke", "--results_dir",
                             str(tmp_path)], capture_output=True, text=True, cwd=REPO_ROOT, timeout=1200)
    assert result.returncode == 0, result.stderr[-4000:]
    summary = json.loads((tmp_path / "memory.json").read_text())["summary"]
    for name in ("gan", "music", "music_streaming", "poetry", "poetry_streaming"):
        assert summary[f"{name}_1x_mb"] > 50 and summary[f"{name}_10x_mb"] > 50


@pytest.mark.parametrize("part,data", [("gan", "paintings"), ("poetry", "poetry"), ("music", "midi")])
def test_release_quality_smoke(part, data, tmp_path):
    if not (REPO_ROOT / "releases" / f"neuroart-{part}" / "config.json").exists():
        pytest.skip(f"no release of {part} yet (make release-{part})")
    if not (shared_data_dir() / data).is_dir():
        pytest.skip(f"shared data {data}/ not found at {shared_data_dir()} (set NEUROART_SHARED_DATA)")
    result = subprocess.run([*benchmark("release_quality"), "--smoke",
                             "--only", part, "--results_dir", str(tmp_path)], capture_output=True, text=True,
                            cwd=REPO_ROOT, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    section = json.loads((tmp_path / "release_quality.json").read_text())["sections"][part]
    assert section["command"].startswith("python -m benchmarks.quality.release_quality --smoke") and section["machine"]["torch"]
    if part == "gan":
        assert section["swd"] > 0 and section["pairwise_ratio"] > 0
    elif part == "poetry":
        assert section["constrained"]["form"] == 1.0 and section["constrained"]["triple_in_row"] == 0
        assert section["constrained"]["triple_in_line"] == 0 and section["keywords_present"] == 1.0
    else:
        assert section["key_in_scale_rate"] == 1.0 and section["val_nats_per_token"] > 0
        assert section["harmonize_soprano_kept_rate"] == 1.0 and section["harmonize_added_notes_per_piece"] > 0


def _write_part(args):
    path, part, rounds = args
    sys.path.insert(0, str(REPO_ROOT))  # a spawned process: the repository root, as `python -m` would have it
    from benchmarks.quality.release_quality import write_sections

    for i in range(rounds):
        write_sections(path, {part: {"round": i, "rates": {"a": i}}})


def test_parallel_parts_keep_each_others_sections(tmp_path):
    """`--only gan` beside `--only poetry` (two processes): each writes under a lock, and neither loses the other."""
    from multiprocessing import get_context

    path = tmp_path / "release_quality.json"
    with get_context("spawn").Pool(3) as pool:
        pool.map(_write_part, [(path, part, 30) for part in ("gan", "poetry", "music")])
    payload = json.loads(path.read_text())
    assert sorted(payload["sections"]) == ["gan", "music", "poetry"]
    assert all(payload["sections"][p]["round"] == 29 for p in payload["sections"])
    assert payload["summary"]["poetry_rates_a"] == 29 and payload["summary"]["gan_round"] == 29


def test_studio_themes_smoke(quickstart_models, tmp_path):
    pytest.importorskip("gradio")
    result = subprocess.run([*benchmark("studio_themes"), "--models",
                             str(quickstart_models), "--smoke", "--results_dir", str(tmp_path)],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    summary = json.loads((tmp_path / "studio_themes.json").read_text())["summary"]
    assert summary["themes"] == 4 and summary["mode_agreement"] == 1.0
    assert {"distinct_paintings", "palette_agreement", "english_answered_or_noted",
            "median_seconds_per_creation"} <= set(summary)


@pytest.mark.parametrize("name", ["harmony", "harmonisation"])
def test_music_harmony_benchmarks_smoke(name):
    if not (shared_data_dir() / "midi").is_dir():
        pytest.skip(f"shared data midi/ not found at {shared_data_dir()} (set NEUROART_SHARED_DATA)")
    result = subprocess.run([*benchmark(name), "--smoke"],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    if name == "harmony":  # Bach's own chorales, the anchor: mostly triads and sevenths, in named voices
        assert summary["bach"]["triad_or_seventh_share"] > 0.6 and summary["bach"]["named_voices_share"] == 1.0
        assert summary["harmonised"]["named_voices_share"] == 1.0 and summary["free"]["pieces"] == 2
    else:
        assert summary["harmonize_soprano_kept_rate"] == 1.0
        assert summary["complete_melodies"]["soprano_kept_rate"] == 1.0


def test_poetry_keywords_benchmark_smoke():
    if not (shared_data_dir() / "poetry").is_dir():
        pytest.skip(f"shared data poetry/ not found at {shared_data_dir()} (set NEUROART_SHARED_DATA)")
    result = subprocess.run([*benchmark("poetry_keywords"), "--smoke"],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["poems"] == 4 and summary["keywords_present"] == 1.0 and summary["over_twice"] == 0


def test_poetry_personal_benchmark_smoke():
    if not (shared_data_dir() / "poetry").is_dir():
        pytest.skip(f"shared data poetry/ not found at {shared_data_dir()} (set NEUROART_SHARED_DATA)")
    result = subprocess.run([*benchmark("poetry_personal"), "--smoke"],
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["corpus_poems"] == 12 and summary["samples"] == 4
    assert summary["small_corpus_defaults"]["learning_rate"] == 1e-4  # the README command takes the gentle defaults
