"""The function API under ``heirloom-train``, for callers that are not a terminal (the desktop app's
worker thread): progress arrives through a callback, and ``should_stop`` returning True ends the run
cleanly after the current step, with a checkpoint and the weights saved.

    result = run_training("decoder", DecoderConfig(photos="~/Pictures", steps=2000), progress=print)

``run_finetune`` (training/finetune.py) builds on it to adapt the shipped colornet to a family's photos.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

from training.colornet_task import ColorNetConfig, ColorNetTask
from training.decoder_task import DecoderConfig, DecoderTask
from training.engine import Progress, TrainConfig, Trainer, TrainingCancelled, TrainResult

__all__ = ["CONFIGS", "TASKS", "Progress", "TrainResult", "TrainingCancelled", "make_config", "make_task", "run_training"]

TASKS: dict[str, type] = {"colornet": ColorNetTask, "decoder": DecoderTask}
CONFIGS: dict[str, type] = {"colornet": ColorNetConfig, "decoder": DecoderConfig}


def make_config(task_name: str, values: TrainConfig | Mapping[str, Any]) -> TrainConfig:
    """The task's typed config from a config object or a mapping (unknown keys are an error)."""
    if task_name not in CONFIGS:
        raise ValueError(f"unknown training task '{task_name}'; choose one of {', '.join(CONFIGS)}")
    config_type = CONFIGS[task_name]
    if isinstance(values, config_type):
        return values
    if dataclasses.is_dataclass(values):
        values = dataclasses.asdict(values)
    known = {f.name for f in dataclasses.fields(config_type)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {task_name} option(s): {', '.join(unknown)}")
    return config_type(**values)


def make_task(task_name: str, config: TrainConfig):
    return TASKS[task_name](make_config(task_name, config))


def run_training(
    task_name: str,
    config: TrainConfig | Mapping[str, Any],
    progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train ``task_name`` ("colornet" or "decoder") with ``config``; returns where the checkpoint and
    the exported weights are. Raises TrainingCancelled if stopped while the photos were being read."""
    config = make_config(task_name, config)
    task = TASKS[task_name](config)
    return Trainer(task, config, progress=progress, should_stop=should_stop).run()
