"""The NeuroArt painting GAN: config, model, pipeline and painting helpers."""

from .configuration_neuroart_gan import NeuroArtGANConfig
from .modeling_neuroart_gan import (
    NEAR_COPY_RMS,
    NEAREST_INDEX_FILE,
    NeuroArtGANModel,
    NeuroArtGANOutput,
    NeuroArtGANPreTrainedModel,
    Paintings,
    near_copies,
    nearest_in_index,
    save_animation,
    save_image,
    save_nearest_index,
)
from .pipeline_neuroart_gan import NeuroArtGANPipeline

__all__ = [
    "NEAR_COPY_RMS",
    "NEAREST_INDEX_FILE",
    "NeuroArtGANConfig",
    "NeuroArtGANModel",
    "NeuroArtGANOutput",
    "NeuroArtGANPipeline",
    "NeuroArtGANPreTrainedModel",
    "Paintings",
    "near_copies",
    "nearest_in_index",
    "save_animation",
    "save_image",
    "save_nearest_index",
]


def __getattr__(name):
    # Metrics import lazily: they are not needed to paint.
    if name in ("nearest_training_images", "sliced_wasserstein_distance", "kernel_inception_distance"):
        from . import metrics

        return getattr(metrics, name)
    raise AttributeError(name)
