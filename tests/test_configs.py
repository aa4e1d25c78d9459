"""Config defaults and validation: bad values raise ValueError naming the field, the value and what is allowed."""

import json
from pathlib import Path

import pytest
from transformers import AutoConfig, AutoModel

import neuroart
from neuroart import (
    NeuroArtGANConfig,
    NeuroArtGANModel,
    NeuroArtMusicConfig,
    NeuroArtMusicForCausalLM,
    NeuroArtPoetryConfig,
    NeuroArtPoetryForCausalLM,
)
from tests.helpers import REPO_ROOT


@pytest.mark.parametrize(
    "config_class, model_class",
    [(NeuroArtGANConfig, NeuroArtGANModel), (NeuroArtMusicConfig, NeuroArtMusicForCausalLM),
     (NeuroArtPoetryConfig, NeuroArtPoetryForCausalLM)],
)
def test_default_configs_build(config_class, model_class):
    config = config_class()
    model = model_class(config)
    assert sum(p.numel() for p in model.parameters()) > 1_000_000
    assert AutoConfig.for_model(config.model_type).__class__ is config_class


def test_default_gan_is_64px_unconditional():
    config = NeuroArtGANConfig()
    assert (config.image_size, config.num_channels, config.num_classes) == (64, 3, 0)


@pytest.mark.parametrize(
    "config_class, kwargs, field",
    [
        (NeuroArtGANConfig, {"image_size": 100}, "image_size"),
        (NeuroArtGANConfig, {"image_size": 512}, "image_size"),
        (NeuroArtGANConfig, {"latent_dim": -3}, "latent_dim"),
        (NeuroArtGANConfig, {"num_classes": -1}, "num_classes"),
        (NeuroArtGANConfig, {"generator_base_channels": 0}, "generator_base_channels"),
        (NeuroArtGANConfig, {"latent_dim": "128"}, "latent_dim"),
        (NeuroArtGANConfig, {"ema_decay": 1.5}, "ema_decay"),
        (NeuroArtMusicConfig, {"rnn_type": "transformer"}, "rnn_type"),
        (NeuroArtMusicConfig, {"hidden_size": -8}, "hidden_size"),
        (NeuroArtMusicConfig, {"num_hidden_layers": 0}, "num_hidden_layers"),
        (NeuroArtMusicConfig, {"dropout": 1.0}, "dropout"),
        (NeuroArtMusicConfig, {"vocab_size": 10, "eos_token_id": 12}, "eos_token_id"),
        (NeuroArtPoetryConfig, {"hidden_size": 100, "num_attention_heads": 6}, "hidden_size"),
        (NeuroArtPoetryConfig, {"vocab_size": -1}, "vocab_size"),
        (NeuroArtPoetryConfig, {"num_hidden_layers": 10**9}, "num_hidden_layers"),
        (NeuroArtPoetryConfig, {"max_position_embeddings": 0}, "max_position_embeddings"),
        (NeuroArtPoetryConfig, {"hidden_size": 64.0}, "hidden_size"),
    ],
)
def test_bad_values_raise_value_error_naming_field(config_class, kwargs, field):
    with pytest.raises(ValueError) as info:
        config_class(**kwargs)
    message = str(info.value)
    assert field in message
    assert repr(kwargs[field]) in message or str(kwargs[field]) in message


def test_tampered_config_json_is_rejected_before_allocation(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "neuroart_poetry", "hidden_size": 10**7,
                                                      "num_attention_heads": 1}))
    with pytest.raises(ValueError, match="hidden_size"):
        AutoConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "neuroart_music", "rnn_type": ["lstm"]}))
    with pytest.raises(ValueError, match="rnn_type"):
        AutoModel.from_pretrained(tmp_path)


def test_mismatched_weights_give_a_clear_error(tmp_path):
    from tests.helpers import tiny_music_config

    NeuroArtMusicForCausalLM(tiny_music_config()).save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["hidden_size"] = 48
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(Exception, match="(?i)size mismatch|mismatch|shape"):
        NeuroArtMusicForCausalLM.from_pretrained(tmp_path)


def test_no_pickle_loading_in_the_package():

    root = Path(neuroart.__file__).parent
    for path in root.rglob("*.py"):
        text = path.read_text()
        assert "torch.load(" not in text and "pickle" not in text, path
    # ... and the weights a model saves are safetensors only: no pickle file appears beside them.
    import tempfile

    from tests.helpers import tiny_music_config

    with tempfile.TemporaryDirectory() as folder:
        NeuroArtMusicForCausalLM(tiny_music_config()).save_pretrained(folder)
        names = sorted(p.name for p in Path(folder).iterdir())
    assert "model.safetensors" in names and not any(n.endswith((".bin", ".pt", ".pth", ".pkl")) for n in names)


def test_the_table_of_kinds_is_what_registration_and_releases_use():
    """One table: every kind's config and model classes are registered with their auto classes, its release id and
    Space follow from its name, and the releases iterate the same names."""
    import transformers

    from neuroart import releases
    from neuroart.kinds import KINDS, NAMES

    assert releases.KINDS == NAMES == tuple(KINDS)
    for name, kind in KINDS.items():
        config = kind.config_class()
        assert transformers.AutoConfig.for_model(config.model_type).__class__ is config
        for auto, model_class in kind.model_classes().items():
            assert getattr(transformers, auto)._model_mapping[config] is model_class
        assert kind.repo_id == releases.repo_id(name) and kind.card == f"{config.model_type}.md"
        assert (REPO_ROOT / "spaces" / kind.space / "app.py").exists()
