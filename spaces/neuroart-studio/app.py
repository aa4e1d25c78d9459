"""NeuroArt Studio 跨界: one theme becomes a painting, a poem and a short piece of music, offered as one bundle.

How the three follow the theme (deterministic: the same theme and seed give the same bundle):
- The theme reader (`read_theme`, the words of `theme_lexicon.json`, Chinese and English) turns colour, season,
  hour, weather, place, mood and era words into a target palette (hue, brightness, saturation, warmth), a mode, an
  energy and an era.
- Painting: `CANDIDATES` paintings from a stream seeded by (theme, seed), in the theme's era where it names one
  (else spread over the styles), then latents near the best few; the one whose mean colour is nearest the target
  palette is kept.
- Poem: the theme is the title and its words the keywords (plus an optional acrostic). A theme with Chinese
  characters gives a 五言绝句 (七言 when the theme has more than 3 characters; a 律诗 when the acrostic has 8), an
  English theme an English quatrain where the poet writes English, else a 七言绝句 titled with it and a note.
- Music: the mode from the theme's mood words (else the poem's, else the painting's brightness: value >= 0.5
  major), the tonic from the painting's hue around the circle of fifths (hue sector k of 12 -> pitch class 7k mod
  12: red C, orange G, yellow D, ...), the density and tempo from the theme's energy words (else the poem's, else
  the painting's saturation; 84 bpm +- 36).
- The bundle (zip) holds painting.png (with provenance), poem.txt, music.mid, music.wav and settings.json (every
  setting, the mapping's inputs and outputs, each model's revision, and `originality`: what each work repeats of its
  model's training data, by the index the model ships).

Models: `NEUROART_GAN_MODEL`, `NEUROART_MUSIC_MODEL`, `NEUROART_POETRY_MODEL` (Hub ids or local folders). Their
helpers are Hub remote code shipped with the weights, so this Space does not need the neuroart repo.
"""

import os

# Before torch: on 2-vCPU Spaces, OpenMP's spin-waiting makes 2-thread torch up to 60x slower on small ops.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import colorsys  # noqa: E402
import functools  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import zipfile  # noqa: E402
import zlib  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

import gradio as gr  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer  # noqa: E402
from transformers.dynamic_module_utils import get_class_from_dynamic_module  # noqa: E402
from transformers.utils import cached_file  # noqa: E402


# Copied from neuroart.network.offline_if_unreachable
def offline_if_unreachable(timeout: float = 1.0) -> bool:
    """Switch huggingface_hub to offline mode when the Hub endpoint does not answer within `timeout` seconds;
    returns whether the process is offline. A no-op when `HF_HUB_OFFLINE` is set or `NEUROART_NETWORK_PROBE=0`."""
    if "HF_HUB_OFFLINE" in os.environ or os.environ.get("NEUROART_NETWORK_PROBE", "1") == "0":
        return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on")
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((endpoint.hostname or "huggingface.co",
                                       endpoint.port or (443 if endpoint.scheme == "https" else 80)), timeout=timeout):
            return False
    except OSError:  # no DNS, refused, unreachable, timed out
        pass
    import huggingface_hub.constants

    os.environ["HF_HUB_OFFLINE"] = "1"  # child processes (accelerate launch, workers) inherit it
    huggingface_hub.constants.HF_HUB_OFFLINE = True  # read at call time by huggingface_hub and transformers
    return True


offline_if_unreachable()  # before the first Hub call: without a network the cached models load at once

# NEUROART_DEVICE: "cpu", "cuda" (or "cuda:1", "mps"), or unset for a GPU when there is one.
DEVICE = os.environ.get("NEUROART_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
MODELS = {
    "gan": os.environ.get("NEUROART_GAN_MODEL", "neuroart/neuroart-gan"),
    "music": os.environ.get("NEUROART_MUSIC_MODEL", "neuroart/neuroart-music"),
    "poetry": os.environ.get("NEUROART_POETRY_MODEL", "neuroart/neuroart-poetry"),
}
NOTES = get_class_from_dynamic_module("generation.KEY_TONICS", MODELS["music"])  # by pitch class, from the composer
MAX_THEME = 24
MAX_SEED = 2**31 - 1
BARS = 4
MAX_SECONDS = 60.0
# Small paintings are shown enlarged with a smooth (Lanczos) filter: pixel for pixel, a 64 px painting at 4x reads
# as blocks of pixel art; smoothed, as soft brushwork. The bundle keeps the original pixels.
DISPLAY_SIZE = 256
HAN = re.compile(r"[\u3400-\u9fff]")
# The theme reader's words (Chinese and English) -> painting and music attributes; where they come from and how to
# add one: the file's "about".
LEXICON = json.loads((Path(__file__).parent / "theme_lexicon.json").read_text(encoding="utf-8"))["words"]
CANDIDATES = 64  # paintings drawn per creation; the one whose palette fits best is kept
REFINE_TOP, REFINE, REFINE_STEP = 4, 8, 0.3  # then 8 latents near each of the best 4 (see `paint_for_theme`)
PSI = 0.8


LOAD_LOCK = threading.Lock()  # concurrent first requests must not load the models twice at once


@functools.lru_cache(maxsize=1)
def _load():
    """The three models and the remote-code helpers the studio uses, loaded once."""
    painter = AutoModel.from_pretrained(MODELS["gan"], trust_remote_code=True).eval().to(DEVICE)
    composer = AutoModelForCausalLM.from_pretrained(MODELS["music"], trust_remote_code=True).eval().to(DEVICE)
    poet = AutoModelForCausalLM.from_pretrained(MODELS["poetry"], trust_remote_code=True).eval().to(DEVICE)
    music = {name: get_class_from_dynamic_module(f"generation.{name}", MODELS["music"])
             for name in ("generate_music", "load_tokenizer", "score_to_midi_bytes", "render_audio")}
    loaded = {
        "painter": painter, "save_image": get_class_from_dynamic_module("images.save_image", MODELS["gan"]),
        "composer": composer, "music": music, "music_tokenizer": music["load_tokenizer"](MODELS["music"]),
        "poet": poet, "poet_tokenizer": AutoTokenizer.from_pretrained(MODELS["poetry"], trust_remote_code=True),
        "write_poem": get_class_from_dynamic_module("generation.write_poem", MODELS["poetry"]),
    }
    # The indexes each release ships of its training data, to say what a creation repeats of it (None: not shipped).
    lines = cached_file(MODELS["poetry"], "poem_lines.txt.gz", _raise_exceptions_for_missing_entries=False)
    loaded["line_index"] = get_class_from_dynamic_module("generation.LineIndex", MODELS["poetry"]).load(lines) \
        if lines else None
    passages = cached_file(MODELS["music"], "passage_index.safetensors", _raise_exceptions_for_missing_entries=False)
    loaded["passage_index"] = get_class_from_dynamic_module("originality.PassageIndex", MODELS["music"]).load(
        passages) if passages else None
    thumbnails = cached_file(MODELS["gan"], "nearest_index.safetensors", _raise_exceptions_for_missing_entries=False)
    loaded["near_copies"] = functools.partial(get_class_from_dynamic_module("images.near_copies", MODELS["gan"]),
                                              path=thumbnails) if thumbnails else None
    try:  # a poet with English reads its rhyme dictionary once, here, not in the first visitor's creation
        loaded["write_poem"](poet, loaded["poet_tokenizer"], form="quatrain", num_candidates=1, seed=0)
    except (ValueError, ImportError):
        pass  # a Chinese-only poet, or no pronouncing: English themes say so when asked
    return loaded


def load():
    with LOAD_LOCK:
        return _load()


@functools.lru_cache(maxsize=None)
def revision(model_id: str) -> str:
    """The Hub commit a model was loaded at, or `sha256:<12 hex>` of a local folder's weights."""
    weights = Path(cached_file(model_id, "model.safetensors"))
    if weights.parent.parent.name == "snapshots":
        return weights.parent.name
    digest = hashlib.sha256()
    with open(weights, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return "sha256:" + digest.hexdigest()[:12]


def palette_to_music(image) -> dict:
    """The documented mapping: mean hue -> tonic on the circle of fifths, value -> mode, saturation -> density."""
    small = image.convert("RGB").resize((32, 32))
    pixels = [small.getpixel((x, y)) for y in range(32) for x in range(32)]
    r, g, b = (sum(p[i] for p in pixels) / len(pixels) / 255 for i in range(3))
    hue, saturation, value = colorsys.rgb_to_hsv(r, g, b)
    tonic = NOTES[(round(hue * 12) % 12) * 7 % 12]
    mode = "major" if value >= 0.5 else "minor"
    density = "low" if saturation < 0.3 else "medium" if saturation < 0.6 else "high"
    return {"mean_rgb": [round(r, 3), round(g, 3), round(b, 3)], "hue": round(hue, 3),
            "saturation": round(saturation, 3), "value": round(value, 3),
            "key": tonic + ("" if mode == "major" else "m"), "density": density}


def read_theme(theme: str) -> dict:
    """The lexicon's words in `theme` (Chinese: longest match first, so 大漠 before 大; English: whole words, plurals
    too) and what they add up to: the mean hue (on the circle), brightness, saturation, warmth and energy, the
    mode by vote, the first era, and one `steering` line per word."""
    words, index = [], 0
    while index < len(theme):  # Chinese words, longest first
        for length in (4, 3, 2, 1):
            piece = theme[index : index + length]
            if len(piece) == length and HAN.match(piece) and piece in LEXICON:
                words.append(piece)
                index += length
                break
        else:
            index += 1
    for word in re.findall(r"[a-z]+", theme.lower()):
        word = word if word in LEXICON else word[:-1] if word.endswith("s") and word[:-1] in LEXICON else None
        if word:
            words.append(word)
    entries = [LEXICON[w] for w in words]
    found = {"words": words, "steering": [f"{w} → {LEXICON[w]['says']}" for w in words]}
    hues = [math.radians(e["hue"]) for e in entries if "hue" in e]
    x, y = sum(map(math.cos, hues)), sum(map(math.sin, hues))
    if hues and math.hypot(x, y) >= 0.5 * len(hues):  # hues that disagree (sunset and sea) average to nothing
        found["hue"] = round(math.degrees(math.atan2(y, x)) % 360, 1)
    for name in ("brightness", "saturation", "warmth", "energy"):
        values = [e[name] for e in entries if name in e]
        if values:
            found[name] = round(sum(values) / len(values), 3)
    vote = sum({"major": 1, "minor": -1}.get(e.get("mode"), 0) for e in entries)
    if vote:
        found["mode"] = "major" if vote > 0 else "minor"
    eras = [e["era"] for e in entries if "era" in e]
    if eras:
        found["era"] = eras[0]
    return found


def palette(image) -> dict:
    """Mean colour of a painting as hue (degrees), saturation, brightness and warmth (red minus blue)."""
    small = image.convert("RGB").resize((32, 32))
    pixels = [small.getpixel((x, y)) for y in range(32) for x in range(32)]
    r, g, b = (sum(p[i] for p in pixels) / len(pixels) / 255 for i in range(3))
    hue, saturation, value = colorsys.rgb_to_hsv(r, g, b)
    return {"hue": round(hue * 360, 1), "saturation": round(saturation, 3), "brightness": round(value, 3),
            "warmth": round(r - b, 3)}


def palette_distance(colours: dict, target: dict) -> float:
    """How far a painting's palette is from the theme's: the hue's angle (as a fraction of 180 degrees, counted in
    full only for a saturated painting) plus the gaps in brightness, saturation and warmth that the theme names."""
    distance = 0.0
    if "hue" in target:
        angle = abs((colours["hue"] - target["hue"] + 180) % 360 - 180) / 180
        distance += angle * min(1.0, 0.3 + 2 * colours["saturation"]) + (0.3 if colours["saturation"] < 0.08 else 0)
    for name in ("brightness", "saturation"):
        if name in target:
            distance += abs(colours[name] - target[name])
    if "warmth" in target:
        distance += abs(colours["warmth"] - target["warmth"] * 0.3) / 2  # paintings' warmth spans about +-0.3
    return distance


def paint_for_theme(painter, theme: str, seed: int, found: dict):
    """(painting, details): CANDIDATES paintings from a stream seeded by (theme, seed), and the one whose palette is
    nearest the theme's (the first when the theme names no colour, season or hour). The candidates are all in the
    theme's era where it names one, else spread over every style (the first in the style `crc32(theme)`): the
    palettes the theme asks for (blue night, green forest) are rare in some styles and common in others. Then
    REFINE latents near each of the REFINE_TOP best are painted too, and the nearest of all is kept. Deterministic
    for a theme and seed."""
    stream = zlib.crc32(f"{theme}\0{seed}".encode()) & 0x7FFFFFFF
    labels = None
    if painter.config.num_classes:
        names = {str(v): int(k) for k, v in (getattr(painter.config, "id2label", None) or {}).items()}
        first = zlib.crc32(theme.encode()) % painter.config.num_classes
        era = names.get(found.get("era"))
        labels = [era if era is not None else (first + i) % painter.config.num_classes for i in range(CANDIDATES)]
    candidates = painter.generate_images(CANDIDATES, seed=stream, truncation_psi=PSI, labels=labels)
    colours = [palette(image) for image in candidates]
    distances = [palette_distance(c, found) for c in colours]
    ranked = sorted(range(CANDIDATES), key=lambda i: (round(distances[i], 6), i))
    details = {"style": None if labels is None else labels[ranked[0]],
               "first_style": None if labels is None else labels[0], "truncation_psi": PSI,
               "candidates": CANDIDATES, "candidate_stream": stream, "chosen": ranked[0]}
    if any(name in found for name in ("hue", "brightness", "saturation", "warmth")):
        # A local search: latents a little way from the best candidates' (REFINE_STEP of the prior's scale) keep
        # their picture's layout and shift its colours, which a further random draw rarely does.
        noise, label_tensor = painter.sample_latents(CANDIDATES, stream, PSI, labels)
        rng = torch.Generator().manual_seed(stream + 1)
        parents = ranked[:REFINE_TOP]
        near = torch.cat([noise[i] + REFINE_STEP * torch.randn(REFINE, noise.shape[1], generator=rng)
                          for i in parents])  # (REFINE_TOP * REFINE, latent_dim)
        near_labels = None if label_tensor is None else label_tensor[parents].repeat_interleave(REFINE)
        with torch.inference_mode():
            images = painter(near.to(painter.device), use_ema=True, labels=
                             None if near_labels is None else near_labels.to(painter.device)).images
        array = ((images.float().cpu() + 1) / 2).clamp(0, 1).permute(0, 2, 3, 1).numpy()  # (N, C, H, W) -> NHWC
        model = painter.name_or_path or "neuroart-gan"
        with_provenance = sys.modules[type(painter).__module__].image_with_provenance  # the painter's own PNG writer
        for k in range(len(near)):
            parent = parents[k // REFINE]
            candidates.append(with_provenance(array[k], {
                "model": model, "studio_theme": theme, "seed": stream, "truncation_psi": PSI, "precision": "fp32",
                "refined_from": parent, "refine_stream": stream + 1, "refine_index": k,
                "label": None if near_labels is None else int(near_labels[k])}))
            colours.append(palette(candidates[-1]))
            distances.append(palette_distance(colours[-1], found))
        chosen = min(range(len(candidates)), key=lambda i: (round(distances[i], 6), i))
        details.update(refined=len(near), refine_stream=stream + 1, refine_step=REFINE_STEP, chosen=chosen)
        if chosen >= CANDIDATES:
            details.update(refined_from=parents[(chosen - CANDIDATES) // REFINE],
                           style=None if near_labels is None else int(near_labels[chosen - CANDIDATES]))
    chosen = details["chosen"]
    details.update(palette=colours[chosen], palette_distance=round(distances[chosen], 3))
    return candidates[chosen], details


def originality(m: dict, painting, poem, piece, score) -> dict:
    """What each work repeats of its model's training data, checked against the index the model ships beside its
    weights: the painting's nearest training thumbnail (RMS pixel distance; the painter's `near_copies` says whether
    that makes it a near-copy), the poem's lines found verbatim in the training poems, and the music's 8-onset
    passages found in a training chorale. A model without its index is said to be unchecked, not passed."""
    unchecked = "not checked: the model ships no {}"
    found = {}
    if m["near_copies"] is not None:
        distance, copied = m["near_copies"]([painting])[0]
        found["painting"] = {"nearest_training_rms": round(distance, 4), "near_copy": copied}
    else:
        found["painting"] = unchecked.format("nearest_index.safetensors")
    if m["line_index"] is not None:
        found["poem"] = {"copied_lines": list(poem.copied_lines)}
    else:
        found["poem"] = unchecked.format("poem_lines.txt.gz")
    copies = getattr(piece, "copies", None)
    if copies is not None:
        found["music"] = {"passages": copies.total, "copied_passages": copies.copied,
                          "summary": copies.describe(score)}
    else:
        found["music"] = unchecked.format("passage_index.safetensors")
    return found


def with_poem(found: dict, poem: str) -> dict:
    """The theme's reading, extended by the poem's own words where the theme is silent on mood or energy (a theme
    such as 山林古城 names neither; its poem's 愁 or 喜 then sets the mode): the music follows the theme first, then
    the poem. The painting was chosen before the poem existed and keeps the theme's palette."""
    extra = read_theme(poem)
    taken = {name: extra[name] for name in ("mode", "energy") if name not in found and name in extra}
    if not taken:
        return found
    words = [w for w in extra["words"] if w not in found["words"] and any(
        name in LEXICON[w] for name in taken)]
    return {**found, **taken, "poem_words": words, "from_poem": sorted(taken),
            "steering": found["steering"] + [f"{w} (from the poem) → {LEXICON[w]['says']}" for w in words]}


def music_for_theme(painting, found: dict) -> dict:
    """Key, density and tempo: the mode from the theme's mood words (else the painting's brightness), the tonic from
    the painting's hue (`palette_to_music`), the density and tempo from the theme's energy (else the saturation)."""
    mood = palette_to_music(painting)
    tonic = mood["key"].rstrip("m")
    mode = found.get("mode") or ("minor" if mood["key"].endswith("m") else "major")
    energy = found.get("energy")

    def source(name, fallback):
        return fallback if name not in found else "poem" if name in found.get("from_poem", ()) else "theme"
    density = mood["density"] if energy is None else "low" if energy <= -0.3 else "high" if energy >= 0.3 else "medium"
    tempo = int(round(84 + 36 * (energy or 0.0)))
    return {**mood, "key": tonic + ("m" if mode == "minor" else ""), "density": density, "tempo_bpm": tempo,
            "mode_from": source("mode", "painting brightness"), "density_from": source("energy", "painting saturation")}


FUNCTION_WORDS = {"the", "and", "over", "under", "with", "from", "into", "onto", "upon", "for", "of", "in", "on", "at",
                  "by", "to", "an", "its", "his", "her", "their", "our", "your", "my", "this", "that", "are", "was"}


def poem_settings(theme: str, acrostic: str) -> dict:
    """Form, title and keywords that carry the theme (see the module docstring)."""
    if HAN.search(theme):
        chars = "".join(HAN.findall(theme))
        lines = 8 if len(acrostic) == 8 else 4
        size = "七言" if len(chars) > 3 else "五言"
        form = size + ("律诗" if lines == 8 else "绝句")
        if acrostic and len(acrostic) != lines:
            raise gr.Error(f"The acrostic needs 4 characters (绝句) or 8 (律诗); got {len(acrostic)}.")
        return {"form": form, "title": chars[:8], "keywords": list(chars[:4]), "acrostic": acrostic or None}
    if acrostic:
        raise gr.Error("Acrostics (藏头诗) need a Chinese theme.")
    # Content words carry the theme into the poem (the poet learned English keywords as words of the poem).
    words = [w for w in re.findall(r"[A-Za-z']+", theme.lower()) if len(w) > 2 and w not in FUNCTION_WORDS]
    return {"form": "quatrain", "title": theme, "keywords": words[:4], "acrostic": None}


def create(theme, acrostic, seed):
    """Returns (painting, poem, WAV path, settings, bundle zip path)."""
    theme = (theme or "").strip()
    acrostic = (acrostic or "").replace(" ", "")
    if not theme:
        raise gr.Error("Give a theme: a few words, e.g. 春江 or 'autumn river'.")
    if len(theme) > MAX_THEME or len(acrostic) > 8:
        raise gr.Error(f"The theme may have up to {MAX_THEME} characters and the acrostic up to 8.")
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise gr.Error(f"seed must be a whole number from 0 to {MAX_SEED}.") from None
    if not 0 <= seed <= MAX_SEED:
        raise gr.Error(f"seed must be from 0 to {MAX_SEED}; got {seed}.")
    poem_args = poem_settings(theme, acrostic)
    m = load()
    found = read_theme(theme)
    painting, painting_details = paint_for_theme(m["painter"], theme, seed, found)
    try:
        poem = m["write_poem"](m["poet"], m["poet_tokenizer"], seed=seed, num_candidates=4,
                               line_index=m["line_index"], **poem_args)
    except ValueError as error:
        if poem_args["form"] != "quatrain":
            raise gr.Error(str(error)) from None
        # A poet without English (the classical-Chinese release): the theme titles a 七言绝句 instead, and the
        # settings say why.
        poem_args = {"form": "七言绝句", "title": theme, "keywords": None, "acrostic": None}
        poem = m["write_poem"](m["poet"], m["poet_tokenizer"], seed=seed, num_candidates=4,
                               line_index=m["line_index"], **poem_args)
        poem_args["note"] = f"{error} The theme became the title of a 七言绝句."
    found = with_poem(found, poem.text)
    mood = music_for_theme(painting, found)
    piece = m["music"]["generate_music"](m["composer"], m["music_tokenizer"], num_bars=BARS,
                                         max_new_tokens=BARS * 256, key=mood["key"], density=mood["density"],
                                         seed=seed, max_time=MAX_SECONDS,
                                         **({"passage_index": m["passage_index"]} if m["passage_index"] else {}))
    score = getattr(piece, "score", piece)  # a Composition; a model with older remote code returns the score
    from symusic import Tempo

    score.tempos.clear()
    score.tempos.append(Tempo(0, float(mood["tempo_bpm"])))
    key_name = mood["key"].rstrip("m") + (" minor" if mood["key"].endswith("m") else " major")
    poem_words = f" (+ the poem's {', '.join(found['poem_words'])})" if found.get("poem_words") else ""
    summary = (", ".join(found["words"]) or "no lexicon word") + poem_words + f" → {key_name}, {mood['tempo_bpm']} bpm, " \
        f"{mood['density']} density; palette hue {painting_details['palette']['hue']:.0f}°"
    settings = {
        "theme": theme, "seed": seed, "steered": summary, "steering": found["steering"],
        "theme_reader": {k: v for k, v in found.items() if k not in ("steering",)},
        "painting": painting_details,
        "poem": {**poem_args, "checks": poem.check}, "music": {"bars": BARS, **mood},
        "originality": originality(m, painting, poem, piece, score),
        "mapping": ("theme words -> target palette (the nearest of the candidates is kept), mode, tempo and density; "
                    "the painting's hue -> tonic on the circle of fifths; where the theme is silent, the painting's "
                    "brightness -> mode and saturation -> density"),
        "models": {kind: {"id": model_id, "revision": revision(model_id)} for kind, model_id in MODELS.items()},
        "ai_generated": True,
    }
    folder = Path(tempfile.mkdtemp(prefix="neuroart-studio-"))
    m["save_image"](painting, folder / "painting.png")
    note = f"\n\nNote: {poem_args['note']}" if "note" in poem_args else ""
    if getattr(poem, "copied_lines", None):  # a poet publishing it needs to know whose line it is
        note += "\n\nFound verbatim in the training poems: " + " / ".join(poem.copied_lines)
    poem_text = f"{poem_args['title']}\n\n{poem.text}{note}\n\n— AI-generated by NeuroArt Studio (seed {seed})\n"
    (folder / "poem.txt").write_text(poem_text, encoding="utf-8")
    (folder / "music.mid").write_bytes(m["music"]["score_to_midi_bytes"](score, {"theme": theme, "seed": seed,
                                                                                  **mood}))
    settings["music"]["audio_engine"] = m["music"]["render_audio"](score, folder / "music.wav")
    (folder / "settings.json").write_text(json.dumps(settings, ensure_ascii=False, indent=2), encoding="utf-8")
    bundle = folder / f"neuroart_studio_seed{seed}.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("painting.png", "poem.txt", "music.mid", "music.wav", "settings.json"):
            archive.write(folder / name, name)
    shown = painting.resize((DISPLAY_SIZE, DISPLAY_SIZE), Image.Resampling.LANCZOS) \
        if painting.width < DISPLAY_SIZE else painting
    return shown, poem_text, str(folder / "music.wav"), settings, str(bundle)


with gr.Blocks(title="NeuroArt Studio") as demo:
    gr.Markdown("# NeuroArt Studio 跨界\nOne theme, three arts. The theme's words steer all three: colour, season, "
                "hour and weather words pick the painting whose palette fits best (秋 → amber, 雪 → white and "
                "blue-grey), mood words set major or minor (愁 → minor, 春 → major), energy words the tempo and "
                "density; the poem carries the theme's characters. The settings say what steered what. Everything "
                "is AI-generated and comes as one bundle.")
    with gr.Row():
        theme = gr.Textbox("春江花月", label="Theme 主题", max_length=MAX_THEME, elem_id="theme")
        acrostic = gr.Textbox(label="Acrostic 藏头 (optional, 4 or 8 characters)", max_length=8)
        seed = gr.Number(0, precision=0, label="Seed", minimum=0, maximum=MAX_SEED)
        button = gr.Button("Create", variant="primary", elem_id="create")
    with gr.Row():
        painting = gr.Image(label="Painting", type="pil", elem_id="painting", height=256)
        poem = gr.Textbox(label="Poem", lines=10, elem_id="poem")
        with gr.Column():
            audio = gr.Audio(label="Music", type="filepath", elem_id="audio")
            bundle = gr.File(label="Bundle (PNG, TXT, MID, WAV, JSON)", elem_id="bundle")
    settings = gr.JSON(label="Settings and model revisions")
    button.click(create, [theme, acrostic, seed], [painting, poem, audio, settings, bundle], api_name="create")

demo.queue(max_size=16, default_concurrency_limit=1)

if __name__ == "__main__":
    load()
    demo.launch(max_file_size="1mb")
