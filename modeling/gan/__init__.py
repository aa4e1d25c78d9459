"""The NeuroArt painting GAN: config, model, pipeline and painting helpers."""

from .configuration_neuroart_gan import NeuroArtGANConfig
from .modeling_neuroart_gan import (
    NeuroArtGANModel,
    NeuroArtGANOutput,
    NeuroArtGANPreTrainedModel,
    save_animation,
    save_image,
)
from .pipeline_neuroart_gan import NeuroArtGANPipeline

__all__ = [
    "NeuroArtGANConfig",
    "NeuroArtGANModel",
    "NeuroArtGANOutput",
    "NeuroArtGANPipeline",
    "NeuroArtGANPreTrainedModel",
    "save_animation",
    "save_image",
]


def __getattr__(name):
    # Metrics import lazily: they are not needed to paint.
    if name in ("nearest_training_images", "sliced_wasserstein_distance", "kernel_inception_distance"):
        from . import metrics

        return getattr(metrics, name)
    raise AttributeError(name)
