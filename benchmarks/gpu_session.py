"""One prepared GPU session: train the shipped colornet configuration on CUDA with mixed precision
within a time budget, then time the GPU path of the app.

    python benchmarks/gpu_session.py --photos slice/            # 8 minutes of training, then latency
    python benchmarks/gpu_session.py --photos slice/ --minutes 5 --out runs/gpu
    python benchmarks/gpu_session.py --photos slice/ --device cpu --minutes 0.5 --limit 200   # dry run
    python benchmarks/gpu_session.py --make-slice ../shared/datasets/train --slice-dir runs/slice --square 192
    python benchmarks/gpu_session.py --photos runs/slice --set cache_size=192 --set width=0.25 --set init_from= --set lr=1e-3

The shipped configuration (``SHIPPED``, what ``resources/weights/colornet.md`` describes) continues
from the committed weights rather than starting over. A short probe run measures the seconds per
step on this machine (the photo cache it builds is reused), and the main run gets as many steps as
fit in what is left of ``--minutes``, so its cosine schedule ends on time instead of being cut off.
Then ``benchmarks/latency.py --device DEVICE`` times the app's stages with the new weights.
Everything it measured goes to ``OUT/session.json``.

``--set KEY=VALUE`` changes one setting of that configuration (a ``ColorNetConfig`` field other than
the session's own, ``SESSION_SETTINGS``; an empty ``init_from`` trains from scratch), e.g. another
width to compare.

``--make-slice`` copies an evenly spread share of a photo library (keeping its folder names, which
the ``repeat`` weights read) until ``--max-mb`` is reached: a training slice small enough to travel
with the working tree to a machine that has a GPU but not the library. With ``--square N`` each
photo is stored as the N x N centre square the trainer would cache (JPEG quality ``--quality``),
so about twice as many photos fit; train on it with ``--set cache_size=N``.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, fields
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.weights import load_weights  # noqa: E402
from training.cli import config_problem  # noqa: E402
from training.colornet_task import ColorNetConfig, ColorNetTask  # noqa: E402
from training.data import PhotoCache, find_photos, load_square  # noqa: E402
from training.engine import Progress, Trainer  # noqa: E402

# How the shipped colornet was last trained (its model card), less the photos, steps and device.
SHIPPED = dict(
    init_from=str(ROOT / "resources" / "weights" / "colornet.pt"),
    spatial_fusion=True,
    crop=160,
    cache_size=224,
    lr=3e-4,
    warmup=100,
    no_hint_share=0.35,
    repeat="bsds_train=10,imagenet_sample=3,caltech101=2,flickr8k=2,sun_scenes=2",
)
PROBE_STEPS = 30


def make_slice(library: Path, out: Path, max_mb: float, square: int | None = None, quality: int = 80) -> int:
    """Copy every k-th photo of ``library`` to ``out`` (same relative paths) up to ``max_mb``; with
    ``square``, each as its centre square of that side (as the trainer caches it), re-encoded as JPEG."""
    photos = find_photos(library)
    if not photos:
        raise ValueError(f"no photos in {library}")

    def encoded(source: Path) -> bytes | None:
        if square is None:
            return source.read_bytes()
        pixels = load_square(source, square)
        if isinstance(pixels, str):
            return None  # unreadable or too small: the trainer would skip it too
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
        return buffer.getvalue()

    sample = [len(data) for data in map(encoded, photos[:: max(len(photos) // 100, 1)]) if data is not None]
    mean_bytes = sum(sample) / max(len(sample), 1)
    keep = max(1, min(len(photos), int(max_mb * 1e6 / max(mean_bytes, 1.0))))
    step = len(photos) / keep
    budget, copied = max_mb * 1e6, 0
    for i in range(keep):
        source = photos[int(i * step)]
        data = encoded(source)
        if data is None or budget - len(data) < 0:
            continue  # a smaller photo further on may still fit
        target = out / source.relative_to(library)
        if square is not None:
            target = target.with_suffix(".jpg")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        budget -= len(data)
        copied += 1
    return copied


# Settings the session chooses itself (its options, the budget, the run folders).
SESSION_SETTINGS = ("photos", "out", "device", "batch_size", "limit", "steps", "val_every", "val_count", "checkpoint_every", "resume")


def overrides(settings: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` strings as ColorNetConfig settings, each converted to its field's type; the
    session's own settings (``SESSION_SETTINGS``) and numbers the trainer would refuse are errors."""
    types = {f.name: f.type for f in fields(ColorNetConfig)}
    changed: dict[str, object] = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        if not sep or key not in types:
            raise ValueError(f"--set wants KEY=VALUE with a ColorNetConfig field as KEY, got {setting!r}")
        if key in SESSION_SETTINGS:
            raise ValueError(f"{key} is the session's own setting (see its options), not one for --set")
        kind = str(types[key])
        if kind == "bool":
            if value.lower() not in ("true", "false", "1", "0"):
                raise ValueError(f"{key} is true or false, got {value!r}")
            changed[key] = value.lower() in ("true", "1")
        elif kind == "int" or kind.startswith("int |"):
            changed[key] = int(value)
        elif kind == "float":
            changed[key] = float(value)
        else:
            changed[key] = value
    problem = config_problem(ColorNetConfig(**(SHIPPED | changed)))
    if problem:
        raise ValueError(problem)
    return changed


def seconds_per_step(config: ColorNetConfig, cache: PhotoCache | None) -> tuple[float, PhotoCache]:
    """Train ``config.steps`` steps and time the steps after the first five (start-up excluded)."""
    stamps: list[float] = []

    def progress(p: Progress) -> None:
        if p.losses:
            stamps.append(time.perf_counter())

    trainer = Trainer(ColorNetTask(config), config, progress=progress, cache=cache)
    trainer.run()
    settled = stamps[5:]
    if len(settled) < 2:
        raise RuntimeError("the probe run was too short to time")
    return (settled[-1] - settled[0]) / (len(settled) - 1), trainer.cache


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, help="folder of colour photos to train on")
    parser.add_argument("--minutes", type=float, default=8.0, help="training budget, probe included (default 8)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit", type=int, help="use only the first N photos (dry runs)")
    parser.add_argument("--probe-steps", type=int, default=PROBE_STEPS, help=f"steps of the timing run (default {PROBE_STEPS}, at least 7)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "gpu")
    parser.add_argument("--no-latency", action="store_true", help="skip benchmarks/latency.py afterwards")
    parser.add_argument("--make-slice", type=Path, metavar="LIBRARY", help="copy a slice of LIBRARY and stop")
    parser.add_argument("--slice-dir", type=Path, default=ROOT / "runs" / "slice")
    parser.add_argument("--max-mb", type=float, default=56.0)
    parser.add_argument("--square", type=int, help="store each photo of the slice as its centre square of this side")
    parser.add_argument("--quality", type=int, default=80, help="JPEG quality of those squares (default 80)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="change a setting of the shipped configuration")
    args = parser.parse_args(argv)

    if args.make_slice is not None:
        copied = make_slice(args.make_slice, args.slice_dir, args.max_mb, args.square, args.quality)
        print(f"copied {copied} photos to {args.slice_dir}")
        return 0
    if args.photos is None:
        parser.error("--photos is required")
    try:
        changed = overrides(args.set)
    except ValueError as error:
        parser.error(str(error))

    started = time.perf_counter()
    common = dict(SHIPPED | changed, photos=str(args.photos), device=args.device, batch_size=args.batch_size, limit=args.limit, val_count=128)
    probe = ColorNetConfig(**{**common, "warmup": 5}, out=str(args.out / "probe"), steps=max(args.probe_steps, 7), val_every=10**9, checkpoint_every=10**9)
    per_step, cache = seconds_per_step(probe, None)
    left = args.minutes * 60 - (time.perf_counter() - started) - 20  # validation and export
    steps = max(int(left / per_step), 1)
    print(f"{per_step * 1000:.0f} ms per step at batch {args.batch_size}: {steps} steps fit in the budget")
    config = ColorNetConfig(**common, out=str(args.out / "colornet"), steps=steps, val_every=max(steps // 4, 1), checkpoint_every=max(steps // 8, 1))
    history: list[dict] = []

    def progress(p: Progress) -> None:
        if p.validation:
            history.append({"step": p.step, **p.validation})
            print(f"step {p.step}/{p.total}: " + " ".join(f"{k}={v:.2f}" for k, v in p.validation.items()))

    trained = time.perf_counter()
    result = Trainer(ColorNetTask(config), config, progress=progress, cache=cache).run()
    summary = {
        "device": args.device,
        "photos": len(cache),
        "seconds_per_step": per_step,
        "steps": result.steps_done,
        "training_seconds": time.perf_counter() - trained,
        "total_seconds": time.perf_counter() - started,
        "validation": history,
        "weights": str(result.weights),
        "config": asdict(config),
    }
    print(f"trained {result.steps_done} steps in {summary['training_seconds']:.0f} s ({summary['total_seconds']:.0f} s in all); weights {result.weights}")
    if not args.no_latency and result.weights is not None:
        command = [
            sys.executable, str(ROOT / "benchmarks" / "latency.py"), "--device", args.device, "--colornet", str(result.weights),
            "--encoders", "efficientnet_lite0", "--widths", str(load_weights(result.weights, kind="colornet")["model_args"]["width"]),
        ]
        latency = subprocess.run(command, capture_output=True, text=True)
        print(latency.stdout + latency.stderr)
        summary["latency"] = latency.stdout
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "session.json").write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
