"""The causal-LM training loop shared by `train_poetry.py` and `train_music.py`.

Packed token blocks -> AdamW with warm-up and cosine decay (over the steps, or over `--max_train_cpu_seconds` /
`--max_train_seconds` when a budget is set, so a budgeted run still anneals) -> `accelerator.accumulate` / `autocast` -> periodic
validation (nats/token, and nats/char or nats/frame through a caller-given ratio) -> samples through a callback ->
atomic checkpoints with `--resume_from_checkpoint latest`. A sample callback that returns True stops the run there
(the poet's copy check). Steps with a non-finite loss are skipped (all processes
agree) and counted. The caller builds the model and data, and exports the result.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable

import torch

from .args import positive_int
from .hub import gather_full_model
from .loop import Run, resume
from .numerics import all_finite
from .tracking import hardware, logger


def add_lm_args(parser, *, default_seq_len: int) -> None:
    group = parser.add_argument_group("language model")
    group.add_argument("--max_seq_length", type=int, default=default_seq_len,
                       help="Tokens per training block (texts are packed, separated by BOS/EOS).")
    group.add_argument("--validation_split_percentage", type=float, default=5.0,
                       help="Percent of the examples held out for validation loss.")
    group.add_argument("--eval_steps", type=int, default=200, help="Validate every N steps.")
    group.add_argument("--early_stopping_patience", type=int, default=0,
                       help="Stop once the validation loss has not improved for this many validations in a row, "
                            "and keep the best validated weights (0 = off).")
    group.add_argument("--weight_decay", type=float, default=0.1, help="AdamW weight decay.")
    group.add_argument("--lr_warmup_steps", type=int, default=100, help="Linear warm-up steps.")
    group.add_argument("--max_grad_norm", type=float, default=1.0, help="Gradient clipping norm.")
    group.add_argument("--streaming", action="store_true",
                       help="Read --dataset_name with load_dataset(streaming=True) and pack blocks on the fly, for "
                            "corpora bigger than RAM; needs --max_train_steps.")
    group.add_argument("--streaming_eval_examples", type=positive_int, default=200,
                       help="With --streaming: the first N examples are held out for validation.")
    group.add_argument("--streaming_shuffle_buffer", type=positive_int, default=10_000,
                       help="With --streaming: examples in the shuffle buffer (reshuffled every pass).")


def check_streaming_args(parser, args) -> None:
    """--streaming needs a Hub/local dataset and a step count (a stream has no length to derive epochs from)."""
    if args.streaming and not args.dataset_name:
        parser.error("--streaming reads --dataset_name; give one (a Hub id or a local dataset folder).")
    if args.streaming and not args.max_train_steps:
        parser.error("--streaming needs --max_train_steps: a stream has no length to count epochs by.")


def log_stream_source(args) -> str:
    """Log and return the data source of a --streaming run."""
    source = f"streamed dataset `{args.dataset_name}`"
    logger.info("Data: %s; the first %d examples held out for validation.", source, args.streaming_eval_examples)
    return source


class StreamedBlocks(torch.utils.data.IterableDataset):
    """Token blocks packed on the fly from a streamed dataset: example -> `encode` -> buffer -> (block_size,)
    blocks. Memory holds one buffer, not the corpus. The stream restarts (reshuffled with `seed + pass`) when it
    ends, so --max_train_steps bounds the run; the order is deterministic, so a resumed run can skip ahead."""

    def __init__(self, dataset, encode: Callable[[dict], list[list[int]]], block_size: int, *, skip: int = 0,
                 seed: int = 0, shuffle_buffer: int = 10_000):
        self.dataset = dataset.skip(skip) if skip else dataset
        self.dataset = self.dataset.shuffle(seed=seed, buffer_size=shuffle_buffer)
        self.encode, self.block_size = encode, block_size

    def __iter__(self):
        buffer: list[int] = []
        for epoch in itertools.count():
            self.dataset.set_epoch(epoch)
            produced = False
            for example in self.dataset:
                for ids in self.encode(example):
                    buffer.extend(ids)
                while len(buffer) >= self.block_size:
                    yield (torch.tensor(buffer[: self.block_size], dtype=torch.long),)
                    del buffer[: self.block_size]
                    produced = True
            if not produced:
                raise SystemExit("The stream gave less than one block of tokens; check --dataset_name.")


def pack(sequences: list[list[int]], block_size: int) -> torch.Tensor:
    """Concatenate token sequences and cut them into (N, block_size) blocks (the tail is dropped)."""
    flat = [t for seq in sequences for t in seq]
    count = len(flat) // block_size
    if count == 0:
        if not flat:
            raise SystemExit("No tokens to train on.")
        flat = (flat * (block_size // len(flat) + 1))[:block_size]
        count = 1
    return torch.tensor(flat[: count * block_size], dtype=torch.long).view(count, block_size)


def split_train_eval(items: list, percentage: float, seed: int) -> tuple[list, list]:
    import random

    items = list(items)
    random.Random(seed).shuffle(items)
    n_eval = max(1, int(len(items) * percentage / 100)) if len(items) > 1 and percentage > 0 else 0
    return items[n_eval:], items[:n_eval]


@torch.no_grad()
def evaluate_loss(model, loader, accelerator) -> float:
    """Mean next-token NLL (nats/token) over `loader`, across processes."""
    model.eval()
    total = torch.zeros(2, device=accelerator.device, dtype=torch.float64)
    for (batch,) in loader:
        with accelerator.autocast():
            logits = model(input_ids=batch, use_cache=False).logits.float()
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                                batch[:, 1:].reshape(-1), reduction="sum")
        total += torch.stack([nll.double(), torch.tensor(batch[:, 1:].numel(), device=total.device).double()])
    total = accelerator.reduce(total, "sum")
    model.train()
    return float(total[0] / total[1].clamp_min(1))


def train_causal_lm(args, accelerator, model, train_blocks: torch.Tensor, eval_blocks: torch.Tensor | None,
                    *, on_sample: Callable[[object, int], bool | None] | None = None) -> dict:
    """Train `model` on packed blocks; return (metrics (`steps`, `val_nats_per_token`, timings...), the trained model
    with full weights on the main process and None on the others: see `hub.gather_full_model`)."""
    from accelerate.utils import DistributedType, set_seed
    from torch.utils.data import DataLoader, TensorDataset

    set_seed(args.seed, device_specific=True)  # per-process dropout streams
    streaming = isinstance(train_blocks, torch.utils.data.IterableDataset)
    cuda = accelerator.device.type == "cuda"
    pin = {"pin_memory": cuda}  # page-locked batches copy to the GPU asynchronously
    if streaming:  # the main process reads the stream and hands each process its share of every batch
        train_loader = DataLoader(train_blocks, batch_size=args.train_batch_size, **pin)
    else:
        train_loader = DataLoader(TensorDataset(train_blocks), batch_size=args.train_batch_size, shuffle=True,
                                  drop_last=len(train_blocks) >= args.train_batch_size,
                                  generator=torch.Generator().manual_seed(args.seed), **pin)  # not the global RNG
    eval_loader = (DataLoader(TensorDataset(eval_blocks), batch_size=args.train_batch_size, **pin)
                   if eval_blocks is not None and len(eval_blocks) else None)
    # Fused AdamW (one kernel for every parameter) on CUDA; it checks at construction that the parameters are on the
    # GPU, so the model goes there first. Not under FSDP, which shards the parameters after this.
    fused = cuda and accelerator.distributed_type != DistributedType.FSDP
    if fused:
        model.to(accelerator.device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=args.learning_rate,
                                  betas=(0.9, 0.95), **({"fused": True} if fused else {}))
    train_loader = accelerator.prepare(train_loader)  # sharded first, so the step count is per process
    if streaming:  # one endless "epoch"
        steps_per_epoch = max_steps = args.max_train_steps
    else:
        steps_per_epoch = max(1, math.ceil(len(train_loader) / args.gradient_accumulation_steps))
        max_steps = args.max_train_steps or args.num_train_epochs * steps_per_epoch
    warmup = min(args.lr_warmup_steps, max_steps // 10)
    budget = getattr(args, "max_train_cpu_seconds", None)
    wall_budget = getattr(args, "max_train_seconds", None)
    clock = {"start": None, "wall_start": None}

    def lr_lambda(calls: int) -> float:
        """Linear warm-up, then cosine decay to 10% over the steps or, with a budget, over the first to end."""
        step = calls // accelerator.num_processes  # accelerate steps the scheduler once per process per step
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = (step - warmup) / max(1, max_steps - warmup)
        if budget and clock["start"] is not None:
            progress = max(progress, (time.process_time() - clock["start"]) / budget)
        if wall_budget and clock["wall_start"] is not None:
            progress = max(progress, (time.time() - clock["wall_start"]) / wall_budget)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)
    model.train()
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    if eval_loader is not None:
        eval_loader = accelerator.prepare(eval_loader)
    unwrapped = accelerator.unwrap_model(model)

    # Sharded parameters (FSDP) exist whole on no process: sampling on the main one alone would wait forever on the
    # others' shards, so samples come only at the end, from the gathered model.
    sample_during_training = accelerator.distributed_type != DistributedType.FSDP
    if on_sample is not None and not sample_during_training:
        logger.info("FSDP: samples are written at the end only (the parameters are sharded during training).")
    state, _ = resume(accelerator, args)
    logger.info("Training %.2fM parameters for %d steps: %s blocks of %d tokens, batch %d x %d processes.",
                unwrapped.num_parameters() / 1e6, max_steps, "streamed" if streaming else len(train_blocks),
                args.max_seq_length, args.train_batch_size, accelerator.num_processes)
    metrics: dict = {}
    history = []
    patience, best = max(0, getattr(args, "early_stopping_patience", 0) or 0), None  # early stopping (off: 0)
    run = Run(accelerator, args, max_steps, steps_per_epoch, state)
    clock["start"], clock["wall_start"] = run.cpu_started, run.started
    tokens_seen = 0
    loss = torch.zeros(())
    for (batch,) in run.batches(train_loader):
        with accelerator.accumulate(model):
            with accelerator.autocast():
                loss = model(input_ids=batch, labels=batch, use_cache=False).loss
            finite = all_finite(accelerator, loss)
            if finite:
                accelerator.backward(loss)
                if accelerator.sync_gradients and args.max_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), args.max_grad_norm)
                optimizer.step()
                scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        tokens_seen += batch.numel() * accelerator.num_processes
        if not accelerator.sync_gradients:
            continue
        if not finite:
            run.skipped += 1
            logger.warning("Step %d: non-finite loss, skipped (%d so far).", run.step, run.skipped)
        mean_loss = accelerator.reduce(loss.detach().float(), "mean").item()  # over processes
        run.advance(loss=f"{mean_loss:.3f}")
        history.append(round(mean_loss, 5))
        accelerator.log({"train_loss": mean_loss, "lr": scheduler.get_last_lr()[0]}, step=run.step)
        if eval_loader is not None and run.due(args.eval_steps):
            metrics["val_nats_per_token"] = evaluate_loss(model, eval_loader, accelerator)
            metrics["val_step"] = run.step
            accelerator.log({"val_nats_per_token": metrics["val_nats_per_token"]}, step=run.step)
            logger.info("step %d: validation %.4f nats/token", run.step, metrics["val_nats_per_token"])
            if patience and sample_during_training:
                if best is None or metrics["val_nats_per_token"] < best["val"]:
                    best = {"val": metrics["val_nats_per_token"], "step": run.step, "worse": 0,
                            "weights": {k: v.detach().to("cpu", copy=True) for k, v in unwrapped.state_dict().items()}}
                else:
                    best["worse"] += 1
                if best["worse"] >= patience:  # the same on every process: they all computed the same mean loss
                    unwrapped.load_state_dict(best["weights"])
                    metrics.update(val_nats_per_token=best["val"], val_step=best["step"], best_val_step=best["step"],
                                   stopped_early_at_step=run.step)
                    logger.info("Validation has not improved for %d checks: stopping at step %d with the weights of "
                                "step %d (%.4f nats/token).", patience, run.step, best["step"], best["val"])
                    run.max_steps = run.step
                    run.checkpoint()
                    break
        run.checkpoint()
        if on_sample is not None and sample_during_training and run.due(args.sample_steps):
            stop = accelerator.is_main_process and bool(on_sample(unwrapped, run.step))  # True: stop training here
            model.train()
            if accelerator.reduce(torch.tensor([float(stop)], device=accelerator.device), "max").item() > 0:
                metrics["stopped_early_at_step"] = run.step
                run.max_steps = run.step
                run.checkpoint()  # the step it stopped at is the run's last: resumable and exported
                break
        if run.done():
            break
    run.close()
    if eval_loader is not None and metrics.get("val_step") != run.step:  # the final weights, not an earlier step's
        metrics["val_nats_per_token"] = evaluate_loss(model, eval_loader, accelerator)
        metrics["val_step"] = run.step
    wall = run.wall_seconds()
    metrics.update(steps=run.step, skipped_steps=run.skipped, train_seconds=round(wall, 1),
                   train_cpu_seconds=round(run.cpu_seconds(), 1),
                   train_tokens_per_second=round(tokens_seen / max(wall, 1e-9), 1), hardware=hardware(accelerator),
                   loss_history=history)
    accelerator.wait_for_everyone()
    return metrics, gather_full_model(accelerator, model)
