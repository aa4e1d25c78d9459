#!/usr/bin/env python
"""GAN speed: batch painting images/s (64 and 128 px, fp32 vs bf16 autocast) and training steps/s, NeuroArt's
generator and recipe against the article's plain DCGAN in the same run.

    python -m benchmarks.speed.gan_speed [--threads 2] [--smoke]

Writes benchmarks/results/gan_speed.json (`--smoke`: a few iterations, results to --results_dir).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.common import setup_threads, write_results


def images_per_second(generator, latent_dim: int, batch: int, iterations: int, bf16: bool) -> float:
    import torch

    z = torch.randn(batch, latent_dim)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        generator(z)  # warm-up
        best = float("inf")
        for _ in range(iterations):
            start = time.perf_counter()
            generator(z)
            best = min(best, time.perf_counter() - start)
    return batch / best


def training_steps_per_second(step, iterations: int) -> float:
    step()  # warm-up
    start = time.perf_counter()
    for _ in range(iterations):
        step()
    return iterations / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads (this machine has 2 cores).")
    parser.add_argument("--batch_size", type=int, default=256, help="Images per generation batch.")
    parser.add_argument("--bf16_batch_size", type=int, default=32, help="Images per bf16 generation batch.")
    parser.add_argument("--train_batch_size", type=int, default=32, help="Images per training step.")
    parser.add_argument("--iterations", type=int, default=10, help="Timed repetitions (best is kept).")
    parser.add_argument("--smoke", action="store_true", help="A few tiny iterations, for the test suite.")
    parser.add_argument("--results_dir", type=str, default=None, help="Where the JSON goes (default results/).")
    args = parser.parse_args()
    setup_threads(args.threads)
    import torch
    import torch.nn.functional as F

    from benchmarks.anchors import DCGANDiscriminator, DCGANGenerator
    from neuroart import NeuroArtGANConfig, NeuroArtGANModel
    from neuroart.training.gan_losses import discriminator_loss, generator_loss

    if args.smoke:
        args.batch_size, args.bf16_batch_size, args.train_batch_size, args.iterations = 8, 4, 4, 1
    torch.manual_seed(0)
    summary, details = {}, {"generation": {}, "training": {}}
    # Smoke mode shrinks every network so the suite exercises the code, not the machine.
    tiny = dict(generator_base_channels=2, discriminator_base_channels=2, max_channels=8) if args.smoke else {}
    neuro64 = NeuroArtGANModel(NeuroArtGANConfig(image_size=64, **tiny)).eval()
    neuro128 = NeuroArtGANModel(NeuroArtGANConfig(image_size=128, **tiny)).eval()
    dcgan = DCGANGenerator(latent_dim=100, image_size=64, width=4 if args.smoke else 64).eval()
    for name, gen, latent in (("neuroart_64", neuro64.generator_ema, 128), ("neuroart_128", neuro128.generator_ema, 128),
                              ("dcgan_64", dcgan, 100)):
        for precision in ("fp32", "bf16"):
            # bf16 runs 20-30x slower than fp32 on CPUs without native bf16 (AVX2 only): time a smaller batch once.
            bf16 = precision == "bf16"
            rate = images_per_second(gen, latent, args.bf16_batch_size if bf16 else args.batch_size,
                                     1 if bf16 else args.iterations, bf16)
            details["generation"][f"{name}_{precision}"] = round(rate, 1)
    g = details["generation"]
    summary["images_per_s_64_fp32"] = g["neuroart_64_fp32"]
    summary["images_per_s_64_bf16"] = g["neuroart_64_bf16"]
    summary["images_per_s_128_bf16"] = g["neuroart_128_bf16"]
    summary["dcgan_images_per_s_64_bf16"] = g["dcgan_64_bf16"]
    summary["dcgan_images_per_s_64_fp32"] = g["dcgan_64_fp32"]
    summary["generate_ratio_vs_dcgan_64_bf16"] = round(g["neuroart_64_bf16"] / g["dcgan_64_bf16"], 3)
    summary["generate_ratio_vs_dcgan_64_fp32"] = round(g["neuroart_64_fp32"] / g["dcgan_64_fp32"], 3)
    summary["generation_params_M"] = {"neuroart_64": round(sum(p.numel() for p in neuro64.generator_ema.parameters()) / 1e6, 2),
                                      "dcgan_64": round(sum(p.numel() for p in dcgan.parameters()) / 1e6, 2)}

    # Training steps: one D and one G update each, batch of real 64 px images.
    real = torch.rand(args.train_batch_size, 3, 64, 64) * 2 - 1
    model = NeuroArtGANModel(NeuroArtGANConfig(image_size=64, **tiny)).train()
    opt_g = torch.optim.Adam(model.generator.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(model.discriminator.parameters(), 2e-4, betas=(0.5, 0.999))
    policy = "color,translation,cutout"

    def neuro_step():
        z = torch.randn(len(real), 128)
        fake = model.generator(z)
        discriminator_loss(model.discriminator, real, fake, None, policy).backward()
        opt_d.step()
        opt_d.zero_grad()
        generator_loss(model.discriminator, fake, None, policy).backward()
        opt_g.step()
        opt_g.zero_grad()
        opt_d.zero_grad()
        model.update_ema()

    width = 4 if args.smoke else 64
    dg, dd = DCGANGenerator(100, 64, width=width).train(), DCGANDiscriminator(64, width=width).train()
    dopt_g, dopt_d = torch.optim.Adam(dg.parameters(), 1e-4), torch.optim.Adam(dd.parameters(), 1e-4)

    def dcgan_step():
        z = torch.randn(len(real), 100)
        fake = dg(z)
        logits = dd(torch.cat([real, fake.detach()]))
        target = torch.cat([torch.ones(len(real)), torch.zeros(len(real))])
        F.binary_cross_entropy_with_logits(logits, target).backward()
        dopt_d.step()
        dopt_d.zero_grad()
        F.binary_cross_entropy_with_logits(dd(fake), torch.ones(len(real))).backward()
        dopt_g.step()
        dopt_g.zero_grad()
        dopt_d.zero_grad()

    for precision in ("fp32", "bf16"):
        iterations = args.iterations if precision == "fp32" else 1
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            details["training"][f"neuroart_{precision}"] = round(training_steps_per_second(neuro_step, iterations), 3)
            details["training"][f"dcgan_{precision}"] = round(training_steps_per_second(dcgan_step, iterations), 3)
    t = details["training"]
    summary["train_steps_per_s_fp32"] = t["neuroart_fp32"]
    summary["train_steps_per_s_bf16"] = t["neuroart_bf16"]
    summary["train_steps_per_s_ratio_vs_dcgan"] = round(t["neuroart_fp32"] / t["dcgan_fp32"], 3)
    summary["train_steps_per_s_ratio_vs_dcgan_bf16"] = round(t["neuroart_bf16"] / t["dcgan_bf16"], 3)
    summary["budget"] = {"batch_size": args.batch_size, "bf16_batch_size": args.bf16_batch_size,
                         "train_batch_size": args.train_batch_size,
                         "iterations": args.iterations, "threads": args.threads}
    if args.results_dir:
        from benchmarks import common

        common.RESULTS = Path(args.results_dir)
    write_results("gan_speed", summary, details)


if __name__ == "__main__":
    main()
