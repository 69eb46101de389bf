"""The training loop shared by every task: device and DDP set-up, AMP on CUDA, warm-up + cosine
schedule, validation every N steps, atomic checkpoints that store model args and config, exact
resume, and a clean stop on Ctrl-C or on request (the app's cancel button).

A task (see ``colornet_task.py``, ``decoder_task.py``) supplies the model, the loss of one batch,
validation and the export of finished weights; this module owns everything else.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from core.device import resolve_device
from training.data import CropSampler, PhotoCache, split_indices


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
    device: str = "auto"
    resume: bool = False


@dataclass
class Progress:
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


def lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(warmup, 1)
        progress = min((step - warmup) / max(total - warmup, 1), 1.0)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def atomic_torch_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, DistributedDataParallel) else model


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

    # -- set-up -------------------------------------------------------------------------------
    def _setup(self) -> None:
        cfg = self.config
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.rank, self.world = _distributed()
        self.device = resolve_device(cfg.device)
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group(backend="nccl" if self.device.type == "cuda" else "gloo")
        if self.device.type == "cuda" and self.world > 1:
            local = int(os.environ.get("LOCAL_RANK", "0"))
            self.device = torch.device("cuda", local)
            torch.cuda.set_device(self.device)
        if self.cache is None:
            self.cache = PhotoCache.build(cfg.photos, self.out / "cache", size=cfg.cache_size, limit=cfg.limit)
        prepare = getattr(self.task, "prepare", None)
        if prepare is not None:
            prepare(self.cache)
        train_idx, val_idx = split_indices(len(self.cache), cfg.val_count, seed=cfg.seed + 1234)
        self.sampler = CropSampler(self.cache, train_idx, cfg.batch_size, cfg.crop, cfg.seed, self.rank, self.world)
        self.val_sampler = CropSampler(self.cache, val_idx, min(cfg.batch_size, max(len(val_idx), 1)), cfg.crop, cfg.seed, augment=False)

        torch.manual_seed(cfg.seed)
        model = self.task.build_model().to(self.device)
        self.base_model = model
        self.optimizer = torch.optim.AdamW(self.task.trainable(model), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(cfg.warmup, cfg.steps))
        self.step, self.epoch, self.position = 0, 0, 0
        self.history: list[dict] = []
        if cfg.resume and self.checkpoint_path.is_file():
            self._load_checkpoint()
        self.model = model
        if self.world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
        self.amp = self.device.type == "cuda"

    def _load_checkpoint(self) -> None:
        state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=True)
        if state.get("task") != self.task.name:
            raise ValueError(f"{self.checkpoint_path} is a '{state.get('task')}' checkpoint, not '{self.task.name}'.")
        self.base_model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch, self.position = state["step"], state["epoch"], state["position"]
        self.history = list(state.get("history", []))
        torch.set_rng_state(state["torch_rng"])

    def save_checkpoint(self) -> None:
        if self.rank != 0:
            return
        atomic_torch_save(
            {
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
            },
            self.checkpoint_path,
        )

    # -- the loop -----------------------------------------------------------------------------
    def run(self) -> TrainResult:
        self._setup()
        cfg = self.config
        started = time.monotonic()
        first_step = self.step
        recent: list[float] = []
        stopped = False
        validation: dict[str, float] = {}
        batches = self.sampler.iterate(self.epoch, self.position)
        try:
            while self.step < cfg.steps:
                if self.should_stop():
                    stopped = True
                    break
                epoch, position, batch = next(batches)
                self.model.train()
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
                    loss, parts = self.task.loss(self.model, batch, self.step)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.task.trainable(self.base_model), 5.0)
                self.optimizer.step()
                self.scheduler.step()
                self.step += 1
                self.epoch, self.position = epoch, position + 1
                recent = (recent + [float(loss.detach())])[-50:]

                message = ""
                val = None
                if self.step % cfg.val_every == 0 or self.step == cfg.steps:
                    val = self._validate()
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
                    self.progress(Progress(self.step, cfg.steps, losses, elapsed, eta, val, message))
        except KeyboardInterrupt:
            stopped = True
        self.save_checkpoint()
        weights = None
        if self.rank == 0:
            metadata = {"steps": self.step, "config": asdict(cfg), "validation": validation, "seconds_this_run": time.monotonic() - started}
            weights = self.task.export(self.base_model, self.out / "weights.pt", metadata)
        if self.world > 1 and dist.is_initialized():
            dist.barrier()
        return TrainResult(self.step, stopped, self.checkpoint_path, weights, validation, time.monotonic() - started)

    @torch.no_grad()
    def _validate(self) -> dict[str, float]:
        if self.rank != 0:
            return {}
        model = self.base_model
        model.eval()
        try:
            return self.task.validate(model, self.val_sampler)
        finally:
            model.train()
