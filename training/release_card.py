"""The model card of a release folder: what the template says, plus the recipe, the data, the budget, the measured
quality (`benchmarks/results/release_quality.json`) and the samples (written here, from the release weights)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from .release import (
    DATA_NOTES,
    GENERATION_DEFAULTS,
    HALF_PRECISION,
    REPO_ROOT,
    gpu_train_command,
    release_dir,
    train_command,
)


def _table(rows: dict) -> str:
    lines = ["| measure | value |", "| --- | --- |"]
    for key, value in rows.items():
        lines.append(f"| {key} | {str(value).replace(chr(10), ' / ')} |")  # a poem's lines stay in its cell
    return "\n".join(lines)


def _flat(section: dict, prefix: str = "") -> dict:
    """The section's numbers and strings, and those of one level of named sub-sections (`english.sonnet`): the
    measures a release is judged on, without the long per-form or per-candidate detail."""
    rows = {}
    for key, value in section.items():
        if key in ("machine", "command", "examples"):
            continue
        if isinstance(value, (int, float, str)):
            rows[prefix + key] = value
        elif isinstance(value, dict) and key in ("english", "quatrain", "sonnet", "lexicon_off"):
            rows.update(_flat(value, f"{prefix}{key}."))
    return rows


def gan_samples(folder: Path) -> list[str]:
    """A grid per style (8 seeds each) and a latent walk, written beside the weights; returns markdown lines."""
    from neuroart import NeuroArtGANModel
    from neuroart.gan import save_animation
    from neuroart.training.tracking import image_grid

    model = NeuroArtGANModel.from_pretrained(folder).eval()
    (folder / "samples").mkdir(exist_ok=True)
    lines = []
    styles = model.config.id2label if model.config.num_classes else {0: "all"}
    for label, name in sorted(styles.items(), key=lambda kv: int(kv[0])):
        images = model.generate_images(16, seed=int(label), labels=int(label) if model.config.num_classes else None)
        path = f"samples/style_{name}.png"
        image_grid(images, 8).save(folder / path)
        lines.append(f"**{name}** (seeds {int(label)}, 16 images)\n\n![{name}]({path})\n")
    frames = model.interpolate(seed_a=3, seed_b=11, steps=24, labels=0 if model.config.num_classes else None)
    save_animation(frames, folder / "samples" / "walk.png")
    lines.append("Latent walk (seed 3 to 11, 24 frames, animated PNG):\n\n![walk](samples/walk.png)\n")
    return lines


def poetry_samples(folder: Path) -> list[str]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from neuroart.poetry import FORMS, write_poem
    from neuroart.poetry.prosody import explain_poem

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    lines = []
    for i, form in enumerate(FORMS):
        poem = write_poem(model, tokenizer, form=form, seed=i, tone=True)
        explanation = explain_poem(poem.text, form)
        lines.append(f"**{form}** (`write_poem(model, tokenizer, form=\"{form}\", seed={i}, tone=True)`)\n\n```\n"
                     f"{poem.text}\n```\n\n{explanation}\n")
    poem = write_poem(model, tokenizer, form="七言绝句", title="春江花月", keywords=list("春江花月"), seed=0)
    lines.append(f"**Keywords** 春 江 花 月 (`keywords=list(\"春江花月\")`, seed 0)\n\n```\n{poem.text}\n```\n")
    from neuroart.poetry.english import writes_english

    if writes_english(tokenizer):
        for form, scheme in (("quatrain", "ABAB"), ("sonnet", "ABAB CDCD EFEF GG")):
            poem = write_poem(model, tokenizer, form=form, seed=0)
            pairs = f"{poem.check['rhyme_pairs_ok']} of {poem.check['rhyme_pairs']} rhyme pairs (CMUdict)"
            lines.append(f"**{form}** (`write_poem(model, tokenizer, form=\"{form}\", seed=0)`, {scheme}: {pairs})"
                         f"\n\n```\n{poem.text}\n```\n")
    return lines


def music_samples(folder: Path) -> list[str]:
    from transformers import AutoModelForCausalLM

    from neuroart.music.generation import (
        generate_music,
        load_tokenizer,
        piano_roll_image,
        render_audio,
        score_to_midi_bytes,
    )

    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = load_tokenizer(folder)
    lines = []
    (folder / "samples").mkdir(exist_ok=True)
    for seed in (1, 2):
        score = generate_music(model, tokenizer, num_bars=8, seed=seed).score
        stem = folder / "samples" / f"chorale_{seed}"
        stem.with_suffix(".mid").write_bytes(score_to_midi_bytes(score, {"seed": seed}))
        engine = render_audio(score, stem.with_suffix(".wav"))
        piano_roll_image(score).save(stem.with_suffix(".png"))
        lines.append(f"Seed {seed}, 8 bars, no primer ([MIDI](samples/chorale_{seed}.mid), "
                     f"[WAV](samples/chorale_{seed}.wav), {engine}):\n\n![seed {seed}](samples/chorale_{seed}.png)\n")
    lines.extend(harmonisation_sample(model, tokenizer, folder))
    return lines


def harmonisation_sample(model, tokenizer, folder: Path) -> list[str]:
    """The top line of the first held-out chorale (32 beats), harmonised by the release."""
    from neuroart.music.generation import (
        estimate_key,
        generate_music,
        melody_line,
        piano_roll_image,
        render_audio,
        score_to_midi_bytes,
    )
    from neuroart.training import release_data

    split = release_data.DEFAULT_OUTPUT / "music" / "split.json"
    if not split.exists():
        return []
    source = sorted(Path(json.loads(split.read_text())["val_dir"]).glob("*.mid"))[0]
    melody = melody_line(source, beats=32)
    score = generate_music(model, tokenizer, primer=melody, harmonize=True, seed=0).score
    stem = folder / "samples" / "harmonized"
    settings = {"seed": 0, "harmonize": True, "melody": f"{source.stem} (top line, 32 beats)"}
    stem.with_suffix(".mid").write_bytes(score_to_midi_bytes(score, settings))
    engine = render_audio(score, stem.with_suffix(".wav"))
    piano_roll_image(score).save(stem.with_suffix(".png"))
    return [f"**Harmonisation** (`generate_music(model, tokenizer, primer=melody, harmonize=True, seed=0)`): the top "
            f"line of the held-out chorale `{source.stem}` (first 32 beats, in {estimate_key(melody)}), kept note for "
            f"note as the Soprano (blue); the release wrote Alto, Tenor and Bass under it ([MIDI](samples/harmonized.mid), "
            f"[WAV](samples/harmonized.wav), {engine}):\n\n![harmonised](samples/harmonized.png)\n"]


# Where each release trained (bf16 autocast only where the CPU runs it natively: `release.training_precision`).
TRAINED_ON = {"gan": "a 2-vCPU Intel Xeon with AMX (2026-12-03)",
              "music": "a 2-vCPU AMD EPYC",
              "poetry": "a 2-vCPU Intel Xeon with AMX (stage 1, 2026-12-03) and a 2-vCPU AMD EPYC (stages 2 and 3, English, "
                        "2026-12-07)"}


def decoding_note(kind: str) -> list[str]:
    """The card's paragraph on the decoding defaults the release's generation_config.json carries (none: [])."""
    defaults = GENERATION_DEFAULTS.get(kind)
    if not defaults:
        return []
    listed = ", ".join(f"`{k}={v}`" for k, v in defaults.items())
    if kind != "music":
        return [f"**Decoding defaults** (`generation_config.json`: what a call that leaves `temperature`, `top_k` and "
                f"`top_p` unset samples with, the settings this release was measured with): {listed}."]
    return ["**Decoding defaults** (`generation_config.json`: the sampling settings a call leaves unset, and what "
            "`generate_music`'s `voices=\"auto\"`, `tonality=\"auto\"` and `chords=\"auto\"` read): " + listed
            + ". A new piece's key is drawn from `key_prior` (the training chorales' keys, `key=\"auto\"`; "
            "`key=None` leaves it to the model). At most that many notes sound at once (`VoicesLogitsProcessor`); "
            "pitches outside the piece's key lose that many nats (`TonalityLogitsProcessor`; `key=` makes it a hard "
            "mask); each onset is steered towards a triad or seventh chord, away from parallel fifths and octaves (at "
            "twice the strength), each voice into its SATB range (without a primer), away from notes struck again "
            "between beats (before the last bar), the first onset to the key's tonic triad and the ending towards a "
            "V-I cadence in the key, both chords in root position, its final chord held (`ChordLogitsProcessor`, `VoiceLeadingLogitsProcessor`, `RangeLogitsProcessor`, "
            "`RestrikeLogitsProcessor`, `CadenceLogitsProcessor`; a melody's "
            "opening and cadence by `melody_opening` and `melody_cadence`; `python -m benchmarks.quality.harmony` "
            "measures them beside Bach's held-out chorales). `voices` and `tonality` were chosen on the training "
            "chorales as the reference; `chords` on the harmony measures of free pieces and of harmonisations of 10 "
            "held-out melodies (so the harmonisation figures are not fully held out), the voice-leading factor and "
            "the melody cadences on 24 training chorales' sopranos, the range steering's strength (that of the "
            "chords) on 96, the re-strike steering on 32 and on free pieces at seeds 100-147; `voices=None, tonality=0, chords=0` turns them "
            "off."]


def card_budget(folder: Path) -> str | None:
    """The **Budget.** paragraph of a release's current card (None without one)."""
    card = folder / "README.md"
    if not card.exists():
        return None
    return next((line for line in card.read_text(encoding="utf-8").splitlines() if line.startswith("**Budget.**")),
                None)


def write_release_card(kind: str, trained: Path, folder: Path | None = None, stage_dirs=None, *, gpu: bool = False,
                       dry_run: bool = False, quality_file: Path | None = None) -> Path:
    """The card of the release folder `folder` trained in `trained` (the CPU recipe, or with `gpu` the GPU one).

    Without the training run's folders (a later session re-measures or re-decodes a release it did not train),
    `trained` is the release folder itself: the card keeps its recorded budget and the recipe's stages."""
    from neuroart.hub import write_model_card

    folder = folder or release_dir(kind)
    kept_budget = None
    if not (Path(trained) / "training_summary.json").exists() or any(
            not (Path(d) / "training_summary.json").exists() for d in (stage_dirs or [])):
        trained, kept_budget = folder, card_budget(folder)
        stage_dirs = [folder] * (len(stage_dirs) if stage_dirs else 1)
    summary = json.loads((trained / "training_summary.json").read_text())
    stage_dirs = [Path(d) for d in (stage_dirs or [trained])]
    stage_metrics = [json.loads((d / "training_summary.json").read_text()).get("metrics", {}) for d in stage_dirs]
    quality_file = quality_file or REPO_ROOT / "benchmarks" / "results" / "release_quality.json"
    quality = json.loads(quality_file.read_text())["sections"].get(kind, {}) if quality_file.exists() else {}
    samples = {"gan": gan_samples, "poetry": poetry_samples, "music": music_samples}[kind](folder)
    metrics = summary.get("metrics", {})
    command = f"make release-{kind}   # = python -m neuroart.training.release {kind}"
    # As each run recorded it: stages may have run on different machines.
    precisions = [(json.loads((d / "training_summary.json").read_text()).get("hyperparameters") or {})
                  .get("mixed_precision") or "no" for d in stage_dirs]
    launches = [" ".join(train_command(kind, f"outputs/release-{kind}", i, p)[3:]) for i, p in enumerate(precisions)]
    precision_text = " then ".join(dict.fromkeys("bf16 autocast" if p == "bf16" else "fp32" for p in precisions))
    flags = " then ".join(dict.fromkeys(f"`--mixed_precision {p}`" for p in precisions))
    cpu = sum(float(m.get("train_cpu_seconds", 0) or 0) for m in stage_metrics)
    steps = sum(int(m.get("steps", 0) or 0) for m in stage_metrics)
    per_stage = (" (" + " + ".join(f"{m.get('train_cpu_seconds', '?')} CPU-s / {m.get('steps', '?')} steps"
                                   for m in stage_metrics) + " in its stages)") if len(stage_metrics) > 1 else ""
    # Threads as each run recorded them (`hardware`; runs before that field: the recipe's one thread).
    threads = [re.search(r"(\d+) threads?", str(m.get("hardware") or "")) for m in stage_metrics]
    threads = " then ".join(dict.fromkeys(f"{t.group(1) if t else 1} thread{'s' if t and t.group(1) != '1' else ''}"
                                          for t in threads))
    budget = (f"**Budget.** {round(cpu, 1)} CPU-seconds of training ({steps} steps){per_stage}, {threads}, "
              f"{precision_text} ({flags}), on "
              f"{TRAINED_ON.get(kind, 'a 2-vCPU CPU')}; weights stored in "
              f"{'float16 and loaded as float32' if HALF_PRECISION[kind] else 'float32'}.")
    budget = kept_budget or budget
    if gpu:
        command = (f"make release-gpu KIND={kind}   # = python -m neuroart.training.release {kind} --gpu"
                   + (" --dry_run" if dry_run else ""))
        launches = [" ".join(gpu_train_command(kind, f"outputs/release-{kind}-gpu", dry_run=dry_run)[3:])]
        budget = (f"**Budget.** {metrics.get('train_seconds', '?')} s of wall-clock training ({steps} steps) on "
                  f"{metrics.get('hardware', 'an unrecorded machine')}; weights stored in "
                  f"{'float16 and loaded as float32' if HALF_PRECISION[kind] else 'float32'}.")
    training = "\n\n".join([
        "### Release recipe",
        f"```bash\n{command}\n```",
        "which runs" + (f" {len(launches)} stages, each continuing from the one before (a warm restart: fresh "
                        "warm-up and cosine decay, a new data order)" if len(launches) > 1 else "")
        + "\n\n```bash\n" + "\n".join("accelerate launch " + cmd for cmd in launches) + "\n```",
        f"**Data.** {DATA_NOTES[kind]}",
        budget,
        *decoding_note(kind),
        "**Training metrics** (the script's own, on its validation split): "
        + ", ".join(f"{k} {v}" for k, v in metrics.items() if isinstance(v, (int, float))) + ".",
        "### Measured quality (held-out data)",
        f"`{quality.get('command', 'python -m benchmarks.quality.release_quality --only ' + kind)}` "
        "(`benchmarks/results/release_quality.json`):",
        _table(_flat(quality)) if quality else "Not measured yet.",
        "### Samples",
        *samples,
    ])
    card = {"repo_id": f"neuroart/neuroart-{kind}", "training": training,
            "hyperparameters": summary.get("hyperparameters"), "metrics": metrics}
    if kind == "gan":
        card["sample"] = "samples/grid.png" if (folder / "samples" / "grid.png").exists() else None
    from transformers import AutoModel, AutoModelForCausalLM

    import neuroart  # noqa: F401

    model = (AutoModel if kind == "gan" else AutoModelForCausalLM).from_pretrained(folder)
    return write_model_card(model, folder, **card)
