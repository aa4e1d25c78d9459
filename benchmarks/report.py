#!/usr/bin/env python
"""Print the benchmark tables of benchmarks/README.md from benchmarks/results/*.json (so they never drift).

    python -m benchmarks.report            # print them
    python -m benchmarks.report --readme   # rewrite benchmarks/README.md between its markers
"""

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

ROWS = {
    "gan_quality": [
        ("KID vs held-out paintings (lower is better)", "kid_neuroart", "kid_dcgan"),
        ("SWD x1e3 (lower is better)", "swd_neuroart", "swd_dcgan"),
        ("FID, offline Inception, n = validation size (biased at this n)", "fid_neuroart", "fid_dcgan"),
        ("mean RMS distance to nearest training image", "nearest_train_rms_neuroart", "nearest_train_rms_dcgan"),
        ("training steps in the budget", "steps_neuroart", "steps_dcgan"),
    ],
}


def fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(name: str) -> str:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return f"_{name}: not run yet._\n"
    payload = json.loads(path.read_text())
    summary, machine = payload["summary"], payload["machine"]
    lines = [f"**{name}** (`{payload.get('command', '')}`; {machine['cpu']}, torch {machine['torch']}, "
             f"{machine['torch_threads']} thread(s), OMP_WAIT_POLICY={machine['omp_wait_policy']}, {machine['date']})",
             ""]
    if name in ROWS:
        lines += ["| metric | NeuroArt | baseline |", "| --- | --- | --- |"]
        lines += [f"| {label} | {fmt(summary.get(a))} | {fmt(summary.get(b))} |" for label, a, b in ROWS[name]]
        rest = {k: v for k, v in summary.items() if k not in {x for row in ROWS[name] for x in row[1:]}}
    else:
        lines += ["| key | value |", "| --- | --- |"]
        rest = summary
    lines += [f"| {k} | {fmt(v) if not isinstance(v, dict) else json.dumps(v, ensure_ascii=False)} |"
              for k, v in rest.items()] if name not in ROWS else [
        "", "Other figures: " + ", ".join(f"{k} = {fmt(v) if not isinstance(v, dict) else json.dumps(v)}"
                                          for k, v in rest.items())]
    return "\n".join(lines) + "\n"


NAMES = ("gan_quality", "gan_speed", "poetry_quality", "poetry_speed", "music_quality", "music_speed", "creation_speed",
         "spaces_latency", "memory", "gpu_smoke", "gpu_smoke_cpu")
START, END = "<!-- benchmark tables: python -m benchmarks.report --readme -->", "<!-- /benchmark tables -->"


if __name__ == "__main__":
    import sys

    text = "\n".join(table(name) for name in NAMES)
    if "--readme" in sys.argv:
        readme = RESULTS.parent / "README.md"
        before, rest = readme.read_text().split(START)
        after = rest.split(END, 1)[1]
        readme.write_text(before + START + "\n\n" + text + "\n" + END + after)
    else:
        print(text)
