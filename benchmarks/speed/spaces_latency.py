#!/usr/bin/env python
"""Per-request latency of each Space on this CPU, served on 127.0.0.1 and called through gradio_client, with the
threading policy the apps set (OMP_WAIT_POLICY=PASSIVE) against OpenMP's default (spin-waiting), 2 torch threads.

    python -m benchmarks.speed.spaces_latency --models neuroart-models     # the folders of `neuroart quickstart`

Each setting runs in its own process (the policy is read when torch loads). The first request of each endpoint
warms up and is reported apart; the figure is the median of `--repeats` later requests. The default-policy run
calls only the light endpoints once each, since spin-waiting can make it very slow.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import common
from benchmarks.common import write_results

# (Space, endpoint, arguments)
CALLS = [
    ("neuroart-gan", "/paint", (0, 8, 0.8, "any")),
    ("neuroart-gan", "/walk", (0, 1, 16, 0.8, "any")),
    ("neuroart-music", "/compose", (1.0, 0, 0.95, 0, 4, "Am", "medium", None, False)),
    ("neuroart-poetry", "/write", ("中文", "七言绝句", "春", "花 月", "", True, True, 4, 0.9, 0)),
    ("neuroart-poetry", "/check", ("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", "auto")),
    ("neuroart-studio", "/create", ("春江花月", "", 0)),
]
LIGHT = {("neuroart-gan", "/paint"), ("neuroart-poetry", "/write")}


def measure(models: str, repeats: int, light_only: bool) -> dict:
    """In this process: serve each Space, time its endpoints."""
    from gradio_client import Client

    from neuroart.cli import load_space as load_app
    from neuroart.cli import serve_space as serve

    results = {}
    for name in dict.fromkeys(space for space, _, _ in CALLS):
        app = load_app(name, models)
        app.load()  # model loading is start-up time, not request time
        with serve(app) as url:
            client = Client(url, verbose=False)
            for space, endpoint, args in CALLS:
                if space != name or (light_only and (space, endpoint) not in LIGHT):
                    continue
                times = []
                for _ in range(1 + (0 if light_only else repeats)):
                    started = time.perf_counter()
                    client.predict(*args, api_name=endpoint)
                    times.append(time.perf_counter() - started)
                results[f"{space}{endpoint}"] = {"first_s": round(times[0], 3),
                                                 "median_s": round(statistics.median(times[1:] or times), 3)}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="neuroart-models", help="Folder with the three quickstart models.")
    parser.add_argument("--repeats", type=int, default=3, help="Timed requests per endpoint after the warm-up.")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (free Spaces have 2 vCPUs).")
    parser.add_argument("--skip_default_policy", action="store_true", help="Do not run OpenMP's default policy.")
    parser.add_argument("--results_dir", type=str, default=None, help="Where the JSON goes.")
    parser.add_argument("--_child", choices=["PASSIVE", "default"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(measure(args.models, args.repeats, light_only=args._child == "default")))
        return
    if args.results_dir:
        common.RESULTS = Path(args.results_dir)
    runs = {}
    for policy in ["PASSIVE"] + ([] if args.skip_default_policy else ["default"]):
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        env.update({"OMP_NUM_THREADS": str(args.threads), "GRADIO_ANALYTICS_ENABLED": "False",
                    "HF_HUB_OFFLINE": "1"})
        if policy == "PASSIVE":
            env["OMP_WAIT_POLICY"] = "PASSIVE"
        else:  # empty: libgomp falls back to its default (spin, then sleep), and the apps' setdefault keeps it
            env["OMP_WAIT_POLICY"] = ""
        cmd = [sys.executable, "-m", __spec__.name, "--models", args.models, "--repeats", str(args.repeats),
               "--threads", str(args.threads), "--_child", policy]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600, cwd=common.REPO_ROOT)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-3000:])
        runs[policy] = json.loads(out.stdout.strip().split("\n")[-1])
        print(policy, json.dumps(runs[policy], indent=1))
    summary = {f"{k}_s": v["median_s"] for k, v in runs["PASSIVE"].items()}
    if "default" in runs:
        for key, value in runs["default"].items():
            summary[f"{key}_spin_wait_s"] = value["first_s"]
            summary[f"{key}_first_passive_s"] = runs["PASSIVE"][key]["first_s"]
    import torch  # the header of the results records the children's settings

    torch.set_num_threads(args.threads)
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE" + ("; *_spin_wait_s: unset" if "default" in runs else "")
    write_results("spaces_latency", summary, {"runs": runs, "threads": args.threads})


if __name__ == "__main__":
    main()
