#!/usr/bin/env python
"""Does one theme steer all three arts? The studio Space on the releases, served on 127.0.0.1 and called through
gradio_client, for 24 themes (12 Chinese, 12 English) at seed 0, 2 torch threads.

    python -m benchmarks.quality.studio_themes [--models releases] [--seed 0] [--smoke]

Measures, from each creation's bundle and settings:
- distinct paintings: distinct pixel contents among the 24 bundled PNGs;
- palette agreement, over the themes whose words name a colour, season or hour (the reader gives a hue or a
  brightness): the kept painting's mean hue within 60 degrees of the theme's (for a painting with any colour,
  saturation >= 0.08) and its brightness within 0.2 of the theme's; beside it, the same for a painting drawn without
  the theme (the first candidate), the chance level of this GAN's palettes; and, as the damage check on the search,
  the release discriminator's median realness logit for the kept paintings and for those first candidates;
- mode agreement: sad/autumn/night words -> minor, joyful/spring words -> major (`EXPECTED_MODE`), against the key;
- English themes answered in English (a poem with no CJK character), or with a note that says the poet writes
  Chinese only (a poet without English);
- seconds per creation (median; the first call warms up and is left out).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import zipfile
from pathlib import Path

from benchmarks.common import REPO_ROOT, setup_threads, write_results

# (theme, the mode its mood words ask for, or None)
THEMES = [
    ("秋夜听雨", "minor"), ("春江花月", "major"), ("大漠孤烟", None), ("雪夜归人", "minor"), ("夕阳古道", None),
    ("春日喜雨", "major"), ("孤舟寒江", "minor"), ("月下独酌", "minor"), ("晨光山林", "major"), ("思乡", "minor"),
    ("金色田野", "major"), ("宫中舞", "major"),
    ("sunset over the sea", None), ("autumn river", "minor"), ("a joyful spring morning", "major"),
    ("winter night", "minor"), ("snow on the mountains", None), ("lonely moonlight", "minor"),
    ("green forest lake", None), ("red flowers in the sun", "major"), ("storm at sea", "minor"),
    ("desert dusk", "minor"), ("city street in the rain", "minor"), ("happy dance", "major"),
]


def hue_gap(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


def agrees(colours: dict, target: dict) -> bool:
    ok = True
    if "hue" in target and colours["saturation"] >= 0.08:
        ok &= hue_gap(colours["hue"], target["hue"]) <= 60
    elif "hue" in target:
        ok = False  # a grey painting names no colour
    if "brightness" in target:
        ok &= abs(colours["brightness"] - target["brightness"]) <= 0.2
    return bool(ok)


def realness(painter, image, label) -> float:
    """The release discriminator's realness logit for one painting: a steered painting that the search pushed off
    the GAN's learnt distribution (odd colours, broken layout) scores lower than the unsteered first candidate."""
    import numpy as np
    import torch

    pixels = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)
    with torch.inference_mode():
        labels = None if label is None else torch.tensor([label])
        return round(float(painter.discriminate(pixels[None].to(painter.device), labels)[0]), 3)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=str(REPO_ROOT / "releases"), help="Folder of neuroart-<kind> models.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="Four themes (the test suite).")
    parser.add_argument("--results_dir", default=None, help="Where studio_themes.json goes.")
    args = parser.parse_args(argv)
    if args.results_dir:
        from benchmarks import common

        common.RESULTS = Path(args.results_dir)
    setup_threads(2)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from gradio_client import Client
    from PIL import Image

    from neuroart.cli import load_space, serve_space

    themes = THEMES[:2] + THEMES[12:14] if args.smoke else THEMES
    app = load_space("neuroart-studio", args.models)
    m = app.load()
    rows = []
    with serve_space(app) as url:
        client = Client(url, verbose=False)
        client.predict("暖场", "", args.seed, api_name="/create")  # warm-up
        for theme, expected_mode in themes:
            started = time.perf_counter()
            _, poem, _, settings, bundle = client.predict(theme, "", args.seed, api_name="/create")
            seconds = time.perf_counter() - started
            with zipfile.ZipFile(bundle) as archive:
                pixels = Image.open(archive.open("painting.png")).convert("RGB")
            found = settings["theme_reader"]
            first = m["painter"].generate_images(1, seed=settings["painting"]["candidate_stream"],
                                                 truncation_psi=0.8, labels=settings["painting"]["first_style"])[0]
            unsteered = app.palette(first)
            key = settings["music"]["key"]
            english = not app.HAN.search(theme)
            rows.append({
                "theme": theme, "words": found["words"], "seconds": round(seconds, 2),
                "pixels": hash(pixels.tobytes()), "palette": settings["painting"]["palette"],
                "realness": realness(m["painter"], pixels, settings["painting"]["style"]),
                "realness_unsteered": realness(m["painter"], first, settings["painting"]["first_style"]),
                "target": {k: found[k] for k in ("hue", "brightness") if k in found},
                "palette_agrees": agrees(settings["painting"]["palette"], found)
                if ("hue" in found or "brightness" in found) else None,
                "unsteered_agrees": agrees(unsteered, found) if ("hue" in found or "brightness" in found) else None,
                "key": key, "tempo_bpm": settings["music"]["tempo_bpm"], "expected_mode": expected_mode,
                "mode_agrees": None if expected_mode is None else key.endswith("m") == (expected_mode == "minor"),
                # In English: a body with no CJK character (curly quotes and dashes are English too).
                "english_answered": (not app.HAN.search(poem.split("\n\n")[1]) or "Note:" in poem)
                if english else None,
                "english_in_english": not app.HAN.search(poem.split("\n\n")[1]) if english else None,
                "steered": settings["steered"], "poem": poem.split("\n\n")[1],
            })
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "pixels"}, ensure_ascii=False), flush=True)
    palette_rows = [r for r in rows if r["palette_agrees"] is not None]
    mode_rows = [r for r in rows if r["mode_agrees"] is not None]
    english_rows = [r for r in rows if r["english_answered"] is not None]
    summary = {
        "themes": len(rows),
        "distinct_paintings": len({r["pixels"] for r in rows}),
        "palette_agreement": round(sum(r["palette_agrees"] for r in palette_rows) / max(1, len(palette_rows)), 3),
        "palette_agreement_unsteered": round(sum(r["unsteered_agrees"] for r in palette_rows)
                                             / max(1, len(palette_rows)), 3),
        "palette_themes": len(palette_rows),
        "median_realness": round(statistics.median(r["realness"] for r in palette_rows), 3),
        "median_realness_unsteered": round(statistics.median(r["realness_unsteered"] for r in palette_rows), 3),
        "mode_agreement": round(sum(r["mode_agrees"] for r in mode_rows) / max(1, len(mode_rows)), 3),
        "mode_themes": len(mode_rows),
        "english_answered_or_noted": f"{sum(r['english_answered'] for r in english_rows)} of {len(english_rows)}",
        "english_in_english": f"{sum(r['english_in_english'] for r in english_rows)} of {len(english_rows)}",
        "median_seconds_per_creation": round(statistics.median(r["seconds"] for r in rows), 2),
        "max_seconds_per_creation": round(max(r["seconds"] for r in rows), 2),
    }
    for row in rows:
        row.pop("pixels")
    write_results("studio_themes", summary,
                  {"rows": rows, "models": str(args.models), "seed": args.seed, "torch_threads": 2})


if __name__ == "__main__":
    main()
