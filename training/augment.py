"""Differentiable augmentation for data-efficient GAN training.

DiffAugment (Zhao, Liu, Lin, Zhu & Han, 2020, "Differentiable Augmentation for Data-Efficient GAN Training",
arXiv:2006.10738): the same random colour / translation / cutout transforms are applied to real and generated
images before the discriminator sees them, and gradients flow through them to the generator. The policy
`color,translation,cutout` is the paper's recommendation for a few hundred images.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _brightness(x):
    return x + (torch.rand(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)


def _saturation(x):
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (torch.rand(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean


def _contrast(x):
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(x.size(0), 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def _translation(x, ratio: float = 0.125):
    """Shift by up to `ratio` of the size, filling with zeros."""
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device)
    ty = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device)
    grid_b, grid_x, grid_y = torch.meshgrid(
        torch.arange(b, device=x.device), torch.arange(h, device=x.device), torch.arange(w, device=x.device),
        indexing="ij",
    )
    grid_x = torch.clamp(grid_x + tx + 1, 0, h + 1)
    grid_y = torch.clamp(grid_y + ty + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    return padded.permute(0, 2, 3, 1).contiguous()[grid_b, grid_x, grid_y].permute(0, 3, 1, 2)


def _cutout(x, ratio: float = 0.5):
    """Zero a random square of `ratio` of the size."""
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device)
    oy = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device)
    grid_b, grid_x, grid_y = torch.meshgrid(
        torch.arange(b, device=x.device), torch.arange(ch, device=x.device), torch.arange(cw, device=x.device),
        indexing="ij",
    )
    grid_x = torch.clamp(grid_x + ox - ch // 2, 0, h - 1)
    grid_y = torch.clamp(grid_y + oy - cw // 2, 0, w - 1)
    mask = torch.ones(b, h, w, device=x.device, dtype=x.dtype)
    mask[grid_b, grid_x, grid_y] = 0
    return x * mask.unsqueeze(1)


POLICIES = {"color": (_brightness, _saturation, _contrast), "translation": (_translation,), "cutout": (_cutout,)}


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout") -> torch.Tensor:
    """Apply the comma-separated `policy` to a batch (B, C, H, W); an empty policy returns `x`."""
    for name in filter(None, (p.strip() for p in policy.split(","))):
        if name not in POLICIES:
            raise ValueError(f"DiffAugment policy {name!r} is unknown; use a subset of {sorted(POLICIES)}.")
        for fn in POLICIES[name]:
            x = fn(x)
    return x.contiguous()
