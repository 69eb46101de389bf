"""heirloom-eval: score colorization methods on a folder of colour photos.

Every photo is scaled so its short side is 256 pixels and centre-cropped to 256 x 256; its Lab
lightness is the grey input and the crop itself is the ground truth. Each method is scored in six
modes (the keys of the JSON report):

    auto           no reference and no hints
    hints_1/10/100 that many 3 x 3 patches carrying their true mean ab, at positions drawn with
                   numpy's default_rng(0), afresh for each photo, identical for every method;
                   each smaller set of hints is part of the larger ones
    ref_related    target = the left 75 % of the crop, reference = the right 75 % (shared content);
                   only the target is scored
    ref_unrelated  target = the whole crop, reference = the next photo in sorted order (wrapping)
    ref_transformed target = the whole crop, reference = the crop seen differently: mirrored (half
                   the photos), rotated up to 15°, rescaled 0.7-1.4x, cropped to 60 % of each side
                   off centre, exposure ±15 %, seeded by the photo's name (training.reference_modes)
    ref_retrieved  (with a pool: ``--pool DIR``) target = the whole crop, reference = the most
                   similar other photo of the pool by the encoder's descriptor of both grey images
    recolour       (with --recolour) one hint of a new colour inside a region that stands apart; scored by F1 of the
                   pixels that changed towards it (training.recolour; ``recolour_ref`` adds the next
                   photo as an unrelated reference, ``recolour_related`` the photo seen differently,
                   as in ref_transformed). There ``nearest`` is the fill baseline: the
                   hint's colour over the whole photo

A result is rebuilt as RGB from the true L and the predicted ab, and scored against the crop with
PSNR, SSIM and Hasler-Suesstrunk colourfulness; each score is averaged over the photos.

``evaluate(photo_dir, methods)`` returns the report as a dict, for use at training checkpoints.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageOps

from core.color import lab_to_rgb, rgb_to_lab
from core.device import PRECISIONS, inference_type_name, resolve_device
from training.baselines import (
    GeodesicMethod,
    GrayMethod,
    Method,
    NearestHintMethod,
    PatchHint,
    ReinhardMethod,
)
from training.metrics import colorfulness, psnr, ssim
from training.reference_modes import AutomaticMethod, pool_retriever, transformed_reference
from training.recolour import RECOLOUR_METRICS, evaluate_recolour

__all__ = [
    "MODES",
    "Case",
    "EvalPhoto",
    "HeirloomMethod",
    "Method",
    "PatchHint",
    "contact_sheet",
    "evaluate",
    "evaluate_photos",
    "format_markdown",
    "heirloom_factory",
    "list_photos",
    "load_eval_photo",
    "load_eval_photos",
    "main",
    "make_cases",
    "rebuild_rgb",
    "sample_hint_positions",
    "sample_hints",
    "score",
]

IMAGE_SIZE = 256
HINT_COUNTS = (1, 10, 100)
HINT_SEED = 0
HINT_SIZE = 3
RELATED_FRACTION = 0.75  # ref_related: share of the crop's width given to target and to reference
MODES = ("auto", *(f"hints_{count}" for count in HINT_COUNTS), "ref_related", "ref_unrelated", "ref_transformed")
RETRIEVED_MODE = "ref_retrieved"  # scored only when a pool to retrieve references from is given
METRICS = ("psnr", "ssim", "colorfulness")
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
SHEET_ROWS = 4

ProgressCallback = Callable[[int, int, str], None]  # (photos done, photos in all, photo name)


# --- Data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvalPhoto:
    """A square ground-truth crop: ``rgb`` float32 (S, S, 3) in [0, 1] and its ``lab`` (3, S, S)."""

    name: str
    rgb: np.ndarray
    lab: np.ndarray


@dataclass(frozen=True)
class Case:
    """One scoring task: what a method is given, and the ``rgb`` it is scored against."""

    mode: str
    rgb: np.ndarray  # ground truth, float32 (H, W, 3)
    L: np.ndarray  # float32 (H, W) in [0, 100]
    reference_rgb: np.ndarray | None
    hints: tuple[PatchHint, ...] = ()


def _lab_of(rgb: np.ndarray) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)
    return rgb_to_lab(tensor).numpy()


def rebuild_rgb(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """True L (H, W) plus predicted ab (2, H, W) -> sRGB float32 (H, W, 3), clipped to [0, 1]."""
    if ab.shape != (2, *L.shape):
        raise ValueError(f"ab must be shaped {(2, *L.shape)}, got {ab.shape}")
    lab = np.concatenate((L[None].astype(np.float32), ab.astype(np.float32)))
    return lab_to_rgb(torch.from_numpy(lab)).permute(1, 2, 0).numpy()


def list_photos(photo_dir: str | Path) -> list[Path]:
    """The photos in ``photo_dir`` (not its subfolders), sorted by file name."""
    files = (p for p in Path(photo_dir).iterdir() if p.is_file())
    return sorted((p for p in files if p.suffix.lower() in PHOTO_SUFFIXES), key=lambda p: p.name)


def load_eval_photo(path: str | Path, size: int = IMAGE_SIZE) -> EvalPhoto:
    """Scale so the short side is ``size`` (Lanczos, antialiased), then take the centre square."""
    path = Path(path)
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
    width, height = image.size
    scale = size / min(width, height)
    new_size = (max(size, round(width * scale)), max(size, round(height * scale)))
    image = image.resize(new_size, Image.Resampling.LANCZOS)
    left = (new_size[0] - size) // 2
    top = (new_size[1] - size) // 2
    image = image.crop((left, top, left + size, top + size))
    rgb = np.asarray(image, dtype=np.float32) / 255.0
    return EvalPhoto(name=path.name, rgb=rgb, lab=_lab_of(rgb))


def load_eval_photos(photo_dir: str | Path, limit: int | None = None) -> list[EvalPhoto]:
    paths = list_photos(photo_dir)
    if limit is not None:
        paths = paths[:limit]
    return [load_eval_photo(path) for path in paths]


def sample_hint_positions(
    height: int, width: int, count: int, seed: int = HINT_SEED, size: int = HINT_SIZE
) -> np.ndarray:
    """``count`` distinct patch centres as an int array of (y, x) rows, every patch inside the image.

    The first ``count`` entries of a permutation of all valid centres drawn with
    ``np.random.default_rng(seed)``: the same image size always gives the same positions, and a
    smaller set of hints is the start of a larger one (the 10 hints are among the 100).
    """
    margin = size // 2
    rows, cols = height - 2 * margin, width - 2 * margin
    if count > max(rows, 0) * max(cols, 0):
        raise ValueError(f"cannot place {count} hints of size {size} in a {height}x{width} image")
    flat = np.random.default_rng(seed).permutation(rows * cols)[:count]
    return np.stack((flat // cols + margin, flat % cols + margin), axis=1).astype(np.int64)


def sample_hints(
    lab: np.ndarray, count: int, seed: int = HINT_SEED, size: int = HINT_SIZE
) -> tuple[PatchHint, ...]:
    """Hints carrying the true mean ab of their patch, for a Lab image shaped (3, H, W)."""
    margin = size // 2
    hints = []
    for y, x in sample_hint_positions(lab.shape[1], lab.shape[2], count, seed, size):
        patch = lab[1:, y - margin : y + margin + 1, x - margin : x + margin + 1]
        a, b = patch.astype(np.float64).mean(axis=(1, 2))
        hints.append(PatchHint(y=int(y), x=int(x), ab=(float(a), float(b)), size=size))
    return tuple(hints)


def make_cases(photo: EvalPhoto, next_photo: EvalPhoto, retrieved: np.ndarray | None = None) -> list[Case]:
    """The scoring task of every mode for ``photo``; ``next_photo`` is its unrelated reference,
    ``retrieved`` (if given) the reference of ``ref_retrieved``."""
    L = photo.lab[0]
    cases = [Case("auto", photo.rgb, L, None)]
    for count in HINT_COUNTS:
        cases.append(Case(f"hints_{count}", photo.rgb, L, None, sample_hints(photo.lab, count)))
    width = photo.rgb.shape[1]
    part = round(width * RELATED_FRACTION)
    target = photo.rgb[:, :part]
    reference = photo.rgb[:, width - part :]
    cases.append(Case("ref_related", target, L[:, :part], reference))
    cases.append(Case("ref_unrelated", photo.rgb, L, next_photo.rgb))
    cases.append(Case("ref_transformed", photo.rgb, L, transformed_reference(photo.rgb, photo.name)))
    if retrieved is not None:
        cases.append(Case(RETRIEVED_MODE, photo.rgb, L, retrieved))
    return cases


# --- Scoring ---------------------------------------------------------------------------------


def score(L: np.ndarray, ab: np.ndarray, target_rgb: np.ndarray) -> dict[str, float]:
    """Scores of the RGB rebuilt from the true ``L`` and a predicted ``ab`` against ``target_rgb``."""
    rgb = rebuild_rgb(L, ab)
    return {
        "psnr": psnr(rgb, target_rgb),
        "ssim": ssim(rgb, target_rgb),
        "colorfulness": colorfulness(rgb),
    }


def _predict(method: Method, case: Case) -> np.ndarray:
    ab = np.asarray(method.predict(case.L, case.reference_rgb, case.hints), dtype=np.float32)
    if ab.shape != (2, *case.L.shape):
        raise ValueError(
            f"method {method.name!r} returned ab shaped {ab.shape} for an image shaped "
            f"{case.L.shape}; expected {(2, *case.L.shape)}"
        )
    return ab


def evaluate_photos(
    photos: Sequence[EvalPhoto],
    methods: Sequence[Method],
    progress: ProgressCallback | None = None,
    retrieve: Callable[[EvalPhoto], np.ndarray] | None = None,
    with_recolour: bool = False,
) -> dict[str, Any]:
    """Score ``methods`` on already loaded photos; see ``evaluate`` for the report's shape.
    ``retrieve(photo)`` gives the reference of ``ref_retrieved`` (that mode is scored only with it).
    ``with_recolour`` adds the recolour modes (training.recolour): F1, recall, precision and the
    outside share changed instead of PSNR, and "recolour_photos" (the photos with a region)."""
    if not photos:
        raise ValueError("there are no photos to evaluate")
    names = [method.name for method in methods]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"methods need distinct names, got {names}")

    modes = (*MODES, RETRIEVED_MODE) if retrieve is not None else MODES
    scores = {mode: {name: [] for name in names} for mode in modes}
    truth_colour = {mode: [] for mode in modes}
    seconds = dict.fromkeys(names, 0.0)
    for index, photo in enumerate(photos):
        retrieved = retrieve(photo) if retrieve is not None else None
        for case in make_cases(photo, photos[(index + 1) % len(photos)], retrieved):
            truth_colour[case.mode].append(colorfulness(case.rgb))
            for method in methods:
                start = time.perf_counter()
                ab = _predict(method, case)
                seconds[method.name] += time.perf_counter() - start
                scores[case.mode][method.name].append(score(case.L, ab, case.rgb))
        if progress is not None:
            progress(index + 1, len(photos), photo.name)

    results = {
        mode: {
            name: {key: float(np.mean([s[key] for s in per_photo])) for key in METRICS}
            for name, per_photo in by_method.items()
        }
        for mode, by_method in scores.items()
    }
    recolour = {"results": {}, "photos": []}
    if with_recolour:
        recolour = evaluate_recolour(photos, methods, timer=lambda name, s: seconds.__setitem__(name, seconds[name] + s))
        results.update(recolour["results"])
    return {
        "n_images": len(photos),
        "results": results,
        "image_size": int(photos[0].rgb.shape[0]),
        "photos": [photo.name for photo in photos],
        "ground_truth_colorfulness": {m: float(np.mean(v)) for m, v in truth_colour.items()},
        "seconds": seconds,
        **({"recolour_photos": recolour["photos"]} if with_recolour else {}),
    }


def evaluate(
    photo_dir: str | Path,
    methods: Sequence[Method],
    limit: int | None = None,
    progress: ProgressCallback | None = None,
    with_recolour: bool = False,
) -> dict[str, Any]:
    """Score ``methods`` on the photos of ``photo_dir`` (the first ``limit`` by name).

    Returns ``{"n_images": N, "results": {mode: {method: {"psnr", "ssim", "colorfulness"}}}}`` plus
    "image_size", "photos" (the names scored), "ground_truth_colorfulness" per mode and "seconds"
    (prediction time per method). ``progress(done, total, name)`` is called after each photo.
    """
    return evaluate_photos(load_eval_photos(photo_dir, limit), methods, progress, with_recolour=with_recolour)


# --- Reports ---------------------------------------------------------------------------------


def format_markdown(result: dict[str, Any]) -> str:
    """The report as a Markdown table: a row per mode, a column per method."""
    results = result["results"]
    modes = list(results)
    methods = list(results[modes[0]]) if modes else []
    truth = result.get("ground_truth_colorfulness")
    header = ["mode", *methods] + (["ground truth"] if truth else [])
    lines = [
        "# Colorization evaluation",
        "",
        f"{result['n_images']} photos. Each cell: PSNR (dB) / SSIM / colourfulness "
        "(Hasler-Süsstrunk, 0-255 units); higher PSNR and SSIM are better.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    recolour_modes = [mode for mode in modes if "f1" in next(iter(results[mode].values()), {})]
    for mode in modes:
        if mode in recolour_modes:
            continue
        cells = [mode]
        for method in methods:
            s = results[mode][method]
            cells.append(f"{s['psnr']:.2f} / {s['ssim']:.3f} / {s['colorfulness']:.1f}")
        if truth:
            cells.append(f"– / – / {truth[mode]:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    if recolour_modes:
        count = len(result.get("recolour_photos", []))
        lines += [
            "",
            f"Recolouring one region with one hint ({count} photos with a region that stands apart; "
            "`nearest` spreads the hint over the whole photo). Each cell: F1 / recall / precision / "
            "share of the outside changed.",
            "",
            "| " + " | ".join(["mode", *methods]) + " |",
            "|" + "---|" * (len(methods) + 1),
        ]
        for mode in recolour_modes:
            cells = [mode]
            for method in methods:
                s = results[mode][method]
                cells.append(" / ".join(f"{s[key]:.2f}" for key in RECOLOUR_METRICS))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _to_pil(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8))


def contact_sheet(
    photos: Sequence[EvalPhoto], method: Method, mode: str = "ref_related", rows: int = SHEET_ROWS
) -> Image.Image:
    """A labelled grid for the first ``rows`` photos: grey input, reference, result, ground truth."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    size = photos[0].rgb.shape[0] if photos else IMAGE_SIZE
    gap, header = 8, 24
    labels = ("input (grey)", f"reference ({mode})", method.name, "ground truth")
    count = min(rows, len(photos))
    sheet = Image.new(
        "RGB",
        (gap + len(labels) * (size + gap), header + count * (size + gap)),
        (32, 32, 32),
    )
    draw = ImageDraw.Draw(sheet)
    for column, label in enumerate(labels):
        draw.text((gap + column * (size + gap), 6), label, fill=(235, 235, 235))
    for row in range(count):
        photo = photos[row]
        case = next(c for c in make_cases(photo, photos[(row + 1) % len(photos)]) if c.mode == mode)
        result = rebuild_rgb(case.L, _predict(method, case))
        grey = rebuild_rgb(case.L, np.zeros((2, *case.L.shape), dtype=np.float32))
        cells = (grey, case.reference_rgb, result, case.rgb)
        top = header + row * (size + gap)
        for column, cell in enumerate(cells):
            if cell is None:
                continue
            left = gap + column * (size + gap)
            # Narrower crops (ref_related) sit centred in their square cell.
            offset = ((size - cell.shape[1]) // 2, (size - cell.shape[0]) // 2)
            sheet.paste(_to_pil(cell), (left + offset[0], top + offset[1]))
    return sheet


# --- The app's pipeline as a method ----------------------------------------------------------


class HeirloomMethod:
    """Scores the app's own pipeline (``core.api.Colorizer``) through the ``Method`` contract.

    ``colorizer_factory`` builds the colorizer on first use, so constructing this costs nothing.
    Everything that knows the app's API lives in ``predict``.
    """

    name = "heirloom"

    def __init__(self, colorizer_factory: Callable[[], Any]):
        self._factory = colorizer_factory
        self._colorizer: Any = None

    @property
    def colorizer(self) -> Any:
        if self._colorizer is None:
            self._colorizer = self._factory()
        return self._colorizer

    def predict(self, L, reference_rgb, hints):
        from core.api import Edit, Hint, Reference
        from core.imageio import photo_from_array

        colorizer = self.colorizer
        references = ()
        if reference_rgb is not None:
            references = (Reference(colorizer.hold(photo_from_array(reference_rgb), "evaluated-reference")),)
        edit = Edit(
            photo=colorizer.hold(L, "evaluated-photo"),  # the true lightness, as a float plane
            references=references,
            hints=tuple(Hint(x=h.x, y=h.y, ab=h.ab, radius=h.size // 2) for h in hints),
            working_size=colorizer.config.working_size,
            model=colorizer.config.colornet,
        )
        ab = np.asarray(colorizer.preview(edit).ab, dtype=np.float32)
        if ab.shape[1:] != L.shape:
            resized = torch.nn.functional.interpolate(
                torch.from_numpy(ab)[None], size=L.shape, mode="bilinear", align_corners=False
            )
            ab = resized[0].numpy()
        return ab


def heirloom_factory(
    device: str | None = None,
    colornet: str | Path | None = None,
    decoder: str | Path | None = None,
    hint_density: float | None = None,
    precision: str = "auto",
) -> Callable[[], Any]:
    """A zero-argument builder of the app's colorizer at the evaluation's working size.

    ``colornet`` / ``decoder`` name registered weights or weights files (e.g. a training run's
    ``weights.pt``); by default the bundled ones are scored.
    """

    def build() -> Any:
        from core.api import Colorizer, ColorizerConfig

        config = ColorizerConfig.from_options(
            device=device, model=colornet, working_size=IMAGE_SIZE, decoder=decoder, hint_density=hint_density,
            allow_random_weights=False, precision=precision,
        )
        return Colorizer(config)

    return build


# --- Command line ----------------------------------------------------------------------------

METHOD_NAMES = ("heirloom", "automatic", "gray", "nearest", "reinhard", "geodesic")


def _method_list(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in METHOD_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown method {', '.join(unknown) or '(none)'}; "
            f"choose from {', '.join(METHOD_NAMES)}"
        )
    return list(dict.fromkeys(names))


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a whole number of at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heirloom-eval",
        description="Score Heirloom and simple baselines on a folder of colour photos.",
    )
    parser.add_argument("photo_dir", type=Path, help="folder of colour photos (jpg, png, ...)")
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write the report as JSON")
    parser.add_argument("--markdown", type=Path, metavar="OUT.md", help="write a Markdown table")
    parser.add_argument("--limit", type=_positive_int, metavar="N", help="score the first N photos")
    parser.add_argument(
        "--recolour", action="store_true", help="also score recolouring a region with one hint (recolour modes)"
    )
    parser.add_argument(
        "--contact-sheet", type=Path, metavar="OUT.png", help="write a PNG of the first results"
    )
    parser.add_argument("--device", help="device for the Heirloom model, e.g. cpu or cuda")
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="auto",
        help="auto (default): bfloat16 inference on CPUs that compute it natively; float32: always",
    )
    parser.add_argument("--colornet", metavar="NAME|FILE", help="colorization sub-net weights to score")
    parser.add_argument("--decoder", metavar="NAME|FILE", help="transfer decoder weights to score")
    parser.add_argument(
        "--hint-density", type=float,
        help="share of pixels sampled as hints from the transfer (where it lends hints: without the soft warp, or at blend 0)",
    )
    parser.add_argument(
        "--methods",
        type=_method_list,
        default=list(METHOD_NAMES),
        help=f"comma-separated methods to score (default: {','.join(METHOD_NAMES)}); "
        "automatic is Heirloom given no reference",
    )
    parser.add_argument(
        "--pool", type=Path, metavar="DIR",
        help="colour photos (searched recursively) to retrieve ref_retrieved's references from",
    )
    parser.add_argument("--pool-limit", type=_positive_int, metavar="N", help="use N photos spread over the pool")
    parser.add_argument(
        "--pool-cache", type=Path, metavar="DIR", help="where the pool's descriptors are cached (default: ~/.cache/heirloom/pools)"
    )
    return parser


def _build_methods(args: argparse.Namespace) -> list[Method]:
    builders: dict[str, Callable[[], Method]] = {
        "heirloom": lambda: HeirloomMethod(
            heirloom_factory(args.device, args.colornet, args.decoder, args.hint_density, args.precision)
        ),
        "gray": GrayMethod,
        "nearest": NearestHintMethod,
        "reinhard": ReinhardMethod,
        "geodesic": GeodesicMethod,
    }
    methods = {name: builders[name]() for name in args.methods if name != "automatic"}
    if "automatic" in args.methods:  # shares the Heirloom model (and its caches) when both are scored
        methods["automatic"] = AutomaticMethod(methods.get("heirloom") or builders["heirloom"]())
    return [methods[name] for name in args.methods]


def _report_progress(done: int, total: int, name: str) -> None:
    print(f"[{done}/{total}] {name}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None, methods: Sequence[Method] | None = None) -> int:
    """Run the evaluation CLI. ``methods`` replaces the ones named by --methods (used by tests)."""
    args = build_parser().parse_args(argv)
    if not args.photo_dir.is_dir():
        print(f"heirloom-eval: {args.photo_dir} is not a folder of photos.", file=sys.stderr)
        return 2
    try:
        photos = load_eval_photos(args.photo_dir, args.limit)
    except OSError as error:
        message = f"heirloom-eval: could not read a photo ({error}); remove or replace it."
        print(message, file=sys.stderr)
        return 1
    if not photos:
        suffixes = ", ".join(sorted(PHOTO_SUFFIXES))
        print(f"heirloom-eval: no photos ({suffixes}) in {args.photo_dir}.", file=sys.stderr)
        return 2

    if methods is None:
        methods = _build_methods(args)
        for method in methods:
            method = getattr(method, "inner", method)
            if isinstance(method, HeirloomMethod):
                try:
                    method.colorizer
                except Exception as error:  # any failure to build the model ends in one sentence
                    print(
                        f"heirloom-eval: could not load the Heirloom model ({error}); check "
                        "--colornet/--decoder, or score only the baselines with "
                        "--methods gray,nearest,reinhard.",
                        file=sys.stderr,
                    )
                    return 1

    retrieve = None
    if args.pool is not None:
        if not args.pool.is_dir():
            print(f"heirloom-eval: the pool {args.pool} is not a folder of colour photos.", file=sys.stderr)
            return 2
        try:
            retrieve = pool_retriever(args.pool, args.pool_limit, args.pool_cache)
        except (OSError, ValueError) as error:
            print(f"heirloom-eval: could not prepare the reference pool ({error}); check --pool.", file=sys.stderr)
            return 1

    start = time.perf_counter()
    result = evaluate_photos(photos, methods, progress=_report_progress, retrieve=retrieve, with_recolour=args.recolour)
    result["total_seconds"] = time.perf_counter() - start
    if any(method.name == "heirloom" for method in methods):
        result["model"] = {
            "device": args.device,
            "precision": inference_type_name(resolve_device(args.device), args.precision),
            "colornet": args.colornet,
            "decoder": args.decoder,
            "hint_density": args.hint_density,
        }
    if args.pool is not None:
        result["pool"] = {"dir": str(args.pool), "limit": args.pool_limit}

    markdown = format_markdown(result)
    print(markdown, end="")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown, encoding="utf-8")
    if args.contact_sheet is not None:
        shown = next((m for m in methods if m.name == "heirloom"), methods[0])
        args.contact_sheet.parent.mkdir(parents=True, exist_ok=True)
        contact_sheet(photos, shown).save(args.contact_sheet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
