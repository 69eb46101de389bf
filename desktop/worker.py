"""All model work, on one thread: the only module of the app that calls :mod:`core.api`.

The GUI hands the :class:`ColorWorker` tagged requests through thread-safe methods
(:meth:`~ColorWorker.request_preview`, :meth:`~ColorWorker.submit`, :meth:`~ColorWorker.cancel`) and
hears back through typed signals carrying the same tag. Preview requests coalesce: only the newest
waiting one is ever computed, and a display render is abandoned as soon as a newer request arrives,
so dragging a slider never builds a queue. Jobs (open, export, batch, training, ...) run in order;
each can be cancelled by tag. Any exception becomes one ``failed(tag, message)`` signal; nothing
raised here reaches the event loop.
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

from desktop.model import EditSession, EngineOptions

DISPLAY_SIDE = 1600  # long side of the colour image shown while editing
PALETTE_SIZE = 8


# -- requests -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Configure:
    """(Re)build the colorizer: at start-up, and when the device or the model changes."""

    options: EngineOptions


@dataclass(frozen=True)
class OpenPhoto:
    path: str


@dataclass(frozen=True)
class CheckReference:
    """Load a would-be reference and refuse it unless it has colour."""

    path: str


@dataclass(frozen=True)
class Export:
    session: EditSession
    path: str
    quality: int = 95


@dataclass(frozen=True)
class Batch:
    """Apply the session's references and blend (not its hints) to every photo in a folder."""

    session: EditSession
    input_dir: str
    output_dir: str
    suffix: str = ".png"


@dataclass(frozen=True)
class Train:
    photos_dir: str
    name: str
    steps: int


# -- results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelInfo:
    device: str
    model: str
    random_weights: bool = False


@dataclass(frozen=True)
class OpenedPhoto:
    path: str
    size: tuple[int, int]  # (width, height) at full resolution
    bit_depth: int
    image: QImage  # the original pixels, long side at most DISPLAY_SIDE


@dataclass(frozen=True)
class PreviewResult:
    """One look at the current result. ``final`` is False for the quick working-size image that is
    shown while the sharper display-size render is on its way."""

    image: QImage
    final: bool
    ab: np.ndarray  # (2, h, w) at working size, for "the colour the model predicts here"
    L: np.ndarray  # (h, w) at working size, for the picker's gamut
    original_size: tuple[int, int]
    seconds: float
    palette: tuple[tuple[int, int, int], ...] = ()
    coverage: float = 0.0  # share of the photo the references show (their own colours pinned there)


@dataclass(frozen=True)
class ExportDone:
    path: str
    seconds: float


@dataclass(frozen=True)
class BatchDone:
    written: tuple[str, ...]
    failures: tuple[tuple[str, str], ...] = ()  # (file name, message)
    cancelled: bool = False


@dataclass(frozen=True)
class TrainingDone:
    record: Any  # core.weights.WeightsRecord of the new personal model
    stopped_early: bool = False  # the user stopped it; the model trained so far was still saved


class ModelUnavailable(Exception):
    """The colorizer could not be built; the message says why and what to do."""


class _Stale(Exception):
    """A newer preview request is waiting; the current one is abandoned quietly."""


class _Cancelled(Exception):
    """The user cancelled the job."""


def default_colorizer_factory(options: EngineOptions):
    """The real colorizer (imported here, in the worker thread, so the GUI starts without torch)."""
    from core.api import Colorizer, ColorizerConfig

    config = ColorizerConfig(
        working_size=options.working_size,
        device=options.device,
        colornet=options.colornet,
        allow_random_weights=options.allow_random_weights,
    )
    return Colorizer(config)


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
    from core.imageio import ImageError
    from core.weights import WeightsError

    return isinstance(error, (ImageError, WeightsError, ValueError, ModelUnavailable)) and bool(str(error))


def user_message(error: BaseException, doing: str) -> str:
    """One sentence for the user, whatever went wrong."""
    if _is_user_error(error):
        return str(error)
    if isinstance(error, MemoryError):
        return f"There was not enough memory while {doing}; close other programs or choose a smaller working size."
    return (
        f"Something went wrong while {doing} ({type(error).__name__}: {error}). "
        "Your edit is safe; try again, or save the session and restart Heirloom."
    )


class ColorWorker(QObject):
    model_ready = Signal(object)  # ModelInfo
    photo_opened = Signal(int, object)  # tag, OpenedPhoto
    preview_ready = Signal(int, object)  # tag, PreviewResult
    reference_checked = Signal(int, str)  # tag, path (a colour photo, ready to pin)
    reference_rejected = Signal(str, str)  # path, message: a pinned reference that can no longer load
    progress = Signal(int, float, str)  # tag, fraction 0..1, what is being done
    training_progress = Signal(int, object)  # tag, training.finetune.Progress
    finished = Signal(int, object)  # tag, ExportDone | BatchDone | TrainingDone
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
        self.trainer = trainer
        self.display_side = display_side
        self._lock = threading.Lock()
        self._jobs: deque[tuple[int, object]] = deque()
        self._pending_preview: tuple[int, EditSession] | None = None
        self._cancelled: set[int] = set()
        self._stopping = False
        self.processed_previews: deque[int] = deque(maxlen=1000)  # tags of previews actually computed (diagnostics)
        # state below is touched only on the worker thread
        self._colorizer = None
        self._model_error: str | None = None  # why the colorizer could not be built, until reconfigured
        self._options = EngineOptions()
        self._state = EditSession()  # what the colorizer currently holds
        self._ref_ids: dict[str, int] = {}
        self._photo = None  # the Photo of the edit's target, kept so a re-apply needs no disk read
        self._checked = None  # the Photo of the last reference checked, reused when it is pinned
        self._palette_key: tuple | None = None
        self._palette: tuple = ()
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    # -- called from the GUI thread -----------------------------------------------------------
    def request_preview(self, tag: int, session: EditSession) -> None:
        """Compute a preview of ``session``; replaces any preview request still waiting."""
        with self._lock:
            self._pending_preview = (tag, session)
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
                if not isinstance(request, EditSession) and self._is_cancelled(tag):
                    raise _Cancelled  # cancelled while it waited its turn
                self._run(tag, request)
            except _Stale:
                pass
            except _Cancelled:
                self.cancelled.emit(tag)
            except Exception as error:  # noqa: BLE001 - every failure becomes a message, never a crash
                if not _is_user_error(error):
                    traceback.print_exc()  # a bug: keep the details for a report
                self.failed.emit(tag, user_message(error, self._doing(request)))
            finally:
                with self._lock:
                    self._cancelled.discard(tag)
            item = self._next()
        self.busy_changed.emit(False)

    @staticmethod
    def _doing(request: object) -> str:
        return {
            Configure: "loading the colorization model",
            OpenPhoto: "opening the photo",
            CheckReference: "opening the reference",
            Export: "exporting",
            Batch: "colorizing the folder",
            Train: "training",
        }.get(type(request), "colorizing")

    def _run(self, tag: int, request: object) -> None:
        if isinstance(request, EditSession):
            self._preview(tag, request)
        elif isinstance(request, Configure):
            self._configure(request.options)
        elif isinstance(request, OpenPhoto):
            self._open(tag, request.path)
        elif isinstance(request, CheckReference):
            self._check_reference(tag, request.path)
        elif isinstance(request, Export):
            self._export(tag, request)
        elif isinstance(request, Batch):
            self._batch(tag, request)
        elif isinstance(request, Train):
            self._train(tag, request)
        else:
            raise TypeError(f"unknown request {request!r}")

    # -- the colorizer and its state ----------------------------------------------------------
    def _configure(self, options: EngineOptions) -> None:
        self._options = options
        self._colorizer = None
        self._state = EditSession()
        self._ref_ids.clear()
        self._palette_key = None
        self._model_error = None
        try:
            colorizer = self.factory(options)
        except Exception as error:
            self._model_error = user_message(error, "loading the colorization model")
            raise
        self._colorizer = colorizer
        metadata = getattr(getattr(colorizer, "models", None), "metadata", {}) or {}
        random = any(isinstance(m, dict) and m.get("random") for m in metadata.values())
        self.model_ready.emit(ModelInfo(colorizer.device_description, options.colornet, random))

    def _require_colorizer(self):
        if self._colorizer is None:
            if self._model_error is not None:
                raise ModelUnavailable(self._model_error)
            self._configure(self._options)
        return self._colorizer

    def _load(self, path: str):
        from core.imageio import load_photo

        return load_photo(path)

    def _apply(self, session: EditSession) -> None:
        """Bring the colorizer to ``session``, touching only what differs (its caches survive)."""
        colorizer = self._require_colorizer()
        state = self._state
        if session.photo_path is None:
            raise ValueError("Open a photo first.")
        if session.working_size != colorizer.config.working_size:
            colorizer.set_working_size(session.working_size)
        if session.photo_path != state.photo_path:
            photo = self._photo if self._photo is not None and str(self._photo.path) == session.photo_path else None
            photo = photo or self._load(session.photo_path)
            self._photo = photo
            colorizer.set_target(photo)
        wanted = {r.path: r.weight for r in session.references}
        for path in [p for p in self._ref_ids if p not in wanted]:
            colorizer.remove_reference(self._ref_ids.pop(path))
        accepted = []
        for entry in session.references:
            if entry.path in self._ref_ids:
                colorizer.set_reference_weight(self._ref_ids[entry.path], entry.weight)
                accepted.append(entry)
                continue
            try:
                checked = self._checked if self._checked is not None and str(self._checked.path) == entry.path else None
                self._ref_ids[entry.path] = colorizer.add_reference(checked or self._load(entry.path), entry.weight)
                accepted.append(entry)
            except Exception as error:  # noqa: BLE001 - a missing reference must not stop the edit
                self.reference_rejected.emit(entry.path, user_message(error, "opening a reference"))
        colorizer.set_content_matching(session.match_content)
        colorizer.set_blend(session.blend)
        colorizer.set_hints(session.hints)
        self._state = replace(session, references=tuple(accepted))

    # -- requests -----------------------------------------------------------------------------
    def _preview(self, tag: int, session: EditSession) -> None:
        self.processed_previews.append(tag)
        self._apply(session)
        colorizer = self._colorizer
        preview = colorizer.preview()
        key = self._state.references
        if key != self._palette_key:
            self._palette = tuple(tuple(c) for c in colorizer.reference_palette(PALETTE_SIZE))
            self._palette_key = key
        quick = PreviewResult(
            array_to_qimage(preview.rgb),
            False,
            preview.ab,
            preview.L,
            preview.original_size,
            preview.seconds,
            self._palette,
            colorizer.match_coverage(),
        )
        self.preview_ready.emit(tag, quick)
        if self._newer_preview_waiting():
            raise _Stale
        from core.upsample import Cancelled

        started = time.perf_counter()
        try:
            rgb = colorizer.render(max_side=self.display_side, cancel=self._newer_preview_waiting)
        except Cancelled:
            raise _Stale from None
        seconds = preview.seconds + time.perf_counter() - started
        self.preview_ready.emit(tag, replace(quick, image=array_to_qimage(rgb), final=True, seconds=seconds))

    def _open(self, tag: int, path: str) -> None:
        self.progress.emit(tag, 0.0, f"Opening {Path(path).name}…")
        photo = self._load(path)
        if self._is_cancelled(tag):
            raise _Cancelled
        image = photo_to_qimage(photo.pixels, photo.bit_depth, self.display_side)
        self._photo = photo
        self.progress.emit(tag, 1.0, "")
        self.photo_opened.emit(tag, OpenedPhoto(str(path), photo.size, photo.bit_depth, image))

    def _check_reference(self, tag: int, path: str) -> None:
        from core.imageio import ImageError

        photo = self._load(path)
        if not photo.has_colour:
            raise ImageError(f"'{Path(path).name}' has no colour to take; choose a colour photo as reference.")
        self._checked = photo
        self.reference_checked.emit(tag, str(path))

    def _export(self, tag: int, request: Export) -> None:
        self._apply(request.session)
        started = time.perf_counter()
        self.progress.emit(tag, 0.0, "Exporting…")

        def report(fraction: float) -> None:
            self.progress.emit(tag, float(fraction), "Exporting…")

        from core.upsample import Cancelled

        try:
            written = self._colorizer.export(request.path, quality=request.quality, progress=report, cancel=lambda: self._is_cancelled(tag))
        except Cancelled:
            raise _Cancelled from None
        self.finished.emit(tag, ExportDone(str(written), time.perf_counter() - started))

    def _batch(self, tag: int, request: Batch) -> None:
        from core.imageio import is_supported_image
        from core.upsample import Cancelled

        folder = Path(request.input_dir)
        photos = sorted(p for p in folder.iterdir() if p.is_file() and is_supported_image(p))
        if not photos:
            raise ValueError(f"There are no photos Heirloom can open in '{folder.name}'.")
        self._apply(replace(request.session, hints=()))
        colorizer = self._colorizer
        out_dir = Path(request.output_dir)
        written: list[str] = []
        failures: list[tuple[str, str]] = []
        cancelled = False
        try:
            for i, source in enumerate(photos):
                if self._is_cancelled(tag):
                    cancelled = True
                    break
                text = f"Colorizing {source.name} ({i + 1} of {len(photos)})…"
                self.progress.emit(tag, i / len(photos), text)
                try:
                    colorizer.set_target(self._load(str(source)))
                    self._state = replace(self._state, photo_path=str(source))
                    target = out_dir / f"{source.stem}-colour{request.suffix}"

                    def report(fraction: float, i=i, text=text) -> None:
                        self.progress.emit(tag, (i + fraction) / len(photos), text)

                    written.append(str(colorizer.export(target, progress=report, cancel=lambda: self._is_cancelled(tag))))
                except Cancelled:
                    cancelled = True
                    break
                except Exception as error:  # noqa: BLE001 - one bad file must not stop the batch
                    failures.append((source.name, user_message(error, f"colorizing {source.name}")))
        finally:
            self._state = replace(self._state, photo_path=None)  # the edit's photo is set again on the next preview
        self.progress.emit(tag, 1.0, "")
        self.finished.emit(tag, BatchDone(tuple(written), tuple(failures), cancelled))

    def _train(self, tag: int, request: Train) -> None:
        run = self.trainer
        if run is None:
            try:
                from training.finetune import run_finetune as run
            except ImportError as error:
                raise ValueError(
                    f"Training is not available in this installation ({error}); install Heirloom with its "
                    "training module to fine-tune on your photos."
                ) from error
        try:
            record = run(
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
        self.finished.emit(tag, TrainingDone(record, stopped_early=self._is_cancelled(tag)))
