"""``heirloom-train``: train the colorization sub-net or a transfer decoder, or fine-tune on your photos.

    heirloom-train colornet --photos ~/Pictures --out runs/colornet --steps 20000
    heirloom-train colornet --out runs/colornet --resume          # continue exactly where it stopped
    heirloom-train decoder --photos ~/Pictures --encoder efficientnet_lite0 --out runs/decoder
    heirloom-train decoder --photos ~/Pictures --encoder vgg19 --vgg-weights vgg19-dcbb9e9d.pth
    heirloom-train finetune --photos ~/Pictures/family --name "Family 1950s" --steps 500

Several GPUs or machines: ``torchrun --nproc-per-node 4 -m training.cli colornet ...``.
Ctrl-C stops after the current step, saves a checkpoint, says where, and exits with status 130;
a second Ctrl-C stops at once (the last checkpoint stays). Exit status: 0 when training finished,
1 on an error, 2 for a usage error, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
import typing
from pathlib import Path
from typing import Any, Sequence

from core.device import PRECISIONS
from core.weights import WeightsError
from training.api import CONFIGS, TASKS
from training.colornet_task import ColorNetConfig
from training.decoder_task import DecoderConfig
from training.engine import Progress, Trainer, TrainingCancelled
from training.finetune import FinetuneConfig, default_name, run_finetune

# Changing these when resuming changes the data or the schedule: the run goes on, but not exactly.
EXACTNESS_OPTIONS = (
    "photos", "batch_size", "crop", "cache_size", "seed", "limit", "steps", "warmup", "lr", "val_count", "precision",
)
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# The least value each number option takes (every other number option: 0); a number must be finite.
MINIMUM = {
    "steps": 1, "batch_size": 1, "crop": 16, "cache_size": 16, "val_every": 1, "checkpoint_every": 1,
    "limit": 1, "min_channels": 1,
}
POSITIVE = ("lr", "width")  # must be above 0
SHARES = ("no_hint_share", "transfer_hints", "warp_hints", "transfer_hint_density", "max_saturation", "rebalance_mix", "user_share", "recolour_share")  # 0 to 1


def config_problem(config: Any) -> str | None:
    """What is wrong with the numbers of a training config (one sentence naming the option), or None."""
    for f in dataclasses.fields(config):
        value, flag = getattr(config, f.name), "--" + f.name.replace("_", "-")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if not math.isfinite(value):
            return f"{flag} must be a finite number, got {value}"
        low = MINIMUM.get(f.name, 0)
        if value < low or (f.name in POSITIVE and value <= 0):
            bound = "above 0" if f.name in POSITIVE else f"at least {low}"
            return f"{flag} must be {bound}, got {value:g}"
        if f.name in SHARES and value > 1:
            return f"{flag} is a share from 0 to 1, got {value:g}"
    precision = getattr(config, "precision", "auto")
    if precision not in PRECISIONS:
        return f"--precision must be one of {', '.join(PRECISIONS)}, got {precision!r}"
    if getattr(config, "cache_size", 0) < getattr(config, "crop", 0):
        return f"--cache-size ({config.cache_size}) must be at least --crop ({config.crop})"
    return None


def _add_dataclass_arguments(parser: argparse.ArgumentParser, config_type: type) -> None:
    """One option per field; options left out are absent from the parsed namespace (so a resumed run
    can tell what was given on the command line), and the config takes the field's default."""
    hints = typing.get_type_hints(config_type)
    for f in dataclasses.fields(config_type):
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        if kind is bool:
            state = "on" if f.default else "off"
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=f"({state} by default)")
            continue
        if typing.get_origin(kind) is typing.Union or "None" in str(kind):
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
        parser.add_argument(flag, type=kind, default=argparse.SUPPRESS, metavar=f.name.upper(), help=f"default: {f.default!r}")


def _given(args: argparse.Namespace, config_type: type) -> dict[str, Any]:
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(config_type) if hasattr(args, f.name)}


def _config_from(args: argparse.Namespace, config_type: type):
    return config_type(**_given(args, config_type))


def resume_config(config_type: type, given: dict[str, Any]):
    """The saved run's config, with the options given on the command line on top (``out`` and
    ``device`` included: a run folder may move, and a run may go on on another machine)."""
    import torch

    out = Path(given.get("out", config_type().out))
    checkpoint = out / "last.pt"
    if not checkpoint.is_file():
        raise FileNotFoundError(f"There is no checkpoint to resume at {checkpoint}; check --out.")
    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)["config"]
    known = {f.name for f in dataclasses.fields(config_type)}
    merged = {k: v for k, v in saved.items() if k in known}
    changed = sorted(k for k in EXACTNESS_OPTIONS if k in given and k in merged and given[k] != merged[k])
    if changed:
        names = ", ".join(changed)
        print(f"note: resuming with changed {names}: the run continues, but not exactly as it would have.", file=sys.stderr)
    merged.update(given)
    merged["resume"] = True
    return config_type(**merged)


def format_duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def print_progress(p: Progress) -> None:
    if not p.losses and p.message:  # a status line (photo scan, resume), not a training step
        end = "" if p.message.startswith("reading photos") else "\n"
        sys.stdout.write(f"\r{p.message:<60}{end}")
        sys.stdout.flush()
        return
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
    decoder = sub.add_parser("decoder", help="train the transfer sub-net's decoder for one encoder")
    _add_dataclass_arguments(decoder, DecoderConfig)
    finetune = sub.add_parser("finetune", help="adapt the shipped colornet to your photos (a personal model)")
    _add_dataclass_arguments(finetune, FinetuneConfig)
    return parser


def _is_rank_zero() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "finetune":
            return _finetune(_config_from(args, FinetuneConfig))
        config_type, task_type = CONFIGS[args.command], TASKS[args.command]
        given = _given(args, config_type)
        out = Path(given.get("out", config_type().out))
        if given.get("resume") and ((out / "last.pt").is_file() or not given.get("photos")):
            config = resume_config(config_type, given)
        else:
            if not given.get("photos"):
                print("error: --photos is required (a folder of colour photos)", file=sys.stderr)
                return EXIT_USAGE
            config = config_type(**given)
        problem = config_problem(config)
        if problem:
            print(f"heirloom-train {args.command}: error: {problem}", file=sys.stderr)
            return EXIT_USAGE
        result = Trainer(task_type(config), config, progress=print_progress).run()
    except TrainingCancelled as exc:  # Ctrl-C while the photos were being read
        print(f"\ninterrupted: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # before the training loop took over Ctrl-C
        print("\ninterrupted before training began; nothing was saved", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (FileNotFoundError, ValueError, WeightsError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not _is_rank_zero():
        return EXIT_INTERRUPTED if result.stopped_early else EXIT_OK
    print()
    if result.stopped_early:
        saved = f"weights so far at {result.weights}" if result.weights else "no weights exported"
        print(
            f"interrupted at step {result.steps_done}: checkpoint at {result.checkpoint}, {saved}; "
            "continue with --resume",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print(f"finished at step {result.steps_done}; checkpoint {result.checkpoint}; weights {result.weights}")
    return EXIT_OK


def _finetune(options: FinetuneConfig) -> int:
    if not options.photos:
        print("error: --photos is required (a folder of your colour photos)", file=sys.stderr)
        return EXIT_USAGE
    problem = config_problem(options)
    if problem:
        print(f"heirloom-train finetune: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    name = options.name or default_name(options.photos)
    record = run_finetune(
        options.photos,
        name,
        options.steps,
        progress=print_progress,
        device=options.device,
        out_dir=options.out or None,
        config=options,
    )
    print()
    if record.metadata.get("stopped_early"):
        print(f"interrupted: saved the model trained so far as '{record.name}' at {record.file}", file=sys.stderr)
        return EXIT_INTERRUPTED
    print(f"finished: personal model '{record.name}' at {record.file}")
    before, after = record.metadata.get("validation_base", {}), record.metadata.get("validation", {})
    for key in sorted(set(before) & set(after)):
        print(f"  {key} on held-out photos: {before[key]:.2f} dB before, {after[key]:.2f} dB after")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
