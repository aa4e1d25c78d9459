"""`neuroart.training`: what the three `accelerate launch` scripts share.

- `args`: the common flags (diffusers/transformers names), registered once; thread policy for small CPUs.
- `data`: loaders for images, MIDI files and poems (folders, HF datasets, the embedded defaults), with bad-input
  accounting (`SkipCounter`).
- `abstract_art`: the procedurally generated painting set, for runs with no data at all.
- `augment`: DiffAugment (colour, translation, cutout).
- `gan_losses`: the painting GAN's hinge, R1 and reconstruction losses (also used by the benchmarks).
- `loop`: the skeleton of both training loops (resume, epochs, progress, checkpoints, CPU budget); each keeps its step.
- `lm`: the language-model training loop shared by `train_music.py` and `train_poetry.py`.
- `numerics`: non-finite-loss checks and the CPU-seconds budget.
- `checkpointing`: atomic checkpoints, rotation and `--resume_from_checkpoint latest`.
- `tracking`: logging, progress bars that count toward the real end (steps or a CPU budget), sample grids.
- `hub`: the Hub-ready output folder (model, card, samples) and `--push_to_hub`.
- `faults`: the one test seam for fault injection (`NEUROART_FAULT_*`), read nowhere else.
- `release_data`, `release`, `release_card`: the release recipes (split, train, export, measure, card).

Submodules import accelerate/datasets lazily, so `import neuroart.training` is cheap.
"""
