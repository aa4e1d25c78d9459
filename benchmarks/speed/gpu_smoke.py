#!/usr/bin/env python
"""GPU smoke benchmark: every training script and generation path on one CUDA device, in about 3 minutes.

    python -m benchmarks.speed.gpu_smoke [--device cuda|cpu] [--seconds 15] [--skip_compile]

1. **Training**: `accelerate launch` of each script (`train_poetry.py`, `train_gan.py`, `train_music.py`) for
   `--seconds` of wall time (`--max_train_seconds`) in bf16 (`training/configs/single_gpu.yaml`) at GPU-sized batches
   on synthetic data (the embedded abstract art, a few poems, generated MIDI), each exported. Throughput: training
   tokens/s (the LMs) and images/s (the GAN) from the run's own metrics.
2. **torch.compile**: the poet again with `--torch_compile`; the speed-up is its throughput over the eager run's.
3. **FSDP, one process** (`training/configs/fsdp.yaml`): the poet trains, exports, and the folder loads on a CPU.
4. **Generation**: from the models just trained, on the device, each path twice with the same seed (equal?) and once
   more under bf16 autocast: `write_poem`, `generate_music` (the lean loop and `generate()`), harmonisation,
   `generate_images`.

`--device cpu` runs the same training measurements on the CPU (one thread; no compile, FSDP or bf16) and writes
`gpu_smoke_cpu.json`; run it on the CPU machine, and the GPU run reports each model's throughput as a ratio to it.
Results: `benchmarks/results/gpu_smoke.json` (or `gpu_smoke_cpu.json`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO_ROOT, RESULTS, write_results

POEMS = ["床前明月光，\n疑是地上霜。\n举头望明月，\n低头思故乡。",
         "白日依山尽，\n黄河入海流。\n欲穷千里目，\n更上一层楼。",
         "春眠不觉晓，\n处处闻啼鸟。\n夜来风雨声，\n花落知多少。",
         "千山鸟飞绝，\n万径人踪灭。\n孤舟蓑笠翁，\n独钓寒江雪。"]
GPU_SIZES = {  # GPU-sized batches, small widths: a smoke test, not a release
    "poetry": ["--hidden_size", "256", "--num_hidden_layers", "4", "--num_attention_heads", "4",
               "--train_batch_size", "256", "--max_seq_length", "128", "--eval_steps", "100000"],
    "gan": ["--resolution", "64", "--train_batch_size", "64", "--num_default_images", "512", "--no_spectral_norm",
            "--r1_gamma", "0.1", "--generator_base_channels", "32", "--discriminator_base_channels", "48",
            "--max_channels", "192", "--dataloader_num_workers", "4"],
    "music": ["--hidden_size", "384", "--num_hidden_layers", "2", "--train_batch_size", "64",
              "--max_seq_length", "256", "--transpose", "3", "--eval_steps", "100000", "--sample_bars", "2"],
}


def write_data(root: Path) -> dict:
    """Synthetic training data: repeated poems and generated MIDI pieces."""
    import random

    poems = root / "poems.jsonl"
    poems.write_text("\n".join(json.dumps({"title": "t", "text": p}, ensure_ascii=False) for p in POEMS * 200),
                     encoding="utf-8")
    midi = root / "midi"
    midi.mkdir()
    from symusic import Note, Score, Track

    for index in range(16):
        rng = random.Random(index)
        score, track = Score(480), Track(program=0)
        for beat in range(64):
            for voice in range(4):
                track.notes.append(Note(beat * 480, 480, 48 + 7 * voice + rng.choice([0, 2, 4, 5, 7]), 80))
        score.tracks.append(track)
        score.dump_midi(str(midi / f"{index}.mid"))
    return {"poetry": ["--train_file", str(poems)], "gan": [], "music": ["--train_data_dir", str(midi)]}


def launch(script: str, out: Path, args: list, *, device: str, config: str = "single_gpu.yaml") -> dict:
    precision = "bf16" if device == "cuda" else "no"
    where = ["--config_file", str(REPO_ROOT / "training" / "configs" / config)] if device == "cuda" else ["--cpu"]
    cmd = [sys.executable, "-m", "accelerate.commands.launch", *where, "--num_processes", "1", "--mixed_precision",
           precision, str(REPO_ROOT / "training" / script), "--output_dir", str(out), *args,
           "--mixed_precision", precision, "--checkpointing_steps", "100000", "--sample_steps", "100000",
           "--max_train_steps", "1000000"]
    started = time.time()
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    record = {"ok": result.returncode == 0, "wall_seconds": round(time.time() - started, 1)}
    if result.returncode != 0:
        record["error"] = (result.stdout + result.stderr)[-2000:]
        return record
    metrics = json.loads((out / "training_summary.json").read_text())["metrics"]
    record.update({k: metrics.get(k) for k in ("steps", "train_seconds", "train_tokens_per_second", "hardware")})
    if script == "train_gan.py":
        batch = int(args[args.index("--train_batch_size") + 1])
        record["train_images_per_second"] = round(metrics["steps"] * batch / max(metrics["train_seconds"], 1e-9), 1)
    return record


def generation_checks(folders: dict, device: str) -> dict:
    """Each generation path twice with the same seed (equal?), and under bf16 autocast, on `device`."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    import neuroart  # noqa: F401
    from neuroart.music.generation import generate_music, load_tokenizer
    from neuroart.poetry import write_poem

    checks = {}

    def check(name, make, same):
        try:
            first, second = make(), make()
            with torch.autocast(device, dtype=torch.bfloat16):
                autocast = make()
            checks[name] = {"ok": True, "same_seed_equal": bool(same(first, second)),
                            "bf16_autocast_ran": autocast is not None}
        except Exception as error:  # noqa: BLE001  (reported, not raised: the smoke test lists every path)
            checks[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"[:500]}

    if "poetry" in folders:
        poet = AutoModelForCausalLM.from_pretrained(folders["poetry"]).to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(folders["poetry"])
        check("write_poem", lambda: write_poem(poet, tokenizer, form="五言绝句", seed=3, num_candidates=4).text,
              lambda a, b: a == b)
    if "music" in folders:
        composer = AutoModelForCausalLM.from_pretrained(folders["music"]).to(device).eval()
        remi = load_tokenizer(folders["music"])
        for lean in (True, False):
            check(f"generate_music_{'lean' if lean else 'generate'}",
                  lambda lean=lean: generate_music(composer, remi, num_bars=2, seed=5, lean=lean).sequence, lambda a, b: a == b)
        melody = generate_music(composer, remi, num_bars=2, seed=1, voices=1)
        check("harmonize", lambda: generate_music(composer, remi, primer=melody, harmonize=True, seed=2).sequence, lambda a, b: a == b)
    if "gan" in folders:
        gan = AutoModel.from_pretrained(folders["gan"]).to(device).eval()
        check("generate_images", lambda: gan.generate_images(8, seed=4, output_type="pt"),
              lambda a, b: torch.equal(a, b))
    return checks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    parser.add_argument("--seconds", type=float, default=15, help="Wall-clock training seconds per script.")
    parser.add_argument("--skip_compile", action="store_true", help="Leave out the torch.compile comparison.")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if args.device == "cpu":
        os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("No CUDA device here; `--device cpu` measures the CPU reference.")
    started = time.time()
    training, folders = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = write_data(root)
        budget = ["--max_train_seconds", str(args.seconds)]
        for kind, script in (("poetry", "train_poetry.py"), ("gan", "train_gan.py"), ("music", "train_music.py")):
            out = root / kind
            training[kind] = launch(script, out, [*data[kind], *GPU_SIZES[kind], *budget], device=args.device)
            if training[kind]["ok"]:
                folders[kind] = out
            print(kind, json.dumps(training[kind])[:400], flush=True)
        extra = {}
        if args.device == "cuda" and not args.skip_compile:
            extra["poetry_compiled"] = launch("train_poetry.py", root / "compiled",
                                              [*data["poetry"], *GPU_SIZES["poetry"], *budget, "--torch_compile"],
                                              device="cuda")
            print("compiled", json.dumps(extra["poetry_compiled"])[:400], flush=True)
        if args.device == "cuda":
            fsdp = launch("train_poetry.py", root / "fsdp", [*data["poetry"], *GPU_SIZES["poetry"],
                                                             "--max_train_steps", "20"],
                          device="cuda", config="fsdp.yaml")
            if fsdp["ok"]:
                from transformers import AutoModelForCausalLM

                import neuroart  # noqa: F401

                try:
                    AutoModelForCausalLM.from_pretrained(root / "fsdp", device_map="cpu")
                    fsdp["loads_on_cpu"] = True
                except Exception as error:  # noqa: BLE001
                    fsdp["loads_on_cpu"] = f"{type(error).__name__}: {error}"[:300]
            extra["fsdp_one_process"] = fsdp
            print("fsdp", json.dumps(fsdp)[:400], flush=True)
        generation = generation_checks(folders, args.device) if args.device == "cuda" else {}
    summary = {"device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu (1 thread)",
               "seconds": round(time.time() - started, 1)}
    for kind, record in training.items():
        unit = "train_images_per_second" if kind == "gan" else "train_tokens_per_second"
        summary[f"{kind}_ok"] = record["ok"]
        summary[f"{kind}_{unit}"] = record.get(unit)
    cpu_file = RESULTS / "gpu_smoke_cpu.json"
    if args.device == "cuda" and cpu_file.exists():  # the ratio to one CPU core, at the same settings
        cpu = json.loads(cpu_file.read_text())["summary"]
        for key in list(summary):
            if key.endswith("_per_second") and summary[key] and cpu.get(key):
                summary[key.replace("_per_second", "_x_one_cpu_core")] = round(summary[key] / cpu[key], 1)
    compiled = extra.get("poetry_compiled", {})
    if compiled.get("ok") and training["poetry"].get("train_tokens_per_second"):
        summary["poetry_torch_compile_speedup"] = round(compiled["train_tokens_per_second"]
                                                        / training["poetry"]["train_tokens_per_second"], 2)
    if "fsdp_one_process" in extra:
        summary["fsdp_one_process_ok"] = extra["fsdp_one_process"]["ok"] and \
            extra["fsdp_one_process"].get("loads_on_cpu") is True
    for name, record in generation.items():
        summary[f"{name}_ok"] = record["ok"] and record.get("same_seed_equal", False)
    write_results("gpu_smoke" if args.device == "cuda" else "gpu_smoke_cpu", summary,
                  {"training": training, **extra, "generation": generation})


if __name__ == "__main__":
    main()
