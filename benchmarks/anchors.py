"""Anchor models the benchmarks compare against, written here so every comparison runs in one process.

- `DCGANGenerator` / `DCGANDiscriminator`: the source article's plain DCGAN (Dense -> ConvTranspose generator with
  BatchNorm + LeakyReLU and tanh; a Conv + LeakyReLU discriminator with a sigmoid/BCE head), scaled from 28 px to
  64 px by adding ConvTranspose stages (Radford et al., 2016, arXiv:1511.06434). Trained with BCE, Adam 1e-4,
  no augmentation and no EMA, as in the article.
"""

from __future__ import annotations

import math

from torch import nn


class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100, image_size: int = 64, channels: int = 3, width: int = 64):
        super().__init__()
        stages = int(math.log2(image_size // 4))
        top = width * 2 ** (stages - 1)
        self.latent_dim = latent_dim
        self.fc = nn.Sequential(nn.Linear(latent_dim, 4 * 4 * top, bias=False), nn.BatchNorm1d(4 * 4 * top),
                                nn.LeakyReLU(0.2))
        self.top = top
        layers = []
        ch = top
        for i in range(stages):
            last = i == stages - 1
            out = channels if last else ch // 2
            layers.append(nn.ConvTranspose2d(ch, out, 5, stride=2, padding=2, output_padding=1, bias=False))
            if not last:
                layers += [nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
            ch = out
        self.net = nn.Sequential(*layers, nn.Tanh())

    def forward(self, z):
        return self.net(self.fc(z).view(-1, self.top, 4, 4))  # (B, 16*top) -> (B, top, 4, 4)


class DCGANDiscriminator(nn.Module):
    def __init__(self, image_size: int = 64, channels: int = 3, width: int = 64):
        super().__init__()
        stages = int(math.log2(image_size // 4))
        layers, ch = [], channels
        for i in range(stages):
            out = width * 2**i
            layers += [nn.Conv2d(ch, out, 5, stride=2, padding=2), nn.LeakyReLU(0.2), nn.Dropout(0.3)]
            ch = out
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(ch * 16, 1))

    def forward(self, x):
        return self.net(x).squeeze(1)  # logits; BCEWithLogits = sigmoid + BCE
