"""Interactive speed, end to end: the real window, worker and canvas (offscreen Qt), as a user sees it.

    python benchmarks/interactive.py                    # the demo photo and reference, 9 clicks, 9 drags
    python benchmarks/interactive.py --photo P.jpg --reference R.jpg --repeats 15
    python benchmarks/interactive.py --no-reference      # automatic colours (no blend slider to drag)
    python benchmarks/interactive.py --quick             # smoke run: small copies of the photos, 1 repeat
    python benchmarks/interactive.py --verbose           # also every result paint after each action

It builds the app's :class:`desktop.main_window.MainWindow` at 1600 x 1000 with the real colorizer
(the shipped weights, found and loaded exactly as ``heirloom`` does; untrained networks only where
``HEIRLOOM_ALLOW_RANDOM_WEIGHTS=1`` allows them and no weights are installed), opens the photo with
its reference, waits for the first preview, then measures wall-clock milliseconds from what the user
did to what the canvas painted:

* **click**: a real mouse press/release (``QTest``) at a new point on the photo, which adds a hint.
* **blend drag**: the *Reference strength* slider moved through 10 values, 16 ms apart, inside one
  press/release gesture (``setSliderDown`` + ``setSliderPosition``: the calls ``QSlider`` makes on a
  mouse drag); timed from the *last* value change.

What "first" and "sharp" mean here. Every preview the worker computes (``ColorWorker._preview``)
reaches the canvas twice: first the quick *working-size* image (``PreviewResult.final == False``,
e.g. 256 px short side), then, unless a newer request is already waiting, the *display-size* render
(``final == True``, long side up to 1600 px). The benchmark wraps ``HintCanvas.set_result`` (which
notes the tag and ``final`` flag of the result being placed) and ``HintCanvas.paintEvent`` (which
stamps the time when the next paint of the viewport has *finished*):

* **first preview** = the first finished canvas paint showing a result requested at or after the
  action (tag >= the tag the action requested), quick or final.
* **sharp preview** = the first finished paint of a *final* (display-size) result of the newest
  requested edit. For a click that also means after the hint's colour has settled: a new hint is
  placed with a provisional neutral colour and the colour the model predicts at that pixel arrives
  from a probe a moment later, which edits the hint and asks for another preview; "sharp" is the
  display-size render of that settled edit (or of the click's own edit when settling did not change
  it). The marker repaints that need no new result are not counted.

Times are stamped inside the hooks, so waiting never adds to them: waits run a Qt event loop (no
sleeps) until the condition holds or ``--timeout`` seconds pass; a wait that runs out is reported as
``timeout`` in the table and the exit status is 1. Between actions the app is left to go idle.
Numbers are wall clock on a shared machine: the median is what a user waits for, the best shows the
floor when nothing else competes for the cores. Targets (the issue's, on a 2-core CPU): first
preview <= 100 ms and sharp preview <= 250 ms after a hint; the drag is held to the same targets.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DEMO_PHOTO = ROOT / "resources" / "demo" / "demo_photo.jpg"
DEMO_REFERENCE = ROOT / "resources" / "demo" / "demo_reference.jpg"
WINDOW_SIZE = (1600, 1000)
TARGETS_MS = {"first": 100.0, "sharp": 250.0}
DRAG_STEPS = 10
DRAG_STEP_MS = 16  # about one mouse move per frame
DRAG_SPAN = 40  # percent moved by one drag
QUICK_SIDE = 240  # long side of the photos in a --quick run


@dataclass
class Step:
    """One row of the table: the milliseconds measured for one kind of (action, paint)."""

    name: str
    target_ms: float
    times_ms: list[float] = field(default_factory=list)
    timeouts: int = 0
    note: str = ""

    def record(self, event_of, started: float, timeout_s: float) -> None:
        """Wait until ``event_of()`` gives the paint event (time, ...) and keep its ms since ``started``,
        or count a timeout."""
        hit = wait_for(lambda: event_of() is not None, timeout_s)
        event = event_of()
        if hit and event is not None:
            self.times_ms.append((event[0] - started) * 1e3)
        else:
            self.timeouts += 1


class PaintWatch:
    """Stamps the time each result placed on the canvas has finished painting.

    ``events``: (perf_counter seconds, tag, final) for every finished paint that showed a newly
    placed result (several results placed between two paints count once, as the newest)."""

    def __init__(self, window) -> None:
        self.window = window
        self.events: list[tuple[float, int, bool]] = []
        self._placed: tuple[int, bool] | None = None
        canvas = window.canvas
        set_result, paint_event = canvas.set_result, canvas.paintEvent

        def timed_set_result(image) -> None:
            set_result(image)
            preview = window.last_preview  # _on_preview_ready sets it (and shown_tag) before placing
            self._placed = (window.shown_tag, bool(preview is not None and preview.final))

        def timed_paint_event(event) -> None:
            paint_event(event)
            if self._placed is not None:
                self.events.append((time.perf_counter(), *self._placed))
                self._placed = None

        canvas.set_result = timed_set_result
        canvas.paintEvent = timed_paint_event

    def first_since(self, start: int, min_tag: int, final: bool = False) -> tuple[float, int, bool] | None:
        for event in self.events[start:]:
            if event[1] >= min_tag and (event[2] or not final):
                return event
        return None


def wait_for(condition, timeout_s: float) -> bool:
    """Run the Qt event loop until ``condition()`` is true (checked every 5 ms) or ``timeout_s`` pass."""
    from PySide6.QtCore import QEventLoop, QTimer

    if condition():
        return True
    loop = QEventLoop()
    poll, deadline = QTimer(), QTimer()
    poll.setInterval(5)
    poll.timeout.connect(lambda: condition() and loop.quit())
    deadline.setSingleShot(True)
    deadline.timeout.connect(loop.quit)
    poll.start()
    deadline.start(max(1, int(timeout_s * 1000)))
    loop.exec()
    poll.stop()
    deadline.stop()
    return bool(condition())


def spin(ms: int) -> None:
    """Let the app run for ``ms`` milliseconds (events are processed meanwhile; no sleep)."""
    until = time.perf_counter() + ms / 1000
    wait_for(lambda: time.perf_counter() >= until, ms / 1000 + 1)


def quick_copies(photo: Path, reference: Path | None, folder: Path) -> tuple[Path, Path | None]:
    """Small copies of the photos (long side QUICK_SIDE); a generated gradient when the photo is missing."""
    import numpy as np
    from PIL import Image

    def small(path: Path, name: str) -> Path:
        out = folder / name
        if path.is_file():
            image = Image.open(path)
            image.thumbnail((QUICK_SIDE, QUICK_SIDE))
            image.convert("RGB").save(out, quality=92)
        else:
            y, x = np.mgrid[0:QUICK_SIDE * 3 // 4, 0:QUICK_SIDE]
            Image.fromarray(((x + 2 * y) % 256).astype(np.uint8)).save(out)
        return out

    return small(photo, "quick_photo.jpg"), (small(reference, "quick_reference.jpg") if reference is not None else None)


def click_points(size: tuple[int, int], count: int) -> list[tuple[int, int]]:
    """``count`` well-spread photo pixels (a 2-D golden-ratio sequence, kept off the borders)."""
    W, H = size
    points = []
    for i in range(count):
        fx = 0.15 + 0.7 * ((0.5 + i * 0.754877666) % 1.0)
        fy = 0.15 + 0.7 * ((0.5 + i * 0.569840291) % 1.0)
        points.append((int(W * fx), int(H * fy)))
    return points


def settled(window, timeout_s: float) -> bool:
    """Wait until the newest edit is on screen at display size and no probe is outstanding."""
    return wait_for(lambda: window.preview_is_current and not window.jobs.of_kind("probe"), timeout_s)


def trace(watch: PaintWatch, what: str, started: float, paints_before: int) -> None:
    """One line per action: every result paint since it began (ms, tag, quick or final)."""
    paints = [f"{(t - started) * 1e3:.0f}ms #{tag} {'final' if final else 'quick'}" for t, tag, final in watch.events[paints_before:]]
    print(f"  {what}: " + (", ".join(paints) or "no result painted"))


def measure_click(window, watch: PaintWatch, pixel: tuple[int, int], first: Step, sharp: Step, timeout_s: float, verbose: bool = False) -> str:
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtTest import QTest

    canvas = window.canvas
    at = canvas.viewportTransform().map(QPointF(pixel[0] + 0.5, pixel[1] + 0.5))
    pos = QPoint(math.floor(at.x()), math.floor(at.y()))
    hints_before, tag_before, paints_before = len(window.edit.hints), window.requested_tag, len(watch.events)
    probes_before = {job.tag for job in window.jobs.of_kind("probe")}
    started = time.perf_counter()
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
    if len(window.edit.hints) != hints_before + 1 or window.requested_tag == tag_before:
        return f"the click at {pixel} added no hint"
    click_tag = window.requested_tag
    settle_probes = {job.tag for job in window.jobs.of_kind("probe")} - probes_before  # the new hint's colour

    first.record(lambda: watch.first_since(paints_before, click_tag), started, timeout_s)

    def sharp_event():
        if settle_probes & set(window.jobs.jobs):
            return None  # the hint's colour has not settled yet
        return watch.first_since(paints_before, window.requested_tag, final=True)

    sharp.record(sharp_event, started, timeout_s)
    if verbose:
        spin(100)
        trace(watch, f"click at {pixel} (request #{click_tag}, newest #{window.requested_tag})", started, paints_before)
    return ""


def measure_drag(window, watch: PaintWatch, target: int, first: Step, sharp: Step, timeout_s: float, verbose: bool = False) -> str:
    slider = window.blend_slider.slider
    if not slider.isEnabled():
        return "the blend slider is disabled"
    begin = slider.value()
    values = [round(begin + (target - begin) * (i + 1) / DRAG_STEPS) for i in range(DRAG_STEPS)]
    stamps: list[float] = []

    def changed(_value) -> None:
        stamps.append(time.perf_counter())

    slider.valueChanged.connect(changed)
    paints_before = len(watch.events)
    try:
        slider.setSliderDown(True)  # sliderPressed: one gesture, one undo step
        for i, value in enumerate(values):
            slider.setSliderPosition(value)  # tracking on: valueChanged -> blend_changed -> preview request
            if i + 1 < len(values):
                spin(DRAG_STEP_MS)
        slider.setSliderDown(False)  # sliderReleased (with tracking on it changes no value)
        last_tag = window.requested_tag
    finally:
        slider.valueChanged.disconnect(changed)
    if not stamps or abs(window.edit.blend - target / 100) > 1e-9:
        return "the drag did not change the blend"
    started = stamps[-1]

    first.record(lambda: watch.first_since(paints_before, last_tag), started, timeout_s)
    sharp.record(lambda: watch.first_since(paints_before, max(last_tag, window.requested_tag), final=True), started, timeout_s)
    if verbose:
        spin(100)
        trace(watch, f"drag {begin}->{target} % (last request #{last_tag}), from the last change", started, paints_before)
    return ""


def print_table(steps: list[Step]) -> None:
    print(f"{'step':<30} {'median ms':>10} {'best ms':>9} {'target ms':>10} {'runs':>5}")
    for step in steps:
        if step.note and not step.times_ms and not step.timeouts:
            print(f"{step.name:<30} {'skipped':>10} {'-':>9} {step.target_ms:>10.0f} {0:>5}   ({step.note})")
            continue
        if step.times_ms:
            median, best = statistics.median(step.times_ms), min(step.times_ms)
            mark = " *" if median > step.target_ms else ""
            cells = f"{median:>10.1f} {best:>9.1f}"
        else:
            mark, cells = "", f"{'timeout':>10} {'-':>9}"
        extra = f"   ({step.timeouts} timed out)" if step.timeouts and step.times_ms else ""
        print(f"{step.name:<30} {cells} {step.target_ms:>10.0f} {len(step.times_ms):>5}{mark}{extra}")
    print("(* median over target; times from the action to the end of the canvas paint)")
    for step in steps:
        if step.times_ms:
            print(f"  {step.name}: " + " ".join(f"{t:.0f}" for t in step.times_ms))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=DEMO_PHOTO, help="the photo to open (default: the demo photo)")
    parser.add_argument("--reference", type=Path, default=DEMO_REFERENCE, help="colour reference (default: the demo reference)")
    parser.add_argument("--no-reference", action="store_true", help="no reference: automatic colours, no blend drag")
    parser.add_argument("--repeats", type=int, help="clicks and drags measured (default 9; 1 with --quick)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default auto, as a first run)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for any one paint (default 120)")
    parser.add_argument("--verbose", action="store_true", help="print every result paint after each action")
    parser.add_argument("--quick", action="store_true", help=f"smoke run: {QUICK_SIDE}-px copies of the photos, one repeat")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 9)
    reference = None if args.no_reference else args.reference
    if not args.quick and not args.photo.is_file():
        print(f"error: no photo at {args.photo}", file=sys.stderr)
        return 2
    if reference is not None and not args.quick and not reference.is_file():
        print(f"error: no reference at {reference}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="heirloom-interactive-") as folder:
        return run(args, repeats, reference, Path(folder))


def run(args: argparse.Namespace, repeats: int, reference: Path | None, temp: Path) -> int:
    """The measured session; settings, autosave and --quick copies live in ``temp``."""
    photo = args.photo
    if args.quick:
        photo, reference = quick_copies(args.photo, reference, temp)

    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    QCoreApplication.setOrganizationName("Heirloom")
    QCoreApplication.setApplicationName("Heirloom")
    app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 - kept alive for the run

    from desktop.app import random_weights_allowed
    from desktop.main_window import MainWindow
    from desktop.settings import AppSettings

    # the app's own start-up (desktop.app.run_gui), with settings and autosave in a temporary folder
    started = time.perf_counter()
    settings = AppSettings(QSettings(str(temp / "settings.ini"), QSettings.Format.IniFormat))
    settings.set_device(args.device)
    window = MainWindow(settings.engine_options(allow_random_weights=random_weights_allowed()), settings=settings, autosave_dir=temp / "autosave")
    window.dialogs.ask_save_changes = lambda name: "discard"
    window.resize(*WINDOW_SIZE)
    window.show()
    watch = PaintWatch(window)

    def fail(message: str) -> int:
        print(f"error: {message}", file=sys.stderr)
        window.undo_stack.setClean()
        window.shutdown()
        return 1

    window.open_photo(photo, references=[str(reference)] if reference is not None else [])
    if not wait_for(lambda: window.has_photo or window.dialogs.last_error, args.timeout) or not window.has_photo:
        return fail(f"the photo did not open: {window.dialogs.last_error or 'timeout'}")
    if not settled(window, max(args.timeout, 300.0)) or window.dialogs.last_error:
        return fail(f"no first preview: {window.dialogs.last_error or 'timeout'}")
    startup_s = time.perf_counter() - started
    spin(300)

    info = window.model_info
    import torch

    preview = window.last_preview
    print(
        f"Heirloom interactive speed{' (quick run: numbers not comparable with the targets)' if args.quick else ''}\n"
        f"  device {info.device if info else '?'}, {'UNTRAINED random weights' if info and info.random_weights else 'trained weights'}, "
        f"torch {torch.__version__} on {torch.get_num_threads()} thread(s), {os.cpu_count()} CPU(s)\n"
        f"  window {window.width()} x {window.height()}, canvas {window.canvas.viewport().width()} x {window.canvas.viewport().height()}, "
        f"zoom {window.canvas.zoom:.2f}\n"
        f"  photo {photo.name} {window.photo.size[0]} x {window.photo.size[1]}, working size {window.edit.working_size}, "
        f"display image {preview.image.width()} x {preview.image.height()}, "
        f"reference {reference.name if reference is not None else 'none (automatic)'}\n"
        f"  window, model, photo and first sharp preview in {startup_s:.1f} s; {repeats} repeat(s)"
    )

    click_first = Step("click -> first preview", TARGETS_MS["first"])
    click_sharp = Step("click -> sharp preview", TARGETS_MS["sharp"])
    drag_first = Step("blend drag -> first preview", TARGETS_MS["first"])
    drag_sharp = Step("blend drag -> sharp preview", TARGETS_MS["sharp"])
    problems: list[str] = []
    for pixel in click_points(window.photo.size, repeats):
        problem = measure_click(window, watch, pixel, click_first, click_sharp, args.timeout, args.verbose)
        if problem:
            problems.append(problem)
        settled(window, args.timeout)
        spin(200)
    if reference is None:
        drag_first.note = drag_sharp.note = "no reference: the blend slider is disabled"
    else:
        for i in range(repeats):
            start = window.blend_slider.slider.value()
            target = start - DRAG_SPAN if start - DRAG_SPAN >= 0 else start + DRAG_SPAN
            problem = measure_drag(window, watch, target, drag_first, drag_sharp, args.timeout, args.verbose)
            if problem:
                problems.append(problem)
                break
            settled(window, args.timeout)
            spin(200)

    steps = [click_first, click_sharp, drag_first, drag_sharp]
    print()
    print_table(steps)
    window.undo_stack.setClean()
    window.shutdown()
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if window.dialogs.last_error:
        print(f"error: the app reported: {window.dialogs.last_error}", file=sys.stderr)
    timed_out = any(step.timeouts for step in steps)
    if timed_out:
        print(f"error: some paints did not come within {args.timeout:g} s (marked 'timeout')", file=sys.stderr)
    return 1 if problems or timed_out or window.dialogs.last_error else 0


if __name__ == "__main__":
    sys.exit(main())
