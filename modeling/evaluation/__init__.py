"""Local `evaluate` modules wrapping NeuroArt's metric functions, loadable offline:

    import evaluate, neuroart.evaluation as ev
    swd = evaluate.load(ev.module_path("neuroart_swd"))
    swd.compute(predictions=fake_images, references=real_images)   # lists of (C, H, W) arrays in [0, 1]

Modules: `neuroart_swd` (ProGAN's sliced Wasserstein distance), `neuroart_poem_form` (form / rhyme / tone accuracy
of classical Chinese poems), `neuroart_music_key` (in-scale note rate of MIDI for a key).
"""

from pathlib import Path

MODULES = ("neuroart_swd", "neuroart_poem_form", "neuroart_music_key")


def module_path(name: str) -> str:
    """The folder to pass to `evaluate.load` for module `name`."""
    if name not in MODULES:
        raise ValueError(f"{name!r} is not a NeuroArt evaluate module; choose one of {MODULES}.")
    return str(Path(__file__).parent / name)
