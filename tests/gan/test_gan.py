"""Tiny-config unit tests of the painting GAN."""

import io

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import AutoModel, pipeline

from neuroart import NeuroArtGANModel
from neuroart.gan import save_image
from tests.helpers import tiny_gan_config


@pytest.fixture(scope="module")
def gan():
    torch.manual_seed(0)
    return NeuroArtGANModel(tiny_gan_config()).eval()


@pytest.fixture(scope="module")
def conditional_gan():
    torch.manual_seed(0)
    return NeuroArtGANModel(tiny_gan_config(num_classes=3)).eval()


@pytest.mark.parametrize("image_size", [32, 64, 128])
def test_forward_shapes_and_range(image_size):
    model = NeuroArtGANModel(tiny_gan_config(image_size=image_size)).eval()
    images = model(noise=torch.randn(2, 16)).images
    assert images.shape == (2, 3, image_size, image_size)
    assert images.min() >= -1 and images.max() <= 1
    assert model.discriminate(images).shape == (2,)


def test_grayscale_model():
    model = NeuroArtGANModel(tiny_gan_config(num_channels=1)).eval()
    assert model(noise=torch.randn(1, 16)).images.shape == (1, 1, 32, 32)
    assert model.generate_images(1, seed=0)[0].mode == "L"


def test_checkpoint_holds_generator_discriminator_and_ema(gan):
    keys = gan.state_dict().keys()
    for part in ("generator.", "discriminator.", "generator_ema."):
        assert any(k.startswith(part) for k in keys), part
    # The EMA starts as a copy of the generator and follows it.
    for p_ema, p in zip(gan.generator_ema.parameters(), gan.generator.parameters()):
        assert torch.equal(p_ema, p)


def test_update_ema_moves_toward_generator():
    model = NeuroArtGANModel(tiny_gan_config())
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(1.0)
    before = [p.clone() for p in model.generator_ema.parameters()]
    model.update_ema(decay=0.5)
    for b, e, g in zip(before, model.generator_ema.parameters(), model.generator.parameters()):
        assert torch.allclose(e, (b + g) / 2)


def test_ema_decay_zero_paints_with_the_trained_generator():
    """`ema_decay=0` (the painting release's recipe): after an update the painting generator is the trained one,
    weights and BatchNorm statistics, so eval-mode paintings equal the generator's own."""
    model = NeuroArtGANModel(tiny_gan_config(ema_decay=0.0))
    z = torch.randn(4, model.config.latent_dim, generator=torch.Generator().manual_seed(0))
    model.generator.train()
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(0.3)
        model.generator(z)  # moves the BatchNorm running statistics
    model.update_ema(min(model.config.ema_decay, 1 / 10))  # the training script's warm-up ramp, capped by the decay
    model.eval()
    for ema_value, value in zip(model.generator_ema.state_dict().values(), model.generator.state_dict().values()):
        assert torch.equal(ema_value, value)
    with torch.no_grad():
        torch.testing.assert_close(model.generator_ema(z), model.generator(z))


def test_eval_forward_uses_ema_and_train_forward_uses_generator():
    model = NeuroArtGANModel(tiny_gan_config())
    with torch.no_grad():
        for p in model.generator.parameters():
            p.add_(0.5)
    z = torch.randn(2, 16)
    model.eval()
    assert torch.equal(model(noise=z).images, model.generator_ema(z))
    assert not torch.equal(model(noise=z).images, model.generator(z))


def test_projection_discriminator_uses_labels(conditional_gan):
    images = conditional_gan(noise=torch.randn(2, 16), labels=torch.tensor([0, 1])).images
    a = conditional_gan.discriminate(images, torch.tensor([0, 0]))
    b = conditional_gan.discriminate(images, torch.tensor([2, 2]))
    assert not torch.allclose(a, b)


def test_conditional_generator_requires_labels(conditional_gan):
    with pytest.raises(ValueError, match="labels"):
        conditional_gan(noise=torch.randn(1, 16))


def test_generate_images_is_deterministic_per_seed(gan):
    a = gan.generate_images(5, seed=7, output_type="pt")
    b = gan.generate_images(5, seed=7, output_type="pt", chunk_size=2)
    c = gan.generate_images(5, seed=8, output_type="pt")
    assert a.shape == (5, 3, 32, 32) and a.min() >= 0 and a.max() <= 1
    # Same seed, same batch: bit-identical. Another batch size may round differently inside oneDNN's convolutions,
    # far below one 8-bit level of the saved PNG.
    assert torch.equal(a, gan.generate_images(5, seed=7, output_type="pt"))
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert not torch.equal(a, c)


def test_generate_images_output_types_and_truncation(gan):
    arr = gan.generate_images(2, seed=1, output_type="np")
    assert isinstance(arr, np.ndarray) and arr.shape == (2, 32, 32, 3) and arr.dtype == np.float32
    mean_image = gan.generate_images(1, seed=1, truncation_psi=0.0, output_type="pt")
    assert torch.allclose(mean_image, gan.generate_images(1, seed=2, truncation_psi=0.0, output_type="pt"))
    with pytest.raises(ValueError, match="truncation_psi"):
        gan.generate_images(1, truncation_psi=3.0)
    with pytest.raises(ValueError, match="num_images"):
        gan.generate_images(0)
    with pytest.raises(ValueError, match="output_type"):
        gan.generate_images(1, output_type="jpeg")


def test_labels_control_the_style(conditional_gan):
    fixed = conditional_gan.generate_images(3, seed=0, labels=1, output_type="pt")
    other = conditional_gan.generate_images(3, seed=0, labels=2, output_type="pt")
    assert not torch.equal(fixed, other)
    images = conditional_gan.generate_images(2, seed=0, labels=[0, 2])
    assert [im.text["neuroart:label"] for im in images] == ["0", "2"]
    with pytest.raises(ValueError, match="labels"):
        conditional_gan.generate_images(2, seed=0, labels=[5, 0])


def test_pil_images_carry_provenance_chunks(gan, tmp_path):
    images = gan.generate_images(2, seed=42, truncation_psi=0.7)
    assert all(isinstance(im, Image.Image) and im.size == (32, 32) and im.mode == "RGB" for im in images)
    text = images[1].text
    assert text["AI-generated"] == "true" and text["Software"] == "NeuroArt"
    assert text["neuroart:seed"] == "42" and text["neuroart:truncation_psi"] == "0.7"
    assert text["neuroart:index"] == "1" and "neuroart:model" in text
    path = tmp_path / "painting.png"
    save_image(images[1], path)
    assert Image.open(path).text == text
    # Pixels match the tensor output.
    tensor = gan.generate_images(2, seed=42, truncation_psi=0.7, output_type="pt")
    expected = (tensor[1].permute(1, 2, 0).numpy() * 255).round().astype("uint8")
    assert np.array_equal(np.asarray(images[1]), expected)


def test_seedless_generation_records_its_seed(gan):
    image = gan.generate_images(1)[0]
    seed = int(image.text["neuroart:seed"])
    again = gan.generate_images(1, seed=seed)[0]
    assert np.array_equal(np.asarray(image), np.asarray(again))


def test_save_and_reload_in_process(gan, tmp_path):
    gan.save_pretrained(tmp_path)
    for name in ("config.json", "model.safetensors", "modeling_neuroart_gan.py", "configuration_neuroart_gan.py",
                 "pipeline_neuroart_gan.py", "README.md"):
        assert (tmp_path / name).exists(), name
    reloaded = AutoModel.from_pretrained(tmp_path)
    assert isinstance(reloaded, NeuroArtGANModel) and not reloaded.training
    for (name, a), (_, b) in zip(gan.state_dict().items(), reloaded.state_dict().items()):
        assert torch.equal(a, b), name
    z = torch.randn(3, 16)
    assert torch.equal(gan(noise=z).images, reloaded(noise=z).images)
    # The paintings are bit-identical; the critic's scores only to float rounding (its spectral-norm matrix-vector
    # products may round differently with the memory alignment of the loaded weights).
    images = gan(noise=z).images
    torch.testing.assert_close(gan.discriminate(images), reloaded.discriminate(images), rtol=1e-4, atol=1e-9)


def test_pipeline_in_process(gan, tmp_path):
    pipe = pipeline("unconditional-image-generation", model=gan)
    images = pipe(num_images=3, seed=0)
    assert len(images) == 3 and images[0].size == (32, 32)
    assert np.array_equal(np.asarray(images[2]), np.asarray(gan.generate_images(3, seed=0)[2]))
    gan.save_pretrained(tmp_path)
    from_folder = pipeline(model=str(tmp_path), trust_remote_code=True)(num_images=2, seed=0)
    assert np.array_equal(np.asarray(from_folder[0]), np.asarray(images[0]))


def test_png_bytes_roundtrip(gan):
    buffer = io.BytesIO()
    save_image(gan.generate_images(1, seed=3)[0], buffer)
    assert Image.open(io.BytesIO(buffer.getvalue())).text["neuroart:seed"] == "3"


def test_interpolation_walks_from_seed_a_to_seed_b(gan, tmp_path):
    from neuroart.gan import save_animation

    frames = gan.interpolate(3, 9, steps=5, output_type="pt")
    assert frames.shape == (5, 3, 32, 32)
    a = gan.generate_images(1, seed=3, output_type="pt")[0]
    b = gan.generate_images(1, seed=9, output_type="pt")[0]
    assert torch.allclose(frames[0], a, atol=1e-5) and torch.allclose(frames[-1], b, atol=1e-5)
    pil_frames = gan.interpolate(3, 9, steps=4)
    assert pil_frames[2].text["neuroart:frame"] == "2"
    save_animation(pil_frames, tmp_path / "walk.png")
    animation = Image.open(tmp_path / "walk.png")
    assert animation.n_frames == 6 and animation.text["neuroart:seed_a"] == "3"  # boomerang: 4 + 2
    save_animation(pil_frames, tmp_path / "walk.gif", boomerang=False)
    assert Image.open(tmp_path / "walk.gif").n_frames == 4
    with pytest.raises(ValueError, match="steps"):
        gan.interpolate(0, 1, steps=1)


def test_nearest_training_images_flags_a_copy(gan, tmp_path):
    from neuroart.gan import nearest_training_images
    from neuroart.training.abstract_art import abstract_art

    for i in range(4):
        abstract_art("grid", i, 32).save(tmp_path / f"train_{i}.png")
    painted = gan.generate_images(1, seed=0)
    copy = abstract_art("grid", 2, 32)
    result = nearest_training_images([copy, painted[0]], tmp_path, k=2)
    assert result[0][0][0].name == "train_2.png" and result[0][0][1] < 0.02
    assert len(result[1]) == 2 and result[1][0][1] > result[0][0][1]


def test_swd_orders_similar_and_different_sets():
    from neuroart.gan.metrics import sliced_wasserstein_distance
    from neuroart.training.abstract_art import abstract_art_dataset
    from neuroart.training.data import images_to_tensor

    images, _, _ = abstract_art_dataset(48, 32, seed=0)
    others, _, _ = abstract_art_dataset(48, 32, seed=1)
    real = images_to_tensor(images).float() / 255
    same_kind = images_to_tensor(others).float() / 255
    noise = torch.rand_like(real)
    near = sliced_wasserstein_distance(real, same_kind)["swd_mean"]
    far = sliced_wasserstein_distance(real, noise)["swd_mean"]
    assert near < far / 2


def test_kid_is_zero_mean_for_same_distribution():
    from neuroart.gan.metrics import kernel_inception_distance

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(300, 16, generator=g), torch.randn(300, 16, generator=g)
    same, _ = kernel_inception_distance(a, b, num_subsets=20, subset_size=100)
    shifted, _ = kernel_inception_distance(a, b + 1.0, num_subsets=20, subset_size=100)
    assert abs(same) < 0.05 and shifted > 0.5


def test_recalibrate_batchnorm_is_deterministic_and_measures_the_ema_weights():
    model = NeuroArtGANModel(tiny_gan_config(num_classes=2)).eval()
    with torch.no_grad():
        for p in model.generator_ema.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    norms = [m for m in model.generator_ema.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    before = [n.running_mean.clone() for n in norms]
    model.recalibrate_batchnorm(num_batches=2, batch_size=8, seed=3)
    first = [n.running_mean.clone() for n in norms]
    model.recalibrate_batchnorm(num_batches=2, batch_size=8, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(first, [n.running_mean for n in norms]))
    assert any(not torch.equal(a, b) for a, b in zip(before, first))
    assert all(n.momentum == 0.1 for n in norms) and not model.generator_ema.training
    assert torch.isfinite(model.generate_images(2, seed=0, output_type="pt")).all()


def test_paint_seeds_matches_one_image_per_seed():
    model = NeuroArtGANModel(tiny_gan_config(num_classes=2)).eval()
    batch = model.paint_seeds([4, 9, 11], output_type="pt", chunk_size=2)
    for k, seed in enumerate((4, 9, 11)):
        single = model.generate_images(1, seed=seed, output_type="pt")[0]
        assert torch.allclose(batch[k], single, atol=1e-5)


def test_precision_auto_follows_the_hardware_and_bf16_stays_close(gan, monkeypatch):
    import neuroart.gan.modeling_neuroart_gan as gan_module

    flags = open("/proc/cpuinfo").read().split() if __import__("os").path.exists("/proc/cpuinfo") else []
    native = "amx_bf16" in flags or "avx512_bf16" in flags
    assert gan_module.native_bf16("cpu") == native
    assert gan_module.resolve_precision("auto") == ("bf16" if native else "fp32")
    import neuroart.gan.painting as painting_module  # where resolve_precision looks the hardware up

    monkeypatch.setattr(painting_module, "native_bf16", lambda device="cpu": True)
    assert gan_module.resolve_precision("auto") == "bf16"
    assert gan_module.resolve_precision("fp32") == "fp32"
    with pytest.raises(ValueError, match="precision"):
        gan_module.resolve_precision("fp16")
    gan.eval()
    fp32 = gan.generate_images(8, seed=3, output_type="pt", precision="fp32")
    bf16 = gan.generate_images(8, seed=3, output_type="pt", precision="bf16")
    assert not torch.equal(fp32, bf16)  # bf16 really ran
    assert (fp32 - bf16).abs().mean() < 0.02  # in [0, 1] pixel units
    assert torch.equal(bf16, gan.generate_images(8, seed=3, output_type="pt", precision="bf16"))
    image = gan.generate_images(1, seed=3, precision="bf16")[0]
    assert image.text["neuroart:precision"] == "bf16"


def test_paint_to_folder_writes_each_seeds_painting_with_provenance(conditional_gan, tmp_path):
    conditional_gan.eval()
    seeds = [5, 9, 11, 40, 41]
    works = conditional_gan.paint_to_folder(seeds, tmp_path, chunk_size=2, precision="fp32")
    assert [file for file, _ in works] == [f"painting_{s}.png" for s in seeds]
    assert not list(tmp_path.glob("*.partial"))
    for (file, info), seed in zip(works, seeds):
        saved = Image.open(tmp_path / file)
        alone = conditional_gan.generate_images(1, seed=seed, precision="fp32")[0]
        assert np.abs(np.asarray(saved, dtype=int) - np.asarray(alone, dtype=int)).max() <= 1
        assert saved.text["neuroart:seed"] == str(seed) and saved.text["neuroart:label"] == str(info["label"])
        assert saved.text["neuroart:label"] == alone.text["neuroart:label"]


def test_paintings_save_writes_files_with_provenance(gan, tmp_path):
    gan.eval()
    images = gan.generate_images(2, seed=21)
    paths = images.save(tmp_path / "out")
    assert [p.rsplit("/", 1)[-1] for p in paths] == ["painting_21_0.png", "painting_21_1.png"]
    saved = Image.open(paths[1])
    assert saved.text["neuroart:seed"] == "21" and saved.text["neuroart:index"] == "1"
    assert np.array_equal(np.asarray(saved), np.asarray(images[1]))


def test_same_seed_same_painting_from_threads(gan):
    from concurrent.futures import ThreadPoolExecutor

    gan.eval()

    def paint(seed):
        return gan.generate_images(2, seed=seed, output_type="pt", precision="fp32")

    alone = [paint(s) for s in range(3)]
    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(paint, [0, 1, 2, 0, 1, 2]))
    assert all(torch.equal(a, b) for a, b in zip(together, alone + alone))
    torch.manual_seed(7)
    before = torch.rand(1)
    torch.manual_seed(7)
    paint(4)
    assert torch.equal(torch.rand(1), before)  # the global stream is left as it was


def test_reconstruction_decoders_rebuild_real_images_and_train():
    """FastGAN's self-supervised discriminator: with `discriminator_reconstruction` the discriminator rebuilds the
    whole image (from its 8x8 map) and one quadrant (from that quadrant of its 16x16 map), and the training loss
    pulls the rebuilds toward the real images; without it, checkpoints keep their old keys."""
    from neuroart.training.gan_losses import discriminator_loss

    torch.manual_seed(0)
    model = NeuroArtGANModel(tiny_gan_config(image_size=64, discriminator_reconstruction=True))
    plain = NeuroArtGANModel(tiny_gan_config(image_size=64))
    assert not any("decoder" in k for k in plain.state_dict())
    assert any(k.startswith("discriminator.decoder_whole") for k in model.state_dict())
    real = torch.nn.functional.interpolate(torch.rand(4, 3, 4, 4) * 2 - 1, size=64, mode="bilinear")  # smooth
    logits, whole, part = model.discriminator(real, reconstruct=2, quadrant=3)
    assert logits.shape == (4,) and whole.shape == (2, 3, 32, 32) and part.shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="discriminator_reconstruction"):
        plain.discriminator(real, reconstruct=2)
    fake = model.generator(torch.randn(4, 16)).detach()
    optimizer = torch.optim.Adam(model.discriminator.parameters(), lr=1e-3)
    error = lambda: float(torch.nn.functional.mse_loss(  # noqa: E731
        model.discriminator(real, reconstruct=4)[1], torch.nn.functional.interpolate(real, size=32, mode="area")))
    before = error()
    for _ in range(60):
        loss = discriminator_loss(model.discriminator, real, fake, None, "", reconstruction_weight=1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert torch.isfinite(loss) and error() < 0.5 * before


def test_discriminator_without_spectral_norm_passes_signal_from_its_initialisation():
    """Without spectral norm the discriminator's layers get He init: its logits and input gradients at init are of
    order 0.1, not the 1e-5 that the N(0, 0.02) init leaves after ten unnormalised layers. The flag round-trips."""
    from neuroart import NeuroArtGANConfig

    torch.manual_seed(0)
    images = (torch.rand(8, 3, 64, 64) * 2 - 1).requires_grad_(True)
    model = NeuroArtGANModel(NeuroArtGANConfig(use_spectral_norm=False))
    logits = model.discriminator(images)
    (grad,) = torch.autograd.grad(logits.sum(), images)
    assert logits.std() > 0.01 and grad.flatten(1).norm(dim=1).mean() > 0.05
    assert not model.config.use_spectral_norm


def test_pixel_norm_generator_has_no_batch_statistics(tmp_path):
    """`generator_norm="pixel"`: no BatchNorm in the generator, so one image does not depend on the others in its
    batch (in train mode too); each position's feature vector has unit RMS after the norm. Saves and reloads."""
    from neuroart import NeuroArtGANConfig
    from neuroart.gan.modeling_neuroart_gan import NeuroArtGANPixelNorm

    with pytest.raises(ValueError, match="generator_norm"):
        NeuroArtGANConfig(generator_norm="layer")
    model = NeuroArtGANModel(NeuroArtGANConfig(generator_norm="pixel")).train()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.generator.modules())
    z = torch.randn(4, model.config.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(model.generator(z)[:1], model.generator(z[:1]), rtol=1e-4, atol=1e-5)
    normed = NeuroArtGANPixelNorm()(torch.randn(2, 8, 4, 4) * 5)
    torch.testing.assert_close(normed.pow(2).mean(dim=1), torch.ones(2, 4, 4), rtol=1e-4, atol=1e-4)
    model.save_pretrained(tmp_path)
    assert NeuroArtGANModel.from_pretrained(tmp_path).config.generator_norm == "pixel"


def test_two_convs_per_generator_block(tmp_path):
    """`generator_convs_per_block=2` (FastGAN's UpBlockComp): each upsampling block gets a second 3x3 conv at its
    new resolution, the output shape is unchanged, gradients reach the second convs, and the choice round-trips;
    other values are refused naming the field."""
    from neuroart import NeuroArtGANConfig

    with pytest.raises(ValueError, match="generator_convs_per_block"):
        NeuroArtGANConfig(generator_convs_per_block=3)
    one = NeuroArtGANModel(NeuroArtGANConfig(image_size=32, generator_base_channels=8, max_channels=32))
    two = NeuroArtGANModel(NeuroArtGANConfig(image_size=32, generator_base_channels=8, max_channels=32,
                                             generator_convs_per_block=2)).train()
    assert all(block.conv2 is None for block in one.generator.blocks)
    assert all(block.conv2 is not None for block in two.generator.blocks)
    z = torch.randn(4, two.config.latent_dim, generator=torch.Generator().manual_seed(0))
    images = two.generator(z)
    assert images.shape == (4, 3, 32, 32)
    images.square().mean().backward()
    assert all(block.conv2.weight.grad.abs().sum() > 0 for block in two.generator.blocks)
    two.save_pretrained(tmp_path)
    reloaded = NeuroArtGANModel.from_pretrained(tmp_path).eval()
    assert reloaded.config.generator_convs_per_block == 2
    two.eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded.generator_ema(z), two.generator_ema(z))


def test_nearest_index_spans_the_whole_training_set(tmp_path):
    """With more training images than the index holds, the thumbnails are spread over all of them (a folder loads
    class by class, so the first N would drop the last classes), and the nearest-image lookup finds them."""
    from safetensors.torch import load_file

    from neuroart.gan import nearest_in_index, save_nearest_index

    pixels = torch.arange(10, dtype=torch.uint8).mul(25)[:, None, None, None].expand(10, 3, 8, 8).contiguous()
    save_nearest_index(pixels, tmp_path / "index.safetensors", max_images=4, size=4)
    thumbs = load_file(str(tmp_path / "index.safetensors"))["thumbnails"]
    assert thumbs.shape == (4, 3, 4, 4)
    assert thumbs[:, 0, 0, 0].tolist() == [0, 75, 150, 225]  # images 0, 3, 6, 9: first and last included
    (match,) = nearest_in_index(torch.full((1, 3, 8, 8), 225 / 255), tmp_path / "index.safetensors", k=1)
    assert match[0][1] < 1e-6


def test_near_copies_flags_a_copied_painting_and_not_a_dark_field(tmp_path):
    """A training image with a little noise is a near-copy; a flat dark field, though nearer than NEAR_COPY_RMS to
    a dark training image, copies nothing (its own contrast is smaller than the distance)."""
    from neuroart.gan import NEAR_COPY_RMS, near_copies, save_nearest_index

    rng = torch.Generator().manual_seed(0)
    training = torch.randint(0, 256, (6, 3, 16, 16), generator=rng, dtype=torch.uint8)
    training[5] = 10  # a dark crop
    save_nearest_index(training, tmp_path / "index.safetensors", size=8)
    copy = (training[2:3].float() / 255 + 0.01 * torch.randn(1, 3, 16, 16, generator=rng)).clamp(0, 1)
    dark = torch.full((1, 3, 16, 16), 16 / 255)
    new = torch.rand(1, 3, 16, 16, generator=rng)
    (copied, copied_flag), (dark_distance, dark_flag), (_, new_flag) = near_copies(
        torch.cat([copy, dark, new]), tmp_path / "index.safetensors")
    assert copied < 0.01 and copied_flag
    assert dark_distance < NEAR_COPY_RMS and not dark_flag
    assert not new_flag


def test_model_card_describes_the_discriminator_and_the_painting_generator():
    """The card says which discriminator the checkpoint has and whether an average or the trained generator paints."""
    from neuroart.hub import render_model_card

    default = render_model_card(NeuroArtGANModel(tiny_gan_config()))
    release_like = render_model_card(NeuroArtGANModel(tiny_gan_config(use_spectral_norm=False, ema_decay=0.0)))
    assert "spectrally normalised projection discriminator" in default and "EMA generator that paints" in default
    assert "without spectral norm" in release_like and "`ema_decay` 0" in release_like
    assert "${" not in default and "${" not in release_like
