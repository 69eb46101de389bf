"""All colorizer work, on one thread: a dispatcher from tagged requests to :mod:`core.api` calls.

The GUI hands the :class:`ColorWorker` tagged requests through thread-safe methods
(:meth:`~ColorWorker.request_preview`, :meth:`~ColorWorker.submit`, :meth:`~ColorWorker.cancel`) and
hears back through typed signals carrying the same tag. Every request carries the whole
:class:`core.edit.Edit` it is about; the worker keeps no copy of the edit and the colorizer caches
what it computed on exactly the parts of the edit each stage reads.

Preview requests coalesce: only the newest waiting one is ever computed, and a display render is
abandoned as soon as a newer request arrives, so dragging a slider never builds a queue. Jobs (open,
probe, export, batch, training, ...) run in order and each ends in ``finished(tag, result)``,
``failed(tag, message)`` or ``cancelled(tag)``. Nothing raised here reaches the event loop.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QImage

from core.edit import Edit
from desktop.settings import EngineOptions

DISPLAY_SIDE = 1600  # long side of the colour image shown while editing
PALETTE_SIZE = 8
LIVE_INTERVAL = 0.15  # seconds: a stale preview may stop for a newer edit while the screen is younger


# -- requests -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Configure:
    """(Re)build the colorizer: at start-up, and when the device changes."""

    options: EngineOptions


@dataclass(frozen=True)
class OpenPhoto:
    path: str


@dataclass(frozen=True)
class CheckReference:
    """Load a would-be reference and refuse it unless it has colour."""

    path: str


@dataclass(frozen=True)
class ProbePoint:
    """What the model makes of one photo pixel under ``edit``: its colour, lightness and gamut."""

    edit: Edit
    x: float
    y: float


@dataclass(frozen=True)
class Export:
    edit: Edit
    path: str
    quality: int = 95
    overwrite: bool = False  # True once the user confirmed replacing an existing file


@dataclass(frozen=True)
class Batch:
    """Apply the edit's references and blend (not its hints) to every photo in a folder."""

    edit: Edit
    input_dir: str
    output_dir: str
    suffix: str = ".png"
    overwrite: bool = False


@dataclass(frozen=True)
class Train:
    photos_dir: str
    name: str
    steps: int


# -- results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelInfo:
    device: str
    random_weights: bool = False


@dataclass(frozen=True)
class OpenedPhoto:
    path: str
    size: tuple[int, int]  # (width, height) at full resolution
    bit_depth: int
    image: QImage  # the original pixels, long side at most DISPLAY_SIDE


@dataclass(frozen=True)
class CheckedReference:
    path: str  # a colour photo, ready to pin


@dataclass(frozen=True)
class PreviewResult:
    """One look at the current result. ``final`` is False for the quick working-size image that is
    shown while the sharper display-size render is on its way."""

    image: QImage
    final: bool
    original_size: tuple[int, int]
    seconds: float
    palette: tuple[tuple[int, int, int], ...] = ()
    coverage: float = 0.0  # share of the photo the references show (their own colours pinned there)
    hint_lightness: dict[int, float] | None = None  # hint id -> the lightness of its pixel (marker colours)
    edit: Edit | None = None  # the edit shown
    working: Any = None  # its core.api.Preview (working-size colours: ``colour_at`` reads a pixel)


@dataclass(frozen=True)
class ExportDone:
    path: str
    seconds: float


@dataclass(frozen=True)
class BatchDone:
    written: tuple[str, ...]
    failures: tuple[tuple[str, str], ...] = ()  # (file name, message)
    cancelled: bool = False
    notes: tuple[str, ...] = ()  # one sentence per name collision or skipped earlier result


@dataclass(frozen=True)
class TrainingDone:
    record: Any  # the weights record of the new personal model
    stopped_early: bool = False  # the user stopped it; the model trained so far was still saved


class ModelUnavailable(Exception):
    """The colorizer could not be built; the message says why and what to do."""


class TrainingUnavailable(Exception):
    """No trainer was given to this app; the message says so."""


class _Stale(Exception):
    """A newer preview request is waiting; the current one is abandoned quietly."""


class _Cancelled(Exception):
    """The user cancelled the job."""


def default_colorizer_factory(options: EngineOptions):
    """The real colorizer (imported here, in the worker thread, so the GUI starts without torch)."""
    from core.api import Colorizer, ColorizerConfig

    return Colorizer(
        ColorizerConfig.from_options(
            device=options.device,
            model=options.colornet,
            working_size=options.working_size,
            allow_random_weights=options.allow_random_weights,
        )
    )


def array_to_qimage(rgb: np.ndarray) -> QImage:
    """An owned QImage copy of (h, w, 3) or (h, w) uint8 pixels."""
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    if rgb.ndim == 2:
        return QImage(rgb.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    return QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def photo_to_qimage(pixels: np.ndarray, bit_depth: int, max_side: int) -> QImage:
    """The photo's own pixels for display, scaled down by Qt to at most ``max_side``."""
    if bit_depth == 16:
        pixels = (pixels >> 8).astype(np.uint8)
    pixels = np.ascontiguousarray(pixels)
    h, w = pixels.shape[:2]
    if pixels.ndim == 2:
        view = QImage(pixels.data, w, h, w, QImage.Format.Format_Grayscale8)
    else:
        view = QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    if max(w, h) <= max_side:
        return view.copy()
    return view.scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


def _is_user_error(error: BaseException) -> bool:
    """Errors the core raises for the user: their text is already one sentence saying what to do."""
    from core.api import ImageError, WeightsError

    user = (ImageError, WeightsError, ValueError, ModelUnavailable, TrainingUnavailable)
    return isinstance(error, user) and bool(str(error))


def user_message(error: BaseException, doing: str) -> str:
    """One sentence for the user, whatever went wrong."""
    if _is_user_error(error):
        return str(error)
    if isinstance(error, MemoryError):
        return f"There was not enough memory while {doing}; close other programs or choose a smaller working size."
    return (
        f"Something went wrong while {doing} ({type(error).__name__}: {error}). "
        "Your edit is safe; try again, or save the edit and restart Heirloom."
    )


_DOING = {
    "Configure": "loading the colorization model",
    "OpenPhoto": "opening the photo",
    "CheckReference": "opening the reference",
    "ProbePoint": "reading the colour there",
    "Export": "exporting",
    "Batch": "colorizing the folder",
    "Train": "training",
}


class ColorWorker(QObject):
    model_ready = Signal(object)  # ModelInfo
    preview_ready = Signal(int, object)  # tag, PreviewResult
    reference_rejected = Signal(str, str)  # path, message: a pinned reference that can no longer load
    progress = Signal(int, float, str)  # tag, fraction 0..1, what is being done
    training_progress = Signal(int, object)  # tag, the trainer's progress report
    finished = Signal(int, object)  # tag, OpenedPhoto | CheckedReference | Probe | ExportDone | BatchDone | TrainingDone
    failed = Signal(int, str)  # tag, one-sentence message
    cancelled = Signal(int)  # tag of a job that stopped because the user cancelled it
    busy_changed = Signal(bool)
    _wake = Signal()

    def __init__(
        self,
        factory: Callable[[EngineOptions], Any] = default_colorizer_factory,
        trainer: Callable | None = None,
        display_side: int = DISPLAY_SIDE,
    ) -> None:
        super().__init__()
        self.factory = factory
        self.trainer = trainer  # run(photos_dir, name, steps, progress=, should_stop=) -> weights record
        self.display_side = display_side
        self._lock = threading.Lock()
        self._shown_at = 0.0  # time.monotonic() of the last preview sent to the screen
        self._jobs: deque[tuple[int, object]] = deque()
        self._pending_preview: tuple[int, Edit] | None = None
        self._cancelled: set[int] = set()
        self._stopping = False
        self.processed_previews: deque[int] = deque(maxlen=1000)  # tags of previews actually computed (diagnostics)
        # touched only on the worker thread
        self.colorizer = None
        self._options = EngineOptions()
        self._model_error: str | None = None  # why the colorizer could not be built, until reconfigured
        self._lightness: dict[tuple, float] = {}  # (photo, x, y) -> lightness there (see _lightness_at)
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    # -- called from the GUI thread -----------------------------------------------------------
    def request_preview(self, tag: int, edit: Edit) -> None:
        """Compute a preview of ``edit``; replaces any preview request still waiting."""
        with self._lock:
            self._pending_preview = (tag, edit)
        self._wake.emit()

    def submit(self, tag: int, request: object) -> None:
        with self._lock:
            self._jobs.append((tag, request))
        self._wake.emit()

    def cancel(self, tag: int) -> None:
        with self._lock:
            self._cancelled.add(tag)

    def stop(self) -> None:
        """Abandon waiting work and ask the running job to stop (call before quitting the thread)."""
        with self._lock:
            self._stopping = True
            self._cancelled.update(tag for tag, _ in self._jobs)
            self._jobs.clear()
            self._pending_preview = None

    # -- worker thread ------------------------------------------------------------------------
    def _is_cancelled(self, tag: int) -> bool:
        with self._lock:
            return self._stopping or tag in self._cancelled

    def _newer_preview_waiting(self) -> bool:
        with self._lock:
            return self._stopping or self._pending_preview is not None

    def _work_waiting(self) -> bool:
        """A newer preview or any other request waits (work done ahead stops for it)."""
        with self._lock:
            return self._stopping or self._pending_preview is not None or bool(self._jobs)

    def _may_stop_preview(self) -> bool:
        """A preview being computed stops for a newer edit only while the screen is fresh: once
        nothing has been shown for LIVE_INTERVAL, it finishes, so a fast drag still shows results."""
        return self._newer_preview_waiting() and time.monotonic() - self._shown_at < LIVE_INTERVAL

    def _next(self) -> tuple[int, object] | None:
        with self._lock:
            if self._stopping:
                return None
            if self._jobs:
                return self._jobs.popleft()
            if self._pending_preview is not None:
                item, self._pending_preview = self._pending_preview, None
                return item
        return None

    @Slot()
    def _drain(self) -> None:
        item = self._next()
        if item is None:
            return
        self.busy_changed.emit(True)
        while item is not None:
            tag, request = item
            try:
                if not isinstance(request, Edit) and self._is_cancelled(tag):
                    raise _Cancelled  # cancelled while it waited its turn
                self._run(tag, request)
            except _Stale:
                pass
            except _Cancelled:
                self.cancelled.emit(tag)
            except Exception as error:  # noqa: BLE001 - every failure becomes a message, never a crash
                if not _is_user_error(error):
                    traceback.print_exc()  # a bug: keep the details for a report
                self.failed.emit(tag, user_message(error, _DOING.get(type(request).__name__, "colorizing")))
            finally:
                with self._lock:
                    self._cancelled.discard(tag)
            item = self._next()
        self.busy_changed.emit(False)

    def _run(self, tag: int, request: object) -> None:
        if isinstance(request, Edit):
            self._preview(tag, request)
        elif isinstance(request, Configure):
            self._configure(request.options)
        else:
            handler = {
                OpenPhoto: self._open,
                CheckReference: self._check_reference,
                ProbePoint: self._probe,
                Export: self._export,
                Batch: self._batch,
                Train: self._train,
            }.get(type(request))
            if handler is None:
                raise TypeError(f"unknown request {request!r}")
            self.finished.emit(tag, handler(tag, request))

    # -- the colorizer ------------------------------------------------------------------------
    def _configure(self, options: EngineOptions) -> None:
        self._options = options
        self.colorizer = None
        self._model_error = None
        try:
            colorizer = self.factory(options)
        except Exception as error:
            self._model_error = user_message(error, "loading the colorization model")
            raise
        self.colorizer = colorizer
        metadata = colorizer.metadata or {}
        random = any(isinstance(m, dict) and m.get("random") for m in metadata.values())
        self.model_ready.emit(ModelInfo(colorizer.device_description, random))

    def _require_colorizer(self):
        if self.colorizer is None:
            if self._model_error is not None:
                raise ModelUnavailable(self._model_error)
            self._configure(self._options)
        return self.colorizer

    def _loadable(self, edit: Edit) -> Edit:
        """``edit`` without the references that no longer load (each reported once, by path)."""
        if edit.photo is None:
            raise ValueError("Open a photo first.")
        colorizer = self._require_colorizer()
        kept = []
        for reference in edit.references:
            try:
                colorizer.open(reference.path)
                kept.append(reference)
            except Exception as error:  # noqa: BLE001 - a missing reference must not stop the edit
                self.reference_rejected.emit(reference.path, user_message(error, "opening a reference"))
        return edit if len(kept) == len(edit.references) else replace(edit, references=tuple(kept))

    def _lightness_at(self, edit: Edit, x: float, y: float) -> float:
        """The photo's lightness at (x, y), for a marker's colour: it depends on the photo and the
        place alone, so each place is probed once (a small memo, cleared when it grows)."""
        key = (edit.photo, x, y)
        if key not in self._lightness:
            if len(self._lightness) > 4096:
                self._lightness.clear()
            self._lightness[key] = float(self.colorizer.probe(edit, x, y).L)
        return self._lightness[key]

    # -- requests -----------------------------------------------------------------------------
    def _preview(self, tag: int, edit: Edit) -> None:
        from core.api import Cancelled

        self.processed_previews.append(tag)
        requested, edit = edit, self._loadable(edit)
        colorizer = self.colorizer
        try:
            preview = colorizer.preview(edit, cancel=self._may_stop_preview)
        except Cancelled:
            raise _Stale from None
        lightness = {hint.id: self._lightness_at(edit, hint.x, hint.y) for hint in edit.hints}
        palette = tuple(tuple(int(v) for v in c) for c in colorizer.palette(edit, PALETTE_SIZE))
        quick = PreviewResult(
            array_to_qimage(preview.rgb), False, tuple(preview.original_size), preview.seconds, palette, preview.coverage, lightness,
            requested, preview,
        )
        self.preview_ready.emit(tag, quick)
        self._shown_at = time.monotonic()
        if self._newer_preview_waiting():
            raise _Stale
        started = time.perf_counter()
        try:
            rgb = colorizer.render(edit, max_side=self.display_side, cancel=self._newer_preview_waiting)
        except Cancelled:
            raise _Stale from None
        seconds = preview.seconds + time.perf_counter() - started
        self.preview_ready.emit(tag, replace(quick, image=array_to_qimage(rgb), final=True, seconds=seconds))
        try:  # while the user looks: what a first reference or hint on this photo would wait for
            colorizer.prepare(edit, cancel=self._work_waiting)
        except Cancelled:
            raise _Stale from None
        except Exception:  # noqa: BLE001 - best effort: the edit that needs it computes it and reports
            traceback.print_exc()

    def _open(self, tag: int, request: OpenPhoto) -> OpenedPhoto:
        path = request.path
        self.progress.emit(tag, 0.0, f"Opening {Path(path).name}…")
        from core.api import load_photo

        # the photo opens (and shows) even when the model could not be loaded
        photo = self.colorizer.open(path) if self.colorizer is not None else load_photo(path)
        if self._is_cancelled(tag):
            raise _Cancelled
        image = photo_to_qimage(photo.pixels, photo.bit_depth, self.display_side)
        self.progress.emit(tag, 1.0, "")
        return OpenedPhoto(str(path), tuple(photo.size), photo.bit_depth, image)

    def _check_reference(self, tag: int, request: CheckReference) -> CheckedReference:
        self._require_colorizer().check_reference(request.path)
        return CheckedReference(str(request.path))

    def _probe(self, tag: int, request: ProbePoint):
        return self._require_colorizer().probe(self._loadable(request.edit), request.x, request.y)

    def _run_cancellable(self, tag: int, call: Callable[[], Any]) -> Any:
        from core.api import Cancelled

        try:
            return call()
        except Cancelled:
            raise _Cancelled from None

    def _export(self, tag: int, request: Export) -> ExportDone:
        edit = self._loadable(request.edit)
        started = time.perf_counter()
        self.progress.emit(tag, 0.0, "Exporting…")
        written = self._run_cancellable(
            tag,
            lambda: self.colorizer.export(
                edit,
                request.path,
                quality=request.quality,
                progress=lambda fraction: self.progress.emit(tag, float(fraction), "Exporting…"),
                cancel=lambda: self._is_cancelled(tag),
                overwrite=request.overwrite,
            ),
        )
        return ExportDone(str(written), time.perf_counter() - started)

    def _batch(self, tag: int, request: Batch) -> BatchDone:
        from core.api import Cancelled, OutputPlan, is_earlier_result, is_supported_image

        folder = Path(request.input_dir)
        images = sorted(p for p in folder.iterdir() if p.is_file() and is_supported_image(p))
        photos = [p for p in images if not is_earlier_result(p)]
        notes = [f"{p.name} looks like an earlier result and was not colorized again." for p in images if p not in photos]
        if not photos:
            raise ValueError(f"There are no photos Heirloom can open in '{folder.name}'.")
        edit = replace(self._loadable(request.edit), hints=())
        # every image of the folder and every reference is an input: never written over
        plan = OutputPlan.create(
            request.output_dir, photos, [*images, *edit.reference_paths], suffix=request.suffix, overwrite=request.overwrite,
            folder=True,
        )
        plan.check_writable(photos)
        targets = plan.targets(photos)
        for target in targets:  # every result that could not take its first name says so
            first = next(iter(plan.candidates(target.photo)))
            if target.collision:
                notes.append(target.collision)
            elif target.path != first:
                notes.append(f"{first.name} already exists and was kept; the result of {target.photo.name} is {target.path.name}.")
        colorizer = self.colorizer
        written: list[str] = []
        failures: list[tuple[str, str]] = []
        cancelled = False
        for i, target in enumerate(targets):
            if self._is_cancelled(tag):
                cancelled = True
                break
            source = target.photo
            text = f"Colorizing {source.name} ({i + 1} of {len(targets)})…"
            self.progress.emit(tag, i / len(targets), text)

            def export(path: Path, overwrite: bool, i=i, text=text, source=source) -> Path:
                return colorizer.export(
                    replace(edit, photo=str(source)),
                    path,
                    progress=lambda fraction: self.progress.emit(tag, (i + fraction) / len(targets), text),
                    cancel=lambda: self._is_cancelled(tag),
                    overwrite=overwrite,
                )

            try:
                written.append(str(plan.save(target, export)))
            except Cancelled:
                cancelled = True
                break
            except Exception as error:  # noqa: BLE001 - one bad file must not stop the batch
                failures.append((source.name, user_message(error, f"colorizing {source.name}")))
        self.progress.emit(tag, 1.0, "")
        return BatchDone(tuple(written), tuple(failures), cancelled, tuple(notes))

    def _train(self, tag: int, request: Train) -> TrainingDone:
        if self.trainer is None:
            raise TrainingUnavailable("Training is not available in this installation of Heirloom.")
        try:
            record = self.trainer(
                request.photos_dir,
                request.name,
                request.steps,
                progress=lambda p: self.training_progress.emit(tag, p),
                should_stop=lambda: self._is_cancelled(tag),
            )
        except Exception as error:
            if type(error).__name__ == "TrainingCancelled":  # stopped before the first step: nothing saved
                raise _Cancelled from None
            raise
        return TrainingDone(record, stopped_early=self._is_cancelled(tag))
