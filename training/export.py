"""Turn a training run's checkpoint into a weights file the app can load (and register it).

    python -m training.export runs/colornet resources/weights/colornet.pt --name colornet
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import torch

from core.weights import WeightsRecord, save_weights

KINDS = {"colornet": "colornet", "decoder": "decoder", "finetune": "colornet"}


def export_checkpoint(run_dir: Path | str, out: Path | str, name: str | None = None, metadata: dict | None = None) -> WeightsRecord:
    checkpoint = Path(run_dir) / "last.pt"
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    kind = KINDS.get(state["task"], state["task"])
    info = {
        "steps": state["step"],
        "validation": state["history"][-1] if state.get("history") else {},
        "config": state["config"],
        **(metadata or {}),
    }
    return save_weights(out, kind, state["model_args"], state["model"], info, register_as=name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="training output folder holding last.pt")
    parser.add_argument("out", type=Path, help="weights file to write")
    parser.add_argument("--name", help="register the file under this name in its folder's manifest")
    args = parser.parse_args(argv)
    record = export_checkpoint(args.run_dir, args.out, args.name)
    print(f"wrote {record.file} ({record.kind}, sha256 {record.sha256[:12]}…)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
