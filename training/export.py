"""Copy a training run's weights into a weights folder the app reads, registered under a name.

    python -m training.export runs/colornet resources/weights/colornet.pt --name colornet

A finished (or stopped) run leaves ``weights.pt``; for a run still in progress the weights can also
be taken from its checkpoint ``last.pt`` (``--checkpoint``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import torch

from core.weights import WeightsRecord, load_weights, save_weights


def export_run(run_dir: Path | str, out: Path | str, name: str | None = None, metadata: dict | None = None, from_checkpoint: bool = False) -> WeightsRecord:
    run_dir = Path(run_dir)
    weights = run_dir / "weights.pt"
    if weights.is_file() and not from_checkpoint:
        data = load_weights(weights)
        kind, model_args, state_dict, info = data["kind"], data["model_args"], data["state_dict"], dict(data["metadata"])
    else:
        state = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
        model_args = state["model_args"]
        if state["task"] in ("colornet", "finetune"):
            kind, state_dict = "colornet", state["model"]
        elif state["task"] == "decoder":  # the checkpoint holds the frozen encoder too
            kind, prefix = "decoder", "transfer.decoder."
            state_dict = {k[len(prefix):]: v for k, v in state["model"].items() if k.startswith(prefix)}
        else:
            raise ValueError(f"{run_dir}: cannot export a '{state['task']}' checkpoint")
        info = {"steps": state["step"], "config": state["config"], "validation": state["history"][-1] if state.get("history") else {}}
    info.update(metadata or {})
    return save_weights(out, kind, model_args, state_dict, info, register_as=name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="training output folder (weights.pt or last.pt)")
    parser.add_argument("out", type=Path, help="weights file to write")
    parser.add_argument("--name", help="register the file under this name in its folder's manifest")
    parser.add_argument("--checkpoint", action="store_true", help="take the weights from last.pt even if weights.pt exists")
    parser.add_argument("--metadata", type=Path, help="JSON file of extra metadata (e.g. evaluation scores)")
    args = parser.parse_args(argv)
    extra = json.loads(args.metadata.read_text()) if args.metadata else None
    record = export_run(args.run_dir, args.out, args.name, extra, args.checkpoint)
    print(f"wrote {record.file} ({record.kind}, sha256 {record.sha256[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
