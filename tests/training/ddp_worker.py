"""Run by tests/training/test_ddp.py under torchrun: a few colornet steps with DistributedDataParallel.

Each process writes its final parameters and the number of checkpoint files it wrote to ``out``.
Rank 0 alone is asked to stop early, so the run also shows that the processes agree on when to stop.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from training import engine
from training.colornet_task import ColorNetConfig, ColorNetTask


def main(photos: str, out: str, steps: int, stop_at: int) -> None:
    rank = int(os.environ["RANK"])
    writes = []
    original_save = engine.atomic_torch_save

    def counting_save(obj, path):
        writes.append(str(path))
        original_save(obj, path)

    engine.atomic_torch_save = counting_save
    config = ColorNetConfig(
        photos=photos, out=out, steps=steps, batch_size=2, crop=32, cache_size=48, warmup=2, val_every=2,
        val_count=4, checkpoint_every=2, threads=1, device="cpu", width=0.125,
    )
    done: list[int] = []
    should_stop = (lambda: len(done) >= stop_at) if rank == 0 else None

    def progress(p) -> None:
        if p.losses:
            done.append(p.step)

    trainer = engine.Trainer(ColorNetTask(config), config, progress=progress, should_stop=should_stop)
    result = trainer.run()
    params = {name: p.detach().clone() for name, p in trainer.base_model.named_parameters()}
    torch.save(params, Path(out) / f"params-rank{rank}.pt")
    summary = {"steps": result.steps_done, "stopped": result.stopped_early, "writes": writes, "world": trainer.world}
    (Path(out) / f"rank{rank}.json").write_text(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
