"""Configuration of the NeuroArt painting GAN.

The architecture it describes follows FastGAN (Liu et al., 2021, "Towards Faster and Stabilized GAN Training for
High-fidelity Few-shot Image Synthesis", arXiv:2101.04775), with a spectrally normalised (Miyato et al., 2018,
arXiv:1802.05957) projection discriminator (Miyato & Koyama, 2018, arXiv:1802.05637) for class labels.

This file is Hub remote code: it imports only the standard library and transformers.
"""

from transformers import PreTrainedConfig


def _require(name: str, value, ok: bool, allowed: str):
    """Raise a ValueError naming the field, the value and what is allowed."""
    if not ok:
        raise ValueError(f"NeuroArtGANConfig: `{name}={value!r}` is invalid; {allowed}.")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class NeuroArtGANConfig(PreTrainedConfig):
    r"""
    Configuration of [`NeuroArtGANModel`]: a generator, a discriminator and an EMA copy of the generator.
    `NeuroArtGANConfig()` builds a 64 px unconditional model.

    Args:
        image_size (`int`, defaults to 64): side of the square images, a power of two from 32 to 256.
        num_channels (`int`, defaults to 3): image channels (3 for RGB, 1 for grayscale).
        latent_dim (`int`, defaults to 128): size of the latent noise vector `z`.
        generator_base_channels (`int`, defaults to 16): generator width at full resolution; each halving of the
            resolution doubles it, up to `max_channels`.
        discriminator_base_channels (`int`, defaults to 24): the same for the discriminator.
        max_channels (`int`, defaults to 256): cap on the width of any layer.
        num_classes (`int`, defaults to 0): number of style classes; 0 means unconditional.
        use_skip_excitation (`bool`, defaults to `True`): FastGAN's skip-layer excitation (low-res features gate
            high-res ones).
        use_spectral_norm (`bool`, defaults to `True`): spectral norm on every discriminator layer.
        upsample_mode (`str`, defaults to `"nearest"`): how the generator doubles its maps before each 3x3 conv:
            `"nearest"` (FastGAN) or `"bilinear"` (smoother: no pixel-replication grid for the conv to inherit).
        generator_convs_per_block (`int`, defaults to 1): 3x3 convs in each generator upsampling block: 1 (FastGAN's
            `UpBlock`) or 2 (its `UpBlockComp`: a second conv at the new resolution, so the fine scales get more than
            one layer to draw detail with).
        generator_norm (`str`, defaults to `"batch"`): the normalisation after each generator conv: `"batch"`
            (FastGAN's BatchNorm) or `"pixel"` (ProGAN's pixelwise feature normalisation, Karras et al., 2018,
            arXiv:1710.10196: each position's feature vector scaled to unit RMS; no batch or spatial statistics, so
            the generator gains nothing from the fixed-position spikes that steer BatchNorm's statistics, the
            "droplet" artefact of StyleGAN2's section 2).
        discriminator_head (`str`, defaults to `"sum"`): how the discriminator turns its final 4x4 map into a
            logit. `"sum"` sums the 16 positions first (translation-invariant: a generator can fool it by tiling one
            convincing patch, which is what the release does); `"conv"` is FastGAN's 4x4 valid convolution to one
            logit, with a weight per canvas position. Without FastGAN's auto-encoding regulariser on the
            discriminator, `"conv"` made the generator collapse to one picture on the release data, so it is not
            the default (the measurements: docs/releases/gan.md, benchmarks/results/release_sweep.json).
        discriminator_minibatch_std (`int`, defaults to 0): group size of the minibatch standard-deviation feature
            (Karras et al., 2018, ProGAN, arXiv:1710.10196) appended to the final 4x4 map, so the discriminator can
            see a batch with too little variety; 0 turns it off.
        discriminator_reconstruction (`bool`, defaults to `False`): FastGAN's self-supervised discriminator (section
            3.2): two small decoders rebuild a real image from the discriminator's 8x8 map (the whole image, at a
            quarter of its area) and from a random quadrant of its 16x16 map (that quadrant), and the training
            script adds their pixel error to the discriminator loss, so that D must keep features that describe
            the whole image rather than memorise a few cues. The decoders are used by training only.
        ema_decay (`float`, defaults to 0.999): the decay that the painting generator's exponential moving average
            was made with; a record, not architecture: the training script's `--ema_decay` sets it (a fine-tune
            without the flag keeps this value). 0 makes the EMA generator a copy of the trained one.
        initializer_range (`float`, defaults to 0.02): std of the normal init of conv and linear weights.
    """

    model_type = "neuroart_gan"

    image_size: int = 64
    num_channels: int = 3
    latent_dim: int = 128
    generator_base_channels: int = 16
    discriminator_base_channels: int = 24
    max_channels: int = 256
    num_classes: int = 0
    use_skip_excitation: bool = True
    use_spectral_norm: bool = True
    upsample_mode: str = "nearest"
    generator_convs_per_block: int = 1
    generator_norm: str = "batch"
    discriminator_head: str = "sum"
    discriminator_minibatch_std: int = 0
    discriminator_reconstruction: bool = False
    ema_decay: float = 0.999
    initializer_range: float = 0.02

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        size = self.image_size
        _require("image_size", size, _is_int(size) and size in (32, 64, 128, 256), "use a power of two from 32 to 256")
        _require("num_channels", self.num_channels, _is_int(self.num_channels) and self.num_channels in (1, 3, 4),
                 "use 1 (grayscale), 3 (RGB) or 4 (RGBA)")
        for name, low, high in (
            ("latent_dim", 1, 4096),
            ("generator_base_channels", 1, 1024),
            ("discriminator_base_channels", 1, 1024),
            ("max_channels", 8, 2048),
            ("num_classes", 0, 100_000),
        ):
            value = getattr(self, name)
            _require(name, value, _is_int(value) and low <= value <= high, f"use an integer from {low} to {high}")
        for name in ("use_skip_excitation", "use_spectral_norm", "discriminator_reconstruction"):
            _require(name, getattr(self, name), isinstance(getattr(self, name), bool), "use true or false")
        _require("upsample_mode", self.upsample_mode, self.upsample_mode in ("nearest", "bilinear"),
                 'use "nearest" or "bilinear"')
        _require("generator_convs_per_block", self.generator_convs_per_block,
                 _is_int(self.generator_convs_per_block) and self.generator_convs_per_block in (1, 2), "use 1 or 2")
        _require("generator_norm", self.generator_norm, self.generator_norm in ("batch", "pixel"),
                 'use "batch" (BatchNorm, FastGAN) or "pixel" (pixelwise feature normalisation, ProGAN)')
        _require("discriminator_head", self.discriminator_head, self.discriminator_head in ("conv", "sum"),
                 'use "conv" (position-aware, FastGAN) or "sum" (translation-invariant)')
        group = self.discriminator_minibatch_std
        _require("discriminator_minibatch_std", group, _is_int(group) and 0 <= group <= 64,
                 "use a group size from 1 to 64, or 0 for none")
        decay = self.ema_decay
        _require("ema_decay", decay, isinstance(decay, (int, float)) and 0.0 <= decay < 1.0, "use a float in [0, 1)")
        init_range = self.initializer_range
        _require("initializer_range", init_range, isinstance(init_range, (int, float)) and 0 < init_range <= 1,
                 "use a float in (0, 1]")

    def channels(self, resolution: int, base: int) -> int:
        """Width of a layer working at `resolution` px: `base` at full size, doubling per halving, capped."""
        return min(self.max_channels, base * (self.image_size // resolution))


__all__ = ["NeuroArtGANConfig"]
