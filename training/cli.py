"""``heirloom-train``: train the colorization sub-net or a transfer decoder, or fine-tune on your photos.

    heirloom-train colornet --photos ~/Pictures --out runs/colornet --steps 20000
    heirloom-train colornet --out runs/colornet --resume          # continue exactly where it stopped
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from typing import Sequence

from training.colornet_task import ColorNetConfig, ColorNetTask
from training.engine import Progress, Trainer


def _add_dataclass_arguments(parser: argparse.ArgumentParser, config_type: type) -> None:
    hints = typing.get_type_hints(config_type)
    for f in dataclasses.fields(config_type):
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        if kind is bool:
            parser.add_argument(flag, action="store_true", default=f.default)
            continue
        if typing.get_origin(kind) is typing.Union or "None" in str(kind):
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        parser.add_argument(flag, type=kind, default=f.default, metavar=f.name.upper())


def _config_from(args: argparse.Namespace, config_type: type):
    return config_type(**{f.name: getattr(args, f.name) for f in dataclasses.fields(config_type)})


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def print_progress(p: Progress) -> None:
    width = 24
    filled = int(width * p.step / max(p.total, 1))
    bar = "#" * filled + "-" * (width - filled)
    losses = " ".join(f"{k}={v:.4f}" for k, v in p.losses.items())
    line = f"\r[{bar}] {p.step}/{p.total} {losses} elapsed {format_duration(p.seconds)} eta {format_duration(p.eta)}"
    sys.stdout.write(line)
    if p.validation:
        sys.stdout.write("\n  validation: " + " ".join(f"{k}={v:.3f}" for k, v in p.validation.items()) + "\n")
    sys.stdout.flush()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="heirloom-train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    colornet = sub.add_parser("colornet", help="train the colorization sub-net (L + hints -> ab)")
    _add_dataclass_arguments(colornet, ColorNetConfig)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "colornet":
        config = _config_from(args, ColorNetConfig)
        task = ColorNetTask(config)
    else:  # pragma: no cover - argparse rejects unknown commands
        return 2
    if not config.photos and not config.resume:
        print("error: --photos is required (a folder of colour photos)", file=sys.stderr)
        return 2
    if config.resume and not config.photos:
        import torch
        from pathlib import Path

        saved = torch.load(Path(config.out) / "last.pt", map_location="cpu", weights_only=True)["config"]
        config = type(config)(**{**saved, "resume": True, "steps": max(config.steps, saved["steps"]) if config.steps != 20_000 else saved["steps"]})
        task = type(task)(config)
    result = Trainer(task, config, progress=print_progress).run()
    print()
    state = "stopped early" if result.stopped_early else "finished"
    print(f"{state} at step {result.steps_done}; checkpoint {result.checkpoint}; weights {result.weights}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
