"""NeuroArt Music: a Gradio Space for the LSTM/GRU MIDI language model over miditok REMI tokens.

Compose from scratch, continue an uploaded primer MIDI, or harmonise an uploaded melody (it stays note for note
as the top voice; the model writes alto, tenor and bass under it), steered by key, note density and bar count; listen (WAV
through FluidSynth and a General MIDI soundfont, see packages.txt), look at the piano roll, download the MIDI.
The model and its helpers (`generation.generate_music` etc.) are Hub remote code shipped with the weights: this
Space needs transformers, torch, gradio, miditok and symusic, not the neuroart repo.
Model: `NEUROART_MUSIC_MODEL` (Hub id or local folder; default `neuroart/neuroart-music`).
"""

import os

# Before torch: on 2-vCPU Spaces, OpenMP's spin-waiting makes 2-thread torch up to 60x slower on small ops.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import functools  # noqa: E402
import socket  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

import gradio as gr  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402
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
MODEL_ID = os.environ.get("NEUROART_MUSIC_MODEL", "neuroart/neuroart-music")
KEYS = ["any"] + list(get_class_from_dynamic_module("generation.KEYS", MODEL_ID))  # the model's remote code's
DENSITIES = ["any", "low", "medium", "high"]
LIMITS = {"temperature": (0.1, 2.0), "top_k": (0, 200), "top_p": (0.1, 1.0), "seed": (0, 2**31 - 1),
          "bars": (1, 16)}
MAX_UPLOAD_BYTES = 1_000_000
MAX_SECONDS = 60.0  # sampling stops after this long, whatever the bar count
TOKENS_PER_BAR = 320  # a bar of four busy voices takes up to about 300 tokens


LOAD_LOCK = threading.Lock()  # concurrent first requests must not load the models twice at once


@functools.lru_cache(maxsize=1)
def _load():
    """(model, tokenizer, helpers of the model's generation.py), loaded once; with the model's training passages
    (`passage_index.safetensors`, where it ships them) as helpers["passages"], else None."""
    model = AutoModelForCausalLM.from_pretrained(MODEL_ID, trust_remote_code=True).eval().to(DEVICE)
    helpers = {name: get_class_from_dynamic_module(f"generation.{name}", MODEL_ID)
               for name in ("generate_music", "load_tokenizer", "score_to_midi_bytes", "render_audio",
                            "piano_roll_image", "estimate_key", "melody_line")}
    index_file = cached_file(MODEL_ID, "passage_index.safetensors", _raise_exceptions_for_missing_entries=False)
    helpers["passages"] = get_class_from_dynamic_module("originality.PassageIndex", MODEL_ID).load(index_file) \
        if index_file else None
    return model, helpers["load_tokenizer"](MODEL_ID), helpers


def load():
    with LOAD_LOCK:
        return _load()


# Copied from spaces/neuroart-poetry/app.py::number
def number(name: str, value, kind=float):
    """`value` as `kind` within LIMITS[name], or a gr.Error that says the allowed range."""
    low, high = LIMITS[name]
    try:
        value = kind(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{name} must be a number from {low} to {high}.") from None
    if not low <= value <= high:
        raise gr.Error(f"{name} must be from {low} to {high}; got {value}.")
    return value


def read_primer(path) -> bytes | None:
    """The uploaded primer's bytes, checked for size and the MIDI header."""
    if not path:
        return None
    path = Path(path)
    if path.stat().st_size > MAX_UPLOAD_BYTES:
        raise gr.Error(f"The primer is {path.stat().st_size:,} bytes; the limit is {MAX_UPLOAD_BYTES:,}.")
    data = path.read_bytes()
    if not data.startswith(b"MThd"):
        raise gr.Error("The primer is not a MIDI file (it does not start with 'MThd'). Upload a .mid file.")
    return data


def compose(temperature, top_k, top_p, seed, bars, key, density, primer, keep_primer, harmonize=False):
    """Returns (WAV path, piano-roll image, MIDI path, summary). With `harmonize`, the primer is the melody and
    the piece is as long as the melody (up to the time limit)."""
    if key not in KEYS:
        raise gr.Error(f"Unknown key {key!r}; use one of {', '.join(KEYS)}.")
    if density not in DENSITIES:
        raise gr.Error(f"Unknown density {density!r}; use one of {', '.join(DENSITIES)}.")
    settings = {"model": MODEL_ID, "seed": number("seed", seed, int), "bars": number("bars", bars, int),
                "key": None if key == "any" else key, "density": None if density == "any" else density,
                "temperature": number("temperature", temperature), "top_k": number("top_k", top_k, int),
                "top_p": number("top_p", top_p), "keep_primer": bool(keep_primer), "harmonize": bool(harmonize)}
    primer_bytes = read_primer(primer)
    if harmonize and primer_bytes is None:
        raise gr.Error("Harmonise needs a melody: upload a MIDI file with the tune (one line, or its top line).")
    model, tokenizer, helpers = load()
    harmony_note = ""
    try:
        if harmonize:  # in a named key (masked to its scale), or around the melody's own, held softly
            settings.update(bars=None)
            melody_key = settings["key"] or helpers["estimate_key"](helpers["melody_line"](primer_bytes))
            harmony_note = (f" Harmonised in {melody_key}" if settings["key"] else
                            f" Harmonised around {melody_key}, the melody's key (the lower voices may modulate)")
            harmony_note += "; the melody is the top voice, note for note."
        piece = helpers["generate_music"](
            model, tokenizer, primer=primer_bytes, keep_primer=settings["keep_primer"], num_bars=settings["bars"],
            # a melody ends the setting itself (its last bar): the cap only has to leave room for all of it
            max_new_tokens=8192 if settings["harmonize"] else (settings["bars"] or 16) * TOKENS_PER_BAR,
            key=settings["key"] or "auto",  # "any": a new piece's key drawn from the training chorales' keys
            density=settings["density"], temperature=settings["temperature"], top_k=settings["top_k"],
            top_p=settings["top_p"], seed=settings["seed"], max_time=MAX_SECONDS, harmonize=settings["harmonize"])
        score = getattr(piece, "score", piece)  # a Composition; a model with older remote code returns the score
    except Exception as error:  # a primer that parses as MIDI but not as music, an untokenizable file, ...
        raise gr.Error(f"Could not compose from these inputs: {error}") from None
    folder = Path(tempfile.mkdtemp(prefix="neuroart-music-"))
    midi, wav = folder / f"neuroart_seed{settings['seed']}.mid", folder / f"neuroart_seed{settings['seed']}.wav"
    midi.write_bytes(helpers["score_to_midi_bytes"](score, settings))
    engine = helpers["render_audio"](score, wav)
    notes = sum(len(track.notes) for track in score.tracks)
    home = (getattr(piece, "settings", None) or {}).get("home_key")
    in_key = f" In {home[:-1]} minor." if home and home.endswith("m") else f" In {home} major." if home else ""
    summary = (f"{notes} notes, {score.end() / score.ticks_per_quarter:.1f} beats; audio by {engine}.{in_key} "
               f"AI-generated by NeuroArt.{harmony_note}")
    if helpers["passages"] is not None:  # originality: what the piece repeats of the training chorales
        summary += f"\n\nAgainst the training chorales: {helpers['passages'].report(score).describe(score)}."
    return str(wav), helpers["piano_roll_image"](score), str(midi), summary


with gr.Blocks(title="NeuroArt Music") as demo:
    gr.Markdown("# NeuroArt Music 乐\nAn LSTM language model over MIDI tokens. Compose, or upload a primer and "
                "continue it. Steer the key, the note density and the length in bars.")
    with gr.Row():
        with gr.Column():
            with gr.Row():
                key = gr.Dropdown(KEYS, value="any", label="Key")
                density = gr.Dropdown(DENSITIES, value="any", label="Density")
                bars = gr.Slider(*LIMITS["bars"], value=4, step=1, label="Bars")
            with gr.Row():
                temperature = gr.Slider(*LIMITS["temperature"], value=1.0, step=0.05, label="Temperature")
                top_k = gr.Slider(*LIMITS["top_k"], value=0, step=1, label="Top-k (0: off)")
                top_p = gr.Slider(*LIMITS["top_p"], value=0.95, step=0.01, label="Top-p")
            seed = gr.Number(0, precision=0, label="Seed", minimum=0, maximum=LIMITS["seed"][1])
            primer = gr.File(label="Primer MIDI (optional, up to 1 MB)", file_types=[".mid", ".midi"],
                             type="filepath")
            keep_primer = gr.Checkbox(False, label="Keep the primer in the output")
            harmonize = gr.Checkbox(False, label="Harmonise the uploaded melody (four voices, like a Bach chorale)",
                                    elem_id="harmonize")
            button = gr.Button("Compose", variant="primary", elem_id="compose")
        with gr.Column():
            audio = gr.Audio(label="Listen", type="filepath", elem_id="audio")
            roll = gr.Image(label="Piano roll", type="pil", elem_id="roll")
            midi = gr.File(label="MIDI download")
            summary = gr.Markdown()
    button.click(compose, [temperature, top_k, top_p, seed, bars, key, density, primer, keep_primer, harmonize],
                 [audio, roll, midi, summary], api_name="compose")

demo.queue(max_size=32, default_concurrency_limit=2)

if __name__ == "__main__":
    load()
    demo.launch(max_file_size="1mb")
