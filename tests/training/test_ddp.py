"""Two processes on the CPU (gloo) through torchrun: the standard DistributedDataParallel path."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed with gloo")

WORKER = Path(__file__).with_name("ddp_worker.py")
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_stay_in_step_and_only_rank_zero_writes(photo_library, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "MASTER_ADDR": "127.0.0.1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(_free_port()),
        str(WORKER), str(photo_library), str(out), "5", "3",
    ]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]
    # Rank 0 alone was asked to stop after 3 steps; both stopped there.
    assert [r["world"] for r in ranks] == [2, 2]
    assert [(r["steps"], r["stopped"]) for r in ranks] == [(3, True), (3, True)]
    # Gradients are averaged across processes, so the weights are the same everywhere.
    a, b = (torch.load(out / f"params-rank{r}.pt", weights_only=True) for r in range(2))
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # Only rank 0 wrote checkpoints (steps 2 and 3) and the exported weights.
    assert ranks[1]["writes"] == []
    assert [Path(p).name for p in ranks[0]["writes"]] == ["last.pt", "last.pt"]
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["step"] == 3 and (out / "weights.pt").is_file()
    for name in a:
        assert torch.equal(state["model"][name], a[name])
