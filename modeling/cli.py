"""The `neuroart` command line.

    neuroart quickstart [--output_dir neuroart-models] [--train [--tiny]] [--no-launch] [--port 7860]
    neuroart models install|list|push [--kinds gan music poetry] [--namespace neuroart]
    neuroart generate gan     [--model DIR] [--num_images 8 --seed 0 --truncation 0.8 --label 1 --out out/]
    neuroart generate music   [--model DIR] [--bars 8 --key Am --density high --primer in.mid --keep_primer]
    neuroart generate poetry  [--model DIR] [--form 七言绝句 --acrostic 春夏秋冬 --title 春 --keywords 风 花]
    neuroart check-poem "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"

Without `--model`, `generate` uses the release (`neuroart/neuroart-<kind>`, installed into the Hub cache from
`releases/` when needed). `quickstart` installs the releases, writes one sample of each kind into `--output_dir` and
opens the studio Space on them (`--no-launch` skips that). `quickstart --train` instead trains a small model of
each kind on the embedded defaults (procedural abstract art, music21's Bach chorales, fortunes-zh's Tang poems);
a default whose source is missing is reported with the command that installs it, and the others go on.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see docs/training.md on small CPUs

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

from .kinds import KINDS  # noqa: E402  (the table imports no torch)
from .kinds import NAMES as KIND_NAMES  # noqa: E402

MAX_PRIMER_BYTES = 5_000_000
# (script, folder, flags for the normal run, flags for --tiny)
QUICKSTART = [
    ("train_gan.py", "neuroart-gan",
     ["--resolution", "64", "--max_train_cpu_seconds", "240", "--max_train_steps", "100000", "--train_batch_size", "16",
      "--sample_steps", "100", "--checkpointing_steps", "200"],
     ["--resolution", "32", "--max_train_steps", "3", "--num_default_images", "24", "--train_batch_size", "4",
      "--generator_base_channels", "4", "--discriminator_base_channels", "4", "--max_channels", "32"]),
    ("train_music.py", "neuroart-music",
     ["--max_train_samples", "60", "--max_train_cpu_seconds", "240", "--max_train_steps", "100000", "--transpose", "2",
      "--sample_steps", "200", "--checkpointing_steps", "400", "--eval_steps", "200"],
     ["--max_train_samples", "3", "--max_train_steps", "3", "--hidden_size", "32", "--num_hidden_layers", "1",
      "--transpose", "0", "--max_seq_length", "64", "--train_batch_size", "2", "--sample_bars", "1"]),
    ("train_poetry.py", "neuroart-poetry",
     ["--max_train_cpu_seconds", "300", "--max_train_steps", "100000", "--sample_steps", "300",
      "--checkpointing_steps", "600", "--eval_steps", "300"],
     ["--max_train_steps", "3", "--hidden_size", "32", "--num_hidden_layers", "1", "--num_attention_heads", "2",
      "--max_seq_length", "64", "--train_batch_size", "4"]),
]


def quickstart(args) -> int:
    if not args.train:
        return release_quickstart(args)
    import neuroart.training as training

    scripts = Path(training.__file__).parent
    root = Path(args.output_dir)
    root.mkdir(parents=True, exist_ok=True)
    report = {}
    for script, folder, normal, tiny in QUICKSTART:
        out = root / folder
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--mixed_precision", "no",
               str(scripts / script), "--output_dir", str(out), "--seed", str(args.seed), *(tiny if args.tiny else normal)]
        print(f"\n== {folder}: {' '.join(cmd[3:])}", flush=True)
        started = time.time()
        result = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")})
        report[folder] = {"ok": result.returncode == 0, "seconds": round(time.time() - started, 1)}
        if result.returncode != 0:
            print(f"!! {folder} did not train (see the message above); going on with the others.", flush=True)
    (root / "quickstart.json").write_text(json.dumps(report, indent=2))
    for name, info in report.items():
        print(f"{name}: {'ok' if info['ok'] else 'FAILED'} in {info['seconds']} s -> {root / name}")
    ok = all(info["ok"] for info in report.values())
    if ok and not args.no_launch:
        return launch_studio(root, args.port)
    return 0 if ok else 1


def release_quickstart(args) -> int:
    """Install the releases, write one sample of each kind, open the studio on them. No training."""
    from neuroart import releases

    started = time.time()
    installed = releases.install()
    missing = [kind for kind in releases.KINDS if releases.repo_id(kind) not in installed]
    for repo, commit in installed.items():
        print(f"installed {repo} (revision {commit[:12]}) into {releases.hub_cache()}")
    if missing:
        print(f"!! No release in {releases.releases_dir()} for: {', '.join(missing)}. "
              "`neuroart quickstart --train` trains small models instead.", flush=True)
        return 1
    root = Path(args.output_dir)
    samples = root / "samples"
    base = ["--out", str(samples), "--seed", str(args.seed)]
    for kind, extra in (("gan", ["--num_images", "8"]), ("music", ["--bars", "8"]),
                        ("poetry", ["--form", "七言绝句", "--title", "春江花月", "--keywords", "春", "江", "花", "月"])):
        print(f"\n== sample: neuroart generate {kind} {' '.join(extra)}", flush=True)
        code = generate(build_parser().parse_args(["generate", kind, *base, *extra]))
        if code:
            return code
    print(f"\nReleases installed and samples written to {samples} in {time.time() - started:.0f} s.", flush=True)
    if args.no_launch:
        return 0
    env = {KINDS[kind].env_var: releases.default_model(kind) for kind in releases.KINDS}
    return launch_studio(env, args.port)


def models(args) -> int:
    from neuroart import releases

    kinds = args.kinds or list(releases.KINDS)
    if args.action == "install":
        import warnings

        with warnings.catch_warnings(record=True) as notes:
            warnings.simplefilter("always")
            done = releases.install(kinds)
        for repo, commit in done.items():
            print(f"{repo}: installed (revision {commit[:12]}) into {releases.hub_cache()}")
        for note in notes:
            print(f"note: {note.message}")
        for kind in kinds:
            if releases.repo_id(kind) not in done:
                print(f"{releases.repo_id(kind)}: no release folder in {releases.releases_dir()}")
        return 0
    if args.action == "push":
        for repo, commit in releases.push(kinds, namespace=args.namespace, token=args.token).items():
            print(f"pushed {repo}: {commit}")
        return 0
    for kind in kinds:
        folder, cached = releases.release_folder(kind), releases.installed_folder(kind)
        print(f"{releases.repo_id(kind)}: release {folder or '-'}; installed {cached or '-'}")
    return 0


def space_app(name: str) -> Path | None:
    """`spaces/<name>/app.py` of the clone this package is installed from (editable installs), else None."""
    app = Path(__file__).resolve().parents[1] / "spaces" / name / "app.py"
    return app if app.exists() else None


def space_env(root) -> dict:
    """The environment that points the Spaces at the quickstart models."""
    root = Path(root).resolve()
    return {kind.env_var: str(root / f"neuroart-{kind.name}") for kind in KINDS.values()}


def load_space(name: str, models_root):
    """Import spaces/<name>/app.py (of this clone) as a fresh module, with NEUROART_*_MODEL pointing into
    `models_root` while it imports (the apps read their model ids then); the environment is restored after."""
    import importlib.util

    app_path = space_app(name)
    if app_path is None:
        raise FileNotFoundError(f"spaces/{name}/app.py is not in this installation; use a clone of the repository.")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    module_name = "space_" + name.replace("-", "_")
    spec = importlib.util.spec_from_file_location(module_name, app_path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    variables = space_env(models_root)
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        spec.loader.exec_module(module)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return module


@contextlib.contextmanager
def serve_space(app, max_file_size: str = "1mb"):
    """Launch a loaded Space (`load_space`) on a free loopback port, as `python app.py` would (models loaded
    first, the upload cap); yield its URL and close it after."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app.load()
    _, url, _ = app.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                                max_file_size=max_file_size)
    try:
        yield url
    finally:
        app.demo.close()


def launch_studio(root_or_env, port: int) -> int:
    """Open the studio Space on the quickstart models of a folder, or on the models an env dict names (blocks
    until Ctrl+C)."""
    app = space_app("neuroart-studio")
    if app is None:
        print("The studio app is in the repository (spaces/neuroart-studio/app.py); run quickstart from a clone "
              "to open it.")
        return 0
    print(f"\n== Opening the studio on http://127.0.0.1:{port} (Ctrl+C to stop)", flush=True)
    models_env = root_or_env if isinstance(root_or_env, dict) else space_env(root_or_env)
    env = {**os.environ, **models_env, "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    try:
        return subprocess.run([sys.executable, str(app)], env=env).returncode
    except KeyboardInterrupt:
        return 0


def _load(args):
    """(model name for provenance, model path): the release when `--model` is not given. A `--model` that is neither
    a folder here nor a repo id in the Hub cache (or reachable on the Hub) is a one-line error."""
    if args.model is not None:
        check_model(args.model)
        return args.model, args.model
    from neuroart import releases

    return releases.repo_id(args.kind), releases.default_model(args.kind)


def check_model(model: str) -> None:
    """Raise UserError unless `model` is a model folder, or a repo id that is cached or (online) on the Hub."""
    import re

    path = Path(model)
    if path.is_dir():
        if not (path / "config.json").exists():
            raise UserError(f"--model {model}: the folder has no config.json (is it a model folder?).")
        return
    hint = "neither a local folder nor an installed or reachable Hub repo"
    if path.exists() or not re.fullmatch(r"[\w.-]+/[\w.-]+|[\w.-]+", model) or model.startswith("."):
        raise UserError(f"--model {model}: {hint}.")
    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(model, "config.json"), str):
        return
    if constants.HF_HUB_OFFLINE:
        raise UserError(f"--model {model}: {hint} (offline: only cached models load).")
    from huggingface_hub import model_info
    from huggingface_hub.errors import HfHubHTTPError

    try:
        model_info(model, timeout=10)
    except (HfHubHTTPError, OSError, ValueError) as error:
        raise UserError(f"--model {model}: {hint} ({type(error).__name__}).") from None


class UserError(Exception):
    """A mistake in what the user asked for: printed as one line (what is wrong, how to fix it), exit code 2."""


class Manifest:
    """`manifest.jsonl` of a bulk run: one line per finished work (seed, files, settings). A rerun skips the seeds
    whose line and files are there, so an interrupted run resumes where it stopped."""

    def __init__(self, folder: Path):
        self.path = folder / "manifest.jsonl"
        self.done = set()
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a kill: that work is redone
                    continue
                if all((folder / f).exists() for f in entry.get("files", [])):
                    self.done.add(entry["seed"])

    def add(self, seed: int, files: list[str], settings: dict) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"seed": seed, "files": files, **settings}, ensure_ascii=False) + "\n")
        self.done.add(seed)


def _progress(total: int, desc: str):
    try:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit="work")
    except ImportError:  # pragma: no cover - tqdm comes with the train extra
        class Plain:
            def update(self, n):
                pass

            def close(self):
                pass

        return Plain()


def _bulk(args, out: Path, make_batch, batch_size: int) -> int:
    """Write works for seeds seed .. seed+num-1 (skipping finished ones), `batch_size` seeds per call of
    `make_batch(seeds) -> [(files, settings), ...]`."""
    manifest = Manifest(out)
    pending = [s for s in range(args.seed, args.seed + args.num) if s not in manifest.done]
    bar = _progress(args.num, f"neuroart generate {args.kind}")
    bar.update(args.num - len(pending))
    for start in range(0, len(pending), batch_size):
        seeds = pending[start : start + batch_size]
        for seed, (files, settings) in zip(seeds, make_batch(seeds)):
            manifest.add(seed, files, settings)
        bar.update(len(seeds))
    bar.close()
    print(f"{args.num} works in {out} ({len(pending)} new, {args.num - len(pending)} already there); "
          f"manifest: {manifest.path}")
    return 0


def generate(args) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name, args.model = _load(args)
    return {"gan": generate_gan, "music": generate_music_cli, "poetry": generate_poetry}[args.kind](args, out, name)


def _device(args) -> str:
    """--device: "auto" is the GPU when there is one, else the CPU; a device that is not here is an error."""
    import torch

    device = args.device
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {device}: no CUDA device on this machine; use --device cpu.")
    if device == "mps" and not torch.backends.mps.is_available():
        raise SystemExit("--device mps: Apple's MPS is not available here; use --device cpu.")
    return device


def generate_gan(args, out: Path, name: str) -> int:
    from transformers import AutoModel
    from transformers.utils import cached_file

    from neuroart.gan import NEAREST_INDEX_FILE, near_copies, nearest_in_index

    model = AutoModel.from_pretrained(args.model, trust_remote_code=True).eval().to(_device(args))
    model.name_or_path = name  # recorded in each painting's provenance chunks
    # The training thumbnails shipped beside the weights (the release's), to flag a painting that copies one.
    index = cached_file(args.model, NEAREST_INDEX_FILE, _raise_exceptions_for_missing_entries=False)

    def flag(images, names) -> list[float | None]:
        """Each painting's distance to its nearest training thumbnail (None without an index); a note for each
        near-copy."""
        if index is None:
            return [None] * len(names)
        found = near_copies(images, index)
        for painting, (distance, copied) in zip(names, found):
            if copied:
                print(f"note: {painting} is a near-copy of a training image (RMS distance {distance:.3f}); "
                      "--nearest shows it", file=sys.stderr)
        return [round(distance, 4) for distance, _ in found]
    label = args.label
    if args.style is not None:
        names = {str(v): int(k) for k, v in (getattr(model.config, "id2label", None) or {}).items()}
        if args.style not in names or not model.config.num_classes:
            raise SystemExit(f"--style {args.style!r} is not a style of this model ({', '.join(names) or 'none'}).")
        label = names[args.style]
    if args.num:
        def paint(seeds):
            written = model.paint_to_folder(seeds, out, truncation_psi=args.truncation, labels=label,
                                            chunk_size=args.batch_size, precision=args.precision)
            from PIL import Image

            nearest = flag([Image.open(out / file) for file, _ in written], [file for file, _ in written])
            return [([file], {"model": name, "truncation_psi": args.truncation,
                              "label": None if info["label"] is None else str(info["label"]),
                              "precision": info["precision"], "nearest_training_rms": distance})
                    for (file, info), distance in zip(written, nearest)]

        return _bulk(args, out, paint, args.batch_size)
    images = model.generate_images(args.num_images, seed=args.seed, truncation_psi=args.truncation, labels=label,
                                   precision=args.precision)
    images.save(out)
    print(f"{len(images)} paintings in {out}")
    flag(list(images), [f"painting {i}" for i in range(len(images))])
    if args.walk_to is not None:
        from neuroart.gan import save_animation

        frames = model.interpolate(args.seed, args.walk_to, steps=args.frames, truncation_psi=args.truncation,
                                   labels=label)
        save_animation(frames, out / f"walk_{args.seed}_{args.walk_to}.png")
        print(f"latent walk: {out / f'walk_{args.seed}_{args.walk_to}.png'}")
    if args.nearest:
        if index is None:
            raise SystemExit(f"{args.model} ships no {NEAREST_INDEX_FILE}.")
        for i, row in enumerate(nearest_in_index(images, index, k=3)):
            print(f"painting {i}: nearest training thumbnails at RMS distance " + ", ".join(f"{d:.3f}" for _, d in row))
    return 0


def generate_music_cli(args, out: Path, name: str) -> int:
    from transformers import AutoModelForCausalLM
    from transformers.utils import cached_file

    from neuroart.music import PASSAGE_INDEX_FILE, PassageIndex
    from neuroart.music.generation import generate_music, load_tokenizer

    model = AutoModelForCausalLM.from_pretrained(args.model, trust_remote_code=True).eval().to(_device(args))
    tokenizer = load_tokenizer(args.model)
    # The training passages shipped beside the weights (the release's), to report what a piece repeats of them.
    index_file = cached_file(args.model, PASSAGE_INDEX_FILE, _raise_exceptions_for_missing_entries=False)
    index = PassageIndex.load(index_file) if index_file else None
    primer = None
    if args.primer:
        path = Path(args.primer)
        if not path.is_file() or path.stat().st_size > MAX_PRIMER_BYTES:
            raise SystemExit(f"--primer {path}: not a file, or larger than {MAX_PRIMER_BYTES:,} bytes.")
        primer = path.read_bytes()
        if not primer.startswith(b"MThd"):
            raise SystemExit(f"--primer {path} is not a MIDI file (no 'MThd' header).")
        try:
            from symusic import Score

            Score.from_midi(primer)
        except Exception as error:  # noqa: BLE001  (symusic raises RuntimeError for any damage)
            raise UserError(f"--primer {path} is not a readable MIDI file ({str(error).splitlines()[0][:120]}); "
                            "export it again from your editor.") from None
    if args.harmonize and primer is None:
        raise SystemExit("--harmonize needs --primer MELODY.mid (the melody to harmonise).")
    bars = args.bars or (None if args.harmonize else 8)
    meter = "auto" if args.meter is None else args.meter
    voices = "auto" if args.voices is None else (args.voices or None)
    tonality = "auto" if args.tonality is None else args.tonality

    def compose(seed: int, audio: bool = True) -> tuple[list[str], dict]:
        """The files written for `seed`, and what the manifest records: the piece's resolved settings."""
        try:
            piece = _compose(seed)
        except ValueError as error:  # a setting the model cannot honour (a metre or key it does not know)
            raise SystemExit(str(error)) from None
        if piece.melody_missing:
            print(f"note: seed {seed}: {piece.melody_missing} melody notes could not be set (raise "
                  "--max_new_tokens)", file=sys.stderr)
        if piece.copies is not None and piece.copies.copied:
            print(f"note: seed {seed}: {piece.copies.describe(piece.score)}", file=sys.stderr)
        piece.model = name
        recorded = {**piece.settings, "primer": args.primer}
        if piece.copies is not None:
            recorded.update(passages=piece.copies.total, copied_passages=piece.copies.copied)
        return [Path(path).name for path in piece.save(out, {"primer": args.primer}, audio=audio)], \
            {"model": name, **recorded}

    def _compose(seed: int):
        with warnings.catch_warnings():  # a missing melody note is printed as a note by compose()
            warnings.filterwarnings("ignore", message="harmonize: ")
            return _generate(seed)

    def _generate(seed: int):
        return generate_music(model, tokenizer, primer=primer, keep_primer=args.keep_primer, num_bars=bars,
                              max_new_tokens=args.max_new_tokens, density=args.density,
                              key=None if args.key.lower() == "none" else args.key,
                              temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=seed,
                              harmonize=args.harmonize, voices=voices, tonality=tonality, meter=meter,
                              passage_index=index)

    if args.num:
        return _bulk(args, out, lambda seeds: [compose(s, audio=not args.midi_only) for s in seeds], 1)
    files, _ = compose(args.seed)
    print(", ".join(str(out / f) for f in files))
    return 0


def generate_poetry(args, out: Path, name: str) -> int:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import cached_file

    from neuroart.poetry import LineIndex, write_poem
    from neuroart.releases import LINE_INDEX

    model = AutoModelForCausalLM.from_pretrained(args.model, trust_remote_code=True).eval().to(_device(args))
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    # The training lines shipped beside the weights (the release's), to flag a line the poet copied verbatim.
    index_file = cached_file(args.model, LINE_INDEX, _raise_exceptions_for_missing_entries=False)
    index = LineIndex.load(index_file) if index_file else None

    def write(seed: int):
        try:
            poem = write_poem(model, tokenizer, form=args.form, title=args.title, keywords=args.keywords,
                              acrostic=args.acrostic, rhyme=not args.no_rhyme, tone=args.tone,
                              lexicon=None if args.no_lexicon else "auto",
                              num_candidates=args.num_candidates, temperature=args.temperature, top_k=args.top_k,
                              top_p=args.top_p, seed=seed, line_index=index)
        except ValueError as error:
            raise SystemExit(str(error)) from None
        poem.model = name
        poem.save(out)
        return poem

    if args.num:
        def batch(seeds):
            works = []
            for seed in seeds:
                poem = write(seed)
                works.append(([f"poem_{seed}.txt"], {"model": name, **poem.settings, "text": poem.text,
                                                     "check": poem.check, "relaxed": poem.relaxed,
                                                     "copied_lines": poem.copied_lines}))
            return works

        return _bulk(args, out, batch, 1)
    poem = write(args.seed)
    print(poem.text)
    for note in poem.relaxed:  # what could not be honoured (a keyword longer than a line, a rule given way)
        print(f"note: {note}", file=sys.stderr)
    if poem.copied_lines:
        print("note: found verbatim in the training poems: " + " / ".join(poem.copied_lines), file=sys.stderr)
    return 0


def check(args) -> int:
    from neuroart.poetry import check_poem

    verdict = check_poem(args.text, args.form)
    print(json.dumps(verdict.as_dict(), ensure_ascii=False, indent=2))
    return 0 if verdict.ok else 1


def bounded(low: float, high: float, kind=int):
    def parse(text: str):
        value = kind(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must lie in [{low}, {high}], got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuroart", description=__doc__.split("\n")[0])
    parser.add_argument("--debug", action="store_true", help="Show the full traceback of an error.")
    parser.add_argument("--verbose", action="store_true", help="Show loading and download progress bars.")
    sub = parser.add_subparsers(dest="command", required=True)
    q = sub.add_parser("quickstart", help="Samples from the release models and the studio on them (or --train).")
    q.add_argument("--output_dir", default="neuroart-models", help="Where the three model folders go.")
    q.add_argument("--train", action="store_true",
                   help="Train small models on the embedded defaults (~15 minutes) instead of using the releases.")
    q.add_argument("--tiny", action="store_true", help="With --train: a few steps each (for CI).")
    q.add_argument("--seed", type=int, default=0, help="Seed of every run.")
    q.add_argument("--no-launch", action="store_true", help="Do not open the studio Space on the models afterwards.")
    q.add_argument("--port", type=bounded(1024, 65535), default=7860, help="Port of the studio (1024-65535).")
    g = sub.add_parser("generate", help="Paint, compose or write (the release unless --model is given).")
    kinds = g.add_subparsers(dest="kind", required=True)

    def common(kind: str, help_text: str):
        p = kinds.add_parser(kind, help=help_text)
        p.add_argument("--model", default=None, help="Model folder or Hub id (default: the release).")
        p.add_argument("--out", "--output_dir", dest="out", default="neuroart-outputs", help="Output folder.")
        p.add_argument("--seed", type=bounded(0, 2**31 - 1), default=0, help="Seed (of the first work with --num).")
        p.add_argument("--device", default="auto",
                       help='Where to run: "auto" (a GPU when there is one), "cpu", "cuda", "cuda:1" or "mps".')
        p.add_argument("--num", type=bounded(1, 1_000_000), default=None,
                       help="Bulk: write this many works (seeds seed, seed+1, ...) and a manifest.jsonl; a rerun "
                            "skips the works already written.")
        return p

    def sampling(p):  # the same three settings, with the same defaults, for every kind that samples tokens
        own = " (default: the model's generation_config, else transformers' default)"
        p.add_argument("--temperature", type=bounded(0.05, 5.0, float), default=None,
                       help="Sampling temperature" + own + ".")
        p.add_argument("--top_k", type=bounded(0, 1000), default=None, help="Top-k sampling, 0 = off" + own + ".")
        p.add_argument("--top_p", type=bounded(0.05, 1.0, float), default=None, help="Nucleus sampling" + own + ".")

    gg = common("gan", "Paint.")
    gg.add_argument("--num_images", type=bounded(1, 256), default=8, help="Paintings from one seed (1-256).")
    gg.add_argument("--batch_size", type=bounded(1, 1024), default=64, help="With --num: paintings per batch.")
    gg.add_argument("--truncation", type=bounded(0.0, 1.0, float), default=1.0, help="Truncation psi (0-1).")
    gg.add_argument("--label", type=int, default=None, help="Style class (number) of a conditional GAN.")
    gg.add_argument("--style", default=None, help="Style class by name (the model's id2label), e.g. c17.")
    gg.add_argument("--walk_to", type=bounded(0, 2**31 - 1), default=None,
                    help="Also write a latent-walk animation from --seed to this seed.")
    gg.add_argument("--frames", type=bounded(2, 256), default=24, help="Frames of the walk (2-256).")
    gg.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto",
                    help="auto: bfloat16 where the CPU/GPU runs it natively (AMX, AVX512-BF16), else float32.")
    gg.add_argument("--nearest", action="store_true", help="Print each painting's nearest training thumbnails.")
    gm = common("music", "Compose.")
    gm.add_argument("--bars", type=bounded(1, 64), default=None,
                    help="Bars of music (1-64; default 8, or the melody's length with --harmonize).")
    gm.add_argument("--max_new_tokens", type=bounded(16, 8192), default=None,
                    help="Token cap (16-8192; default: room for --bars, or for the whole melody with --harmonize).")
    gm.add_argument("--key", default="auto",
                    help="Key: a name (C, Am, F#m) keeps every note in its scale; auto (default): a new piece's key "
                         "is drawn from the model's training keys and held softly; none: the model's own choice.")
    gm.add_argument("--density", default=None, choices=["low", "medium", "high"], help="Note density.")
    gm.add_argument("--primer", default=None, help="A MIDI file to continue.")
    gm.add_argument("--keep_primer", action="store_true", help="Keep the primer in the output.")
    gm.add_argument("--harmonize", action="store_true",
                    help="Read --primer as a melody and write Alto, Tenor and Bass under it (the melody is kept "
                         "note for note as the Soprano; the voices keep to the melody's key softly and may modulate; a named "
                         "--key masks them to its scale).")
    gm.add_argument("--voices", type=bounded(0, 64), default=None,
                    help="Most notes sounding at once (0 = no cap; default: the model's own, 5 for the release).")
    gm.add_argument("--tonality", type=bounded(0.0, 20.0, float), default=None,
                    help="Nats an out-of-key pitch loses once a key has set in (0 = off; default: the model's own, "
                         "2 for the release).")
    gm.add_argument("--meter", default=None,
                    help="Metre of a new piece, e.g. 3/4 (default: drawn as often as the model's training pieces "
                         "use each metre; a primer brings its own).")
    sampling(gm)
    gm.add_argument("--midi_only", action="store_true", help="With --num: MIDI files only (no WAV, no piano roll).")
    gp = common("poetry", "Write a poem.")
    gp.add_argument("--form", default="七言绝句", help="五言绝句, 七言绝句, 五言律诗, 七言律诗, quatrain or sonnet.")
    gp.add_argument("--title", default=None, help="Poem title.")
    gp.add_argument("--keywords", nargs="*", default=None, help="Keywords that must appear.")
    gp.add_argument("--acrostic", default=None, help="First characters of the lines (藏头诗).")
    gp.add_argument("--tone", action="store_true", help="Apply 平仄 rules.")
    gp.add_argument("--no_rhyme", action="store_true", help="Do not enforce rhyme.")
    gp.add_argument("--no_lexicon", action="store_true",
                    help="English forms: let the poet spell words outside its training poems' (english_words.txt).")
    gp.add_argument("--num_candidates", type=bounded(1, 32), default=4, help="Candidates to rerank (1-32).")
    sampling(gp)
    m = sub.add_parser("models", help="Install, list or push the release models.")
    m.add_argument("action", choices=["install", "list", "push"])
    m.add_argument("--kinds", nargs="*", choices=list(KIND_NAMES), default=None, help="Which releases.")
    m.add_argument("--namespace", default="neuroart", help="Hub namespace to push to.")
    m.add_argument("--token", default=None, help="Hub token for push (default: the logged-in one).")
    c = sub.add_parser("check-poem", help="Check a classical Chinese poem's form, rhyme and tone.")
    c.add_argument("text", help="The poem.")
    c.add_argument("--form", default=None, help="Expected form (default: from the shape).")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "check-poem":  # the console script deferred it (neuroart/__init__.py): models need it now
        import neuroart

        neuroart.register()
    if not args.verbose:  # the "Loading weights" and download bars are noise on every call
        from huggingface_hub.utils import disable_progress_bars
        from transformers.utils import logging as transformers_logging

        disable_progress_bars()
        transformers_logging.disable_progress_bar()
        transformers_logging.set_verbosity_error()
    try:
        if args.command == "quickstart":
            return quickstart(args)
        if args.command == "generate":
            return generate(args)
        if args.command == "models":
            return models(args)
        return check(args)
    except KeyboardInterrupt:
        print("neuroart: interrupted", file=sys.stderr)
        return 130
    except (UserError, SystemExit) as error:
        code = error.code if isinstance(error, SystemExit) else str(error)
        if code is None or isinstance(code, int):  # sys.exit(n) from a command: its own exit code
            raise
        if args.debug:
            raise
        print(f"neuroart: error: {code}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
