"""Shared benchmark plumbing: thread set-up, machine facts, result files, and the anchor models.

Every benchmark writes `benchmarks/results/<script>.json` with a flat `summary` plus details, and records the
machine, torch version, threads and OpenMP wait policy.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
REPO_ROOT = Path(__file__).resolve().parents[1]


def setup_threads(threads: int) -> None:
    """Call before importing torch: passive OpenMP waits and a fixed thread count."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


def shared_data() -> Path:
    return Path(os.environ.get("NEUROART_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def machine_info() -> dict:
    import torch

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def write_results(script: str, summary: dict, details: dict | None = None, command: str | None = None) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{script}.json"
    payload = {"summary": summary, "machine": machine_info(),
               "command": command or command_line(), **(details or {})}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(json.dumps(summary, indent=2))
    return path


def timed_pair(fn_a, fn_b, repeats: int = 3) -> tuple[float, float]:
    """Best wall times of `repeats` calls each of fn_a() and fn_b(), taken in turns (a, b, a, b, ...), so that a
    change in the machine's load during the run (another process, a thermal step) falls on both sides alike."""
    best_a = best_b = float("inf")
    for _ in range(repeats):
        best_a = min(best_a, timed(fn_a, 1))
        best_b = min(best_b, timed(fn_b, 1))
    return best_a, best_b


def timed(fn, repeats: int = 3) -> float:
    """Best wall time of `repeats` calls of fn()."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def command_line(argv=None) -> str:
    """How this run was started, as a command to run it again: `python -m benchmarks.<group>.<name> <args>`."""
    main = Path(sys.argv[0]).resolve()
    try:
        start = "python -m " + ".".join(main.relative_to(REPO_ROOT).with_suffix("").parts)
    except ValueError:  # not a benchmark module (a test calling main() directly)
        start = main.name
    return " ".join([start, *(sys.argv[1:] if argv is None else argv)])


def release_split(kind: str, resolution: int = 64) -> dict:
    """The release recipe's split (made if missing), as written by `neuroart.training.release_data`; paintings at
    `resolution` px."""
    from neuroart.training import release_data

    out = release_data.DEFAULT_OUTPUT
    folder = {"gan": release_data.paintings_folder(resolution), "poetry": "poetry", "music": "music"}[kind]
    split = out / folder / "split.json"
    # A music split written before the held-out pieces were sorted by tune lacks `val_new_tunes_dir`: remade.
    if not split.exists() or (kind == "music" and "val_new_tunes_dir" not in json.loads(split.read_text())):
        release_data.main([{"gan": "paintings", "poetry": "poetry", "music": "music"}[kind],
                           "--shared_data", str(shared_data()), "--output_dir", str(out),
                           *(["--resolution", str(resolution)] if kind == "gan" else [])])
    return json.loads(split.read_text())
