"""The painting GAN's training script (accelerate launch smoke runs) and its data, augmentation and checkpoints."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from neuroart import NeuroArtGANModel
from neuroart.training.abstract_art import STYLES, abstract_art, abstract_art_dataset
from neuroart.training.augment import diff_augment
from neuroart.training.checkpointing import list_checkpoints, resolve_checkpoint
from neuroart.training.data import load_images
from tests.helpers import launch_script, write_bad_images, write_image_folder

pytestmark = pytest.mark.slow  # subprocesses end to end: `make test-fast` leaves them out


def launch(*args, check=True):
    return launch_script("train_gan.py", *args, check=check)


def test_abstract_art_is_deterministic_and_styled():
    a = np.asarray(abstract_art("circles", 3, 48))
    assert a.shape == (48, 48, 3)
    assert np.array_equal(a, np.asarray(abstract_art("circles", 3, 48)))
    assert not np.array_equal(a, np.asarray(abstract_art("circles", 4, 48)))
    images, labels, names = abstract_art_dataset(6, 32, seed=0)
    assert names == list(STYLES) and labels == [0, 1, 2, 0, 1, 2] and images[5].size == (32, 32)
    with pytest.raises(ValueError, match="style"):
        abstract_art("cubism", 0)


def test_diff_augment_keeps_shape_and_gradients():
    x = torch.rand(4, 3, 32, 32, requires_grad=True)
    y = diff_augment(x * 2 - 1)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(diff_augment(x, ""), x)
    with pytest.raises(ValueError, match="policy"):
        diff_augment(x, "rotate")


def test_bad_images_are_converted_or_skipped_and_counted(tmp_path):
    expected = write_bad_images(tmp_path / "imgs")
    images, labels, names, source, counter = load_images(train_data_dir=str(tmp_path / "imgs"), resolution=32)
    assert len(images) == len(expected) and all(im.mode == "RGB" and im.size == (32, 32) for im in images)
    assert counter["not a readable image"] == 3  # zero-byte, truncated, text renamed .jpg
    assert counter["not an image file extension"] == 1
    assert counter["smaller than 8 px"] == 1
    assert "kept 5" in counter.summary("images")


def test_decompression_bomb_is_refused(tmp_path):
    folder = tmp_path / "bomb"
    folder.mkdir()
    Image.new("1", (9000, 9000)).save(folder / "bomb.png")  # 81 Mpx, tiny file
    abstract_art("grid", 0, 32).save(folder / "ok.png")
    images, _, _, _, counter = load_images(train_data_dir=str(folder), resolution=32)
    assert len(images) == 1 and counter["too many pixels"] == 1


def test_no_usable_images_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.jpg").write_bytes(b"")
    with pytest.raises(SystemExit, match="No usable images"):
        load_images(train_data_dir=str(tmp_path / "empty"))


def test_latest_checkpoint_ignores_partial_ones(tmp_path):
    root = tmp_path / "checkpoints"
    for name, complete in (("checkpoint-5", True), ("checkpoint-10", False), (".tmp-checkpoint-15", True)):
        (root / name).mkdir(parents=True)
        if complete:
            (root / name / "COMPLETE").write_text("x")
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-5"]
    assert resolve_checkpoint(tmp_path, "latest").name == "checkpoint-5"
    assert resolve_checkpoint(tmp_path / "none", "latest") is None
    with pytest.raises(ValueError, match="complete"):
        resolve_checkpoint(tmp_path, str(root / "checkpoint-10"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 10-step conditional run on a tiny generated folder with bad files."""
    root = tmp_path_factory.mktemp("gan_run")
    data = write_image_folder(root / "data", bad=True)
    out = root / "out"
    _, log = launch("--train_data_dir", data, "--output_dir", out, "--resolution", 32, "--max_train_steps", 10,
                    "--train_batch_size", 4, "--checkpointing_steps", 5, "--sample_steps", 5,
                    "--num_sample_images", 4, "--seed", 3, "--report_to", "tensorboard")
    return out, log, data


def test_launch_produces_a_loadable_hub_ready_folder(trained):
    out, log, _ = trained
    for name in ("config.json", "model.safetensors", "modeling_neuroart_gan.py", "README.md", "samples/grid.png",
                 "samples/step_5.png", "samples/step_10.png"):
        assert (out / name).exists(), name
    assert "kept 17, skipped 5" in log  # 12 good + 5 converted; 5 bad files skipped with reasons
    model = NeuroArtGANModel.from_pretrained(out)
    assert model.config.num_classes == 2 and model.config.image_size == 32
    images = model.generate_images(2, seed=0, labels=1)
    assert images[0].size == (32, 32)
    card = (out / "README.md").read_text()
    assert "swd_vs_train" in card and "![samples](samples/grid.png)" in card and "grid, stripes" in card
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["metrics"]["steps"] == 10 and 0 <= summary["metrics"]["near_copy_rate"] <= 1
    assert list((out / "logs").rglob("events.out.tfevents.*")), "tensorboard events missing"
    assert [p.name for p in list_checkpoints(out)] == ["checkpoint-5", "checkpoint-10"]


def test_the_near_copy_check_flags_a_painter_that_returns_its_training_images(caplog):
    """The final check of train_gan.py: paintings that are training images count as near-copies, and the run warns
    above --max_copy_rate; fresh noise does not."""
    import logging
    import types

    import torch

    from neuroart.training import train_gan

    pixels = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8)
    args = train_gan.parse_args(["--seed", "0"])

    def painter(images):
        return types.SimpleNamespace(generate_images=lambda n, seed, output_type: images[:n])

    with caplog.at_level(logging.WARNING):
        copied = train_gan.evaluate(painter(pixels.float() / 255), pixels, args, num_images=8)
    assert copied["near_copy_rate"] == 1.0 and "near-copies of training images" in caplog.text
    noise = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    assert train_gan.evaluate(painter(noise), pixels, args, num_images=8)["near_copy_rate"] == 0.0


def test_resume_continues_at_the_right_step(trained, tmp_path):
    out, _, data = trained
    resumed = tmp_path / "resumed"
    import shutil

    shutil.copytree(out / "checkpoints" / "checkpoint-5", resumed / "checkpoints" / "checkpoint-5")
    _, log = launch("--train_data_dir", data, "--output_dir", resumed, "--resolution", 32, "--max_train_steps", 9,
                    "--train_batch_size", 4, "--checkpointing_steps", 5, "--seed", 3,
                    "--resume_from_checkpoint", "latest", "--checkpoints_total_limit", 1)
    assert "at step 5" in log
    summary = json.loads((resumed / "training_summary.json").read_text())
    assert summary["metrics"]["steps"] == 9
    assert [p.name for p in list_checkpoints(resumed)] == ["checkpoint-9"]  # rotation kept one
    # Resumed from its last step, a run trains no further: the export holds that step's weights (9 steps: not a
    # whole number of epochs, where the epoch loop used to start one more).
    before = NeuroArtGANModel.from_pretrained(resumed).generator.state_dict()
    launch("--train_data_dir", data, "--output_dir", resumed, "--resolution", 32, "--max_train_steps", 9,
           "--train_batch_size", 4, "--checkpointing_steps", 5, "--seed", 3, "--resume_from_checkpoint", "latest",
           "--checkpoints_total_limit", 1)
    assert json.loads((resumed / "training_summary.json").read_text())["metrics"]["steps"] == 9
    after = NeuroArtGANModel.from_pretrained(resumed).generator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_fine_tune_from_saved_model(trained, tmp_path):
    out, _, _ = trained
    mine = tmp_path / "mine"
    mine.mkdir()
    for i in range(5):
        abstract_art("circles", i, 32).save(mine / f"{i}.png")
    _, log = launch("--model_name_or_path", out, "--train_data_dir", mine, "--output_dir", tmp_path / "ft",
                    "--resolution", 32, "--max_train_steps", 3, "--train_batch_size", 4, "--finetune_label", 1)
    assert "every image gets style label 1" in log
    tuned = NeuroArtGANModel.from_pretrained(tmp_path / "ft")
    base = NeuroArtGANModel.from_pretrained(out)
    assert tuned.config.num_classes == 2
    # Fine-tuning starts from the released D as well as G: after 3 steps D is close to, but not equal to, the base.
    d_base = base.discriminator.from_rgb.parametrizations.weight.original
    d_tuned = tuned.discriminator.from_rgb.parametrizations.weight.original
    assert not torch.equal(d_base, d_tuned) and (d_base - d_tuned).abs().max() < 0.05
    # Without --ema_decay the fine-tune keeps its model's decay; with it, the flag is honoured and recorded.
    card = (tmp_path / "ft" / "README.md").read_text()
    assert tuned.config.ema_decay == base.config.ema_decay
    launch("--model_name_or_path", out, "--train_data_dir", mine, "--output_dir", tmp_path / "ft0", "--resolution", 32,
           "--max_train_steps", 2, "--train_batch_size", 4, "--ema_decay", 0)
    assert NeuroArtGANModel.from_pretrained(tmp_path / "ft0").config.ema_decay == 0
    assert "ema_decay" in card
    ft0 = json.loads((tmp_path / "ft0" / "training_summary.json").read_text())
    assert ft0["hyperparameters"]["ema_decay"] == 0
    # An architecture flag that the fine-tune cannot honour is refused in one line, not silently ignored.
    code, log = launch("--model_name_or_path", out, "--train_data_dir", mine, "--output_dir", tmp_path / "ft1",
                       "--resolution", 32, "--max_train_steps", 2, "--no_spectral_norm", "--latent_dim", 7,
                       check=False)
    assert code != 0 and "keeps its architecture" in log and "--no_spectral_norm" in log and "--latent_dim 7" in log
    assert "train_gan.py: error: fine-tuning" in log  # argparse's one line (accelerate adds its own report)
    assert not (tmp_path / "ft1" / "model.safetensors").exists()


def test_embedded_default_runs_with_no_data_arguments(tmp_path):
    _, log = launch("--output_dir", tmp_path / "default", "--resolution", 32, "--max_train_steps", 2,
                    "--train_batch_size", 4, "--num_default_images", 12)
    assert "embedded procedural abstract art" in log
    model = NeuroArtGANModel.from_pretrained(tmp_path / "default")
    assert model.config.num_classes == len(STYLES)


def test_no_spectral_norm_and_a_separate_discriminator_learning_rate(tmp_path):
    """`--no_spectral_norm` trains and saves a discriminator without spectral norm; `--discriminator_learning_rate`
    gives D's Adam its own rate (TTUR) while G keeps `--learning_rate`; the loss history logs D's mean logits on the
    real and the fake images beside the two losses."""
    out = tmp_path / "ttur"
    launch("--output_dir", out, "--resolution", 32, "--max_train_steps", 3, "--train_batch_size", 4,
           "--num_default_images", 12, "--no_spectral_norm", "--learning_rate", 1e-4,
           "--discriminator_learning_rate", 4e-4, "--checkpointing_steps", 3)
    model = NeuroArtGANModel.from_pretrained(out)
    assert model.config.use_spectral_norm is False
    assert not any("parametrizations" in name for name, _ in model.discriminator.named_parameters())
    checkpoint = resolve_checkpoint(out, "latest")
    rates = [torch.load(checkpoint / name, weights_only=True)["param_groups"][0]["lr"]
             for name in ("optimizer.bin", "optimizer_1.bin")]  # prepared in the order G, D
    assert rates == [pytest.approx(1e-4), pytest.approx(4e-4)]
    history = json.loads((out / "loss_history.json").read_text())
    assert len(history) == 3 and all(len(row) == 4 for row in history)  # d_loss, g_loss, D(real), D(fake)
    assert all(np.isfinite(row).all() for row in history)


def test_local_dataset_through_load_dataset(tmp_path):
    data = write_image_folder(tmp_path / "ds", per_class=4)
    _, log = launch("--dataset_name", data, "--label_column", "label", "--output_dir", tmp_path / "out",
                    "--resolution", 32, "--max_train_steps", 2, "--train_batch_size", 4)
    assert "Hub dataset" in log
    assert NeuroArtGANModel.from_pretrained(tmp_path / "out").config.num_classes == 2


def test_unwritable_output_dir_fails_before_training(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, log = launch("--output_dir", blocker / "out", "--max_train_steps", 1, check=False)
    assert code != 0 and "not writable" in log


def test_push_to_hub_uploads_the_output_folder(tmp_path):
    from tests.helpers.hub import FakeHub

    with FakeHub(tmp_path / "storage") as hub:
        _, log = launch_script(
            "train_gan.py", "--output_dir", tmp_path / "out", "--resolution", 32, "--max_train_steps", 2,
            "--train_batch_size", 4, "--num_default_images", 12, "--checkpointing_steps", 1, "--push_to_hub",
            "--hub_model_id", "org/my-style",
            env={"HF_ENDPOINT": hub.url, "HF_TOKEN": "hf_fake", "HF_HUB_OFFLINE": "0"})
    pushed = tmp_path / "storage" / "org" / "my-style"
    names = {p.relative_to(pushed).as_posix() for p in pushed.rglob("*") if p.is_file()}
    assert {"config.json", "model.safetensors", "README.md", "modeling_neuroart_gan.py", "samples/grid.png"} <= names
    assert not any(name.startswith(("checkpoints/", "logs/")) for name in names)
    assert 'from_pretrained("org/my-style"' in (pushed / "README.md").read_text()
    assert "Pushed to" in log
    # The thumbnails of the user's own images stay behind unless asked for, and the log says so.
    assert (tmp_path / "out" / "nearest_index.safetensors").exists() and "nearest_index.safetensors" not in names
    assert "Not pushed: nearest_index.safetensors" in log


def test_a_fine_tune_card_shows_no_absolute_paths(tmp_path):
    """The card names the data and the output by repo-relative or bare names, never this machine's absolute paths."""
    data = write_image_folder(tmp_path / "my-paintings", per_class=4)
    out = tmp_path / "out"
    launch("--train_data_dir", data, "--output_dir", out, "--max_train_steps", 1)
    card = (out / "README.md").read_text()
    assert str(tmp_path) not in card and "<local>/my-paintings" in card
