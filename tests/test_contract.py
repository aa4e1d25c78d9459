"""One contract for the three models: each entry point returns its one result type (`Paintings`, `Composition`,
`Poem`) with `.seed`, `.settings`, `.provenance` and `.save(folder)`; the sampling settings share names and
defaults; the old names still work for one release, with a FutureWarning."""

import inspect
import json
import warnings
from pathlib import Path

import pytest
import torch

from tests.helpers import REPO_ROOT, tiny_models


@pytest.fixture(scope="module")
def models():
    return tiny_models()


def results(models):
    from neuroart.music import generate_music
    from neuroart.poetry import write_poem

    return {
        "generate_images": models["painter"].generate_images(2, seed=5, truncation_psi=0.7),
        "paint_seeds": models["painter"].paint_seeds([5, 6]),
        "interpolate": models["painter"].interpolate(5, 6, steps=3),
        "generate_music": generate_music(models["composer"], models["remi"], max_new_tokens=60, seed=5),
        "write_poem": write_poem(models["poet"], models["words"], form="五言绝句", seed=5, num_candidates=2),
    }


def test_every_entry_point_returns_a_result_with_seed_settings_provenance_and_save(models, tmp_path):
    made = results(models)
    for name, result in made.items():
        assert result.seed is not None, name
        assert isinstance(result.settings, dict) and result.settings, name
        provenance = result.provenance
        assert provenance["seed"] == result.seed and provenance["model"], name
        assert all(provenance[key] == value for key, value in result.settings.items()), name
        json.dumps(provenance)  # plain data: it goes into files and manifests
        paths = result.save(tmp_path / name)
        assert paths and all(Path(path).is_file() and Path(path).stat().st_size for path in paths), name
    assert made["generate_images"].settings["truncation_psi"] == 0.7
    assert made["interpolate"].seed == (5, 6)


def test_sampling_settings_share_names_and_defaults(models):
    from neuroart.music import generate_music
    from neuroart.music.generation import sampling_settings as music_sampling
    from neuroart.poetry import write_poem
    from neuroart.poetry.generation import sampling_settings as poetry_sampling

    for function in (generate_music, write_poem):
        parameters = inspect.signature(function).parameters
        assert all(parameters[name].default is None for name in ("temperature", "top_k", "top_p", "seed"))
        assert "max_new_tokens" in parameters
    bare = {"temperature": 1.0, "top_k": 50, "top_p": 1.0}  # no generation_config values: transformers' defaults
    assert music_sampling(models["composer"]) == poetry_sampling(models["poet"]) == bare
    config = models["composer"].generation_config
    config.temperature, config.top_k = 0.8, 0  # a model's own (a release ships the ones it was measured with)
    try:
        assert music_sampling(models["composer"]) == {"temperature": 0.8, "top_k": 0, "top_p": 1.0}
        piece = generate_music(models["composer"], models["remi"], max_new_tokens=20, seed=1)
        assert piece.settings["temperature"] == 0.8 and piece.settings["top_k"] == 0
        assert music_sampling(models["composer"], temperature=1.2)["temperature"] == 1.2  # the call wins
    finally:
        config.temperature = config.top_k = None
    for bad in ({"temperature": 0}, {"top_k": -1}, {"top_p": 0}, {"top_p": 1.5}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            generate_music(models["composer"], models["remi"], max_new_tokens=20, seed=1, **bad)
        with pytest.raises(ValueError, match=next(iter(bad))):
            write_poem(models["poet"], models["words"], form="五言绝句", seed=1, **bad)


def test_the_releases_record_their_sampling_settings():
    from transformers import GenerationConfig

    root = REPO_ROOT / "releases"
    for kind in ("music", "poetry"):
        config = GenerationConfig.from_pretrained(root / f"neuroart-{kind}")
        assert None not in (config.temperature, config.top_k, config.top_p), kind


def test_old_names_still_work_with_a_future_warning(models, tmp_path):
    from neuroart.music import generate_music

    composer, remi, painter = models["composer"], models["remi"], models["painter"]
    piece = generate_music(composer, remi, max_new_tokens=60, seed=3)
    with pytest.warns(FutureWarning, match="return_details"):
        detailed = generate_music(composer, remi, max_new_tokens=60, seed=3, return_details=True)
    assert detailed.sequence == piece.sequence
    with pytest.warns(FutureWarning, match="return_details"):
        score = generate_music(composer, remi, max_new_tokens=60, seed=3, return_details=False)
    assert type(score) is type(piece.score) and score.note_num() == piece.score.note_num()
    with pytest.warns(FutureWarning, match=r"\.score\.tracks"):
        assert len(piece.tracks) == len(piece.score.tracks)  # the old return value's attributes, for one release
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert piece.token_error_rate == 0  # the Composition's own attributes never warn
    with pytest.raises(AttributeError):
        getattr(piece, "no_such_attribute")  # noqa: B009  (what a typo does)
    with pytest.warns(FutureWarning, match="chunk_size"):
        old = painter.generate_images(3, seed=2, output_type="pt", batch_size=2)
    assert torch.allclose(old, painter.generate_images(3, seed=2, output_type="pt", chunk_size=2))
    with pytest.warns(FutureWarning, match="chunk_size"):
        painter.paint_seeds([1, 2], output_type="pt", batch_size=1)
    from neuroart.poetry import write_poem

    poem = write_poem(models["poet"], models["words"], form="五言绝句", seed=5, num_candidates=2)
    with pytest.warns(FutureWarning, match="settings"):
        (path,) = poem.save(tmp_path, {"note": "kept"})
    assert '"note": "kept"' in Path(path).read_text(encoding="utf-8")


def test_bad_settings_are_rejected_not_overwritten(models):
    from neuroart.music import generate_music
    from neuroart.poetry import write_poem

    with pytest.raises(ValueError, match="max_new_tokens"):
        write_poem(models["poet"], models["words"], form="五言绝句", seed=1, max_new_tokens=5)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate_music(models["composer"], models["remi"], max_new_tokens=0, seed=1)
    with pytest.raises(ValueError, match="chunk_size"):
        models["painter"].generate_images(2, seed=1, chunk_size=0)
    from tests.helpers import chorale_tune

    with pytest.raises(ValueError, match="too few to harmonise"):  # raised, not silently raised to fit
        generate_music(models["composer"], models["remi"], primer=chorale_tune(), harmonize=True, max_new_tokens=50)
