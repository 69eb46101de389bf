"""The training loop shared by every task: device and DDP set-up, AMP on CUDA, warm-up + cosine
schedule, validation every N steps, atomic checkpoints that store model args and config, exact
resume, and a clean stop on Ctrl-C or on request (the app's cancel button).

A task (see ``colornet_task.py``, ``decoder_task.py``) supplies the model, the loss of one batch,
validation and the export of finished weights; this module owns everything else.

Exact resume rests on three rules: every batch is a pure function of (seed, epoch, position)
(``CropSampler``), every random draw a task makes for a step comes from ``step_rng(seed, step, ...)``,
and the checkpoint holds the optimizer, scheduler and torch RNG state. A run of N steps and a run
of N/2 steps resumed for N/2 more then end with the same weights, bit for bit, on the CPU.

Multi-GPU and multi-node training go through ``torchrun`` (it sets RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR and MASTER_PORT) and ``DistributedDataParallel``: NCCL on CUDA, gloo on the CPU.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from core.device import check_precision, native_bfloat16, resolve_device
from core.files import atomic_output
from training.data import CropSampler, PhotoCache, Prefetched, oversample, parse_repeats, split_indices


@dataclass
class TrainConfig:
    photos: str = ""  # folder tree of colour photos
    out: str = "runs/train"  # checkpoints, logs and exported weights go here
    steps: int = 20_000  # optimiser steps in total (the schedule's length)
    batch_size: int = 32  # per process
    crop: int = 128  # training crop side
    cache_size: int = 160  # photos are cached as size x size squares
    lr: float = 1e-3
    weight_decay: float = 1e-5
    warmup: int = 300  # linear warm-up steps before the cosine decay
    val_every: int = 500
    val_count: int = 256  # held-out photos for validation
    checkpoint_every: int = 200
    seed: int = 0
    threads: int = 0  # torch CPU threads, 0 = torch's default
    limit: int | None = None  # use only the first N photos (smoke runs)
    repeat: str = ""  # oversample folders of the library, e.g. "bsds_train=8,imagenet_sample=2"
    device: str = "auto"
    # auto: mixed precision on a CUDA GPU, and bfloat16 autocast on a CPU that computes it natively
    # (Intel AMX or AVX-512 BF16; core.device.native_bfloat16); float32: never.
    precision: str = "auto"
    resume: bool = False


@dataclass
class Progress:
    """A report to the progress callback: after every step, or, with empty ``losses``, a status
    ``message`` (the photo scan and its report, a resume)."""

    step: int
    total: int
    losses: dict[str, float]
    seconds: float
    eta: float
    validation: dict[str, float] | None = None
    message: str = ""


@dataclass
class TrainResult:
    steps_done: int
    stopped_early: bool
    checkpoint: Path
    weights: Path | None
    validation: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


class TrainingCancelled(Exception):
    """Stopped before the first training step (e.g. while the photos were being read)."""


class Task(Protocol):
    name: str

    def build_model(self) -> nn.Module: ...
    def trainable(self, model: nn.Module) -> list[nn.Parameter]: ...
    def loss(self, model: nn.Module, batch, step: int) -> tuple[torch.Tensor, dict[str, float]]: ...
    def validate(self, model: nn.Module, sampler: CropSampler) -> dict[str, float]: ...
    def export(self, model: nn.Module, path: Path, metadata: dict) -> Path: ...
    def model_args(self) -> dict: ...


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return rank, world


def step_rng(seed: int, step: int, stream: int) -> np.random.Generator:
    """The random generator of one draw (``stream``) of one training step.

    A pure function of (seed, step, stream) and, under DDP, the process rank (rank 0 gets the
    generator a single-process run gets), so a resumed run repeats the draws it would have made.
    """
    rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
    key = [seed, step, stream] + ([rank] if rank else [])
    return np.random.default_rng(key)


def lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(warmup, 1)
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` that never leaves a half-written checkpoint (core.files.atomic_output)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as stream:
        torch.save(obj, stream)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


class _StopSignals:
    """While active (main thread only), the first Ctrl-C or SIGTERM asks the loop to stop after the
    current step, which then saves; a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "_StopSignals":
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


class Trainer:
    def __init__(
        self,
        task: Task,
        config: TrainConfig,
        progress: Callable[[Progress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        cache: PhotoCache | None = None,
    ) -> None:
        self.task = task
        self.config = config
        self.progress = progress
        self.should_stop = should_stop or (lambda: False)
        self.out = Path(config.out)
        self.checkpoint_path = self.out / "last.pt"
        self.cache = cache
        self.rank, self.world = _distributed()
        self._owns_process_group = False
        self._signals = _StopSignals()

    # -- set-up -------------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg = self.config
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = resolve_device(cfg.device)
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if self.device.type == "cuda" else "gloo")
            self._owns_process_group = True
        if self.device.type == "cuda" and self.world > 1:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            self.device = torch.device("cuda", local)
            torch.cuda.set_device(self.device)
        if self.cache is None:
            self.cache = self._build_cache()
        self._report(self.cache.report.summary())
        for line in self.cache.report.skipped_lines():
            self._report(line)
        prepare = getattr(self.task, "prepare", None)
        if prepare is not None:
            prepare(self.cache)
        train_idx, val_idx = split_indices(len(self.cache), cfg.val_count, seed=cfg.seed + 1234)
        train_idx = oversample(train_idx, self.cache.files, parse_repeats(cfg.repeat))
        self.sampler = CropSampler(self.cache, train_idx, cfg.batch_size, cfg.crop, cfg.seed, self.rank, self.world)
        self.val_sampler = None
        if len(val_idx):
            self.val_sampler = CropSampler(self.cache, val_idx, min(cfg.batch_size, len(val_idx)), cfg.crop, cfg.seed, augment=False)

        torch.manual_seed(cfg.seed)
        model = self.task.build_model().to(self.device)
        self.base_model = model
        self.optimizer = torch.optim.AdamW(self.task.trainable(model), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(cfg.warmup, cfg.steps))
        # Mixed precision on CUDA (bfloat16 where the GPU has it, else float16 with loss scaling) and
        # on CPUs with native bfloat16 (bfloat16 autocast); float32 elsewhere or when asked.
        check_precision(cfg.precision)
        self.amp = cfg.precision == "auto" and (self.device.type == "cuda" or native_bfloat16(self.device))
        cuda_half = self.device.type == "cuda" and not torch.cuda.is_bf16_supported()
        self.amp_dtype = torch.float16 if cuda_half else torch.bfloat16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp and self.amp_dtype == torch.float16)
        self.step, self.epoch, self.position = 0, 0, 0
        self.history: list[dict] = []
        if cfg.resume and self.checkpoint_path.is_file():
            self._load_checkpoint()
            self._report(f"resumed from {self.checkpoint_path} at step {self.step}")
        self.model = model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            # A task says whether some of its parameters may take no part in a step's loss (the
            # colornet's class head without the class loss); DDP must then look for them each step.
            unused = bool(getattr(self.task, "unused_parameters", True))
            self.model = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=unused)

    def _build_cache(self) -> PhotoCache:
        """Decode the library once per machine: local rank 0 builds, the others then read it."""
        cfg = self.config
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))

        def scanned(done: int, total: int) -> None:
            if self.should_stop() or self._signals.requested:
                raise TrainingCancelled("Stopped while reading the photos; nothing was trained.")
            if done == total or done % 50 == 0:
                self._report(f"reading photos {done}/{total}")

        def build() -> PhotoCache:
            return PhotoCache.build(cfg.photos, self.out / "cache", size=cfg.cache_size, limit=cfg.limit, progress=scanned)

        if self.world == 1:
            return build()
        cache = build() if local_rank == 0 else None
        dist.barrier()
        return cache if cache is not None else build()

    def _report(self, message: str) -> None:
        if self.progress is not None and self.rank == 0:
            step = getattr(self, "step", 0)
            self.progress(Progress(step, self.config.steps, {}, 0.0, 0.0, None, message))

    def _load_checkpoint(self) -> None:
        state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        if state.get("task") != self.task.name:
            raise ValueError(f"{self.checkpoint_path} is a '{state.get('task')}' checkpoint, not '{self.task.name}'.")
        self.base_model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if "scaler" in state and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        self.step, self.epoch, self.position = state["step"], state["epoch"], state["position"]
        self.history = list(state.get("history", []))
        torch.set_rng_state(state["torch_rng"])

    def save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        state = {
            "task": self.task.name,
            "model_args": self.task.model_args(),
            "config": asdict(self.config),
            "model": self.base_model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "position": self.position,
            "history": self.history,
            "torch_rng": torch.get_rng_state(),
        }
        if self.scaler.is_enabled():
            state["scaler"] = self.scaler.state_dict()
        atomic_torch_save(state, self.checkpoint_path)
        self._saved_step = self.step

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> TrainResult:
        try:
            with _StopSignals() as self._signals:
                return self._run(self._signals)
        finally:
            if self._owns_process_group and dist.is_initialized():
                dist.destroy_process_group()

    def _stop_agreed(self, wanted: bool) -> bool:
        """Under DDP every process must leave the loop at the same step, or the others hang."""
        if self.world == 1:
            return wanted
        flag = torch.tensor([1.0 if wanted else 0.0], device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item() > 0)

    def _run(self, signals: _StopSignals) -> TrainResult:
        self._setup()
        cfg = self.config
        started = time.monotonic()
        first_step = self.step
        self._saved_step = -1
        recent: list[float] = []
        stopped = False
        asked_to_stop = False  # by a KeyboardInterrupt raised from the progress callback
        consistent = True  # False while the weights, optimizer and counters are being updated
        validation: dict[str, float] = {}
        batches = self.sampler.iterate(self.epoch, self.position)
        if self.device.type == "cuda":  # the CPU prepares the next batches while the GPU trains
            batches = Prefetched(batches, depth=3)
        try:
            while self.step < cfg.steps:
                if self._stop_agreed(asked_to_stop or signals.requested or self.should_stop()):
                    stopped = True
                    break
                epoch, position, batch = next(batches)
                self.model.train()
                with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp):
                    loss, parts = self.task.loss(self.model, batch, self.step)
                self.optimizer.zero_grad(set_to_none=True)
                self.scaler.scale(loss).backward()
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(self.task.trainable(self.base_model), 5.0)
                consistent = False
                self.scaler.step(self.optimizer)
                self.scaler.update()
                self.scheduler.step()
                self.step += 1
                self.epoch, self.position = epoch, position + 1
                consistent = True
                recent = (recent + [float(loss.detach())])[-50:]

                message = ""
                val = None
                if self.step % cfg.val_every == 0 or self.step == cfg.steps:
                    val = self._validate()
                    if val:
                        validation = val
                        self.history.append({"step": self.step, **val})
                if self.step % cfg.checkpoint_every == 0 or val is not None:
                    self.save_checkpoint()
                    message = "checkpoint saved"
                if self.progress is not None and self.rank == 0:
                    elapsed = time.monotonic() - started
                    rate = (self.step - first_step) / max(elapsed, 1e-6)
                    eta = (cfg.steps - self.step) / max(rate, 1e-9)
                    losses = {"loss": float(np.mean(recent)), **parts}
                    try:
                        self.progress(Progress(self.step, cfg.steps, losses, elapsed, eta, val, message))
                    except KeyboardInterrupt:
                        asked_to_stop = True
        except KeyboardInterrupt:
            stopped = True
        finally:
            if isinstance(batches, Prefetched):
                batches.close()
        if not consistent:
            # Interrupted half-way through an update: keep the last checkpoint, export nothing.
            return TrainResult(self.step, True, self.checkpoint_path, None, validation, time.monotonic() - started)
        if self._saved_step != self.step:
            self.save_checkpoint()
        weights = None
        if self.rank == 0:
            metadata = {"steps": self.step, "config": asdict(cfg), "validation": validation, "seconds_this_run": time.monotonic() - started}
            weights = self.task.export(self.base_model, self.out / "weights.pt", metadata)
        if self.world > 1:
            dist.barrier()
        return TrainResult(self.step, stopped, self.checkpoint_path, weights, validation, time.monotonic() - started)

    @torch.no_grad()
    def _validate(self) -> dict[str, float]:
        if self.rank != 0 or self.val_sampler is None:
            return {}
        model = self.base_model
        model.eval()
        try:
            return self.task.validate(model, self.val_sampler)
        finally:
            model.train()
