"""`neuroart.training`: what the three `accelerate launch` scripts share.

- `args`: the common flags (diffusers/transformers names), registered once; thread policy for small CPUs.
- `data`: loaders for images (MIDI and poems follow), with bad-input accounting (`SkipCounter`).
- `abstract_art`: the embedded default painting data set, procedurally generated.
- `augment`: DiffAugment (colour, translation, cutout).
- `checkpointing`: atomic checkpoints, rotation and `--resume_from_checkpoint latest`.
- `tracking`: progress bars, sample grids and tracker logging.
- `hub`: the Hub-ready output folder (model, card, samples) and `--push_to_hub`.

Submodules import accelerate/datasets lazily, so `import neuroart.training` is cheap.
"""
