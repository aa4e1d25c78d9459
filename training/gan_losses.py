"""The painting GAN's losses, shared by `train_gan.py` and the benchmarks.

- hinge loss (Lim & Ye, 2017, arXiv:1705.02894; Miyato et al., 2018, arXiv:1802.05957) on DiffAugmented images
  (Zhao et al., 2020, arXiv:2006.10738);
- R1 on the real images (Mescheder et al., 2018, arXiv:1801.04406), lazily weighted by the caller;
- FastGAN's reconstruction loss on the discriminator's features (Liu et al., 2021, arXiv:2101.04775).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from neuroart.training.augment import diff_augment


def discriminator_loss(discriminator, real, fake, labels, policy: str, r1_weight: float = 0.0,
                       reconstruction_weight: float = 0.0, stats: dict | None = None) -> torch.Tensor:
    """Hinge loss on DiffAugmented real and (detached) fake images in one forward pass, plus R1 when weighted, plus
    FastGAN's reconstruction loss (mean squared pixel error of the decoders' rebuilds of the real images) when
    `reconstruction_weight` > 0.

    One pass over the concatenated batch keeps DDP to one forward per backward. A `stats` dict gets the mean logits
    on the real and the fake images (`d_real`, `d_fake`: how well D separates them; hinge margins are +1 / -1).
    """
    real_aug = diff_augment(real, policy).requires_grad_(r1_weight > 0)
    fake_aug = diff_augment(fake.detach(), policy)
    both = torch.cat([real_aug, fake_aug])
    both_labels = None if labels is None else torch.cat([labels, labels])
    if reconstruction_weight > 0:
        quadrant = int(torch.randint(0, 4, ()))
        logits, whole, part = discriminator(both, both_labels, reconstruct=real.shape[0], quadrant=quadrant)
        half = real.shape[-1] // 2
        row, col = divmod(quadrant, 2)
        target = real_aug.detach()
        target_whole = F.interpolate(target, size=whole.shape[-2:], mode="area")
        target_part = F.interpolate(target[..., row * half:(row + 1) * half, col * half:(col + 1) * half],
                                    size=part.shape[-2:], mode="area")
        rebuild = F.mse_loss(whole.float(), target_whole.float()) + F.mse_loss(part.float(), target_part.float())
    else:
        logits = discriminator(both, both_labels)
    real_logits, fake_logits = logits.float().chunk(2)
    loss = F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    if stats is not None:
        stats["d_real"], stats["d_fake"] = real_logits.detach().mean(), fake_logits.detach().mean()
    if reconstruction_weight > 0:
        loss = loss + reconstruction_weight * rebuild
    if r1_weight > 0:
        (grad,) = torch.autograd.grad(real_logits.sum(), real_aug, create_graph=True)
        loss = loss + r1_weight / 2 * grad.pow(2).sum(dim=(1, 2, 3)).mean()
    return loss


def generator_loss(discriminator, fake, labels, policy: str) -> torch.Tensor:
    """Hinge generator loss: -D(augment(G(z)))."""
    return -discriminator(diff_augment(fake, policy), labels).float().mean()


__all__ = ["discriminator_loss", "generator_loss"]
