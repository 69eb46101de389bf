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
import os
import re
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence, TextIO

from core.api import CORRESPONDENCES, ENCODERS, RANDOM_WEIGHTS_ENV, Colorizer, ColorizerConfig, load_models
from core.device import DEVICE_CHOICES, PRECISIONS, resolve_device
from core.edit import DEFAULT_REACH, MAX_HINTS, Edit, EditError, Reference, parse_json
from core.hints import Hint, hint_on_photo
from core.imageio import ImageError, is_supported_image
from core.output import FORMAT_SUFFIXES, OUTPUT_TAG, OutputError, OutputPlan, Target, is_earlier_result
from core.weights import DEFAULT_COLORNET, WeightsError

_GLOB_CHARS = frozenset("*?[")
MAX_HINTS_FILE_BYTES = 16 * 1024 * 1024  # far more than any hints file a person writes
_HINT_FORM = "X,Y,#RRGGBB[,RADIUS[,REACH]] (for example 120,340,#3a5fcd,4 or 120,340,#3a5fcd,4,0.9)"

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line asks for something impossible; the message says what to change."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``heirloom colorize: error: ... (see --help)``."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# --------------------------------------------------------------------------------------------
# Argument types


def parse_hint(text: str) -> Hint:
    """'X,Y,#RRGGBB', 'X,Y,#RRGGBB,RADIUS' or 'X,Y,#RRGGBB,RADIUS,REACH' (photo pixels; reach 0..1)
    -> Hint; ArgumentTypeError (a usage error) for another form, a number that is not finite, a
    radius outside 0-32 or a reach outside 0-1."""
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) not in (3, 4, 5):
            raise ValueError("it needs 3 to 5 parts")
        x, y = float(parts[0]), float(parts[1])
        radius = float(parts[3]) if len(parts) >= 4 else 2.0
        reach = float(parts[4]) if len(parts) == 5 else DEFAULT_REACH
        return Hint.from_rgb(x, y, parts[2], radius, reach=reach)
    except ValueError as exc:  # EditError is a ValueError too
        reason = str(exc).rstrip(".")
        reason = reason[:1].lower() + reason[1:]
        raise argparse.ArgumentTypeError(f"'{text}' is not a usable hint ({reason}); the form is {_HINT_FORM}") from None


def read_hints_file(path: Path) -> list[Hint]:
    """Hints from JSON: ``{"hints": [{"x", "y", "color": "#rrggbb" | "ab": [a, b], "radius"?, "reach"?, "picked"?}]}``
    (or the bare list). UsageError, naming the file and the hint, for anything else."""
    entries = _hint_entries(path, _read_json(path))
    hints = []
    for number, entry in enumerate(entries, start=1):
        try:
            hints.append(_hint_from_json(entry))
        except (EditError, ValueError, TypeError) as exc:
            raise UsageError(f"{path}: hint {number} {exc}") from None
    return hints


def _read_json(path: Path) -> object:
    try:
        if path.stat().st_size > MAX_HINTS_FILE_BYTES:
            raise UsageError(f"{path}: the hints file is far larger than any hints file; is it the right file?")
        return parse_json(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"{path}: the hints file cannot be read ({exc.strerror or exc})") from None
    except EditError as exc:
        raise UsageError(f"{path}: {_lower_first(exc)}") from None


def _hint_entries(path: Path, data: object) -> list:
    entries = data.get("hints") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise UsageError(f'{path}: expected {{"hints": [...]}} with a list of hints')
    if len(entries) > MAX_HINTS:
        raise UsageError(f"{path}: holds {len(entries):,} hints; at most {MAX_HINTS:,} are used")
    return entries


def _hint_from_json(entry: object) -> Hint:
    """One hints-file entry -> Hint; raises with a message that completes "hint N ..."."""
    if not isinstance(entry, dict):
        raise ValueError("is invalid (it is not an object)")
    colour_key = "ab" if "ab" in entry else "color"
    missing = [key for key in ("x", "y", colour_key) if key not in entry]
    if missing:
        raise ValueError(f"lacks {', '.join(repr(key) for key in missing)}")
    try:
        if colour_key == "color":
            if not isinstance(entry["color"], str):
                raise EditError(f"its colour must be a text like \"#aa3322\", got {entry['color']!r:.40}")
            hint = Hint.from_rgb(entry["x"], entry["y"], entry["color"], entry.get("radius", 2.0), reach=entry.get("reach", DEFAULT_REACH))
            hint = replace(hint, picked=entry.get("picked", False))  # validated as in the "ab" form
        else:
            hint = Hint.from_dict(entry)
    except ValueError as exc:
        raise ValueError(f"is invalid ({_lower_first(exc)})") from None
    return replace(hint, id=0)  # ids number a saved edit's hints; a hints file has none


def _lower_first(error: Exception) -> str:
    text = str(error).rstrip(".")
    return text[:1].lower() + text[1:]


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
    parser = _Parser(
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
        "resolution. An existing file is never replaced: another result gets the next free name "
        "(-1, -2, ...), and an existing -o FILE is refused, unless --overwrite is given. No photo or "
        "reference of the run is ever written over, not even with --overwrite. Exit status: 0 when "
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
        "--hint", action="append", type=parse_hint, default=[], metavar="X,Y,#RRGGBB[,R[,REACH]]",
        help="pin a colour at photo pixel (X, Y), optionally over a square of half-size R; REACH 0..1 says how far "
        "it spreads over its region (0 about the point, 1 all of it; default 0.5) (repeatable)",
    )
    colorize.add_argument(
        "--hints-file", type=Path, metavar="F.json",
        help='hints as JSON: {"hints": [{"x": 10, "y": 20, "color": "#aa3322", "radius": 3, "reach": 0.5}]}',
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
        "--precision", choices=PRECISIONS, default="auto",
        help="auto (default): the networks infer in bfloat16 on CPUs that compute it natively "
        "(faster, the same colours to rounding); float32: always full precision",
    )
    colorize.add_argument(
        "-o", "--output", type=Path, metavar="OUT",
        help="output folder (created if needed), or the output file when there is one photo",
    )
    colorize.add_argument(
        "--overwrite", action="store_true",
        help="replace existing results (an existing -o FILE, or <name>-colour.<ext>) instead of "
        "refusing or numbering; the photos and references themselves are never written over",
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
    colorize.add_argument(
        "--correspondence", choices=CORRESPONDENCES, default=ColorizerConfig.correspondence,
        help="how a reference's colours are found where it shows what the photo shows: warp (every part of "
        "the photo looks for its likeness in the reference and its mirror image; default) or match "
        "(only near-identical content)",
    )
    colorize.add_argument(
        "--hints-everywhere", dest="user_edit", action="store_false",
        help="feed the hints to the colorization network as the paper does (a hint may recolour the whole "
        "photo) instead of recolouring only the region each one lands in",
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
        if is_earlier_result(path):
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
                    if is_earlier_result(match):
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


def plan_outputs(
    output: Path | None,
    photos: Sequence[Path],
    references: Sequence[str] = (),
    fmt: str | None = None,
    overwrite: bool = False,
) -> OutputPlan:
    """The output plan of the command line (see core.output for the rules); UsageError when -o
    cannot name what it is asked to."""
    try:
        return OutputPlan.create(
            output, photos, references, suffix=FORMAT_SUFFIXES[fmt] if fmt else None, overwrite=overwrite
        )
    except OutputError as exc:
        raise UsageError(f"-o {exc}") from None


def hints_for_photo(hints: Sequence[Hint], size: tuple[int, int], photo: Path, report) -> list[Hint]:
    """The hints that lie on the photo; each one outside it is reported (``report(line)``)."""
    kept = []
    for number, hint in enumerate(hints, start=1):
        if hint_on_photo(hint, size):
            kept.append(hint)
        else:
            report(
                f"note: {photo}: hint {number} at ({hint.x:g}, {hint.y:g}) lies outside the "
                f"{size[0]}x{size[1]} photo and is left out"
            )
    return kept


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


def _say(stream: TextIO, text: str) -> None:
    stream.write(text + "\n")
    stream.flush()


def _base_edit(args: argparse.Namespace) -> Edit:
    """The edit every photo of the run shares (EditError, a ValueError, for a value it refuses)."""
    return Edit(
        references=tuple(Reference(r) for r in dict.fromkeys(args.reference)),
        blend=args.blend, working_size=args.size, model=args.model,
    )


def _edit_for(colorizer: Colorizer, base: Edit, hints: Sequence[Hint], photo_path: Path, report) -> Edit:
    """The run's edit for one photo: its hints that lie on it (the others are reported)."""
    photo = colorizer.open(photo_path)  # ImageError when it cannot be read
    return replace(base, photo=str(photo_path), hints=tuple(hints_for_photo(hints, photo.size, photo_path, report)))


def _writer(colorizer: Colorizer, edit: Edit, quality: int, progress):
    """``write(path, overwrite)`` for OutputPlan.save: exports the edit's full-resolution result."""

    def write(path: Path, overwrite: bool) -> Path:
        return colorizer.export(edit, path, quality=quality, progress=progress, overwrite=overwrite)

    return write


def _targets_or_none(plan: OutputPlan, photos: Sequence[Path], err: TextIO) -> list[Target] | None:
    """Every photo's target, decided (and the output folders proven writable) before anything is
    computed; None after saying why there are none. Collisions are noted."""
    try:
        plan.check_writable(photos)
        targets = plan.targets(photos)
    except OutputError as exc:
        _say(err, f"error: {exc}")
        return None
    for target in targets:
        if target.collision:
            _say(err, f"note: {target.collision}")
    return targets


def colorize(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    started = time.perf_counter()
    try:
        hints = list(args.hint)
        if args.hints_file is not None:
            hints += read_hints_file(args.hints_file)
        inputs = collect_inputs(args.photos, args.recursive)
        plan = plan_outputs(args.output, inputs.photos, args.reference, args.format, args.overwrite)
        resolve_device(args.device)
        config = ColorizerConfig.from_options(
            device=args.device, model=args.model, working_size=args.size, encoder=args.encoder,
            matching=args.matching, content_aware=args.content_aware,
            correspondence=args.correspondence, user_edit=args.user_edit, precision=args.precision,
        )
        base = _base_edit(args)
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
    targets = _targets_or_none(plan, inputs.photos, err)
    if targets is None:
        return EXIT_FAILED

    try:
        models = load_models(config)
    except WeightsError as exc:
        _say(err, f"error: {exc}")
        return EXIT_FAILED
    if any(part.get("random") for part in models.metadata.values()):
        _say(err, "warning: trained weights are missing, so random networks are used; the colours are meaningless")
    colorizer = Colorizer(config, models)
    for reference in args.reference:
        try:
            colorizer.check_reference(reference)
        except ImageError as exc:
            _say(err, f"error: {reference}: {exc}")
            return EXIT_FAILED

    bar = ProgressBar(len(inputs.photos), err)
    saved: list[Path] = []
    failed = len(inputs.problems)
    for index, target in enumerate(targets):
        photo_path, name = target.photo, target.photo.name
        bar.show(index, index + 1, name)
        try:
            edit = _edit_for(colorizer, base, hints, photo_path, bar.message)
            write = _writer(colorizer, edit, args.quality, lambda f, i=index, n=name: bar.show(i + f, i + 1, n))
            written = plan.save(target, write)
        except (ImageError, WeightsError, OutputError, EditError) as exc:
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
