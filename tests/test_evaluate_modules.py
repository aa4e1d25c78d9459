"""NeuroArt's metrics load as local `evaluate` modules, offline, and agree with the plain functions."""

import numpy as np
import pytest

evaluate = pytest.importorskip("evaluate")

from neuroart.evaluation import MODULES, module_path  # noqa: E402


def test_swd_module_matches_function():
    from neuroart.gan.metrics import sliced_wasserstein_distance
    from neuroart.training.abstract_art import abstract_art_dataset
    from neuroart.training.data import images_to_tensor

    real = images_to_tensor(abstract_art_dataset(12, 32, seed=0)[0]).float().numpy() / 255
    fake = np.random.default_rng(0).random(real.shape, dtype=np.float32)
    metric = evaluate.load(module_path("neuroart_swd"))
    result = metric.compute(predictions=list(fake), references=list(real))
    import torch

    expected = sliced_wasserstein_distance(torch.from_numpy(real), torch.from_numpy(fake))
    assert result["swd_mean"] == pytest.approx(expected["swd_mean"], rel=1e-5)


def test_poem_form_module():
    metric = evaluate.load(module_path("neuroart_poem_form"))
    result = metric.compute(predictions=["白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", "白日依山尽。"],
                            references=["五言绝句", "五言绝句"])
    assert result["form_accuracy"] == 0.5 and result["rhyme_accuracy"] == 0.5


def test_music_key_module():
    pytest.importorskip("miditok")
    from tests.helpers import make_midi

    metric = evaluate.load(module_path("neuroart_music_key"))
    result = metric.compute(predictions=[make_midi(0)], references=["C"])
    assert result["in_scale_rate"] == 1.0 and result["notes"] > 0


def test_unknown_module_name():
    with pytest.raises(ValueError, match="neuroart_swd"):
        module_path("fid")
    assert len(MODULES) == 3
