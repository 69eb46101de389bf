"""Interactive latency and memory of the colorization pipeline on this machine.

    python benchmarks/latency.py                      # all widths, both encoders, 5 repeats
    python benchmarks/latency.py --widths 0.25 0.5 --encoders efficientnet_lite0 --repeats 9
    python benchmarks/latency.py --quick              # a smoke run: tiny photos, one repeat

For each encoder and ColorNet width it reports the median milliseconds of what a user waits for:
opening a photo (set target, first automatic preview), what the app prepares while the user looks
at it, adding a reference (one that shows the same scene framed differently, so every stage runs) to
the prepared photo and, cold, right after opening it, moving the blend slider,
adding a hint, and exporting a 12-megapixel photo (render + JPEG save, and the render alone), plus
the peak resident memory of a whole session on a 24-megapixel scan (measured in a fresh process).

Trained weights are used where registered and of the same width; otherwise the networks are
random-initialised, which does not change the latency. Encoders are compared at the same ColorNet
width (every row of the table is one encoder x width pair).
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import skimage.data  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from core.api import ENCODERS, Colorizer, ColorizerConfig, Edit, Hint, Models  # noqa: E402
from core.device import PRECISIONS, describe, inference_type_name, resolve_device  # noqa: E402
from core.imageio import Photo, photo_from_array  # noqa: E402
from core.models import ColorNet, TransferDecoder, TransferNet  # noqa: E402
from core.networks import global_encoder_for, load_encoder, place_colornet, place_net, weights_source  # noqa: E402
from core.weights import DEFAULT_COLORNET, WeightsError, find_weights, load_weights, vgg19_weights_path  # noqa: E402

DEFAULT_WIDTHS = (0.125, 0.25, 0.5, 1.0)
REFERENCE_PAUSE = 0.5  # seconds between opening a photo and pinning a reference
# What the app promises; a number over its target is marked with '*'.
TARGETS = {
    "hint": ("add hint", 60.0, "ms"),
    "blend": ("blend", 120.0, "ms"),
    "reference": ("add reference", 300.0, "ms"),
    "export": ("export", 1500.0, "ms"),
    "rss": ("peak RSS", 1536.0, "MB"),
}


# --------------------------------------------------------------------------------------------
# Networks


@dataclass
class BuiltModels:
    models: Models
    notes: list[str] = field(default_factory=list)

    @property
    def colornet_params(self) -> float:
        return sum(p.numel() for p in self.models.colornet.parameters()) / 1e6


def build_models(
    width: float, encoder_name: str, device: torch.device, seed: int = 0, colornet_weights: str = DEFAULT_COLORNET,
    precision: str = "auto",
) -> BuiltModels:
    """A ColorNet of ``width`` and a transfer net on ``encoder_name``, trained weights where they
    exist (same width / same encoder), random ones otherwise. Other widths keep the trained net's
    options (hint fill, global fusion), so every row does the same work."""
    notes: list[str] = []
    torch.manual_seed(seed)
    trained = None
    try:
        trained = load_weights(weights_source(colornet_weights), kind="colornet")
    except WeightsError:
        notes.append(f"colornet {width:g} has random weights (none trained)")
    args = dict(trained["model_args"]) if trained else {}
    same_width = trained is not None and float(args.get("width", -1)) == width
    args["width"] = width
    colornet = ColorNet(**args)
    if same_width:
        colornet.load_state_dict(trained["state_dict"])
    elif trained is not None:
        notes.append(f"colornet {width:g} has random weights (the trained one is another width)")
    encoder = load_encoder(encoder_name, allow_random=True)
    if encoder_name == "vgg19" and not vgg19_weights_path().is_file():
        notes.append(f"vgg19 encoder has random weights ({vgg19_weights_path().name} is absent)")
    decoder = TransferDecoder(encoder.taps)
    try:
        data = load_weights(find_weights(f"decoder-{encoder_name}"), kind="decoder")
        decoder.load_state_dict(data["state_dict"])
    except (WeightsError, RuntimeError):
        notes.append(f"decoder for {encoder_name} has random weights")
    colornet = place_colornet(colornet, device, precision)  # as load_models does (channels-last on the CPU)
    transfer = place_net(TransferNet(encoder, decoder).eval(), device, precision)
    global_encoder = global_encoder_for(colornet, transfer.encoder)
    if global_encoder is not None:
        global_encoder = place_net(global_encoder, device, precision)
    return BuiltModels(Models(colornet=colornet, transfer=transfer, device=device, global_encoder=global_encoder), notes)


# --------------------------------------------------------------------------------------------
# Photos


def _tiled(image: np.ndarray, megapixels: float) -> np.ndarray:
    """A 4:3 photo of about ``megapixels`` made of a real image, mirrored so the texture is natural."""
    height = int(round((megapixels * 1e6 * 3 / 4) ** 0.5))
    width = int(round(height * 4 / 3))
    tile = np.concatenate((image, image[:, ::-1]), axis=1)
    tile = np.concatenate((tile, tile[::-1]), axis=0)
    reps = (-(-height // tile.shape[0]), -(-width // tile.shape[1])) + (1,) * (image.ndim - 2)
    return np.ascontiguousarray(np.tile(tile, reps)[:height, :width])


def grey_photo(megapixels: float) -> Photo:
    return photo_from_array(_tiled(skimage.data.camera(), megapixels))


def colour_photo(megapixels: float) -> Photo:
    """The same scene in colour (a false-colour ramp over its grey values), framed differently
    (shifted by a sixth of the image): the warp finds it related, so pinning it runs every stage
    (correspondence, transfer, hints). An unrelated reference would skip the transfer."""
    grey = skimage.data.camera()[:, 85:].astype(np.float32)
    ramp = np.stack((grey, 0.8 * grey + 25, 255 - 0.7 * grey), axis=-1)
    return photo_from_array(_tiled(np.clip(ramp, 0, 255).astype(np.uint8), megapixels))


# --------------------------------------------------------------------------------------------
# Measurements


def median_ms(action: Callable[[], object], repeats: int, setup: Callable[[], object] | None = None, pause: float = 0.0) -> float:
    """Median milliseconds of ``action`` after ``setup`` and, between the two, ``pause`` seconds."""
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        time.sleep(pause)
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


@dataclass
class Row:
    encoder: str
    width: float
    params_m: float
    values: dict[str, float]
    notes: list[str]


def measure_session(built: BuiltModels, args, target: Photo, reference: Photo, workdir: Path) -> dict[str, float]:
    config = ColorizerConfig.from_options(
        working_size=args.size, device=str(built.models.device), allow_random_weights=True, precision=args.precision
    )
    colorizer = Colorizer(config, built.models)
    rng = np.random.default_rng(0)
    W, H = target.size
    blends = (0.3 + 0.6 * ((0.618034 * i) % 1.0) for i in itertools.count(1))  # never one already cached
    edit = Edit("unset", working_size=args.size)

    def show(changed: Edit) -> None:
        nonlocal edit
        edit = changed
        colorizer.preview(edit)

    def open_target():  # held anew: the colorizer sees a photo it has not seen
        show(Edit(colorizer.hold(target, "target"), working_size=args.size))

    def add_reference():  # likewise a reference it has not encoded
        show(edit.with_reference(colorizer.hold(reference, "reference")))

    def move_blend():
        show(replace(edit, blend=next(blends)))

    def add_hint():
        x, y = rng.uniform(0, W), rng.uniform(0, H)
        show(edit.with_hint(Hint(float(x), float(y), (float(rng.uniform(-40, 40)), float(rng.uniform(-40, 40))), 8.0)))

    def export():
        colorizer.export(edit, workdir / "export.jpg", quality=92, overwrite=True)

    if args.warmup:
        open_target(), add_reference(), move_blend(), add_hint(), colorizer.render(edit)
    values = {}
    values["target"] = median_ms(open_target, args.repeats)
    # What the app computes while the user looks at a new photo (its worker prepares it after the
    # preview): the features a first reference and the edge weights a first hint would wait for.
    values["prepare"] = median_ms(lambda: colorizer.prepare(edit), args.repeats, setup=open_target)
    # A new reference on an opened photo, prepared as the app leaves it; and cold, added before the
    # preparation (the target's features are computed with it: the worst case). Both a moment after
    # the photo opened, as a user pins one (straight after the preparation this CPU ran the next
    # encoder passes slower), and taking turns, so that the machine's drift touches both alike.
    prepared = lambda: (open_target(), colorizer.prepare(edit))  # noqa: E731
    warm, cold = [], []
    for _ in range(args.repeats):
        warm.append(median_ms(add_reference, 1, setup=prepared, pause=REFERENCE_PAUSE))
        cold.append(median_ms(add_reference, 1, setup=open_target, pause=REFERENCE_PAUSE))
    values["reference"], values["reference_cold"] = statistics.median(warm), statistics.median(cold)
    values["blend"] = median_ms(move_blend, args.repeats)
    values["hint"] = median_ms(add_hint, args.repeats)
    values["render"] = median_ms(lambda: colorizer.render(edit), args.repeats)
    values["export"] = median_ms(export, args.repeats)
    return values


def measure_peak_rss(args, width: float, encoder: str, scan: Path, reference: Path) -> float:
    """Peak RSS (MB) of a fresh process that opens the scan, adds a reference and a hint, and exports."""
    command = [
        sys.executable, str(Path(__file__).resolve()), "--rss-probe",
        "--widths", str(width), "--encoders", encoder, "--size", str(args.size), "--device", args.device,
        "--precision", args.precision,
        "--probe-files", str(scan), str(reference),
    ]  # fmt: skip
    if args.threads:
        command += ["--threads", str(args.threads)]
    if args.colornet:
        command += ["--colornet", args.colornet]
    result = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"the memory probe failed:\n{result.stderr.strip()}")
    return float(json.loads(result.stdout.strip().splitlines()[-1])["peak_mb"])


def rss_probe(args) -> int:
    """Child process of measure_peak_rss: one whole session, then print the peak RSS."""
    device = resolve_device(args.device)
    colornet = args.colornet or DEFAULT_COLORNET
    built = build_models(args.widths[0], args.encoders[0], device, colornet_weights=colornet, precision=args.precision)
    scan_path, reference_path = (Path(p) for p in args.probe_files)
    config = ColorizerConfig.from_options(working_size=args.size, device=str(device), allow_random_weights=True, precision=args.precision)
    colorizer = Colorizer(config, built.models)
    edit = Edit(str(scan_path), working_size=args.size)
    colorizer.preview(edit)
    edit = edit.with_reference(str(reference_path))
    colorizer.preview(edit)
    edit = edit.with_hint(Hint(10, 10, (30.0, 20.0), 8))
    colorizer.preview(edit)
    with tempfile.TemporaryDirectory() as folder:
        colorizer.export(edit, Path(folder) / "scan-colour.jpg")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_mb = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux
    print(json.dumps({"peak_mb": peak_mb}))
    return 0


# --------------------------------------------------------------------------------------------
# Report


def _cell(value: float, key: str | None) -> str:
    if key in TARGETS and value > TARGETS[key][1]:
        return f"{value:,.0f}*"
    return f"{value:,.0f} "


def print_table(rows: list[Row], export_mp: float, rss_mp: float) -> None:
    columns = [
        ("target", "open photo", None),
        ("prepare", "prepare (idle)", None),
        ("reference", "add reference", "reference"),
        ("reference_cold", "add reference, cold", None),
        ("blend", "blend", "blend"),
        ("hint", "add hint", "hint"),
        ("export", f"export {export_mp:g} MP", "export"),
        ("render", f"render {export_mp:g} MP", None),
        ("rss", f"peak RSS {rss_mp:g} MP", "rss"),
    ]
    head = ["encoder", "width", "Mparams"] + [title for _, title, _ in columns]
    target_row = ["target", "", ""] + [
        f"<= {TARGETS[key][1]:,.0f} {TARGETS[key][2]}" if key else "" for _, _, key in columns
    ]
    unit_row = ["", "", ""] + ["MB" if k == "rss" else "ms" for k, _, _ in columns]
    body = [
        [row.encoder, f"{row.width:g}", f"{row.params_m:.2f}"]
        + [_cell(row.values[k], key) if k in row.values else "-" for k, _, key in columns]
        for row in rows
    ]
    table = [head, unit_row, target_row] + body
    widths = [max(len(line[i]) for line in table) for i in range(len(head))]
    for number, line in enumerate(table):
        print("  ".join(cell.rjust(w) if i > 1 else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths))))
        if number == 2:
            print("  ".join("-" * w for w in widths))
    print("Medians; '*' marks a number over its target.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", type=float, nargs="+", help=f"ColorNet widths (default {' '.join(map(str, DEFAULT_WIDTHS))})")
    parser.add_argument("--encoders", nargs="+", choices=ENCODERS, help="encoders (default: both)")
    parser.add_argument("--repeats", type=int, help="measurements per number; the median is shown (default 5)")
    parser.add_argument("--size", type=int, default=ColorizerConfig.working_size, help="working size (short side)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="auto",
        help="auto (default): bfloat16 inference on CPUs that compute it natively, as the app does; float32: always",
    )
    parser.add_argument("--threads", type=int, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument("--colornet", metavar="NAME|FILE", help="colorization sub-net weights (default: the shipped ones)")
    parser.add_argument(
        "--quick", action="store_true",
        help="smoke run: 0.5 MP export and 1 MP memory photos, one repeat, width 0.125 and EfficientNet-Lite0 "
        "unless given; the numbers are not comparable with the targets",
    )  # fmt: skip
    parser.add_argument("--rss-probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--probe-files", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    args.widths = args.widths or ([0.125] if args.quick else list(DEFAULT_WIDTHS))
    args.encoders = args.encoders or (["efficientnet_lite0"] if args.quick else list(ENCODERS))
    args.repeats = args.repeats or (1 if args.quick else 5)
    args.warmup = not args.quick
    if args.rss_probe:
        return rss_probe(args)

    export_mp, rss_mp, reference_mp = (0.5, 1.0, 0.5) if args.quick else (12.0, 24.0, 12.0)
    device = resolve_device(args.device)
    print(f"Heirloom latency on {describe(device)}, torch {torch.__version__}, working size {args.size}, "
          f"inference in {inference_type_name(device, args.precision)}, "
          f"{args.repeats} repeat(s){' (quick run)' if args.quick else ''}")  # fmt: skip
    target, reference = grey_photo(export_mp), colour_photo(reference_mp)
    rows: list[Row] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        scan = workdir / "scan.jpg"
        reference_file = workdir / "reference.jpg"
        if not args.no_rss:
            Image.fromarray(grey_photo(rss_mp).pixels).save(scan, quality=92)
            Image.fromarray(colour_photo(reference_mp).pixels).save(reference_file, quality=92)
        for encoder, width in itertools.product(args.encoders, args.widths):
            built = build_models(width, encoder, device, colornet_weights=args.colornet or DEFAULT_COLORNET, precision=args.precision)
            print(f"  measuring {encoder} x {width:g} ...", file=sys.stderr, flush=True)
            values = measure_session(built, args, target, reference, workdir)
            if not args.no_rss:
                values["rss"] = measure_peak_rss(args, width, encoder, scan, reference_file)
            rows.append(Row(encoder, width, built.colornet_params, values, built.notes))
            notes += [n for n in built.notes if n not in notes]
            del built
    print()
    print_table(rows, export_mp, rss_mp)
    for note in notes:
        print(f"Note: {note}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
