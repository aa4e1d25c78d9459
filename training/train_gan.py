#!/usr/bin/env python
"""Train or fine-tune the NeuroArt painting GAN: `accelerate launch training/train_gan.py [--train_data_dir DIR]`.

With no data flag it trains on the embedded procedural abstract-art set. The recipe is current few-shot GAN practice:

- hinge loss (Lim & Ye, 2017, arXiv:1705.02894; Miyato et al., 2018);
- DiffAugment colour/translation/cutout on real and fake images (Zhao et al., 2020, arXiv:2006.10738);
- spectral norm in the discriminator (Miyato et al., 2018) and optional lazy R1 (Mescheder et al., 2018,
  arXiv:1801.04406; lazy regularisation from StyleGAN2, Karras et al., 2020, arXiv:1912.04958);
- an EMA generator with a warm-up ramp (Yazıcı et al., 2019, arXiv:1806.04498);
- Adam 2e-4, betas (0.5, 0.999), as FastGAN and lightweight-gan;
- a fixed-seed latent grid written to `output_dir/samples/step_N.png` and to the tracker.

Steps whose losses are not finite are skipped (all processes agree) and counted; no NaN reaches the weights. The
loop's skeleton (resume, epochs, progress toward the real end, checkpoints, CPU budget) is `neuroart.training.loop`,
shared with the language models; only the GAN's step is here.
The output folder is a Hub-ready repo: config, safetensors (generator, discriminator, EMA), remote code, a model card
with the data, hyperparameters, metrics and a sample grid; `--push_to_hub` uploads it.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: spin-waiting cripples 2-vCPU machines

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from neuroart import NeuroArtGANConfig, NeuroArtGANModel  # noqa: E402
from neuroart.gan import NEAREST_INDEX_FILE, save_nearest_index  # noqa: E402
from neuroart.training.args import (  # noqa: E402
    add_common_args,
    positive_int,
    refuse_architecture_changes,
    run_main,
)
from neuroart.training.checkpointing import load_checkpoint, resolve_checkpoint  # noqa: E402
from neuroart.training.data import images_to_tensor, load_images  # noqa: E402
from neuroart.training.faults import fault_at  # noqa: E402
from neuroart.training.gan_losses import discriminator_loss, generator_loss  # noqa: E402, F401  (also re-exported)
from neuroart.training.hub import export_model, gather_full_model, publish  # noqa: E402
from neuroart.training.loop import Run, resume  # noqa: E402
from neuroart.training.numerics import all_finite  # noqa: E402
from neuroart.training.tracking import (  # noqa: E402
    guarded_sample,
    hardware,
    image_grid,
    init_trackers,
    log_image,
    logger,
    make_accelerator,
    save_samples_image,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(parser, default_output_dir="neuroart-gan", default_lr=2e-4)
    parser.add_argument("--train_data_dir", type=str, default=None,
                        help="A folder of images; class subfolders become style labels for a conditional model.")
    parser.add_argument("--image_column", type=str, default=None, help="Image column of --dataset_name.")
    parser.add_argument("--label_column", type=str, default=None,
                        help="Label column of --dataset_name (e.g. style); omit for an unconditional model.")
    parser.add_argument("--unconditional", action="store_true", help="Ignore class labels even when the data has them.")
    parser.add_argument("--push_training_thumbnails", action="store_true",
                        help="With --push_to_hub: upload nearest_index.safetensors too (32 px thumbnails of your "
                             "training images; left out of the push by default).")
    parser.add_argument("--near_copy_rms", type=float, default=0.04,
                        help="A painting closer than this RMS pixel distance (in [0, 1]) to a training image counts "
                             "as a near-copy in the final check.")
    parser.add_argument("--max_copy_rate", type=float, default=0.05,
                        help="Share of the final check's paintings that may be near-copies of training images; above "
                             "it the run warns (a GAN on a few dozen images can memorise them). The card records "
                             "the rate either way.")
    parser.add_argument("--no_nearest_index", action="store_true",
                        help="Do not ship nearest_index.safetensors (32 px thumbnails of up to 2048 training images, "
                             "for 'show the nearest training images'); use it when the data may not be redistributed.")
    parser.add_argument("--num_default_images", type=positive_int, default=600,
                        help="Images of the embedded abstract-art set, used when no data flag is given.")
    parser.add_argument("--resolution", type=int, default=64, choices=[32, 64, 128, 256],
                        help="Image size in pixels (images are centre-cropped and resized).")
    parser.add_argument("--latent_dim", type=positive_int, default=128, help="Size of the latent vector.")
    parser.add_argument("--generator_base_channels", type=positive_int, default=16,
                        help="Generator width at full resolution (doubles per halving, capped by --max_channels).")
    parser.add_argument("--discriminator_base_channels", type=positive_int, default=24,
                        help="Discriminator width at full resolution.")
    parser.add_argument("--max_channels", type=positive_int, default=256, help="Widest layer of either network.")
    parser.add_argument("--generator_convs_per_block", type=int, choices=[1, 2], default=1,
                        help="3x3 convs per generator upsampling block (2: FastGAN's UpBlockComp).")
    parser.add_argument("--generator_norm", choices=["batch", "pixel"], default="batch",
                        help="Normalisation after each generator conv: BatchNorm (FastGAN) or ProGAN's pixel norm.")
    parser.add_argument("--upsample_mode", choices=["nearest", "bilinear"], default="nearest",
                        help="How the generator doubles its maps (bilinear: no pixel-replication grid).")
    parser.add_argument("--discriminator_head", choices=["conv", "sum"], default="sum",
                        help="Discriminator head on its final 4x4 map: a position-blind sum (the default; it lets the "
                             "generator tile one patch) or a position-aware 4x4 conv (FastGAN; it collapsed here "
                             "without FastGAN's reconstruction regulariser).")
    parser.add_argument("--no_spectral_norm", action="store_true",
                        help="Train the discriminator without spectral norm (then regularise it with --r1_gamma).")
    parser.add_argument("--discriminator_minibatch_std", type=int, default=0,
                        help="Group size of the discriminator's minibatch-std feature against mode collapse (0: off).")
    parser.add_argument("--discriminator_learning_rate", type=float, default=None,
                        help="The discriminator's learning rate when it differs from the generator's "
                             "--learning_rate (two time-scale update rule; default: the same).")
    parser.add_argument("--adam_beta1", type=float, default=0.5, help="Adam beta1 for both networks.")
    parser.add_argument("--adam_beta2", type=float, default=0.999, help="Adam beta2 for both networks.")
    parser.add_argument("--ema_decay", type=float, default=None,
                        help="Decay of the EMA generator that paints; 0 makes it a copy of the trained generator. "
                             "Default: a fine-tune keeps its model's (recorded in its config), a new model 0.999.")
    parser.add_argument("--diffaug_policy", type=str, default="color,translation,cutout",
                        help='DiffAugment policy, comma-separated subset of "color,translation,cutout"; "" disables.')
    parser.add_argument("--r1_gamma", type=float, default=0.0,
                        help="Weight of the lazy R1 penalty on real images (0 = off; spectral norm already "
                             "regularises D).")
    parser.add_argument("--reconstruction_weight", type=float, default=0.0,
                        help="Weight of FastGAN's reconstruction loss: the discriminator also rebuilds real images "
                             "from its 8x8 and 16x16 maps (0 = off; a new model gets the decoders when > 0).")
    parser.add_argument("--r1_interval", type=positive_int, default=16, help="Apply R1 every N steps (lazy R1).")
    parser.add_argument("--num_sample_images", type=positive_int, default=16, help="Images in each sample grid.")
    parser.add_argument("--max_grad_norm", type=float, default=None,
                        help="Clip each network's gradient norm to this (default: no clipping).")
    parser.add_argument("--explode_grad_norm", type=float, default=1e4,
                        help="Skip a step (and count it) when either network's gradient norm exceeds this.")
    parser.add_argument("--max_consecutive_bad_steps", type=positive_int, default=20,
                        help="After this many skipped steps in a row, restore the last complete checkpoint.")
    parser.add_argument("--no_channels_last", action="store_true",
                        help="On CUDA, keep the default NCHW layout instead of channels-last.")
    parser.add_argument("--finetune_label", type=int, default=0,
                        help="Fine-tuning a conditional model on unlabelled images: the style label they get.")
    args = parser.parse_args(argv)
    if args.dataset_name and args.train_data_dir:
        parser.error("Give --dataset_name or --train_data_dir, not both.")
    if args.ema_decay is not None and not 0 <= args.ema_decay < 1:
        parser.error(f"--ema_decay={args.ema_decay} must lie in [0, 1).")
    architecture = ("latent_dim", "generator_base_channels", "discriminator_base_channels", "max_channels",
                    "discriminator_head", "upsample_mode", "generator_norm", "generator_convs_per_block",
                    "discriminator_minibatch_std")
    refuse_architecture_changes(parser, args, NeuroArtGANConfig, {name: name for name in architecture}
                                | {"no_spectral_norm": ("use_spectral_norm", lambda v: not v)})
    return args


def build_model(args, num_classes: int, class_names=()) -> NeuroArtGANModel:
    if args.model_name_or_path:
        model = NeuroArtGANModel.from_pretrained(args.model_name_or_path)
        if model.config.image_size != args.resolution:
            raise SystemExit(f"{args.model_name_or_path} paints {model.config.image_size} px images; "
                             f"pass --resolution {model.config.image_size}.")
        if args.reconstruction_weight > 0 and not model.config.discriminator_reconstruction:
            raise SystemExit(f"{args.model_name_or_path} has no reconstruction decoders in its discriminator; "
                             "fine-tune it with --reconstruction_weight 0.")
        # A training knob, not architecture: --ema_decay is honoured; without it the model's own recorded decay.
        args.ema_decay = model.config.ema_decay if args.ema_decay is None else args.ema_decay
        model.config.ema_decay = args.ema_decay  # the exported config records the decay its EMA weights used
        return model
    args.ema_decay = 0.999 if args.ema_decay is None else args.ema_decay
    config = NeuroArtGANConfig(
        image_size=args.resolution,
        latent_dim=args.latent_dim,
        generator_base_channels=args.generator_base_channels,
        discriminator_base_channels=args.discriminator_base_channels,
        max_channels=args.max_channels,
        discriminator_head=args.discriminator_head,
        upsample_mode=args.upsample_mode,
        generator_norm=args.generator_norm,
        generator_convs_per_block=args.generator_convs_per_block,
        discriminator_minibatch_std=args.discriminator_minibatch_std,
        use_spectral_norm=not args.no_spectral_norm,
        discriminator_reconstruction=args.reconstruction_weight > 0,
        num_classes=num_classes,
        ema_decay=args.ema_decay,
    )
    if class_names and num_classes:
        config.id2label = dict(enumerate(class_names))  # style names for the Space's and CLI's style menus
    return NeuroArtGANModel(config)


def sample_grid(model, args, step: int):
    """The fixed-seed grid: the same latents (and labels) at every step."""
    labels = None
    if model.config.num_classes > 0:
        labels = [i % model.config.num_classes for i in range(args.num_sample_images)]
    images = model.generate_images(args.num_sample_images, seed=args.seed, labels=labels)
    return image_grid(images)


def write_grid(model, args, step: int, accelerator=None) -> Path:
    """The fixed-seed grid of `step`, saved under samples/ (and sent to the trackers); returns its path."""
    grid = sample_grid(model, args, step)
    path = save_samples_image(grid, args.output_dir, step)
    if accelerator is not None:
        log_image(accelerator, "samples", grid, step)
    return path


def main(args):
    accelerator = make_accelerator(args, "neuroart-gan", needed_bytes=200_000_000)

    images, labels, class_names, source, counter = load_images(
        train_data_dir=args.train_data_dir, dataset_name=args.dataset_name,
        dataset_config_name=args.dataset_config_name, dataset_split=args.dataset_split,
        image_column=args.image_column, label_column=args.label_column, resolution=args.resolution,
        max_samples=args.max_train_samples, cache_dir=args.cache_dir, default_num_images=args.num_default_images,
        seed=args.seed,
    )
    logger.info("Data: %s; %s", source, counter.summary("images"))
    num_classes = 0 if args.unconditional else len(class_names)
    model = build_model(args, num_classes, class_names)
    conditional = model.config.num_classes > 0
    label_tensor = torch.tensor(labels, dtype=torch.long)
    if conditional and num_classes == 0:
        label_tensor.fill_(args.finetune_label)
        logger.info("Conditional model, unlabelled data: every image gets style label %d.", args.finetune_label)
    elif conditional and num_classes != model.config.num_classes:
        raise SystemExit(f"The data has {num_classes} classes but the model has {model.config.num_classes}; "
                         "use --unconditional or matching class folders.")
    pixels = images_to_tensor(images)  # uint8 (N, 3, R, R)
    del images  # the PIL copies: keep one uint8 tensor of the data, not two copies
    dataset = torch.utils.data.TensorDataset(pixels, label_tensor)
    cuda = accelerator.device.type == "cuda"
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.train_batch_size, shuffle=True,
                                         drop_last=len(dataset) >= args.train_batch_size,
                                         num_workers=args.dataloader_num_workers, pin_memory=cuda,
                                         persistent_workers=args.dataloader_num_workers > 0,
                                         generator=torch.Generator().manual_seed(args.seed))  # not the global RNG

    # On CUDA: convolutions in channels-last layout (what cuDNN's tensor-core kernels read), and fused Adam, which
    # checks at construction that the parameters are already on the GPU.
    memory_format = torch.channels_last if cuda and not args.no_channels_last else torch.contiguous_format
    if cuda:
        model.to(accelerator.device, memory_format=memory_format)
    fused = {"fused": True} if cuda else {}
    betas = (args.adam_beta1, args.adam_beta2)
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=args.learning_rate, betas=betas, **fused)
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=args.discriminator_learning_rate or args.learning_rate,
                             betas=betas, **fused)
    model.train()
    generator, discriminator, opt_g, opt_d, loader = accelerator.prepare(
        model.generator, model.discriminator, opt_g, opt_d, loader)
    model.generator_ema.to(accelerator.device)

    steps_per_epoch = math.ceil(len(loader) / args.gradient_accumulation_steps)
    max_steps = args.max_train_steps or args.num_train_epochs * steps_per_epoch

    state, tensors = resume(accelerator, args)
    if tensors:
        model.generator_ema.load_state_dict({k[len("ema."):]: v for k, v in tensors.items()})

    init_trackers(accelerator, args, "neuroart-gan")
    logger.info("Training %s (%.2fM parameters) for %d steps on %d images, %d per process, %d processes.",
                "conditional" if conditional else "unconditional", model.num_parameters() / 1e6, max_steps,
                len(dataset), args.train_batch_size, accelerator.num_processes)
    run = Run(accelerator, args, max_steps, steps_per_epoch, state)
    device = accelerator.device
    d_loss = g_loss = torch.zeros(())
    loss_history, consecutive_bad, restored, history_start = [], 0, 0, run.step
    fault_step = fault_at("NAN_WEIGHTS_AT_STEP")  # the test seam (faults.py): a simulated divergence

    def step_ok(loss, network, optimizer) -> str | None:
        """Backward + clip + step for one network; the reason when the step is skipped instead (all ranks agree)."""
        if not all_finite(accelerator, loss):
            return "non-finite loss"
        accelerator.backward(loss)
        norm = accelerator.clip_grad_norm_(network.parameters(), args.max_grad_norm or float("inf"))
        if not all_finite(accelerator, norm):
            return "non-finite gradient norm"
        if norm.item() > args.explode_grad_norm:
            return f"gradient norm {norm.item():.3g} > --explode_grad_norm {args.explode_grad_norm:g}"
        optimizer.step()
        return None

    def ema_tensors() -> dict:
        return {f"ema.{k}": v for k, v in model.generator_ema.state_dict().items()}

    for pixels_batch, label_batch in run.batches(loader):
        real = pixels_batch.to(device, non_blocking=True).float() / 127.5 - 1.0  # uint8 [0, 255] -> [-1, 1]
        real = real.contiguous(memory_format=memory_format)
        flip = torch.rand(real.shape[0], 1, 1, 1, device=device) < 0.5
        real = torch.where(flip, real.flip(3), real)
        y = label_batch.to(device) if conditional else None
        if fault_step and run.step == fault_step:
            fault_step = 0  # once: NaN weights, as after a blown-up update
            with torch.no_grad():
                for param in [*generator.parameters(), *discriminator.parameters()]:
                    param.fill_(float("nan"))
        with accelerator.accumulate(generator, discriminator):
            z = torch.randn(real.shape[0], model.config.latent_dim, device=device)
            use_r1 = args.r1_gamma > 0 and run.step % args.r1_interval == 0
            logit_stats = {}
            with accelerator.autocast():
                fake = generator(z, y)
                d_loss = discriminator_loss(discriminator, real, fake, y, args.diffaug_policy,
                                            args.r1_gamma * args.r1_interval if use_r1 else 0.0,
                                            args.reconstruction_weight, stats=logit_stats)
            problem = step_ok(d_loss, discriminator, opt_d)
            opt_d.zero_grad(set_to_none=True)
            if problem is None:
                # G's step needs D's input gradients, not its weight gradients: a frozen, unwrapped D (no DDP
                # reduction to wait for) skips a third of D's backward.
                frozen_d = accelerator.unwrap_model(discriminator).requires_grad_(False)
                with accelerator.autocast():
                    g_loss = generator_loss(frozen_d, fake, y, args.diffaug_policy)
                problem = step_ok(g_loss, generator, opt_g)
                frozen_d.requires_grad_(True)
            opt_g.zero_grad(set_to_none=True)
            opt_d.zero_grad(set_to_none=True)
        if not accelerator.sync_gradients:
            continue
        means = accelerator.reduce(torch.stack([d_loss.detach().float(), g_loss.detach().float(),
                                                logit_stats["d_real"], logit_stats["d_fake"]]),
                                   "mean").tolist()  # one all-reduce for all four
        logs = {"d_loss": means[0], "g_loss": means[1]}
        if problem is not None:
            run.skipped += 1
            consecutive_bad += 1
            logger.warning("Step %d: %s (D %.4g, G %.4g), skipped (%d so far).", run.step, problem,
                           logs["d_loss"], logs["g_loss"], run.skipped)
            if consecutive_bad >= args.max_consecutive_bad_steps:
                checkpoint = resolve_checkpoint(args.output_dir, "latest")
                if checkpoint is None:
                    raise SystemExit(f"Training diverged ({consecutive_bad} bad steps in a row) before the "
                                     "first checkpoint; lower --learning_rate or raise --explode_grad_norm.")
                state, tensors = load_checkpoint(accelerator, checkpoint)
                model.generator_ema.load_state_dict({k[len("ema."):]: v for k, v in tensors.items()})
                run.step, consecutive_bad, restored = state["step"], 0, restored + 1
                loss_history = loss_history[: max(0, run.step - history_start)]
                run.progress.n = run.step
                logger.warning("Diverged: restored %s (step %d); %d restore(s) so far.", checkpoint.name,
                               run.step, restored)
                continue
        else:
            consecutive_bad = 0
            model.update_ema(min(model.config.ema_decay, (1 + run.step) / (10 + run.step)))
        run.advance(**{k: f"{v:.3f}" for k, v in logs.items()})
        # [D loss, G loss, D's mean logit on the real images, on the fakes]: a D that stops separating them shows
        # as the last two meeting near 0 (hinge D loss near 2).
        loss_history.append([round(v, 5) for v in means])
        accelerator.log({**logs, "d_real": means[2], "d_fake": means[3], "skipped_steps": run.skipped}, step=run.step)
        run.checkpoint(ema_tensors)
        if accelerator.is_main_process and run.due(args.sample_steps):
            guarded_sample(lambda: write_grid(model, args, run.step, accelerator), run.step, "sample grid")
        if run.done():
            break
    run.close()
    global_step, skipped_steps = run.step, run.skipped
    train_seconds = run.wall_seconds()
    cpu_seconds = run.cpu_seconds()

    accelerator.wait_for_everyone()
    model = gather_full_model(accelerator, model, prepared={"generator": generator, "discriminator": discriminator})
    if accelerator.is_main_process:
        model.eval()
        grid_path = guarded_sample(lambda: write_grid(model, args, global_step), global_step, "final sample grid")
        (Path(args.output_dir) / "loss_history.json").write_text(json.dumps(loss_history))
        metrics = {"steps": global_step, "skipped_steps": skipped_steps, "restored_from_checkpoint": restored,
                   "train_seconds": round(train_seconds, 1),
                   "train_cpu_seconds": round(cpu_seconds, 1), "hardware": hardware(accelerator)}
        metrics.update(guarded_sample(lambda: evaluate(model, pixels, args), global_step, "card metrics") or {})
        hyperparameters = {k: v for k, v in vars(args).items() if k not in ("hub_token",)}
        card = {
            "repo_id": args.hub_model_id or str(args.output_dir),
            "training": (f"Trained with `training/train_gan.py` on {source} "
                         f"({counter.summary('images')}) for {global_step} steps at {args.resolution} px"
                         + (f", fine-tuned from `{args.model_name_or_path}`" if args.model_name_or_path else "")
                         + (f"; classes: {', '.join(class_names)}" if conditional and class_names else "") + "."),
            "hyperparameters": hyperparameters,
            "metrics": metrics,
            "sample": "samples/grid.png" if grid_path else None,
            "datasets": [args.dataset_name] if args.dataset_name else [],
        }
        export_model(model, args.output_dir, card_context=card,
                     extra_files={"samples/grid.png": grid_path} if grid_path else None)
        if not args.no_nearest_index:  # thumbnails for "show the nearest training images" (Space, CLI)
            save_nearest_index(pixels, Path(args.output_dir) / NEAREST_INDEX_FILE)
        logger.info("Saved the model to %s (%s).", args.output_dir, ", ".join(f"{k}={v}" for k, v in metrics.items()))
        publish(args, args.output_dir)
    accelerator.end_training()


def evaluate(model, train_pixels: torch.Tensor, args, num_images: int = 64) -> dict:
    """Cheap weight-free metrics for the card: SWD against the training images and the nearest-training distance."""
    from neuroart.gan.metrics import nearest_neighbour_distances, sliced_wasserstein_distance

    generated = model.generate_images(num_images, seed=args.seed + 1, output_type="pt")
    real = train_pixels[:512].float() / 255
    # The near-copy check against every training image (up to 4,096: the small folders where memorising happens
    # are far smaller).
    nearest = nearest_neighbour_distances(generated, train_pixels[:4096].float() / 255).squeeze(1)
    rate = float((nearest < args.near_copy_rms).float().mean())
    if rate > args.max_copy_rate:
        logger.warning("%.0f%% of %d paintings are near-copies of training images (RMS < %.2f; --max_copy_rate "
                       "%.0f%%): train fewer steps or on more images.", 100 * rate, num_images,
                       args.near_copy_rms, 100 * args.max_copy_rate)
    return {
        "swd_vs_train": round(sliced_wasserstein_distance(real, generated, seed=args.seed)["swd_mean"], 2),
        "nearest_train_l2_mean": round(float(nearest_neighbour_distances(generated, real).mean()), 4),
        "near_copy_rate": round(rate, 4),
    }


if __name__ == "__main__":
    run_main(main, parse_args())
