"""Images: an HF dataset, an image folder (class subfolders = styles), or the embedded abstract-art set."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from .common import SkipCounter, finish, open_hub_dataset

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_IMAGE_PIXELS = 64_000_000  # refuse decompression bombs well before they allocate


def to_rgb(image):
    """Convert any PIL mode (L, LA, P, RGBA, CMYK, I;16, I, F, ...) to 8-bit RGB; transparency goes on white."""
    from PIL import Image

    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        import numpy as np

        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) / (high - low) * 255 if high > low else np.zeros_like(array)
        image = Image.fromarray(scaled.astype("uint8"), mode="L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return image.convert("RGB")


def square_resize(image, resolution: int):
    """Centre-crop to a square, then resize to `resolution` (Lanczos)."""
    from PIL import Image

    w, h = image.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    image = image.crop((left, top, left + side, top + side))
    return image.resize((resolution, resolution), Image.Resampling.LANCZOS)


def open_image(source, counter: SkipCounter, min_size: int, path=None):
    """Open and fully decode an image from a path or bytes; return an RGB PIL image, or None (counted)."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            handle = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
            image = Image.open(handle)
            if image.width * image.height > MAX_IMAGE_PIXELS:
                counter.skip("too many pixels", path)
                return None
            image.seek(0)  # animated images: the first frame
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        counter.skip("too many pixels", path)
        return None
    except (OSError, SyntaxError, ValueError, Image.UnidentifiedImageError, EOFError):
        counter.skip("not a readable image", path)
        return None
    if min(image.size) < min_size:
        counter.skip(f"smaller than {min_size} px", path)
        return None
    try:
        return to_rgb(image)
    except (OSError, ValueError):
        counter.skip("unsupported image mode", path)
        return None


def scan_image_folder(folder: str | os.PathLike) -> tuple[list[tuple[Path, int]], list[str]]:
    """Files of an `imagefolder`: class subfolders become labels (sorted names); loose files get label 0."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SystemExit(f"--train_data_dir {folder} is not a folder.")
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = [p.name for p in class_dirs]
    files = []
    if class_dirs:
        for label, class_dir in enumerate(class_dirs):
            files += [(p, label) for p in sorted(class_dir.rglob("*")) if p.is_file()]
    files += [(p, 0) for p in sorted(folder.iterdir()) if p.is_file()]
    return files, names


def load_images(
    *,
    train_data_dir: str | None = None,
    dataset_name: str | None = None,
    dataset_config_name: str | None = None,
    dataset_split: str = "train",
    image_column: str | None = None,
    label_column: str | None = None,
    resolution: int = 64,
    max_samples: int | None = None,
    cache_dir: str | None = None,
    default_num_images: int = 600,
    seed: int = 0,
):
    """Load training images from one source, in the order a user would try them:

    1. `dataset_name`: an HF dataset (Hub id or local folder), through `datasets.load_dataset`;
    2. `train_data_dir`: an image folder (class subfolders = labels);
    3. neither: the embedded procedural abstract-art set (`neuroart.training.abstract_art`).

    Returns `(images, labels, class_names, source, counter)`: RGB PIL images at `resolution`, int labels (all 0 when
    there are no classes), class names (empty when unlabelled), a description of the source and the skip counts.
    """
    counter = SkipCounter()
    min_size = max(8, resolution // 4)
    images, labels, names = [], [], []
    if dataset_name:
        import datasets

        ds = open_hub_dataset(dataset_name, dataset_config_name, dataset_split, cache_dir,
                              columns={"--label_column": label_column})
        image_column = image_column or next(
            (c for c, f in ds.features.items() if isinstance(f, datasets.Image)), "image")
        if image_column not in ds.column_names:
            raise SystemExit(f"--image_column {image_column!r} is not in {dataset_name} (columns: {ds.column_names}).")
        if label_column and isinstance(ds.features[label_column], datasets.ClassLabel):
            names = list(ds.features[label_column].names)
        ds = ds.cast_column(image_column, datasets.Image(decode=False))
        seen_labels = {}
        for row in ds:
            if max_samples and len(images) >= max_samples:
                break
            raw = row[image_column]
            source = raw.get("bytes") or raw.get("path") if isinstance(raw, dict) else raw
            image = open_image(source, counter, min_size) if source is not None else None
            if image is None:
                if source is None:
                    counter.skip("missing image")
                continue
            label = 0
            if label_column:
                value = row[label_column]
                label = value if names else seen_labels.setdefault(value, len(seen_labels))
            images.append(square_resize(image, resolution))
            labels.append(int(label))
        if label_column and not names:
            names = [str(v) for v in seen_labels]
        source_text = f"Hub dataset `{dataset_name}`"
    elif train_data_dir:
        files, names = scan_image_folder(train_data_dir)
        for path, label in files:
            if max_samples and len(images) >= max_samples:
                break
            if path.suffix.lower() not in IMAGE_EXTENSIONS:
                counter.skip("not an image file extension", path)
                continue
            image = open_image(path, counter, min_size, path)
            if image is not None:
                images.append(square_resize(image, resolution))
                labels.append(label)
        source_text = f"image folder `{train_data_dir}`"
    else:
        from ..abstract_art import abstract_art_dataset

        count = min(default_num_images, max_samples) if max_samples else default_num_images
        images, labels, names = abstract_art_dataset(count, resolution, seed)
        source_text = f"embedded procedural abstract art ({count} images, styles {', '.join(names)})"
    finish(images, source_text, counter, "images")
    if len(names) <= 1:
        names = []
        labels = [0] * len(images)
    return images, labels, names, source_text, counter


def images_to_tensor(images):
    """PIL RGB images -> uint8 tensor (N, 3, H, W)."""
    import numpy as np
    import torch

    array = np.stack([np.asarray(im, dtype=np.uint8) for im in images])  # (N, H, W, 3)
    return torch.from_numpy(array).permute(0, 3, 1, 2).contiguous()  # -> (N, 3, H, W)


__all__ = ["IMAGE_EXTENSIONS", "images_to_tensor", "load_images", "open_image", "scan_image_folder", "square_resize",
           "to_rgb"]
