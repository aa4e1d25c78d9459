"""`unconditional-image-generation` pipeline for the NeuroArt painting GAN.

`pipeline(model=folder_or_repo, trust_remote_code=True)(num_images=4, seed=0)` returns a list of PIL images. The
pipeline is saved beside the model (`config.custom_pipelines`), so it works as Hub remote code.

This file is Hub remote code: it imports only the standard library, torch and transformers.
"""

from transformers import Pipeline


class NeuroArtGANPipeline(Pipeline):
    """Paint `num_images` images with the model's EMA generator; deterministic for a given `seed`."""

    _load_tokenizer = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_processor = False

    def _sanitize_parameters(self, seed=None, truncation_psi=None, labels=None, output_type=None, **kwargs):
        forward_kwargs = {}
        for name, value in (("seed", seed), ("truncation_psi", truncation_psi), ("labels", labels),
                            ("output_type", output_type)):
            if value is not None:
                forward_kwargs[name] = value
        return {}, forward_kwargs, {}

    def __call__(self, num_images: int = 1, **kwargs):
        # One call paints one batch; `num_images` is the input, not a list of inputs to iterate over.
        return super().__call__(num_images, **kwargs)

    def preprocess(self, num_images):
        return {"num_images": int(num_images)}

    def _forward(self, inputs, **forward_kwargs):
        return {"images": self.model.generate_images(num_images=inputs["num_images"], **forward_kwargs)}

    def postprocess(self, outputs):
        return outputs["images"]


__all__ = ["NeuroArtGANPipeline"]
