"""Sliced Wasserstein distance on Laplacian-pyramid patches (ProGAN), as an `evaluate` metric."""

import datasets
import evaluate
import numpy as np
import torch

from neuroart.gan.metrics import sliced_wasserstein_distance

_DESCRIPTION = "ProGAN's SWD (x1e3) between generated and reference images, per pyramid level and averaged."
_CITATION = "Karras et al., Progressive Growing of GANs, ICLR 2018 (arXiv:1710.10196)."
_INPUTS = "predictions, references: lists of images as (C, H, W) float arrays in [0, 1]."


_IMAGE = datasets.Sequence(datasets.Sequence(datasets.Sequence(datasets.Value("float32"))))  # (C, H, W)


class NeuroartSwd(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION, citation=_CITATION, inputs_description=_INPUTS,
            features=datasets.Features({"predictions": _IMAGE, "references": _IMAGE}),
        )

    def _compute(self, predictions, references, seed: int = 0):
        fake = torch.from_numpy(np.stack([np.asarray(p, dtype=np.float32) for p in predictions]))
        real = torch.from_numpy(np.stack([np.asarray(r, dtype=np.float32) for r in references]))
        return sliced_wasserstein_distance(real, fake, seed=seed)
