"""NeuroArt Painting: a Gradio Space for the few-shot painting GAN (FastGAN-style generator, arXiv:2101.04775).

Paint a gallery from a seed (PNG downloads carry provenance text chunks), walk the latent space between two seeds
as an animation, and see the nearest training images when the model ships its thumbnail index.
The model and its helpers are Hub remote code shipped with the weights: this Space needs transformers, torch,
gradio and Pillow, not the neuroart repo. Model: `NEUROART_GAN_MODEL` (Hub id or local folder; default
`neuroart/neuroart-gan`).
"""

import os

# Before torch: on 2-vCPU Spaces, OpenMP's spin-waiting makes 2-thread torch up to 60x slower on small ops.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import functools  # noqa: E402
import socket  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402
from urllib.parse import urlparse  # noqa: E402

import gradio as gr  # noqa: E402
import torch  # noqa: E402
from transformers import AutoModel  # noqa: E402
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
MODEL_ID = os.environ.get("NEUROART_GAN_MODEL", "neuroart/neuroart-gan")
LIMITS = {"images": (1, 16), "truncation": (0.0, 1.0), "seed": (0, 2**31 - 1), "frames": (2, 32), "nearest": (1, 5)}
ANY_STYLE = "any"


LOAD_LOCK = threading.Lock()  # concurrent first requests must not load the models twice at once


@functools.lru_cache(maxsize=1)
def _load():
    """(model, the painting I/O helpers of the model's images.py, path of the nearest-training index or None),
    loaded once."""
    model = AutoModel.from_pretrained(MODEL_ID, trust_remote_code=True).eval().to(DEVICE)
    module = SimpleNamespace(**{name: get_class_from_dynamic_module(f"images.{name}", MODEL_ID)
                                for name in ("save_image", "save_animation", "nearest_in_index")})
    index = cached_file(MODEL_ID, "nearest_index.safetensors", _raise_exceptions_for_missing_entries=False)
    return model, module, index


def load():
    with LOAD_LOCK:
        return _load()


def styles() -> list[str]:
    model = load()[0]
    names = getattr(model.config, "id2label", None) or {}
    return [ANY_STYLE] + [str(names.get(i, i)) for i in range(model.config.num_classes)]


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


def label_of(style):
    choices = styles()
    if style in (None, "", ANY_STYLE):
        return None
    if style not in choices:
        raise gr.Error(f"Unknown style {style!r}; choose one of {', '.join(choices)}.")
    return choices.index(style) - 1


def paint_images(seed, num_images, truncation, style):
    model, module, _ = load()
    return model.generate_images(number("images", num_images, int), seed=number("seed", seed, int),
                                 truncation_psi=number("truncation", truncation), labels=label_of(style)), module


def paint(seed, num_images, truncation, style):
    """A gallery of paintings and their PNG files (with provenance)."""
    images, module = paint_images(seed, num_images, truncation, style)
    folder = Path(tempfile.mkdtemp(prefix="neuroart-gan-"))
    files = []
    for i, image in enumerate(images):
        path = folder / f"neuroart_seed{int(seed)}_{i}.png"
        module.save_image(image, path)
        files.append(str(path))
    return [(image, f"seed {int(seed)} · #{i}") for i, image in enumerate(images)], files


def walk(seed_a, seed_b, frames, truncation, style):
    """An animated latent walk between two seeds: a GIF to watch and an APNG (full colour, provenance) to keep."""
    model, module, _ = load()
    images = model.interpolate(number("seed", seed_a, int), number("seed", seed_b, int),
                               steps=number("frames", frames, int), truncation_psi=number("truncation", truncation),
                               labels=label_of(style))
    folder = Path(tempfile.mkdtemp(prefix="neuroart-walk-"))
    gif, apng = folder / "latent_walk.gif", folder / "latent_walk.png"
    module.save_animation(images, gif)
    module.save_animation(images, apng)
    return str(gif), str(apng)


def nearest(seed, num_images, truncation, style, k):
    """For each painting, its closest training thumbnails (RMS pixel distance): the memorisation check."""
    index = load()[2]
    if index is None:
        raise gr.Error("This model does not ship a nearest-training index (nearest_index.safetensors).")
    images, module = paint_images(seed, num_images, truncation, style)
    rows = module.nearest_in_index(images, index, k=number("nearest", k, int))
    return [(thumb, f"painting #{i} · distance {distance:.3f}") for i, row in enumerate(rows)
            for thumb, distance in row]


with gr.Blocks(title="NeuroArt Painting") as demo:
    gr.Markdown("# NeuroArt Painting 画\nA few-shot painting GAN. Downloads are PNGs with provenance "
                "(`AI-generated`, model, seed) in their text chunks.")
    with gr.Row():
        with gr.Column(scale=1):
            seed = gr.Number(0, precision=0, label="Seed", minimum=0, maximum=LIMITS["seed"][1])
            num_images = gr.Slider(*LIMITS["images"], value=8, step=1, label="Number of images")
            truncation = gr.Slider(*LIMITS["truncation"], value=0.8, step=0.05,
                                   label="Truncation (lower: safer, less varied)")
            style = gr.Dropdown([ANY_STYLE], value=ANY_STYLE, label="Style class", allow_custom_value=True)
            button = gr.Button("Paint", variant="primary", elem_id="paint")
        with gr.Column(scale=2):
            gallery = gr.Gallery(label="Paintings", columns=4, elem_id="gallery")
            files = gr.File(label="PNG downloads (with provenance)", file_count="multiple")
    with gr.Accordion("Latent walk", open=False):
        with gr.Row():
            seed_b = gr.Number(1, precision=0, label="Second seed", minimum=0, maximum=LIMITS["seed"][1])
            frames = gr.Slider(*LIMITS["frames"], value=16, step=1, label="Frames")
            walk_button = gr.Button("Animate", elem_id="walk")
        with gr.Row():
            animation = gr.Image(label="Walk", type="filepath")
            animation_file = gr.File(label="Animated PNG")
    with gr.Accordion("Nearest training images", open=False):
        k = gr.Slider(*LIMITS["nearest"], value=3, step=1, label="Neighbours per painting")
        nearest_button = gr.Button("Show nearest training images", elem_id="nearest")
        neighbours = gr.Gallery(label="Nearest training thumbnails", columns=6)
    demo.load(lambda: gr.Dropdown(choices=styles()), None, style, api_visibility="private")
    button.click(paint, [seed, num_images, truncation, style], [gallery, files], api_name="paint")
    walk_button.click(walk, [seed, seed_b, frames, truncation, style], [animation, animation_file], api_name="walk")
    nearest_button.click(nearest, [seed, num_images, truncation, style, k], neighbours, api_name="nearest")

demo.queue(max_size=32, default_concurrency_limit=2)

if __name__ == "__main__":
    load()
    demo.launch(max_file_size="1mb")
