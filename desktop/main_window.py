"""The main window: wires the canvas, panels, undo stack and worker together, in one place.

Data flows one way. Widgets report intents; the window turns each into an undo command on the
:class:`SessionDocument`; the document's ``changed`` signal updates the views and asks the worker for
a preview; the worker's tagged results come back to :meth:`MainWindow._on_preview_ready`, which
drops any that are older than what is already on screen.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from PySide6.QtCore import Qt, QThread, QTimer
from PySide6.QtGui import QIcon, QUndoStack
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QProgressDialog,
    QToolBar,
    QUndoView,
)

from core.hints import MAX_RADIUS, Hint
from desktop import commands, menus
from desktop.actions import build_actions, shortcut_table
from desktop.blend_slider import BlendSlider
from desktop.canvas import HintCanvas, Marker
from desktop.color_picker import ColourPicker
from desktop.dialogs import Dialogs
from desktop.document import SessionDocument
from desktop.model import (
    SESSION_SUFFIX,
    EditSession,
    EngineOptions,
    ReferenceEntry,
    SessionError,
    lab_to_rgb8,
    plane_value_at,
    read_session,
    snap_to_gamut,
)
from desktop.reference_panel import FileDropTarget, ReferencePanel, image_paths_from_urls
from desktop.settings import AppSettings
from desktop.train_dialog import TrainDialog
from desktop.worker import (
    DISPLAY_SIDE,
    Batch,
    BatchDone,
    CheckReference,
    ColorWorker,
    Configure,
    Export,
    ExportDone,
    ModelInfo,
    OpenedPhoto,
    OpenPhoto,
    PreviewResult,
    Train,
    TrainingDone,
    default_colorizer_factory,
)

APP_NAME = "Heirloom"
AUTOSAVE_NAME = "autosave" + SESSION_SUFFIX
AUTOSAVE_DELAY_MS = 1500


def resources_dir() -> Path:
    from core.weights import resources_dir as core_resources_dir

    return core_resources_dir()


def demo_paths() -> tuple[Path, Path]:
    """The bundled demo photo and its colour reference."""
    folder = resources_dir() / "demo"
    return folder / "demo_photo.jpg", folder / "demo_reference.jpg"


def app_icon() -> QIcon:
    icons = resources_dir() / "icons"
    icon = QIcon()
    for name in ("heirloom.svg", "heirloom.png"):
        if (icons / name).is_file():
            icon.addFile(str(icons / name))
    return icon


def default_autosave_dir() -> Path:
    from core.weights import user_data_dir

    return user_data_dir() / "autosave"


class MainWindow(FileDropTarget, QMainWindow):
    def __init__(
        self,
        options: EngineOptions | None = None,
        *,
        factory: Callable | None = None,
        trainer: Callable | None = None,
        settings: AppSettings | None = None,
        autosave_dir: Path | None = None,
        display_side: int = DISPLAY_SIDE,
    ) -> None:
        super().__init__()
        self.settings = settings or AppSettings()
        self.options = options or self.settings.engine_options()
        self.autosave_path = Path(autosave_dir or default_autosave_dir()) / AUTOSAVE_NAME
        self.document = SessionDocument(EditSession(working_size=self.options.working_size), self)
        self.undo_stack = QUndoStack(self)
        self.dialogs = Dialogs(self)

        # view state (never part of the edit)
        self._tags = 0
        self._epoch_tag = 0  # results requested before the current photo was opened are dropped
        self._shown_tag = 0  # the newest preview on screen
        self._requested_tag = 0  # the newest preview asked for
        self._open_tag: int | None = None
        self._open_session: EditSession | None = None  # what to restore once the photo is open
        self._open_session_path: str | None = None
        self._photo: OpenedPhoto | None = None
        self._last_preview: PreviewResult | None = None
        self._selected: int | None = None
        self._drag_gesture: int | None = None
        self._brush_ab: tuple[float, float] | None = None
        self._hint_radius: float | None = None
        self._recent_gesture: int | None = None
        self._session_path: str | None = None
        self._reference_checks: dict[int, str] = {}
        self._jobs: dict[int, QProgressDialog] = {}
        self._train_tag: int | None = None
        self._train_dialog: TrainDialog | None = None
        self._model_info: ModelInfo | None = None
        self._recovering_tag: int | None = None
        self.dropped_results = 0  # stale previews ignored (shown in no UI; useful when diagnosing)

        self.setWindowTitle(APP_NAME)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1280, 820)
        self._build_worker(factory or default_colorizer_factory, trainer, display_side)
        self._build_widgets()
        self._build_actions()
        self._wire()
        self._restore_window_state()
        self._update_title()
        self._update_enabled()
        self.worker.submit(self._new_tag(), Configure(self.options))

    # ---------------------------------------------------------------------------------------------
    # construction
    def _build_worker(self, factory, trainer, display_side: int) -> None:
        self.worker = ColorWorker(factory, trainer, display_side)
        self.worker_thread = QThread(self)
        self.worker_thread.setObjectName("heirloom-worker")
        self.worker.moveToThread(self.worker_thread)
        self.worker_thread.start()

    def _build_widgets(self) -> None:
        self.canvas = HintCanvas(self)
        self.setCentralWidget(self.canvas)
        self.reference_panel = ReferencePanel()
        self.picker = ColourPicker()
        self.picker.set_recent(self.settings.recent_colours())
        self.history = QUndoView(self.undo_stack)
        self.history.setEmptyLabel("Opened photo")
        self.reference_dock = self._dock("References", "references_dock", self.reference_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.colour_dock = self._dock("Hint colour", "colour_dock", self.picker, Qt.DockWidgetArea.RightDockWidgetArea)
        self.history_dock = self._dock("History", "history_dock", self.history, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.colour_dock, self.history_dock)
        self.colour_dock.raise_()
        self.blend_slider = BlendSlider()
        self.toolbar = QToolBar("Main")
        self.toolbar.setObjectName("main_toolbar")
        self.addToolBar(self.toolbar)

        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumWidth(90)
        self.busy_bar.setVisible(False)
        self.zoom_label = QLabel("")
        self.match_label = QLabel("")
        self.match_label.setToolTip(
            "How much of the photo the references show. There their own colours are used; elsewhere "
            "their palette, applied more lightly where they resemble the photo less."
        )
        self.time_label = QLabel("")
        self.device_label = QLabel("Loading the model…")
        bar = self.statusBar()
        bar.addPermanentWidget(self.busy_bar)
        bar.addPermanentWidget(self.zoom_label)
        bar.addPermanentWidget(self.match_label)
        bar.addPermanentWidget(self.time_label)
        bar.addPermanentWidget(self.device_label)

    def _dock(self, title: str, name: str, widget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_actions(self) -> None:
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        premade = {
            "undo": undo,
            "redo": redo,
            "references_panel": self.reference_dock.toggleViewAction(),
            "colour_panel": self.colour_dock.toggleViewAction(),
            "history_panel": self.history_dock.toggleViewAction(),
        }
        self.actions_by_name, self.submenus = build_actions(self, self.toolbar, premade)
        self.toolbar.addSeparator()
        self.toolbar.addWidget(self.blend_slider)
        hold = self.toolbar.widgetForAction(self.actions_by_name["hold_original"])
        hold.pressed.connect(lambda: self.canvas.set_show_original(True))
        hold.released.connect(lambda: self.canvas.set_show_original(False))
        self._rebuild_recent_menu()
        self._rebuild_model_menu()
        self._device_group = menus.fill_choices(self.submenus["devices"], menus.DEVICES, self.options.device, self.set_device)
        self._working_size_group = menus.fill_choices(
            self.submenus["working_sizes"], menus.working_size_choices(), self.session.working_size, self.set_working_size
        )

    def _wire(self) -> None:
        w = self.worker
        w.model_ready.connect(self._on_model_ready)
        w.photo_opened.connect(self._on_photo_opened)
        w.preview_ready.connect(self._on_preview_ready)
        w.reference_checked.connect(self._on_reference_checked)
        w.reference_rejected.connect(self._on_reference_rejected)
        w.progress.connect(self._on_progress)
        w.training_progress.connect(self._on_training_progress)
        w.finished.connect(self._on_job_finished)
        w.failed.connect(self._on_failed)
        w.cancelled.connect(self._on_cancelled)
        w.busy_changed.connect(self.busy_bar.setVisible)

        self.document.changed.connect(self._on_document_changed)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        self.undo_stack.indexChanged.connect(lambda _: self._schedule_autosave())

        c = self.canvas
        c.hint_added.connect(self._on_hint_added)
        c.hint_pressed.connect(self._on_hint_pressed)
        c.hint_moved.connect(self._on_hint_moved)
        c.hint_released.connect(self._on_hint_released)
        c.hint_removed.connect(self._on_hint_removed)
        c.hint_resized.connect(self._on_hint_resized)
        c.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z:.0%}"))

        r = self.reference_panel
        r.reference_pinned.connect(lambda path: self.add_references([path]))
        r.references_dropped.connect(self.add_references)
        r.reference_removed.connect(self.remove_reference)
        r.automatic_chosen.connect(self._on_automatic)
        r.folder_chosen.connect(lambda _: self._on_reference_folder())

        self.blend_slider.blend_changed.connect(self._on_blend_changed)
        self.picker.colour_picked.connect(self._on_colour_picked)

        self._autosave_timer = QTimer(self)
        self._autosave_timer.setSingleShot(True)
        self._autosave_timer.setInterval(AUTOSAVE_DELAY_MS)
        self._autosave_timer.timeout.connect(self.autosave)

    def _restore_window_state(self) -> None:
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        folder = self.settings.folder("references")
        if folder and Path(folder).is_dir():
            self.reference_panel.set_folder(folder)

    # ---------------------------------------------------------------------------------------------
    # small helpers
    def _new_tag(self) -> int:
        self._tags += 1
        return self._tags

    @property
    def session(self) -> EditSession:
        return self.document.session

    @property
    def has_photo(self) -> bool:
        return self._photo is not None

    def _say(self, text: str, timeout_ms: int = 0) -> None:
        if text:
            self.statusBar().showMessage(text, timeout_ms)
        else:
            self.statusBar().clearMessage()

    def _update_title(self) -> None:
        name = Path(self.session.photo_path).name if self.session.photo_path else "No photo"
        self.setWindowTitle(f"{name}[*] — {APP_NAME}")
        self.setWindowModified(not self.undo_stack.isClean())

    def _update_enabled(self) -> None:
        has_photo = self.has_photo
        for name in ("export", "save_session", "save_session_as", "clear_hints", "zoom_in", "zoom_out", "zoom_fit", "zoom_actual", "split_view", "hold_original"):
            self.actions_by_name[name].setEnabled(has_photo)
        self.actions_by_name["delete_hint"].setEnabled(self._selected is not None)
        self.actions_by_name["deselect_hint"].setEnabled(self._selected is not None)
        self.actions_by_name["hint_bigger"].setEnabled(self._selected is not None)
        self.actions_by_name["hint_smaller"].setEnabled(self._selected is not None)
        self.blend_slider.setEnabled(not self.session.automatic)

    def _push(self, command) -> None:
        self.undo_stack.push(command)

    # ---------------------------------------------------------------------------------------------
    # opening photos and sessions
    def open_photo(self, path: str | Path, references: Sequence[str] = (), session: EditSession | None = None) -> int | None:
        """Open a photo (in the worker). References and blend carry over, hints start empty;
        ``session`` restores a whole saved edit instead. Returns the request's tag."""
        if not self._maybe_keep_changes():
            return None
        path = str(Path(path).absolute())
        if session is None:
            current = self.session
            refs = current.references
            for ref in references:
                ref = str(Path(ref).absolute())
                if ref not in {r.path for r in refs}:
                    refs = refs + (ReferenceEntry(ref),)
            session = replace(current, photo_path=path, references=refs, hints=())
        else:
            session = replace(session, photo_path=path)
        if self._open_tag is not None:  # a newer open replaces one still loading
            self._cancel_job(self._open_tag)
        tag = self._new_tag()
        self._open_tag = tag
        self._open_session = session
        self._open_session_path = None
        self._start_job(tag, f"Opening {Path(path).name}…", busy=True)
        self.worker.submit(tag, OpenPhoto(path))
        self.settings.set_folder("photos", str(Path(path).parent))
        return tag

    def open_session(self, path: str | Path) -> int | None:
        try:
            session = read_session(path)
        except SessionError as error:
            self.dialogs.error(str(error))
            return None
        if not session.photo_path:
            self.dialogs.error(f"The session '{Path(path).name}' names no photo.")
            return None
        tag = self.open_photo(session.photo_path, session=session)
        if tag is not None:
            self._open_session_path = str(path)
            self.settings.set_folder("sessions", str(Path(path).parent))
        return tag

    def open_demo(self) -> int | None:
        photo, reference = demo_paths()
        if not photo.is_file():
            self.dialogs.error(f"The demo photo is missing from {photo.parent}; reinstall Heirloom to restore it.")
            return None
        refs = [str(reference)] if reference.is_file() else []
        session = replace(self.session, photo_path=str(photo), references=tuple(ReferenceEntry(r) for r in refs), blend=1.0, hints=())
        return self.open_photo(photo, session=session)

    def _on_photo_opened(self, tag: int, opened: OpenedPhoto) -> None:
        if tag != self._open_tag:
            self.dropped_results += 1
            return
        self._finish_job(tag)
        self._open_tag = None
        session = self._open_session or EditSession(opened.path)
        self._photo = opened
        self._epoch_tag = tag
        self._last_preview = None
        self._selected = None
        self._brush_ab = None
        self._hint_radius = None
        self.canvas.set_photo(opened.image, opened.size)
        self.undo_stack.clear()
        self.document.reset(session)
        self.undo_stack.setClean()
        self._session_path = self._open_session_path
        self._open_session = None
        if tag == self._recovering_tag:
            self.undo_stack.resetClean()  # the recovered edit is unsaved work until it is saved
        files = self.settings.add_recent_file(opened.path)
        self._rebuild_recent_menu(files)
        self._update_title()
        self._update_enabled()
        self._say(f"Opened {Path(opened.path).name} ({opened.size[0]} × {opened.size[1]}, {opened.bit_depth}-bit)", 5000)

    def _maybe_keep_changes(self) -> bool:
        """Before the edit is replaced: False if the user wants to keep working on it."""
        if self.undo_stack.isClean() or not self.has_photo:
            return True
        answer = self.dialogs.ask_save_changes(Path(self.session.photo_path).name)
        if answer == "cancel":
            return False
        if answer == "save":
            return self._on_save_session()
        return True

    # ---------------------------------------------------------------------------------------------
    # the document changed: update views, ask for a preview
    def _on_document_changed(self, fields: frozenset) -> None:
        session = self.session
        if "references" in fields:
            self.reference_panel.set_pinned(session.references)
        if "blend" in fields:
            self.blend_slider.set_value(session.blend)
        if "working_size" in fields:
            menus.check_choice(self._working_size_group, session.working_size)
        if "match_content" in fields:
            action = self.actions_by_name["match_content"]
            blocked = action.blockSignals(True)  # a view update, not a new edit
            action.setChecked(session.match_content)
            action.blockSignals(blocked)
        if "hints" in fields:
            if self._selected is not None and self._selected >= len(session.hints):
                self._selected = len(session.hints) - 1 if session.hints else None
            self._refresh_markers()
        self._refresh_picker()
        self._update_enabled()
        self._update_title()
        self.request_preview()

    def request_preview(self) -> int | None:
        if not self.has_photo or self._open_tag is not None:
            return None
        tag = self._new_tag()
        self._requested_tag = tag
        self.worker.request_preview(tag, self.session)
        return tag

    @property
    def preview_is_current(self) -> bool:
        """True once the newest requested preview is on screen at display size."""
        preview = self._last_preview
        return preview is not None and preview.final and self._shown_tag >= self._requested_tag

    def _on_preview_ready(self, tag: int, result: PreviewResult) -> None:
        if tag < self._epoch_tag or tag < self._shown_tag or not self.has_photo:
            self.dropped_results += 1  # stale: an older edit, or a photo no longer open
            return
        self._shown_tag = tag
        palette_changed = self._last_preview is None or self._last_preview.palette != result.palette
        self._last_preview = result
        self.canvas.set_result(result.image)
        self.time_label.setText(f"{result.seconds:.2f} s")
        matching = self.session.references and self.session.match_content
        self.match_label.setText(f"Reference match {result.coverage:.0%}" if matching else "")
        if palette_changed:
            self.picker.set_palette(result.palette)
        self._refresh_markers()
        self._refresh_picker()

    # ---------------------------------------------------------------------------------------------
    # hints
    def _lightness_at(self, x: float, y: float) -> float:
        if self._last_preview is None:
            return 60.0
        return float(plane_value_at(self._last_preview.L, self._last_preview.original_size, x, y))

    def _predicted_at(self, x: float, y: float) -> tuple[float, float] | None:
        if self._last_preview is None:
            return None
        a, b = plane_value_at(self._last_preview.ab, self._last_preview.original_size, x, y)
        return float(a), float(b)

    def _default_radius(self) -> float:
        if self._hint_radius is not None:
            return self._hint_radius
        W, H = self._photo.size
        scale = min(W, H) / min(min(W, H), self.session.working_size)
        return float(min(MAX_RADIUS, max(1.0, round(scale))))  # about 3 x 3 working pixels

    def _refresh_markers(self) -> None:
        markers = [
            Marker(h.x, h.y, h.radius, lab_to_rgb8(self._lightness_at(h.x, h.y), h.ab)) for h in self.session.hints
        ]
        self.canvas.set_markers(markers, self._selected)

    def _refresh_picker(self) -> None:
        if self._selected is not None and self._selected < len(self.session.hints):
            hint = self.session.hints[self._selected]
            self.picker.set_context(
                self._lightness_at(hint.x, hint.y),
                hint.ab,
                self._predicted_at(hint.x, hint.y),
                f"Colour of hint {self._selected + 1} (at {int(hint.x)}, {int(hint.y)})",
            )
        else:
            self.picker.set_context(60.0, self._brush_ab, None, "Colour for new hints — click the photo to add one")

    def _select(self, index: int | None) -> None:
        self._selected = index
        self._refresh_markers()
        self._refresh_picker()
        self._update_enabled()

    def _on_hint_added(self, x: float, y: float) -> None:
        if not self.has_photo:
            return
        L = self._lightness_at(x, y)
        ab = self._brush_ab or self._predicted_at(x, y) or (0.0, 0.0)
        hint = Hint(x, y, snap_to_gamut(L, ab), self._default_radius())
        self._selected = len(self.session.hints)
        self._push(commands.AddHint(self.document, hint))

    def _on_hint_pressed(self, index: int) -> None:
        self._drag_gesture = commands.new_gesture()
        self._select(index)

    def _on_hint_moved(self, index: int, x: float, y: float) -> None:
        if 0 <= index < len(self.session.hints):
            gesture = self._drag_gesture if self._drag_gesture is not None else commands.new_gesture()
            self._push(commands.MoveHint(self.document, index, x, y, gesture))

    def _on_hint_released(self, index: int) -> None:
        self._drag_gesture = None

    def _on_hint_removed(self, index: int) -> None:
        if 0 <= index < len(self.session.hints):
            if self._selected is not None and self._selected >= index:
                self._selected = None if self._selected == index else self._selected - 1
            self._push(commands.RemoveHint(self.document, index))
            self._select(self._selected)

    def _on_hint_resized(self, index: int, radius: float) -> None:
        if 0 <= index < len(self.session.hints):
            self._hint_radius = min(max(radius, 0.0), MAX_RADIUS)
            self._push(commands.ResizeHint(self.document, index, radius))
            self._say(f"Hint patch {2 * self._hint_radius + 1:.0f} px", 2000)

    def _on_colour_picked(self, ab, gesture: int) -> None:
        ab = (float(ab[0]), float(ab[1]))
        if self._selected is not None and self._selected < len(self.session.hints):
            self._push(commands.RecolourHint(self.document, self._selected, ab, gesture))
            hint = self.session.hints[self._selected]
            rgb = lab_to_rgb8(self._lightness_at(hint.x, hint.y), ab)
        else:
            self._brush_ab = ab
            rgb = lab_to_rgb8(60.0, ab)
            self._refresh_picker()
        self._remember_colour(rgb, gesture)

    def _remember_colour(self, rgb, gesture: int) -> None:
        colours = self.settings.recent_colours()
        if gesture == self._recent_gesture and colours:
            colours = colours[1:]  # the same drag in the gamut: replace, don't pile up
            self.settings.q.setValue("recent/colours", [",".join(map(str, c)) for c in colours])
        self._recent_gesture = gesture
        self.picker.set_recent(self.settings.add_recent_colour(tuple(rgb)))

    def _on_delete_hint(self) -> None:
        if self._selected is not None:
            self._on_hint_removed(self._selected)

    def _on_deselect_hint(self) -> None:
        self._select(None)

    def _on_clear_hints(self) -> None:
        if self.session.hints:
            self._selected = None
            self._push(commands.ClearHints(self.document))

    def _resize_selected(self, steps: int) -> None:
        from desktop.canvas import wheel_radius

        if self._selected is not None and self._selected < len(self.session.hints):
            self._on_hint_resized(self._selected, wheel_radius(self.session.hints[self._selected].radius, steps))

    def _on_hint_bigger(self) -> None:
        self._resize_selected(1)

    def _on_hint_smaller(self) -> None:
        self._resize_selected(-1)

    # ---------------------------------------------------------------------------------------------
    # references and blend
    def add_references(self, paths: Sequence[str]) -> list[int]:
        """Check each photo in the worker (grey ones are refused there) and pin those that pass."""
        tags = []
        pinned = set(self.session.reference_paths) | set(self._reference_checks.values())
        for path in paths:
            path = str(Path(path).absolute())
            if path in pinned:
                continue
            tag = self._new_tag()
            self._reference_checks[tag] = path
            self.worker.submit(tag, CheckReference(path))
            tags.append(tag)
            pinned.add(path)
        if paths:
            self.settings.set_folder("references", str(Path(paths[0]).parent))
        return tags

    def _on_reference_checked(self, tag: int, path: str) -> None:
        if self._reference_checks.pop(tag, None) is None:
            return
        if path not in self.session.reference_paths:
            self._push(commands.AddReference(self.document, path))

    def _on_reference_rejected(self, path: str, message: str) -> None:
        if path in self.session.reference_paths:
            self.document.set_references(self.session.without_reference(path).references)
        self.dialogs.error(message)

    def remove_reference(self, path: str) -> None:
        if path in self.session.reference_paths:
            self._push(commands.RemoveReference(self.document, path))

    def _on_automatic(self) -> None:
        if self.session.references:
            self._push(commands.UseAutomatic(self.document))

    def _on_add_reference(self) -> None:
        paths = self.dialogs.open_references(self.settings.folder("references"))
        if paths:
            self.add_references(paths)

    def _on_reference_folder(self) -> None:
        folder = self.dialogs.choose_folder("Folder of colour photos", self.settings.folder("references"))
        if folder:
            self.settings.set_folder("references", folder)
            self.reference_panel.set_folder(folder)
            self.reference_dock.show()

    def _on_blend_changed(self, blend: float, gesture: int) -> None:
        if blend != self.session.blend:
            self._push(commands.SetBlend(self.document, blend, gesture))

    def _step_blend(self, delta: float) -> None:
        blend = min(max(round(self.session.blend + delta, 2), 0.0), 1.0)
        if blend != self.session.blend:
            self._push(commands.SetBlend(self.document, blend))

    def _on_match_content(self, checked: bool) -> None:
        if checked != self.session.match_content:
            self._push(commands.SetContentMatching(self.document, checked))

    def _on_blend_up(self) -> None:
        self._step_blend(0.1)

    def _on_blend_down(self) -> None:
        self._step_blend(-0.1)

    # ---------------------------------------------------------------------------------------------
    # worker reports
    def _on_model_ready(self, info: ModelInfo) -> None:
        self._model_info = info
        choice = "Auto: " if self.options.device == "auto" else ""
        text = f"{choice}{info.device} · {info.model}"
        if info.random_weights:
            text += " (untrained: development only)"
            self._say("No trained weights were found: running with random weights for development.", 8000)
        self.device_label.setText(text)
        self.device_label.setToolTip("Where the colorization runs, and which model")

    def _on_failed(self, tag: int, message: str) -> None:
        if tag in self._reference_checks:
            self._reference_checks.pop(tag)
        elif tag == self._open_tag:
            self._finish_job(tag)
            self._open_tag = None
            self._open_session = None
        elif tag in self._jobs:
            self._finish_job(tag)
        elif tag == self._train_tag:
            self._train_tag = None
            if self._train_dialog is not None:
                self._train_dialog.on_failed(message)
        elif tag < self._epoch_tag:
            return  # a preview of a photo no longer open
        self._say("")
        self.dialogs.error(message)

    def _on_cancelled(self, tag: int) -> None:
        if tag == self._open_tag:
            self._open_tag = None
            self._open_session = None
        if tag == self._train_tag:
            self._train_tag = None
            if self._train_dialog is not None:
                self._train_dialog.on_cancelled()
        self._finish_job(tag)
        self._say("Cancelled.", 3000)

    def _on_progress(self, tag: int, fraction: float, text: str) -> None:
        dialog = self._jobs.get(tag)
        if dialog is not None:
            if text:
                dialog.setLabelText(text)
            if dialog.maximum() > 0:
                dialog.setValue(min(999, round(fraction * 1000)))

    def _on_training_progress(self, tag: int, progress) -> None:
        if tag == self._train_tag and self._train_dialog is not None:
            self._train_dialog.on_progress(progress)

    def _on_job_finished(self, tag: int, result) -> None:
        self._finish_job(tag)
        if isinstance(result, ExportDone):
            self.settings.set_folder("export", str(Path(result.path).parent))
            self._say(f"Saved {Path(result.path).name} in {result.seconds:.1f} s", 8000)
        elif isinstance(result, BatchDone):
            lines = [f"Colorized {len(result.written)} photo{'s' * (len(result.written) != 1)}."]
            if result.cancelled:
                lines.append("The batch was cancelled before the end.")
            lines += [f"{name}: {message}" for name, message in result.failures[:10]]
            self.dialogs.info("\n".join(lines), "Batch finished")
            self.request_preview()  # the worker used the colorizer for other photos meanwhile
        elif isinstance(result, TrainingDone) and tag == self._train_tag:
            self._train_tag = None
            self._rebuild_model_menu()
            if self._train_dialog is not None:
                self._train_dialog.on_finished(result.record, result.stopped_early)

    # ---------------------------------------------------------------------------------------------
    # long jobs with a progress dialog
    def _start_job(self, tag: int, label: str, busy: bool = False) -> QProgressDialog:
        dialog = QProgressDialog(label, "Cancel", 0, 0 if busy else 1000, self)
        dialog.setWindowTitle(APP_NAME)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(400)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setValue(0)
        dialog.canceled.connect(lambda: self._cancel_job(tag))
        self._jobs[tag] = dialog
        return dialog

    def _cancel_job(self, tag: int) -> None:
        self.worker.cancel(tag)
        if tag == self._open_tag:  # the photo may finish loading, but it will not be shown
            self._open_tag = None
            self._open_session = None
            self._finish_job(tag)

    def _finish_job(self, tag: int) -> None:
        dialog = self._jobs.pop(tag, None)
        if dialog is not None:
            dialog.canceled.disconnect()
            dialog.close()
            dialog.deleteLater()

    def export_to(self, path: str | Path, quality: int = 95) -> int | None:
        """Write the full-resolution result; the original photo is never replaced."""
        if not self.has_photo:
            return None
        path = str(Path(path).absolute())
        if Path(path) == Path(self.session.photo_path):
            self.dialogs.error(f"Heirloom will not save over the original photo '{Path(path).name}'; choose a different name.")
            return None
        tag = self._new_tag()
        self._start_job(tag, f"Exporting {Path(path).name}…")
        self.worker.submit(tag, Export(self.session, path, quality))
        return tag

    def batch(self, input_dir: str, output_dir: str, suffix: str = ".png") -> int:
        tag = self._new_tag()
        self._start_job(tag, "Colorizing the folder…")
        self.worker.submit(tag, Batch(self.session, input_dir, output_dir, suffix))
        return tag

    def start_training(self, folder: str, name: str, steps: int) -> int:
        tag = self._new_tag()
        self._train_tag = tag
        self.settings.set_folder("training", folder)
        self.worker.submit(tag, Train(folder, name, steps))
        return tag

    def _on_train(self) -> None:
        if self._train_dialog is None:
            dialog = TrainDialog(self.settings.folder("training"), self)
            dialog.start_requested.connect(self.start_training)
            dialog.cancel_requested.connect(lambda: self._train_tag is not None and self.worker.cancel(self._train_tag))
            dialog.use_model_requested.connect(self.use_model)
            self._train_dialog = dialog
        self._train_dialog.show()
        self._train_dialog.raise_()

    # ---------------------------------------------------------------------------------------------
    # model, device, working size
    def _configure(self, **changes) -> None:
        self.options = replace(self.options, **changes)
        self.worker.submit(self._new_tag(), Configure(self.options))
        self.device_label.setText("Loading the model…")
        self.request_preview()

    def use_model(self, name: str) -> None:
        self.settings.set_model(name)
        self._configure(colornet=name)
        self._rebuild_model_menu()

    def set_device(self, device: str) -> None:
        self.settings.set_device(device)
        menus.check_choice(self._device_group, device)
        self._configure(device=device)

    def _rebuild_model_menu(self) -> None:
        self._model_group = menus.fill_choices(
            self.submenus["models"], menus.model_choices(), self.options.colornet, self.use_model, empty="No trained model installed"
        )

    def set_working_size(self, size: int) -> None:
        self.settings.set_working_size(size)
        if size != self.session.working_size:
            self._push(commands.SetWorkingSize(self.document, size))

    def _rebuild_recent_menu(self, files: Sequence[str] | None = None) -> None:
        files = list(files if files is not None else self.settings.recent_files())
        menus.fill_recent(self.submenus["recent"], files, self.open_photo, self._clear_recent)

    def _clear_recent(self) -> None:
        self.settings.clear_recent_files()
        self._rebuild_recent_menu([])

    # ---------------------------------------------------------------------------------------------
    # sessions and autosave
    def save_session_to(self, path: str | Path) -> bool:
        from core.imageio import atomic_write_bytes

        try:
            atomic_write_bytes(path, self.session.to_json().encode("utf-8"))
        except OSError as error:
            self.dialogs.error(f"The session could not be saved to '{Path(path).name}' ({error.strerror or error}); choose another folder.")
            return False
        self._session_path = str(path)
        self.undo_stack.setClean()
        self.settings.set_folder("sessions", str(Path(path).parent))
        self._say(f"Session saved to {Path(path).name}", 5000)
        return True

    def autosave(self) -> None:
        """Keep a copy of unsaved work in the app data folder; removed once the work is saved."""
        if not self.has_photo or self.undo_stack.isClean():
            self.discard_autosave()
            return
        from core.imageio import atomic_write_bytes

        try:
            self.autosave_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(self.autosave_path, self.session.to_json().encode("utf-8"))
        except OSError:
            self._say("Autosave failed: the app data folder is not writable.", 5000)

    def discard_autosave(self) -> None:
        self.autosave_path.unlink(missing_ok=True)

    def _schedule_autosave(self) -> None:
        self._autosave_timer.start()

    def offer_recovery(self) -> bool:
        """After a crash: offer the autosaved edit. True if it is being restored."""
        if not self.autosave_path.is_file():
            return False
        try:
            session = read_session(self.autosave_path)
        except SessionError:
            self.discard_autosave()
            return False
        name = Path(session.photo_path).name if session.photo_path else "a photo"
        if not session.photo_path or not self.dialogs.ask_recover(name):
            self.discard_autosave()
            return False
        self._recovering_tag = self.open_photo(session.photo_path, session=session)
        return self._recovering_tag is not None

    def _on_clean_changed(self, clean: bool) -> None:
        self._update_title()
        if clean:
            self.discard_autosave()

    # ---------------------------------------------------------------------------------------------
    # action slots (named _on_<action> in desktop.actions.ACTIONS)
    def _on_open(self) -> None:
        path = self.dialogs.open_photo(self.settings.folder("photos"))
        if path:
            self.open_photo(path)

    def _on_open_session(self) -> None:
        path = self.dialogs.open_session(self.settings.folder("sessions"))
        if path:
            self.open_session(path)

    def _on_save_session(self) -> bool:
        if not self.has_photo:
            return False
        if self._session_path:
            return self.save_session_to(self._session_path)
        return self._on_save_session_as()

    def _on_save_session_as(self) -> bool:
        if not self.has_photo:
            return False
        photo = Path(self.session.photo_path)
        folder = self.settings.folder("sessions") or str(photo.parent)
        path = self.dialogs.save_session(str(Path(folder) / (photo.stem + SESSION_SUFFIX)))
        return bool(path) and self.save_session_to(path)

    def _on_export(self) -> None:
        if not self.has_photo:
            return
        photo = Path(self.session.photo_path)
        suffix = ".png" if self._photo.bit_depth == 16 or photo.suffix.lower() not in (".jpg", ".jpeg", ".tif", ".tiff") else photo.suffix.lower()
        folder = self.settings.folder("export") or str(photo.parent)
        path = self.dialogs.export_path(str(Path(folder) / f"{photo.stem}-colour{suffix}"))
        if path:
            self.export_to(path)

    def _on_batch(self) -> None:
        source = self.dialogs.choose_folder("Folder of photos to colorize", self.settings.folder("batch"))
        if not source:
            return
        target = self.dialogs.choose_folder("Folder for the colour copies", source)
        if target:
            self.settings.set_folder("batch", source)
            self.batch(source, target)

    def _on_quit(self) -> None:
        self.close()

    def _on_zoom_in(self) -> None:
        self.canvas.zoom_by(1.25)

    def _on_zoom_out(self) -> None:
        self.canvas.zoom_by(0.8)

    def _on_zoom_fit(self) -> None:
        self.canvas.zoom_fit()

    def _on_zoom_actual(self) -> None:
        self.canvas.zoom_actual()

    def _on_show_hints(self, checked: bool) -> None:
        self.canvas.set_show_hints(checked)

    def _on_split_view(self, checked: bool) -> None:
        self.canvas.set_split(0.5 if checked else None)

    def _on_demo(self) -> None:
        self.open_demo()

    def _on_shortcuts(self) -> None:
        rows = "".join(f"<tr><td>{what}</td><td>&nbsp;&nbsp;<b>{keys}</b></td></tr>" for what, keys in shortcut_table())
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts", f"<table>{rows}</table>", QMessageBox.StandardButton.Close, self)
        box.open()

    def _on_about(self) -> None:
        from desktop.app import version

        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME} {version()}</b><br>Bring colour back to old family photos, on your own computer."
            "<br><br>Exemplar-based colorization (Xu et al., CVPR 2020) with user-guided hints (Zhang et al., 2017).",
        )

    # ---------------------------------------------------------------------------------------------
    # window events
    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_B and not event.isAutoRepeat() and not event.modifiers():
            self.canvas.set_show_original(True)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_B and not event.isAutoRepeat():
            self.canvas.set_show_original(False)
            return
        super().keyReleaseEvent(event)

    # -- drops (FileDropTarget): a photo or a saved session ------------------------------------------
    def dropped_paths(self, urls) -> list[str]:
        sessions = [u.toLocalFile() for u in urls if u.isLocalFile() and u.toLocalFile().endswith(".json")]
        return sessions + image_paths_from_urls(urls)

    def paths_dropped(self, paths: list[str]) -> None:
        path = paths[0]
        if path.endswith(".json"):
            self.open_session(path)
        else:
            self.open_photo(path)

    def closeEvent(self, event) -> None:
        if self._train_tag is not None and not self.dialogs.ask_yes_no(
            "Training is running", "Stop training and quit? The model being trained will not be saved."
        ):
            event.ignore()
            return
        if not self._maybe_keep_changes():
            event.ignore()
            return
        self.settings.set_window_state(self.saveGeometry(), self.saveState())
        self.discard_autosave()
        self.shutdown()
        if self._train_dialog is not None:
            self._train_dialog.running = False
            self._train_dialog.close()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the worker thread (waits for the running step of the current job to end)."""
        if self.worker_thread.isRunning():
            self.worker.stop()
            self.worker_thread.quit()
            self.worker_thread.wait()
