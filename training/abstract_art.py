"""The embedded default painting data set: procedurally generated abstract art.

Three named styles, each drawn from a seed, at any resolution, with Pillow only:

- `grid`: a Mondrian-like composition: black lines cutting the canvas into rectangles, a few filled with red,
  yellow or blue on off-white.
- `circles`: a Kandinsky-like composition: overlapping translucent circles and straight lines on a tinted ground.
- `stripes`: op-art: bands of two alternating colours whose width and angle vary smoothly across the canvas.

`abstract_art(style, seed, size)` is deterministic: the same style, seed and size give the same pixels.
`abstract_art_dataset(num_images, size, seed)` cycles through the styles; the style is the class label.
Compositions are drawn at 2x and downsampled for anti-aliasing.
"""

from __future__ import annotations

import math
import random

from PIL import Image, ImageDraw

STYLES = ("grid", "circles", "stripes")

_PRIMARIES = [(200, 30, 35), (240, 200, 30), (25, 60, 160)]
_PALETTES = [
    [(231, 111, 81), (244, 162, 97), (233, 196, 106), (42, 157, 143), (38, 70, 83)],
    [(0, 48, 73), (214, 40, 40), (247, 127, 0), (252, 191, 73), (234, 226, 183)],
    [(61, 64, 91), (129, 178, 154), (242, 204, 143), (224, 122, 95), (244, 241, 222)],
    [(20, 20, 20), (200, 50, 90), (80, 160, 200), (230, 220, 200), (120, 60, 140)],
]


def _grid(draw: ImageDraw.ImageDraw, size: int, rng: random.Random) -> None:
    draw.rectangle([0, 0, size, size], fill=(238, 234, 222))
    cells = [(0.0, 0.0, 1.0, 1.0)]  # unit-square coordinates, so the composition is the same at every size
    for _ in range(rng.randint(3, 6)):
        cells.sort(key=lambda c: (c[2] - c[0]) * (c[3] - c[1]))
        x0, y0, x1, y1 = cells.pop()
        if (x1 - x0) >= (y1 - y0):
            cut = rng.uniform(x0 + (x1 - x0) / 4, x1 - (x1 - x0) / 4)
            cells += [(x0, y0, cut, y1), (cut, y0, x1, y1)]
        else:
            cut = rng.uniform(y0 + (y1 - y0) / 4, y1 - (y1 - y0) / 4)
            cells += [(x0, y0, x1, cut), (x0, cut, x1, y1)]
    pixels = [tuple(round(v * size) for v in cell) for cell in cells]
    for cell in rng.sample(pixels, k=min(len(pixels), rng.randint(2, 3))):
        draw.rectangle(cell, fill=rng.choice(_PRIMARIES))
    width = max(2, size // 40)
    for x0, y0, x1, y1 in pixels:
        draw.rectangle([x0, y0, x1, y1], outline=(15, 15, 15), width=width)


def _circles(draw: ImageDraw.ImageDraw, size: int, rng: random.Random) -> None:
    palette = rng.choice(_PALETTES)
    draw.rectangle([0, 0, size, size], fill=palette[-1])
    for _ in range(rng.randint(3, 7)):
        r = rng.uniform(0.06, 0.3) * size
        cx, cy = rng.uniform(0.1, 0.9) * size, rng.uniform(0.1, 0.9) * size
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=rng.choice(palette[:-1]) + (170,))
        if rng.random() < 0.5:
            inner = r * rng.uniform(0.3, 0.6)
            draw.ellipse([cx - inner, cy - inner, cx + inner, cy + inner], fill=rng.choice(palette[:-1]) + (220,))
    for _ in range(rng.randint(2, 5)):
        points = [(rng.uniform(0, size), rng.uniform(0, size)) for _ in range(2)]
        draw.line(points, fill=(20, 20, 20, 230), width=max(1, size // 80))


def _stripes(draw: ImageDraw.ImageDraw, size: int, rng: random.Random) -> None:
    palette = rng.choice(_PALETTES)
    a, b = rng.sample(palette, 2)
    angle = rng.uniform(0, math.pi)
    bend = rng.uniform(0.5, 3.0)
    period = rng.uniform(0.04, 0.1) * size
    cos, sin = math.cos(angle), math.sin(angle)
    step = max(1, size // 128)
    for y in range(0, size, step):
        for x in range(0, size, step):
            u = (x * cos + y * sin) / size
            v = (-x * sin + y * cos) / size
            phase = (u * size + period * bend * math.sin(2 * math.pi * v)) / period
            draw.rectangle([x, y, x + step - 1, y + step - 1], fill=a if int(math.floor(phase)) % 2 == 0 else b)


_DRAW = {"grid": _grid, "circles": _circles, "stripes": _stripes}


def abstract_art(style: str, seed: int, size: int = 64) -> Image.Image:
    """One RGB composition of `style` (one of STYLES), `size` x `size`, deterministic in `seed`; the same seed gives
    the same composition at every size."""
    if style not in _DRAW:
        raise ValueError(f"style={style!r} is unknown; choose one of {STYLES}.")
    if not 8 <= size <= 2048:
        raise ValueError(f"size={size} is out of range; use 8 to 2048.")
    canvas = size * 2
    image = Image.new("RGBA", (canvas, canvas))
    draw = ImageDraw.Draw(image, "RGBA")
    _DRAW[style](draw, canvas, random.Random(f"{style}:{seed}"))
    return image.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def abstract_art_dataset(num_images: int = 600, size: int = 64, seed: int = 0):
    """`num_images` compositions cycling through STYLES: returns (images, labels, class_names)."""
    images, labels = [], []
    for i in range(num_images):
        label = i % len(STYLES)
        images.append(abstract_art(STYLES[label], seed * 1_000_003 + i, size))
        labels.append(label)
    return images, labels, list(STYLES)
