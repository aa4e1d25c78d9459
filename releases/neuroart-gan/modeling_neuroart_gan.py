"""NeuroArt painting GAN: a few-shot generator, a projection discriminator and an EMA generator in one checkpoint.

Papers it follows:
- Generator: FastGAN (Liu, Zhu, Song & Elgammal, 2021, "Towards Faster and Stabilized GAN Training for High-fidelity
  Few-shot Image Synthesis", arXiv:2101.04775): nearest-neighbour upsampling + 3x3 conv + BatchNorm + GLU blocks, and
  skip-layer excitation (SLE), where a 4x4-pooled low-resolution feature map gates a map eight times larger.
- Discriminator: residual down-sampling blocks (FastGAN's `DownBlockComp`) with spectral normalisation (Miyato,
  Kataoka, Koyama & Yoshida, 2018, arXiv:1802.05957) and, for style classes, the projection discriminator (Miyato &
  Koyama, 2018, arXiv:1802.05637): `logit = w·h + <embed(y), h>`.
- Inference uses an exponential moving average of the generator (Karras et al., 2018, ProGAN, arXiv:1710.10196;
  Yazıcı et al., 2019, arXiv:1806.04498); with `ema_decay=0` (the painting release) that copy is the trained
  generator itself. All three networks are saved, so a released model can be fine-tuned.
- `truncation_psi` scales the latent toward its mean, the truncation trick of BigGAN (Brock et al., 2019,
  arXiv:1809.11096).

The painting entry points (`generate_images`, `paint_seeds`, `paint_to_folder`, `interpolate`) and their result
type, `Paintings`, live in `painting.py`; the PNG and index helpers in `images.py`.

This file is Hub remote code: it imports only the standard library, torch, transformers and same-folder siblings.
"""

import math
import os
import shutil
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.utils import ModelOutput

from .configuration_neuroart_gan import NeuroArtGANConfig
from .images import (  # noqa: F401  (the painting I/O helpers, re-exported)
    NEAR_COPY_RMS,
    NEAREST_INDEX_FILE,
    image_with_provenance,
    near_copies,
    nearest_in_index,
    save_animation,
    save_image,
    save_nearest_index,
    write_png,
)
from .painting import (  # noqa: F401  (the painting entry points, their result type and precision helpers)
    NeuroArtGANPaintingMixin,
    Paintings,
    native_bf16,
    resolve_precision,
)
from .pipeline_neuroart_gan import NeuroArtGANPipeline

# Same-folder helper modules saved beside the weights, so that an app can use them as Hub remote code, e.g.
# `get_class_from_dynamic_module("images.save_image", repo_id)`, without installing neuroart.
HELPER_MODULES = ("images.py", "painting.py")

PIPELINE_TASK = "unconditional-image-generation"


@dataclass
class NeuroArtGANOutput(ModelOutput):
    """
    images (`torch.FloatTensor` of shape `(batch_size, num_channels, image_size, image_size)`): images in [-1, 1].
    """

    images: torch.FloatTensor | None = None


# --------------------------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------------------------
class NeuroArtGANPixelNorm(nn.Module):
    """ProGAN's pixelwise feature normalisation: every position's feature vector divided by its RMS over channels."""

    def forward(self, hidden_states):
        return hidden_states * torch.rsqrt(hidden_states.pow(2).mean(dim=1, keepdim=True) + 1e-8)


def _generator_norm(config: NeuroArtGANConfig, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if config.generator_norm == "batch" else NeuroArtGANPixelNorm()


class NeuroArtGANUpBlock(nn.Module):
    """x2 upsample (nearest or bilinear) -> 3x3 conv to 2C -> BatchNorm (or pixel norm) -> GLU (halves back to C).
    FastGAN's `UpBlock`; with `convs=2`, a second 3x3 conv -> norm -> GLU at the new resolution (FastGAN's
    `UpBlockComp`, without its noise injection)."""

    def __init__(self, config: NeuroArtGANConfig, in_channels: int, out_channels: int, convs: int = 1):
        super().__init__()
        mode = config.upsample_mode
        self.upsample = nn.Upsample(scale_factor=2, mode=mode, align_corners=False if mode == "bilinear" else None)
        self.conv = nn.Conv2d(in_channels, out_channels * 2, 3, padding=1, bias=False)
        self.norm = _generator_norm(config, out_channels * 2)
        self.act = nn.GLU(dim=1)
        self.conv2 = self.norm2 = None
        if convs == 2:
            self.conv2 = nn.Conv2d(out_channels, out_channels * 2, 3, padding=1, bias=False)
            self.norm2 = _generator_norm(config, out_channels * 2)

    def forward(self, hidden_states):
        hidden_states = self.act(self.norm(self.conv(self.upsample(hidden_states))))  # (B, C_in, H, W) -> (B, C, 2H, 2W)
        if self.conv2 is not None:
            hidden_states = self.act(self.norm2(self.conv2(hidden_states)))
        return hidden_states


class NeuroArtGANSkipExcitation(nn.Module):
    """Skip-layer excitation: channel gates computed from a low-resolution map, applied to a high-resolution one."""

    def __init__(self, config: NeuroArtGANConfig, low_channels: int, high_channels: int):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.conv1 = nn.Conv2d(low_channels, high_channels, 4, bias=False)  # (B, C_low, 4, 4) -> (B, C_high, 1, 1)
        self.act = nn.SiLU()
        self.conv2 = nn.Conv2d(high_channels, high_channels, 1, bias=False)

    def forward(self, low, high):
        gate = torch.sigmoid(self.conv2(self.act(self.conv1(self.pool(low)))))
        return high * gate


class NeuroArtGANGenerator(nn.Module):
    """z (B, latent_dim) [+ label] -> image (B, C, S, S) in [-1, 1]."""

    def __init__(self, config: NeuroArtGANConfig):
        super().__init__()
        self.config = config
        base = config.generator_base_channels
        in_dim = config.latent_dim * (2 if config.num_classes > 0 else 1)
        self.label_embedding = nn.Embedding(config.num_classes, config.latent_dim) if config.num_classes > 0 else None

        channels_4 = config.channels(4, base)
        # FastGAN's InitLayer: (B, Z, 1, 1) -> ConvTranspose 4x4 -> (B, 2*C4, 4, 4) -> BN -> GLU -> (B, C4, 4, 4)
        self.init_conv = nn.ConvTranspose2d(in_dim, channels_4 * 2, 4, bias=False)
        self.init_norm = _generator_norm(config, channels_4 * 2)
        self.init_act = nn.GLU(dim=1)

        self.resolutions = [2**i for i in range(3, int(math.log2(config.image_size)) + 1)]  # 8, 16, ..., S
        self.blocks = nn.ModuleList(
            NeuroArtGANUpBlock(config, config.channels(res // 2, base), config.channels(res, base),
                               convs=config.generator_convs_per_block)
            for res in self.resolutions
        )
        # SLE pairs (low -> high = 8 x low) for every high resolution >= 32 px.
        self.excitation_pairs = []
        if config.use_skip_excitation:
            self.excitation_pairs = [(res // 8, res) for res in self.resolutions if res >= 32]
        self.excitations = nn.ModuleDict(
            {
                str(high): NeuroArtGANSkipExcitation(config, config.channels(low, base), config.channels(high, base))
                for low, high in self.excitation_pairs
            }
        )
        self.to_rgb = nn.Conv2d(config.channels(config.image_size, base), config.num_channels, 3, padding=1)

    def forward(self, noise: torch.Tensor, labels: torch.LongTensor | None = None) -> torch.Tensor:
        if self.label_embedding is not None:
            if labels is None:
                raise ValueError("This GAN is class-conditional (num_classes > 0): pass `labels`.")
            noise = torch.cat([noise, self.label_embedding(labels).to(noise.dtype)], dim=1)
        hidden = noise[:, :, None, None]  # (B, Z) -> (B, Z, 1, 1)
        hidden = self.init_act(self.init_norm(self.init_conv(hidden)))  # (B, C4, 4, 4)
        # Channels-last activations let oneDNN pick its fast convolution kernels (about 2x on CPU).
        hidden = hidden.contiguous(memory_format=torch.channels_last)
        features = {4: hidden}
        for res, block in zip(self.resolutions, self.blocks):
            hidden = block(hidden)
            if str(res) in self.excitations:
                hidden = self.excitations[str(res)](features[res // 8], hidden)
            features[res] = hidden
        return torch.tanh(self.to_rgb(hidden))


# --------------------------------------------------------------------------------------------------------------
# Discriminator
# --------------------------------------------------------------------------------------------------------------
def _maybe_sn(module: nn.Module, config: NeuroArtGANConfig) -> nn.Module:
    """Spectral norm on a discriminator layer; without it, the layer is marked for He initialisation (`_init_weights`):
    with the N(0, 0.02) init, an unnormalised 10-layer D passes no signal (its last map's std is 0.0000 at init, and
    so is its gradient), while He init keeps about 0.14."""
    if config.use_spectral_norm:
        return spectral_norm(module)
    module._neuroart_he_init = True
    return module


class NeuroArtGANDownBlock(nn.Module):
    """Residual /2 block: (4x4 stride-2 conv -> LReLU -> 3x3 conv -> LReLU) averaged with (avgpool -> 1x1 conv)."""

    def __init__(self, config: NeuroArtGANConfig, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = _maybe_sn(nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1), config)
        self.conv2 = _maybe_sn(nn.Conv2d(out_channels, out_channels, 3, padding=1), config)
        self.skip_pool = nn.AvgPool2d(2)
        self.skip_conv = _maybe_sn(nn.Conv2d(in_channels, out_channels, 1), config)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, hidden_states):
        main = self.act(self.conv2(self.act(self.conv1(hidden_states))))
        skip = self.skip_conv(self.skip_pool(hidden_states))
        return (main + skip) / 2


class NeuroArtGANDecoder(nn.Module):
    """FastGAN's `SimpleDecoder`: an 8x8 feature map -> x2 upsampling blocks -> a (B, C, 32, 32) image in [-1, 1]."""

    def __init__(self, config: NeuroArtGANConfig, in_channels: int):
        super().__init__()
        widths = [in_channels, max(in_channels // 2, 16), max(in_channels // 4, 16)]
        self.blocks = nn.Sequential(
            *(NeuroArtGANUpBlock(config, c_in, c_out) for c_in, c_out in zip(widths[:-1], widths[1:])))
        self.to_rgb = nn.Conv2d(widths[-1], config.num_channels, 3, padding=1)

    def forward(self, features):
        return torch.tanh(self.to_rgb(self.blocks(features)))  # (B, C8, 8, 8) -> (B, C, 32, 32)


class NeuroArtGANDiscriminator(nn.Module):
    """image (B, C, S, S) [+ label] -> logit (B,). Hinge-loss friendly: no sigmoid."""

    def __init__(self, config: NeuroArtGANConfig):
        super().__init__()
        self.config = config
        base = config.discriminator_base_channels
        self.from_rgb = _maybe_sn(nn.Conv2d(config.num_channels, config.channels(config.image_size, base), 3, padding=1),
                                  config)
        resolutions = [2**i for i in range(int(math.log2(config.image_size)), 2, -1)]  # S, S/2, ..., 8
        self.blocks = nn.ModuleList(
            NeuroArtGANDownBlock(config, config.channels(res, base), config.channels(res // 2, base))
            for res in resolutions
        )
        self.act = nn.LeakyReLU(0.2)
        final_channels = config.channels(4, base)
        # "conv": FastGAN's final 4x4 valid conv straight to the logit, one weight per canvas position and channel;
        # "sum": a linear layer on the position-blind sum. The class projection always uses the summed features.
        self.minibatch_std = config.discriminator_minibatch_std
        pooled_channels = final_channels + (1 if self.minibatch_std else 0)
        self.head = (_maybe_sn(nn.Conv2d(pooled_channels, 1, 4), config)
                     if config.discriminator_head == "conv" else None)
        self.to_logit = _maybe_sn(nn.Linear(pooled_channels, 1), config) if self.head is None else None
        self.label_projection = (
            _maybe_sn(nn.Embedding(config.num_classes, pooled_channels), config) if config.num_classes > 0 else None
        )
        self.decoder_whole = self.decoder_part = None
        if config.discriminator_reconstruction:
            self.decoder_whole = NeuroArtGANDecoder(config, config.channels(8, base))
            self.decoder_part = NeuroArtGANDecoder(config, config.channels(16, base))

    def forward(self, images: torch.Tensor, labels: torch.LongTensor | None = None, reconstruct: int = 0,
                quadrant: int = 0):
        """Logits (B,); with `reconstruct=n` (a model with `discriminator_reconstruction`), also the decoders'
        rebuilds of the first n images: `(logits, whole (n, C, 32, 32), part (n, C, 32, 32))`, where `part` is
        quadrant `quadrant` (0-3, row-major) of the image rebuilt from that quadrant of the 16x16 map."""
        hidden = self.act(self.from_rgb(images.contiguous(memory_format=torch.channels_last)))
        maps = {}
        for block in self.blocks:
            hidden = block(hidden)
            maps[hidden.shape[-1]] = hidden
        if self.minibatch_std:
            hidden = self._append_minibatch_std(hidden)  # (B, C4, 4, 4) -> (B, C4 + 1, 4, 4)
        hidden = self.act(hidden)
        pooled = hidden.sum(dim=(2, 3))  # (B, C, 4, 4) -> (B, C)
        if self.head is not None:
            logits = self.head(hidden).flatten()  # (B, C, 4, 4) -> (B, 1, 1, 1) -> (B,)
        else:
            logits = self.to_logit(pooled).squeeze(1)  # (B, 1) -> (B,)
        if self.label_projection is not None and labels is not None:
            logits = logits + (self.label_projection(labels) * pooled).sum(dim=1)
        if not reconstruct:
            return logits
        if self.decoder_whole is None:
            raise ValueError("This discriminator has no decoders: set `discriminator_reconstruction=True`.")
        row, col = divmod(quadrant, 2)
        part = maps[16][:reconstruct, :, row * 8:(row + 1) * 8, col * 8:(col + 1) * 8]  # (n, C16, 8, 8)
        return logits, self.decoder_whole(maps[8][:reconstruct]), self.decoder_part(part)

    def _append_minibatch_std(self, hidden):
        """ProGAN's minibatch standard deviation: per group of images, the std of every feature across the group,
        averaged to one number, broadcast as an extra channel."""
        batch, channels, height, width = hidden.shape
        group = max(g for g in range(1, min(self.minibatch_std, batch) + 1) if batch % g == 0)
        grouped = hidden.float().reshape(group, batch // group, channels, height, width)  # (G, B/G, C, H, W)
        std = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (B/G,)
        feature = std.to(hidden.dtype).repeat(group)[:, None, None, None].expand(batch, 1, height, width)
        return torch.cat([hidden, feature], dim=1)


# --------------------------------------------------------------------------------------------------------------
# PreTrainedModel
# --------------------------------------------------------------------------------------------------------------
class NeuroArtGANPreTrainedModel(PreTrainedModel):
    config_class = NeuroArtGANConfig
    base_model_prefix = "gan"
    main_input_name = "noise"
    input_modalities = "image"
    _no_split_modules = ["NeuroArtGANGenerator", "NeuroArtGANDiscriminator"]

    def _init_weights(self, module):
        std = self.config.initializer_range
        if getattr(module, "_neuroart_he_init", False) and isinstance(module, (nn.Conv2d, nn.Linear)):
            init.kaiming_normal_(module.weight, a=0.2)  # He init for LeakyReLU(0.2): the signal keeps its scale
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            if parametrize.is_parametrized(module, "weight"):  # spectral norm keeps the raw weight here
                init.normal_(module.parametrizations.weight.original, 0.0, std)
            else:
                init.normal_(module.weight, 0.0, std)
            if getattr(module, "bias", None) is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.BatchNorm2d):
            init.normal_(module.weight, 1.0, std)
            init.zeros_(module.bias)
            init.zeros_(module.running_mean)
            init.ones_(module.running_var)
            init.zeros_(module.num_batches_tracked)


class NeuroArtGANModel(NeuroArtGANPaintingMixin, NeuroArtGANPreTrainedModel):
    """The painting GAN. `model(noise, labels)` paints with the EMA generator in eval mode (`use_ema=None`), with
    the trained generator in train mode; `model.discriminate(images, labels)` scores images."""

    def __init__(self, config: NeuroArtGANConfig):
        super().__init__(config)
        self.generator = NeuroArtGANGenerator(config)
        self.discriminator = NeuroArtGANDiscriminator(config)
        self.generator_ema = NeuroArtGANGenerator(config)
        self.generator_ema.requires_grad_(False)
        self.post_init()
        if not any(p.is_meta for p in self.generator.parameters()):
            self.reset_ema()
            self.refresh_spectral_norms()

    @torch.no_grad()
    def refresh_spectral_norms(self, n_power_iterations: int = 15):
        """Re-estimate each spectral norm's singular vectors for the current weights (needed after re-initialising
        them: the estimates made when the layer was built belong to its old weights)."""
        for module in self.discriminator.modules():
            if parametrize.is_parametrized(module, "weight"):
                for norm in module.parametrizations.weight:
                    if hasattr(norm, "_power_method"):
                        weight = norm._reshape_weight_to_matrix(module.parametrizations.weight.original)
                        norm._power_method(weight, n_power_iterations)

    @torch.no_grad()
    def reset_ema(self):
        """Copy the generator's weights and BatchNorm statistics into the EMA generator."""
        self.generator_ema.load_state_dict(self.generator.state_dict())

    @torch.no_grad()
    def update_ema(self, decay: float | None = None):
        """ema = decay * ema + (1 - decay) * generator; BatchNorm statistics are copied."""
        decay = self.config.ema_decay if decay is None else decay
        for ema_param, param in zip(self.generator_ema.parameters(), self.generator.parameters()):
            ema_param.lerp_(param.detach().to(ema_param.dtype), 1.0 - decay)
        for ema_buffer, buffer in zip(self.generator_ema.buffers(), self.generator.buffers()):
            ema_buffer.copy_(buffer)

    @torch.no_grad()
    def recalibrate_batchnorm(self, num_batches: int = 32, batch_size: int = 64, seed: int = 0) -> None:
        """Re-estimate the EMA generator's BatchNorm statistics under its own (averaged) weights.

        `update_ema` copies the training generator's running statistics, which were measured on *its* weights; with
        the averaged weights they are off, and eval-mode samples degrade (washed-out colour, stripes). This is
        BigGAN's "standing statistics" (Brock et al., 2019, arXiv:1809.11096, appendix C.1): run the EMA generator
        in train mode on `num_batches` seeded latent batches and keep the cumulative average of the batch
        statistics. Deterministic for a `seed`.
        """
        generator = self.generator_ema
        norms = [m for m in generator.modules() if isinstance(m, nn.BatchNorm2d)]
        momenta = [m.momentum for m in norms]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None  # cumulative moving average over the batches below
        was_training = generator.training
        generator.train()
        param = next(generator.parameters())
        rng = torch.Generator().manual_seed(int(seed))
        for _ in range(num_batches):
            z = torch.randn(batch_size, self.config.latent_dim, generator=rng).to(param.device, param.dtype)
            labels = None
            if self.config.num_classes > 0:
                labels = torch.randint(0, self.config.num_classes, (batch_size,), generator=rng).to(param.device)
            generator(z, labels)
        for norm, momentum in zip(norms, momenta):
            norm.momentum = momentum
        generator.train(was_training)

    def forward(
        self,
        noise: torch.Tensor,
        labels: torch.LongTensor | None = None,
        use_ema: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> NeuroArtGANOutput | tuple:
        if noise.dim() != 2 or noise.shape[1] != self.config.latent_dim:
            raise ValueError(
                f"`noise` must have shape (batch_size, {self.config.latent_dim}); got {tuple(noise.shape)}."
            )
        use_ema = (not self.training) if use_ema is None else use_ema
        generator = self.generator_ema if use_ema else self.generator
        images = generator(noise, labels)
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        return NeuroArtGANOutput(images=images) if return_dict else (images,)

    def discriminate(self, images: torch.Tensor, labels: torch.LongTensor | None = None) -> torch.Tensor:
        """Realness logits of shape (B,); higher means more real."""
        return self.discriminator(images, labels)

    # ----------------------------------------------------------------------------------------------------------
    # Hub: the custom pipeline travels with the weights (`import neuroart` adds the model card: neuroart.hub)
    # ----------------------------------------------------------------------------------------------------------
    def save_pretrained(self, save_directory, *args, **kwargs):
        self.config.custom_pipelines = {
            PIPELINE_TASK: {
                "impl": f"{NeuroArtGANPipeline.__module__.split('.')[-1]}.{NeuroArtGANPipeline.__name__}",
                "pt": ["AutoModel"],
                "type": "image",
            }
        }
        super().save_pretrained(save_directory, *args, **kwargs)
        if kwargs.get("is_main_process", True):  # the painting I/O helpers travel with the weights (Spaces use them)
            here = os.path.dirname(os.path.abspath(__file__))
            for name in HELPER_MODULES:
                if os.path.exists(os.path.join(here, name)):
                    shutil.copyfile(os.path.join(here, name), os.path.join(save_directory, name))


__all__ = [
    "NEAR_COPY_RMS",
    "NEAREST_INDEX_FILE",
    "Paintings",
    "NeuroArtGANModel",
    "NeuroArtGANOutput",
    "NeuroArtGANPreTrainedModel",
    "near_copies",
    "nearest_in_index",
    "save_animation",
    "save_image",
    "save_nearest_index",
]
