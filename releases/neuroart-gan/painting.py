"""Painting with the NeuroArt GAN: seeded latents, batched painting, bulk runs, latent walks, and `Paintings`.

`NeuroArtGANPaintingMixin` gives `NeuroArtGANModel` its entry points; each paints with the EMA generator in eval
mode, takes its randomness from a `torch.Generator` made from the seed (drawn on the CPU, so the same seed paints
the same picture on every device, for every chunk size and whatever else the process is doing) and returns
`Paintings`: PIL images that carry their provenance, with `.seed`, `.settings`, `.provenance` and `.save(folder)`
as every NeuroArt result.

- `generate_images(num_images, seed=...)`: `num_images` paintings from one seed.
- `paint_seeds(seeds)`: one painting per seed, batched (painting k is `generate_images(1, seed=seeds[k])[0]`).
- `paint_to_folder(seeds, folder)`: `paint_seeds` straight to PNG files, writing while the next chunk paints.
- `interpolate(seed_a, seed_b, steps)`: frames of a spherical walk between two seeds' latents.

`chunk_size` is how many paintings go through the generator at once (memory, not output); the old name
`batch_size` works until the next release, with a FutureWarning.

A helper module shipped beside the weights (`HELPER_MODULES`). Hub remote code: the standard library, torch and
same-folder modules only (numpy and Pillow for PIL output, as `images.py`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import warnings

import torch
import torch.nn.functional as F

from .images import image_with_provenance, save_image, write_png


@functools.lru_cache(maxsize=None)
def _cpu_flags() -> frozenset:
    """The CPU's feature flags from /proc/cpuinfo, read once (empty where there is none)."""
    try:
        with open("/proc/cpuinfo") as handle:
            return frozenset(next((line for line in handle if line.startswith("flags")), "").split())
    except OSError:
        return frozenset()


def native_bf16(device="cpu") -> bool:
    """Whether `device` runs bfloat16 convolutions natively: a CUDA device with bf16, or a CPU with AMX or
    AVX512-BF16 (read from /proc/cpuinfo). On an AVX2-only CPU bfloat16 is emulated and runs many times slower
    than float32 (benchmarks/results/gan_speed.json), so "auto" precision paints in float32 there."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    return bool({"amx_bf16", "avx512_bf16"} & _cpu_flags())


def resolve_precision(precision: str, device="cpu") -> str:
    """"auto" -> "bf16" where `native_bf16(device)`, else "fp32"; "fp32" and "bf16" are kept as asked."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"`precision={precision!r}` is invalid; use 'auto', 'fp32' or 'bf16'.")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def _chunk_size(chunk_size: int, batch_size: int | None) -> int:
    """`chunk_size`, or the deprecated `batch_size` it replaces (with a FutureWarning)."""
    if batch_size is not None:
        warnings.warn("`batch_size` is now `chunk_size` (paintings per pass through the generator; it never changed "
                      "how many are painted). The old name goes in the next release.", FutureWarning, stacklevel=3)
        chunk_size = batch_size
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or not 1 <= chunk_size <= 100_000:
        raise ValueError(f"`chunk_size={chunk_size!r}` is invalid; use an integer from 1 to 100000.")
    return chunk_size


class Paintings(list):
    """What the painter returns: a list of PIL images, each carrying its provenance as PNG text chunks
    (`image.text`), with the call's `seed` (an int; the list of seeds from `paint_seeds`; `(seed_a, seed_b)` from
    `interpolate`), its `settings` and `provenance`, and `.save(folder)`."""

    def __init__(self, images=(), seed=None, settings: dict | None = None, model: str = ""):
        super().__init__(images)
        self.seed = seed
        self.settings = dict(settings or {})
        self.model = model

    @property
    def provenance(self) -> dict:
        """The model, the seed and the settings (each image's chunks add its index and label, or its frame)."""
        return {"model": self.model or "neuroart-gan", "seed": self.seed, **self.settings}

    def save(self, folder) -> list[str]:
        """Write each image with its chunks: `painting_<seed>_<index>.png`, or `walk_<a>_<b>_<frame>.png` for the
        frames of a walk. Returns the paths written."""
        os.makedirs(folder, exist_ok=True)
        paths = []
        for image in self:
            text = getattr(image, "text", {})
            if "neuroart:frame" in text:
                name = f"walk_{text['neuroart:seed_a']}_{text['neuroart:seed_b']}_{int(text['neuroart:frame']):03d}.png"
            else:
                name = f"painting_{text.get('neuroart:seed', 'x')}_{text.get('neuroart:index', 0)}.png"
            save_image(image, os.path.join(folder, name))
            paths.append(os.path.join(folder, name))
        return paths


class NeuroArtGANPaintingMixin:
    """The painting entry points of `NeuroArtGANModel` (see the module docstring)."""

    def sample_latents(
        self, num_images: int, seed: int, truncation_psi: float = 1.0, labels=None
    ) -> tuple[torch.Tensor, torch.LongTensor | None]:
        """The latents (and labels) that `generate_images` paints for a seed; drawn on the CPU from a generator of
        their own, so the same seed gives the same images on every device and for every chunk size."""
        generator = torch.Generator().manual_seed(int(seed))
        noise = torch.randn(num_images, self.config.latent_dim, generator=generator) * float(truncation_psi)
        if self.config.num_classes == 0:
            if labels is not None:
                raise ValueError("This GAN is unconditional (num_classes=0): leave `labels` as None.")
            return noise, None
        if labels is None:
            labels = torch.randint(0, self.config.num_classes, (num_images,), generator=generator)
        else:
            labels = torch.as_tensor(labels, dtype=torch.long).flatten()
            if labels.numel() == 1:
                labels = labels.expand(num_images)
            if labels.numel() != num_images:
                raise ValueError(f"`labels` has {labels.numel()} entries; pass one label or {num_images}.")
            if labels.min() < 0 or labels.max() >= self.config.num_classes:
                raise ValueError(f"`labels` must lie in [0, {self.config.num_classes - 1}]; got {labels.tolist()}.")
        return noise, labels.clone()

    @contextlib.contextmanager
    def _painting_mode(self):
        """The EMA generator in eval mode for the block (its mode restored after); yields a parameter, for the
        device and dtype."""
        generator = self.generator_ema
        was_training = generator.training
        generator.eval()
        try:
            yield next(generator.parameters())
        finally:
            generator.train(was_training)

    def _paint(self, z, y, precision: str) -> torch.Tensor:
        """The EMA generator on one batch, under bfloat16 autocast for `precision="bf16"`; float32 on the CPU."""
        with torch.autocast(z.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
            return self.generator_ema(z, y).float().cpu()

    def _paint_chunks(self, noise, labels, precision: str, chunk_size: int) -> torch.Tensor:
        """Paint latents (N, Z) and labels (N,) or None, `chunk_size` at a time: (N, C, H, W) in [0, 1]."""
        chunks = []
        with self._painting_mode() as param:
            for start in range(0, noise.shape[0], chunk_size):
                z = noise[start : start + chunk_size].to(param.device, param.dtype)
                y = None if labels is None else labels[start : start + chunk_size].to(param.device)
                chunks.append(self._paint(z, y, precision))
        return ((torch.cat(chunks) + 1) / 2).clamp(0, 1)  # [-1, 1] -> [0, 1]

    def _provenance(self, seed, truncation_psi: float, precision: str) -> dict:
        """The chunks every painting carries (an image adds its index and label, a frame its number)."""
        return {"model": self.name_or_path or "neuroart-gan", "seed": seed,
                "truncation_psi": float(truncation_psi), "precision": precision}

    def _paintings(self, images, seed, truncation_psi, precision, per_image) -> Paintings:
        """`Paintings` from (N, C, H, W) images in [0, 1]; `per_image(k)` gives image k's own chunks."""
        array = images.permute(0, 2, 3, 1).numpy()  # (N, C, H, W) -> (N, H, W, C)
        shared = self._provenance(seed, truncation_psi, precision)
        return Paintings((image_with_provenance(array[k], {**shared, **per_image(k)}) for k in range(len(array))),
                         seed=seed, settings={key: shared[key] for key in ("truncation_psi", "precision")},
                         model=shared["model"])

    @torch.inference_mode()
    def generate_images(self, num_images: int = 4, seed: int | None = None, truncation_psi: float = 1.0,
                        labels=None, output_type: str = "pil", chunk_size: int = 256, precision: str = "auto",
                        batch_size: int | None = None):
        """Paint `num_images` images with the EMA generator.

        Deterministic for a given `seed` (a random one is drawn and recorded when `seed` is None) and precision.
        `precision`: "auto" (bfloat16 autocast where the hardware runs it natively, `native_bf16`; float32
        elsewhere), "fp32" or "bf16"; the one used is recorded in the provenance.
        `output_type`: "pil" (`Paintings`: PIL images carrying PNG text chunks with provenance), "pt" (tensor
        (N, C, H, W) in [0, 1]) or "np" (float32 array (N, H, W, C) in [0, 1]).
        """
        if not isinstance(num_images, int) or isinstance(num_images, bool) or not 1 <= num_images <= 100_000:
            raise ValueError(f"`num_images={num_images!r}` is invalid; use an integer from 1 to 100000.")
        if not 0.0 <= float(truncation_psi) <= 1.0:
            raise ValueError(f"`truncation_psi={truncation_psi!r}` is invalid; use a float in [0, 1].")
        if output_type not in ("pil", "pt", "np"):
            raise ValueError(f"`output_type={output_type!r}` is invalid; use 'pil', 'pt' or 'np'.")
        chunk_size = _chunk_size(chunk_size, batch_size)
        seed = random.randrange(2**31) if seed is None else int(seed)
        noise, label_tensor = self.sample_latents(num_images, seed, truncation_psi, labels)
        precision = resolve_precision(precision, self.generator_ema_device)
        images = self._paint_chunks(noise, label_tensor, precision, chunk_size)
        if output_type == "pt":
            return images
        if output_type == "np":
            return images.permute(0, 2, 3, 1).numpy()  # (N, C, H, W) -> (N, H, W, C)
        return self._paintings(images, seed, truncation_psi, precision, lambda k: {
            "index": k, "label": None if label_tensor is None else int(label_tensor[k])})

    @torch.inference_mode()
    def paint_seeds(self, seeds, truncation_psi: float = 1.0, labels=None, chunk_size: int = 64,
                    output_type: str = "pil", precision: str = "auto", batch_size: int | None = None):
        """One painting per seed, batched: painting k is `generate_images(1, seed=seeds[k])[0]` (up to float
        rounding in the batched convolutions), so each work of a bulk run is reproducible from its own seed.
        `labels`: None (each seed draws its style), one label, or one per seed. Returns `Paintings` whose `seed`
        is the list of seeds (or a (N, C, H, W) tensor in [0, 1] for `output_type="pt"`)."""
        seeds = [int(s) for s in seeds]
        if output_type not in ("pil", "pt"):
            raise ValueError(f"`output_type={output_type!r}` is invalid; use 'pil' or 'pt'.")
        chunk_size = _chunk_size(chunk_size, batch_size)
        per_seed = labels if isinstance(labels, (list, tuple)) else [labels] * len(seeds)
        latents = [self.sample_latents(1, s, truncation_psi, y) for s, y in zip(seeds, per_seed)]
        noise = torch.cat([z for z, _ in latents])  # (N, Z)
        label_tensor = None if latents and latents[0][1] is None else torch.cat([y for _, y in latents])
        precision = resolve_precision(precision, self.generator_ema_device)
        images = self._paint_chunks(noise, label_tensor, precision, chunk_size)
        if output_type == "pt":
            return images
        return self._paintings(images, seeds, truncation_psi, precision, lambda k: {
            "seed": seeds[k], "index": 0, "label": None if label_tensor is None else int(label_tensor[k])})

    def paint_to_folder(self, seeds, folder, truncation_psi: float = 1.0, labels=None, chunk_size: int = 64,
                        precision: str = "auto", name: str = "painting_{seed}.png", batch_size: int | None = None):
        """Bulk painting: one PNG per seed (the image `paint_seeds` paints for it, with the same provenance chunks)
        written into `folder`. While a chunk of the batch is painted, a writer thread encodes the previous one, so
        the files cost little beyond the painting; at most two chunks (of up to 16) are held in memory. Returns,
        per seed, `(file name, provenance dict)` in the order of `seeds`."""
        from concurrent.futures import ThreadPoolExecutor

        seeds = [int(s) for s in seeds]
        chunk = min(_chunk_size(chunk_size, batch_size), 16)
        per_seed = labels if isinstance(labels, (list, tuple)) else [labels] * len(seeds)
        precision = resolve_precision(precision, self.generator_ema_device)
        works, pending = [], None

        def write(images, chunk_seeds, chunk_labels):
            array = images.permute(0, 2, 3, 1).numpy()  # (N, C, H, W) -> (N, H, W, C)
            done = []
            for k, seed in enumerate(chunk_seeds):
                provenance = {**self._provenance(seed, truncation_psi, precision), "index": 0,
                              "label": chunk_labels[k]}
                write_png(array[k], os.path.join(folder, name.format(seed=seed)), provenance)
                done.append((name.format(seed=seed), provenance))
            return done

        with ThreadPoolExecutor(1) as writer, torch.inference_mode():
            for start in range(0, len(seeds), chunk):
                chunk_seeds = seeds[start:start + chunk]
                latents = [self.sample_latents(1, s, truncation_psi, y)
                           for s, y in zip(chunk_seeds, per_seed[start:start + chunk])]
                chunk_labels = [None if y is None else int(y) for _, y in latents]
                noise = torch.cat([z for z, _ in latents])  # (n, Z)
                label_tensor = None if chunk_labels[0] is None else torch.cat([y for _, y in latents])
                images = self._paint_chunks(noise, label_tensor, precision, chunk)  # (n, C, H, W) in [0, 1]
                if pending is not None:
                    works.extend(pending.result())
                pending = writer.submit(write, images, chunk_seeds, chunk_labels)
            if pending is not None:
                works.extend(pending.result())
        return works

    @torch.inference_mode()
    def interpolate(self, seed_a: int, seed_b: int, steps: int = 16, truncation_psi: float = 1.0, labels=None,
                    output_type: str = "pil", precision: str = "auto"):
        """Frames of a latent walk from seed A's painting to seed B's (spherical interpolation of z).

        `labels`: one style label for the whole walk (conditional models; default: seed A's label).
        Returns `Paintings` (frames with provenance; `seed` is `(seed_a, seed_b)`), or a (steps, C, H, W) tensor
        in [0, 1] for `output_type="pt"`.
        """
        if not isinstance(steps, int) or not 2 <= steps <= 1000:
            raise ValueError(f"`steps={steps!r}` is invalid; use an integer from 2 to 1000.")
        if output_type not in ("pil", "pt"):
            raise ValueError(f"`output_type={output_type!r}` is invalid; use 'pil' or 'pt'.")
        z_a, y_a = self.sample_latents(1, seed_a, truncation_psi, labels)
        z_b, _ = self.sample_latents(1, seed_b, truncation_psi, labels)
        t = torch.linspace(0, 1, steps)[:, None]
        omega = torch.arccos((F.normalize(z_a, dim=1) * F.normalize(z_b, dim=1)).sum().clamp(-1 + 1e-7, 1 - 1e-7))
        z = (torch.sin((1 - t) * omega) * z_a + torch.sin(t * omega) * z_b) / torch.sin(omega)  # (steps, Z)
        y = None if y_a is None else y_a.expand(steps)
        precision = resolve_precision(precision, self.generator_ema_device)
        frames = self._paint_chunks(z, y, precision, steps)
        if output_type == "pt":
            return frames
        seeds = (int(seed_a), int(seed_b))
        return self._paintings(frames, seeds, truncation_psi, precision, lambda k: {
            "seed_a": seeds[0], "seed_b": seeds[1], "label": None if y_a is None else int(y_a[0]), "frame": k})

    @property
    def generator_ema_device(self) -> torch.device:
        return next(self.generator_ema.parameters()).device
