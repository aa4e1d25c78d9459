"""Painting I/O for the NeuroArt GAN: PNGs that carry their provenance, animations, and the index of training
thumbnails behind "show the nearest training images".

A helper module shipped beside the weights (`HELPER_MODULES` of `modeling_neuroart_gan.py`), so an app can use it as
Hub remote code without installing neuroart, e.g. `get_class_from_dynamic_module("images.save_image", repo_id)`.

This file is Hub remote code: it imports only the standard library, torch and (optional) numpy, Pillow and
safetensors.
"""

import functools
import math
import os

import torch
import torch.nn.functional as F

try:  # Optional: only PIL output and the PNG writers need them.
    import numpy as np
    from PIL import Image, PngImagePlugin
except ImportError:  # pragma: no cover
    np = Image = PngImagePlugin = None
try:  # Optional (a dependency of transformers): only the nearest-training index needs it.
    from safetensors.torch import load_file, save_file
except ImportError:  # pragma: no cover
    load_file = save_file = None


def image_with_provenance(array, provenance: dict):
    """A PIL image (from an (H, W, C) float array in [0, 1]) that carries `provenance` as PNG tEXt chunks.

    The image is encoded to PNG and read back, so `image.text` holds the chunks; `save_image` writes them again.
    """
    import io

    buffer = io.BytesIO()
    write_png(array, buffer, provenance)
    buffer.seek(0)
    image = Image.open(buffer)
    image.load()
    return image


def write_png(array, target, provenance: dict) -> None:
    """Write an (H, W, C) float array in [0, 1] as a PNG with `provenance` as tEXt chunks, to a path or a binary
    file object; a path is written through a temporary file and renamed, so it is never seen half-written."""
    if Image is None:
        raise ImportError("Painting to PIL images needs Pillow and numpy: `pip install pillow numpy`.")
    pixels = (np.asarray(array) * 255).round().clip(0, 255).astype("uint8")
    if pixels.shape[-1] == 1:
        pixels = pixels[..., 0]
    info = PngImagePlugin.PngInfo()
    info.add_text("Software", "NeuroArt")
    info.add_text("AI-generated", "true")
    for key, value in provenance.items():
        info.add_text(f"neuroart:{key}", str(value))
    if hasattr(target, "write"):
        Image.fromarray(pixels).save(target, format="PNG", pnginfo=info)
        return
    partial = f"{target}.partial"
    Image.fromarray(pixels).save(partial, format="PNG", pnginfo=info)
    os.replace(partial, target)


def save_animation(frames, path, duration_ms: int = 80, boomerang: bool = True) -> None:
    """Write frames as an animated PNG (`.png`, keeps full colour) or GIF (`.gif`); `boomerang` plays back and
    forth so the loop is seamless. The first frame's provenance goes in the file's text chunks (PNG)."""
    frames = list(frames) + (list(frames)[-2:0:-1] if boomerang else [])
    info = None
    if str(path).lower().endswith(".png") and PngImagePlugin is not None:
        info = PngImagePlugin.PngInfo()
        for key, value in getattr(frames[0], "text", {}).items():
            info.add_text(key, str(value))
    extra = {"pnginfo": info} if info is not None else {}
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=duration_ms, loop=0, **extra)


# --------------------------------------------------------------------------------------------------------------
# Originality: an index of small training thumbnails shipped with the model, for "show the nearest training images"
# --------------------------------------------------------------------------------------------------------------
NEAREST_INDEX_FILE = "nearest_index.safetensors"


def save_nearest_index(pixels: torch.Tensor, path, max_images: int = 2048, size: int = 32) -> None:
    """Store up to `max_images` training images (uint8 (N, 3, H, W)) as `size`-px thumbnails in a safetensors file.
    With more images than that, an evenly spaced subset: a folder loads class by class, so the first `max_images`
    would leave the last classes out."""
    if len(pixels) > max_images:
        pixels = pixels[torch.linspace(0, len(pixels) - 1, max_images).round().long()]
    thumbs = F.interpolate(pixels.float(), size=(size, size), mode="area")  # (N, 3, size, size)
    save_file({"thumbnails": thumbs.round().clamp(0, 255).to(torch.uint8).contiguous()}, str(path))


def _thumbnails(images, size: int) -> torch.Tensor:
    """PIL images or an (N, C, H, W) tensor in [0, 1], as (N, 3, size, size) float thumbnails (area-averaged, as the
    index's were made)."""
    if not isinstance(images, torch.Tensor):
        images = torch.stack([torch.from_numpy(np.asarray(im.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)
                              for im in images])  # (N, H, W, 3) -> (N, 3, H, W)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    return F.interpolate(images.float(), size=(size, size), mode="area")


@functools.lru_cache(maxsize=2)
def _index_thumbnails(path: str, modified: float) -> torch.Tensor:
    return load_file(path)["thumbnails"].float() / 255  # (M, 3, s, s)


def _load_index(path) -> torch.Tensor:
    """The index's thumbnails in [0, 1], read once per file version: a bulk run or an app checks every painting."""
    return _index_thumbnails(str(path), os.path.getmtime(path))


def _nearest(images, thumbs: torch.Tensor, k: int):
    """(the images as thumbnails, the `k` smallest RMS distances to `thumbs`, their indices), closest first."""
    small = _thumbnails(images, thumbs.shape[-1])
    distances = torch.cdist(small.flatten(1), thumbs.flatten(1)) / math.sqrt(thumbs[0].numel())  # (N, M)
    values, indices = distances.topk(min(k, len(thumbs)), dim=1, largest=False)
    return small, values, indices


def nearest_in_index(images, path, k: int = 3):
    """For each image (PIL images or a (N, C, H, W) tensor in [0, 1]) its `k` nearest thumbnails of the index at
    `path`: one list per image of `(thumbnail as PIL image, RMS pixel distance in [0, 1])`, closest first."""
    thumbs = _load_index(path)
    _, values, indices = _nearest(images, thumbs, k)
    pixels = (thumbs * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()  # (M, s, s, 3)
    return [[(Image.fromarray(pixels[j]), float(d)) for j, d in zip(row_i.tolist(), row_d.tolist())]
            for row_i, row_d in zip(indices, values)]


# A painting is a near-copy when it lies nearer than NEAR_COPY_RMS (RMS pixel distance in [0, 1], at the index's
# thumbnail size) to a training thumbnail and nearer than half its own contrast (the RMS spread of its thumbnail's
# pixels). The distance alone flags dark, flat paintings, which lie near every dark training crop without copying
# any; a copy of a painting with content lies far closer to it than its content varies.
NEAR_COPY_RMS = 0.04


def near_copies(images, path) -> list[tuple[float, bool]]:
    """For each image (as `nearest_in_index` takes them): (RMS distance to its nearest thumbnail of the index at
    `path`, whether it is a near-copy by NEAR_COPY_RMS and its contrast)."""
    small, values, _ = _nearest(images, _load_index(path), 1)
    contrast = small.flatten(1).std(dim=1, unbiased=False)  # (N,)
    return [(float(distance), float(distance) < NEAR_COPY_RMS and float(distance) < 0.5 * float(spread))
            for distance, spread in zip(values[:, 0], contrast)]


def save_image(image, path) -> None:
    """Save a painted image as PNG, keeping its provenance text chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in getattr(image, "text", {}).items():
        info.add_text(key, str(value))
    image.save(path, format="PNG", pnginfo=info)


__all__ = ["NEAREST_INDEX_FILE", "NEAR_COPY_RMS", "image_with_provenance", "near_copies", "nearest_in_index",
           "save_animation", "save_image", "save_nearest_index", "write_png"]
