"""Fine-tuning the shipped colorization sub-net on a family's own photos: a short run at a low
learning rate that ends in a personal model, registered in the user's weights folder so that the
app's model menu lists it.

    record = run_finetune("~/Pictures/family", "Family 1950s", steps=500, progress=report, should_stop=cancelled)
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import torch

from core.models import ColorNet
from core.networks import weights_source
from core.weights import (
    DEFAULT_COLORNET,
    DEFAULT_DECODER,
    WeightsRecord,
    build_model,
    bundled_weights_dir,
    list_weights,
    load_weights,
    save_weights,
    user_data_dir,
    user_weights_dir,
)
from training.colornet_task import ColorNetConfig, ColorNetTask
from training.engine import Progress, Trainer, TrainingCancelled


@dataclass
class FinetuneConfig:
    photos: str = ""  # folder tree of the family's colour photos
    name: str = ""  # name of the personal model in the app's menu; default: from the folder's name
    steps: int = 500  # a few minutes on a laptop CPU for a library of 100-1000 photos
    base: str = DEFAULT_COLORNET  # registered colornet weights (or a weights file) to start from
    lr: float = 2e-4  # a fifth of the from-scratch rate: adapt, do not forget
    warmup: int = 25
    batch_size: int = 16
    crop: int = 128
    cache_size: int = 160
    seed: int = 0
    threads: int = 0  # torch CPU threads, 0 = torch's default
    device: str = "auto"
    precision: str = "auto"  # auto: mixed precision where the device computes it natively (training.engine)
    out: str = ""  # keep the working folder (checkpoint, cache) here; default: a temporary folder


RESERVED_NAMES = (DEFAULT_COLORNET, DEFAULT_DECODER, "decoder-vgg19")


def default_name(photos_dir: str | Path) -> str:
    return f"personal-{Path(photos_dir).expanduser().resolve().name or 'photos'}"


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "personal"


def check_name(name: str) -> str:
    """A personal model's name must not hide one of the bundled models."""
    name = name.strip()
    if not name:
        raise ValueError("Give the personal model a name.")
    taken = {record.name for record in list_weights([bundled_weights_dir()])} | set(RESERVED_NAMES)
    if name in taken:
        raise ValueError(f"'{name}' is the name of a bundled model; choose another name.")
    return name


def run_finetune(
    photos_dir: str,
    name: str,
    steps: int = 500,
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: str = "auto",
    out_dir: str | Path | None = None,
    *,
    config: FinetuneConfig | None = None,
) -> WeightsRecord:
    """Adapt the shipped colornet to the photos under ``photos_dir`` and register the result as ``name``.

    ``should_stop`` returning True ends training after the current step; the model trained so far
    is still saved and registered. Stopping before the first step raises TrainingCancelled.
    ``config`` sets the remaining options (its photos, name, steps, device and out are overridden by
    the arguments).
    """
    options = config or FinetuneConfig()
    name = check_name(name)
    base = weights_source(options.base)
    base_data = load_weights(base, kind="colornet")  # checks the file (and its checksum) up front
    build_model(ColorNet, base_data, base)  # and that it describes a network this version builds
    base_file = base.file if isinstance(base, WeightsRecord) else base

    work = Path(out_dir) if out_dir else None
    temporary = work is None
    if temporary:
        user_data_dir().mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="finetune-", dir=user_data_dir()))
    try:
        train_config = ColorNetConfig(
            photos=str(Path(photos_dir).expanduser()),
            out=str(work),
            steps=steps,
            batch_size=options.batch_size,
            crop=options.crop,
            cache_size=options.cache_size,
            lr=options.lr,
            warmup=min(options.warmup, max(steps // 5, 1)),
            val_every=max(steps, 1),  # validate once, at the end
            val_count=32,
            checkpoint_every=max(steps // 4, 50),
            seed=options.seed,
            threads=options.threads,
            device=device,
            precision=options.precision,
            width=float(base_data["model_args"].get("width", 1.0)),
            init_from=str(base_file),
        )
        task = ColorNetTask(train_config)
        trainer = Trainer(task, train_config, progress=progress, should_stop=should_stop)
        result = trainer.run()
        if result.steps_done == 0 or result.weights is None:
            raise TrainingCancelled("Stopped before any training step; no personal model was saved.")
        trained = load_weights(result.weights, kind="colornet")
        report = trainer.cache.report
        metadata = {
            "description": f"{name} (fine-tuned on {len(report.kept)} photos)",
            "base": options.base,
            "base_sha256": base.sha256 if isinstance(base, WeightsRecord) else None,
            "photos_dir": str(Path(photos_dir).expanduser().resolve()),
            "photos": len(report.kept),
            "photos_skipped": dict(report.skipped),
            "steps": result.steps_done,
            "steps_planned": steps,
            "stopped_early": result.stopped_early,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(result.seconds, 1),
            "validation": result.validation,
            "validation_base": _validate_base(task, base_data, trainer),
        }
        path = user_weights_dir() / f"colornet-{_slug(name)}.pt"
        return save_weights(path, "colornet", trained["model_args"], trained["state_dict"], metadata, register_as=name)
    finally:
        if temporary:
            shutil.rmtree(work, ignore_errors=True)


def _validate_base(task: ColorNetTask, base_data: dict, trainer: Trainer) -> dict[str, float]:
    """The starting model's scores on the same held-out photos, to show what fine-tuning changed."""
    if trainer.val_sampler is None:
        return {}
    model = build_model(ColorNet, base_data, "the base model").to(trainer.device).eval()
    with torch.no_grad():
        return task.validate(model, trainer.val_sampler)
