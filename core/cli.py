"""The command-line colorizer: ``heirloom colorize PHOTO... [options]``.

    heirloom colorize grandma.jpg                         # -> grandma-colour.jpg beside it
    heirloom colorize scans/ -r dress.jpg --blend 0.7 -o coloured/
    heirloom colorize wedding.tif --hint 120,340,#3a5fcd,4 --hints-file sky.json

PHOTO may be a file, a folder (its supported images; ``--recursive`` for sub-folders) or a glob
pattern (expanded here too, for shells that do not). The networks are loaded once for the whole
batch and each reference is encoded once. A photo that cannot be read or saved is reported on one
line (``error: <file>: <message>``) and the batch goes on.

Exit status: 0 when every photo was colorized, 1 when any failed (or the weights are missing),
2 for a usage error.

Developer option: with ``HEIRLOOM_ALLOW_RANDOM_WEIGHTS=1`` in the environment, missing trained
weights are replaced by randomly initialised networks. The colours are then meaningless; it exists
so that tests and benchmarks run without trained weights.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, TextIO

from core.api import ENCODERS, Colorizer, ColorizerConfig, load_models
from core.device import DEVICE_CHOICES, resolve_device
from core.hints import Hint, parse_rgb
from core.imageio import SUPPORTED_SAVE_SUFFIXES, ImageError, is_supported_image, load_photo
from core.weights import DEFAULT_COLORNET, WeightsError

RANDOM_WEIGHTS_ENV = "HEIRLOOM_ALLOW_RANDOM_WEIGHTS"
OUTPUT_TAG = "-colour"
FORMAT_SUFFIXES = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "tif": ".tif", "tiff": ".tif"}
# Earlier results in a folder ("x-colour.jpg", "x-colour-2.png") are not colorized again.
_EARLIER_RESULT = re.compile(re.escape(OUTPUT_TAG) + r"(-\d+)?$")
_GLOB_CHARS = frozenset("*?[")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line asks for something impossible; the message says what to change."""


# --------------------------------------------------------------------------------------------
# Argument types


def parse_hint(text: str) -> Hint:
    """'X,Y,#RRGGBB' or 'X,Y,#RRGGBB,RADIUS' (photo pixels) -> Hint."""
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) not in (3, 4):
            raise ValueError
        x, y = float(parts[0]), float(parts[1])
        radius = float(parts[3]) if len(parts) == 4 else 2.0
        return Hint.from_rgb(x, y, parts[2], radius)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a hint of the form X,Y,#RRGGBB[,RADIUS] (for example 120,340,#3a5fcd,4)"
        ) from None


def read_hints_file(path: Path) -> list[Hint]:
    """Hints from JSON: ``{"hints": [{"x", "y", "color": "#rrggbb" | "ab": [a, b], "radius"}]}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: the hints file cannot be read ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise UsageError(f"{path}: the hints file is not valid JSON ({exc})") from exc
    entries = data.get("hints") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise UsageError(f'{path}: expected {{"hints": [...]}} with a list of hints')
    hints = []
    for number, entry in enumerate(entries, start=1):
        try:
            if not isinstance(entry, dict):
                raise ValueError("it is not an object")
            hints.append(Hint.from_dict(entry))
        except KeyError as exc:
            raise UsageError(f"{path}: hint {number} lacks {exc}") from None
        except (TypeError, ValueError) as exc:
            raise UsageError(f"{path}: hint {number} is invalid ({exc})") from None
    return hints


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number between 0 and 1")
    return value


def _int_between(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number from {low} to {high}")
        return value

    return parse


def _device(text: str) -> str:
    choice = text.lower()
    if choice in DEVICE_CHOICES or re.fullmatch(r"cuda:\d+", choice):
        return choice
    raise argparse.ArgumentTypeError(f"'{text}' is not one of {', '.join(DEVICE_CHOICES)} (or cuda:N)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heirloom",
        description="Bring colour back to black-and-white photos, offline.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    colorize = commands.add_parser(
        "colorize",
        help="colorize photos",
        description="Colorize black-and-white photos, optionally guided by colour reference photos "
        "and by colours pinned at chosen pixels.",
        epilog="Results are saved as <name>-colour.<ext> beside each photo (or in -o OUT), at full "
        "resolution; an existing file is never replaced (-1, -2, ... is added). Exit status: 0 when "
        "all photos were colorized, 1 when any failed, 2 for a usage error. "
        f"Developer option: {RANDOM_WEIGHTS_ENV}=1 replaces missing trained weights by random "
        "networks (for tests; the colours are then meaningless).",
    )
    colorize.add_argument("photos", nargs="+", metavar="PHOTO", help="photo files, folders or glob patterns")
    colorize.add_argument(
        "-r", "--reference", action="append", default=[], metavar="R",
        help="a colour photo whose colours to borrow (repeat for several)",
    )
    colorize.add_argument(
        "--blend", type=_fraction, default=1.0, metavar="A",
        help="how strongly the references' colours are used, 0 to 1 (default 1)",
    )
    colorize.add_argument(
        "--hint", action="append", type=parse_hint, default=[], metavar="X,Y,#RRGGBB[,R]",
        help="pin a colour at photo pixel (X, Y), optionally over a square of half-size R (repeatable)",
    )
    colorize.add_argument(
        "--hints-file", type=Path, metavar="F.json",
        help='hints as JSON: {"hints": [{"x": 10, "y": 20, "color": "#aa3322", "radius": 3}]}',
    )
    colorize.add_argument(
        "--size", type=_int_between(64, 2048), default=ColorizerConfig.working_size, metavar="N",
        help=f"short side in pixels the networks work at (default {ColorizerConfig.working_size}); "
        "the result always has the photo's full size",
    )
    colorize.add_argument(
        "--device", type=_device, default="auto", metavar="D",
        help="auto (default), cpu, cuda or mps",
    )
    colorize.add_argument(
        "-o", "--output", type=Path, metavar="OUT",
        help="output folder (created if needed), or the output file when there is one photo",
    )
    colorize.add_argument(
        "--format", choices=sorted(FORMAT_SUFFIXES), type=str.lower,
        help="file format of the results (default: the photo's own, or png)",
    )
    colorize.add_argument(
        "--quality", type=_int_between(1, 100), default=95, metavar="Q", help="JPEG quality (default 95)"
    )
    colorize.add_argument(
        "--encoder", choices=ENCODERS, default=ColorizerConfig.encoder,
        help="image encoder of the reference transfer (vgg19 needs torchvision's VGG19 weights file)",
    )
    colorize.add_argument(
        "--model", default=DEFAULT_COLORNET, metavar="NAME",
        help="colorization weights: a registered name or a weights file",
    )
    colorize.add_argument(
        "--no-matching", dest="matching", action="store_false",
        help="do not pin a reference's colours where it shows the same things as the photo; "
        "transfer only its palette",
    )
    colorize.add_argument(
        "--uniform-blend", dest="content_aware", action="store_false",
        help="apply the reference palette with the same strength everywhere, not only where "
        "the reference shows similar content",
    )
    colorize.add_argument("--recursive", action="store_true", help="also look inside sub-folders")
    return parser


# --------------------------------------------------------------------------------------------
# Inputs and outputs


@dataclass
class Inputs:
    photos: list[Path]
    problems: list[tuple[str, str]]  # (what the user gave, why it yields nothing)
    skipped_results: int = 0


def _folder_photos(folder: Path, recursive: bool) -> tuple[list[Path], int]:
    entries = folder.rglob("*") if recursive else folder.iterdir()
    photos, skipped = [], 0
    for path in sorted(entries):
        if path.name.startswith(".") or not path.is_file() or not is_supported_image(path):
            continue
        if _EARLIER_RESULT.search(path.stem):
            skipped += 1
        else:
            photos.append(path)
    return photos, skipped


def collect_inputs(specs: Sequence[str], recursive: bool = False) -> Inputs:
    """Files, folders and glob patterns -> the photos to colorize, each once, in the order given."""
    found: list[Path] = []
    problems: list[tuple[str, str]] = []
    skipped = 0
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            photos, n = _folder_photos(path, recursive)
            skipped += n
            if not photos:
                problems.append((spec, "this folder holds no photos Heirloom can open"))
            found += photos
        elif not path.exists() and _GLOB_CHARS & set(spec):
            photos = []
            for match in sorted(Path(m) for m in glob.glob(spec, recursive=recursive)):
                if match.is_dir():
                    inside, n = _folder_photos(match, recursive)
                    photos += inside
                    skipped += n
                elif match.is_file() and is_supported_image(match) and not match.name.startswith("."):
                    if _EARLIER_RESULT.search(match.stem):
                        skipped += 1
                    else:
                        photos.append(match)
            if not photos:
                problems.append((spec, "no photos match this pattern"))
            found += photos
        else:
            found.append(path)  # a missing or unreadable file is reported when it is opened
    unique: dict[str, Path] = {}
    for path in found:
        unique.setdefault(os.path.normcase(os.path.abspath(path)), path)
    return Inputs(list(unique.values()), problems, skipped)


@dataclass(frozen=True)
class OutputPlan:
    """Where results go: one named file, a folder, or beside each photo (both None)."""

    file: Path | None = None
    folder: Path | None = None
    suffix: str | None = None  # forced by --format

    def target_for(self, photo: Path, taken: set[str]) -> Path:
        if self.file is not None:
            return self.file
        suffix = self.suffix or (photo.suffix if photo.suffix.lower() in SUPPORTED_SAVE_SUFFIXES else ".png")
        folder = self.folder if self.folder is not None else photo.parent
        stem = photo.stem + OUTPUT_TAG
        candidate = folder / f"{stem}{suffix}"
        number = 0
        while candidate.exists() or os.path.normcase(os.path.abspath(candidate)) in taken:
            number += 1
            candidate = folder / f"{stem}-{number}{suffix}"
        return candidate


def plan_outputs(output: Path | None, count: int, fmt: str | None) -> OutputPlan:
    suffix = FORMAT_SUFFIXES[fmt] if fmt else None
    if output is None:
        return OutputPlan(suffix=suffix)
    names_file = not output.is_dir() and output.suffix != ""
    if not names_file:
        return OutputPlan(folder=output, suffix=suffix)
    if count > 1:
        raise UsageError(f"-o {output} names a file, but there are {count} photos; give a folder instead")
    if output.suffix.lower() not in SUPPORTED_SAVE_SUFFIXES:
        raise UsageError(f"-o {output}: results can be saved as .png, .jpg or .tif only")
    if suffix and FORMAT_SUFFIXES.get(output.suffix.lower().lstrip(".")) != suffix:
        raise UsageError(f"-o {output} does not match --format {fmt}")
    return OutputPlan(file=output)


# --------------------------------------------------------------------------------------------
# Progress


class ProgressBar:
    """``[####----] 3/10 name.jpg`` on one redrawn line (a terminal) or one line per photo (a log)."""

    WIDTH = 20

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total = max(total, 1)
        self.stream = stream
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self._shown = ""
        self._label = ""

    def show(self, done: float, index: int, name: str) -> None:
        filled = int(self.WIDTH * min(done, self.total) / self.total)
        label = f"{index}/{self.total} {name}"
        text = f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {label}"
        if self.live:
            if text == self._shown:
                return
            self.stream.write("\r" + text.ljust(len(self._shown)))
            self._shown = text
        elif label != self._label:
            self.stream.write(text + "\n")  # a log gets one line per photo, not one per redraw
        self._label = label
        self.stream.flush()

    def message(self, line: str) -> None:
        """Print a line of its own without garbling the bar."""
        if self.live and self._shown:
            self.stream.write("\r" + " " * len(self._shown) + "\r")
            self._shown = ""
        self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.live and self._shown:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------------------------
# The command


def _random_weights_allowed() -> bool:
    return os.environ.get(RANDOM_WEIGHTS_ENV, "").strip().lower() in ("1", "true", "yes")


def _say(stream: TextIO, text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


def colorize(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    started = time.perf_counter()
    try:
        hints = list(args.hint)
        if args.hints_file is not None:
            hints += read_hints_file(args.hints_file)
        inputs = collect_inputs(args.photos, args.recursive)
        plan = plan_outputs(args.output, len(inputs.photos), args.format)
        resolve_device(args.device)
        config = ColorizerConfig(
            working_size=args.size,
            device=args.device,
            colornet=args.model,
            encoder=args.encoder,
            match_references=args.matching,
            content_aware=args.content_aware,
            allow_random_weights=_random_weights_allowed(),
        )
    except (UsageError, ValueError) as exc:
        _say(err, f"heirloom colorize: error: {exc}")
        return EXIT_USAGE

    for spec, problem in inputs.problems:
        _say(err, f"error: {spec}: {problem}")
    if inputs.skipped_results:
        _say(err, f"note: skipped {inputs.skipped_results} earlier result(s) named *{OUTPUT_TAG}.*")
    if not inputs.photos:
        _say(out, "No photos were colorized.")
        return EXIT_FAILED

    try:
        models = load_models(config)
    except WeightsError as exc:
        _say(err, f"error: {exc}")
        return EXIT_FAILED
    if any(part.get("random") for part in models.metadata.values()):
        _say(err, "warning: trained weights are missing, so random networks are used; the colours are meaningless")
    colorizer = Colorizer(config, models)
    colorizer.set_blend(args.blend)
    for reference in args.reference:
        try:
            colorizer.add_reference(reference)
        except ImageError as exc:
            _say(err, f"error: {reference}: {exc}")
            return EXIT_FAILED
    colorizer.set_hints(hints)

    if plan.folder is not None:
        try:
            plan.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _say(err, f"error: {plan.folder}: the output folder cannot be created ({exc.strerror or exc})")
            return EXIT_FAILED

    taken = {os.path.normcase(os.path.abspath(p)) for p in inputs.photos}
    bar = ProgressBar(len(inputs.photos), err)
    saved: list[Path] = []
    failed = len(inputs.problems)
    for index, photo_path in enumerate(inputs.photos):
        name = photo_path.name
        bar.show(index, index + 1, name)
        try:
            colorizer.set_target(load_photo(photo_path))
            target = plan.target_for(photo_path, taken)
            written = colorizer.export(
                target, quality=args.quality, progress=lambda f, i=index, n=name: bar.show(i + f, i + 1, n)
            )
        except (ImageError, WeightsError) as exc:
            failed += 1
            bar.message(f"error: {photo_path}: {exc}")
            continue
        except MemoryError:
            failed += 1
            bar.message(f"error: {photo_path}: there is not enough memory; try a smaller --size or close other programs")
            continue
        except Exception as exc:  # noqa: BLE001 - one faulty photo must not stop a batch of hundreds
            failed += 1
            bar.message(f"error: {photo_path}: unexpected failure ({type(exc).__name__}: {exc}); please report it")
            continue
        taken.add(os.path.normcase(os.path.abspath(written)))
        saved.append(written)
    bar.show(len(inputs.photos), len(inputs.photos), "done")
    bar.close()

    seconds = time.perf_counter() - started
    total = len(saved) + failed
    if len(saved) == 1 and total == 1:
        _say(out, f"Colorized 1 photo in {seconds:.1f} s: {saved[0]}")
    elif failed:
        _say(out, f"Colorized {len(saved)} of {total} photos in {seconds:.1f} s; {failed} failed.")
    else:
        where = f" into {plan.folder}" if plan.folder is not None else ""
        _say(out, f"Colorized {len(saved)} photos{where} in {seconds:.1f} s.")
    return EXIT_FAILED if failed else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``heirloom COMMAND ...`` (``argv`` without the program name); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command != "colorize":
        parser.print_usage(sys.stderr)
        return EXIT_USAGE
    try:
        return colorize(args, sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        _say(sys.stderr, "interrupted")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
