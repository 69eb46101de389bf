"""The main window: wires the canvas, panels, undo stack and worker together, in one place.

Data flows one way. Widgets report intents; the window (or its :class:`~desktop.hint_tool.HintTool`)
turns each into an undo command on the :class:`~desktop.document.EditDocument`; the document's
``changed`` signal updates the views and asks the worker for a preview of the new
:class:`core.edit.Edit`; the worker's tagged results come back to :meth:`MainWindow._on_preview_ready`,
which drops any that are older than what is already on screen. Jobs (open, export, batch, training,
probes) are tracked by a :class:`~desktop.jobs.JobTracker`; edit files and the autosave by
:class:`~desktop.edit_files.EditFiles`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from PySide6.QtCore import QSignalBlocker, Qt, QThread
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QDockWidget, QMainWindow, QToolBar, QUndoView

from core.edit import Edit, Reference
from desktop import commands, menus
from desktop.actions import build_actions
from desktop.blend_slider import BlendSlider
from desktop.canvas import HintCanvas
from desktop.color_picker import HintColourPanel
from desktop.dialogs import Dialogs
from desktop.document import EditDocument
from desktop.edit_files import EditFiles
from desktop.exports import Exports
from desktop.hint_tool import HintTool
from desktop.jobs import JobTracker
from desktop.reference_panel import FileDropTarget, ReferencePanel, image_paths_from_urls
from desktop.resources import app_icon, default_autosave_dir, demo_paths
from desktop.settings import AppSettings, EngineOptions
from desktop.status_bar import StatusBar
from desktop.train_dialog import TrainDialog
from desktop.worker import DISPLAY_SIDE, CheckReference, ColorWorker, Configure, ModelInfo, OpenedPhoto, OpenPhoto
from desktop.worker import PreviewResult, ProbePoint, Train, default_colorizer_factory

APP_NAME = "Heirloom"


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
        self.document = EditDocument(Edit(working_size=self.options.working_size, model=self.options.colornet), self)
        self.undo_stack = QUndoStack(self)
        self.dialogs = Dialogs(self)

        # view state (never part of the edit)
        self.photo: OpenedPhoto | None = None
        self.opening: tuple[int, Edit, str | None, bool] | None = None  # tag, edit, its file, recovered
        self.epoch_tag = 0  # results requested before the current photo was opened are dropped
        self.shown_tag = 0  # the newest preview on screen
        self.requested_tag = 0  # the newest preview asked for
        self.last_preview: PreviewResult | None = None
        self.model_info: ModelInfo | None = None
        self.train_dialog: TrainDialog | None = None
        self.dropped_results = 0  # stale previews ignored (shown in no UI; useful when diagnosing)

        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.resize(1280, 820)
        self.worker = ColorWorker(factory or default_colorizer_factory, trainer, display_side)
        self.worker_thread = QThread(self)
        self.worker_thread.setObjectName("heirloom-worker")
        self.worker.moveToThread(self.worker_thread)
        self.worker_thread.start()
        self.jobs = JobTracker(self.worker, self, self.dialogs.error, self._on_preview_failed)
        self._build_widgets()
        self.hint_tool = HintTool(
            self.document, self.undo_stack, self.canvas, self.colour_panel, self.settings, self._probe, self.status.say, self,
            shown=lambda: self.last_preview,
        )
        self.edit_files = EditFiles(
            Path(autosave_dir or default_autosave_dir()), self.document, self.undo_stack, self.dialogs, self.settings, self.status.say, self
        )
        self.exports = Exports(self.jobs, self.document, self.dialogs, self.settings, self.status, lambda: self.photo, self.request_preview, self)
        self._build_actions()
        self._wire()
        self._restore_window_state()
        self._update_title()
        self._update_enabled()
        self.worker.submit(self.jobs.new_tag(), Configure(self.options))

    # ---------------------------------------------------------------------------------------------
    # construction
    def _build_widgets(self) -> None:
        self.canvas = HintCanvas(self)
        self.setCentralWidget(self.canvas)
        self.reference_panel = ReferencePanel()
        self.colour_panel = HintColourPanel()
        self.colour_panel.set_recent(self.settings.recent_colours())
        self.history = QUndoView(self.undo_stack)
        self.history.setEmptyLabel("Opened photo")
        self.reference_dock = self._dock("References", "references_dock", self.reference_panel)
        self.colour_dock = self._dock("Hint colour", "colour_dock", self.colour_panel)
        self.history_dock = self._dock("History", "history_dock", self.history)
        self.tabifyDockWidget(self.colour_dock, self.history_dock)
        self.colour_dock.raise_()
        self.blend_slider = BlendSlider()
        self.toolbar = QToolBar("Main")
        self.toolbar.setObjectName("main_toolbar")
        self.addToolBar(self.toolbar)

        self.status = StatusBar(self)
        self.setStatusBar(self.status)

    def _dock(self, title: str, name: str, widget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    def _build_actions(self) -> None:
        premade = {
            "undo": self.undo_stack.createUndoAction(self, "&Undo"),
            "redo": self.undo_stack.createRedoAction(self, "&Redo"),
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
            self.submenus["working_sizes"], menus.working_size_choices(), self.edit.working_size, self.set_working_size
        )

    def _wire(self) -> None:
        w = self.worker
        w.model_ready.connect(self._show_model)
        w.preview_ready.connect(self._on_preview_ready)
        w.reference_rejected.connect(self._on_reference_rejected)
        w.busy_changed.connect(self.status.busy_bar.setVisible)
        self.document.changed.connect(self._on_document_changed)
        self.undo_stack.cleanChanged.connect(self._update_title)
        self.canvas.zoom_changed.connect(self.status.show_zoom)
        self.hint_tool.selection_changed.connect(self._update_enabled)
        r = self.reference_panel
        r.reference_pinned.connect(lambda path: self.add_references([path]))
        r.references_dropped.connect(self.add_references)
        r.reference_removed.connect(self.remove_reference)
        r.automatic_chosen.connect(self._on_automatic)
        r.folder_chosen.connect(lambda _: self._on_reference_folder())
        self.blend_slider.blend_changed.connect(self._on_blend_changed)

    def _restore_window_state(self) -> None:
        self.settings.restore_window(self)
        folder = self.settings.folder("references")
        if folder and Path(folder).is_dir():
            self.reference_panel.set_folder(folder)

    @property
    def edit(self) -> Edit:
        return self.document.edit

    @property
    def has_photo(self) -> bool:
        return self.photo is not None

    def _update_title(self, *_) -> None:
        name = Path(self.edit.photo).name if self.edit.photo else "No photo"
        self.setWindowTitle(f"{name}[*] — {APP_NAME}")
        self.setWindowModified(not self.undo_stack.isClean())

    def _update_enabled(self) -> None:
        for name in ("export", "save_edit", "save_edit_as", "clear_hints", "zoom_in", "zoom_out", "zoom_fit", "zoom_actual", "split_view", "hold_original"):
            self.actions_by_name[name].setEnabled(self.has_photo)
        for name in ("delete_hint", "deselect_hint", "hint_bigger", "hint_smaller"):
            self.actions_by_name[name].setEnabled(self.hint_tool.selected is not None)
        self.blend_slider.setEnabled(not self.edit.automatic)

    def _probe(self, edit: Edit, x: float, y: float, on_done: Callable) -> None:
        if edit.photo is not None:
            self.jobs.start("probe", ProbePoint(edit, x, y), on_done=on_done, on_failed=lambda message: None)

    # ---------------------------------------------------------------------------------------------
    # opening photos and edits
    def open_photo(
        self, path: str | Path, references: Sequence[str] = (), edit: Edit | None = None, *, edit_path: str | None = None, recovered: bool = False
    ) -> int | None:
        """Open a photo (in the worker). References, strength and settings carry over, hints start
        empty; ``edit`` restores a whole saved edit instead. Returns the request's tag."""
        if not self._maybe_keep_changes():
            return None
        path = str(Path(path).absolute())
        if edit is None:
            edit = replace(self.edit, photo=path, hints=())
            for ref in references:
                edit = edit.with_reference(str(Path(ref).absolute()))
        else:
            edit = replace(edit, photo=path)
        if self.opening is not None:  # a newer open replaces one still loading
            self.jobs.forget(self.opening[0])
        tag = self.jobs.start(
            "open", OpenPhoto(path), label=f"Opening {Path(path).name}…", busy=True, result_after_cancel=False,
            on_done=self._on_photo_opened, on_failed=self._on_open_ended, on_cancelled=lambda: self._on_open_ended(None),
        )
        self.opening = (tag, edit, edit_path, recovered)
        self.settings.set_folder("photos", str(Path(path).parent))
        return tag

    def open_edit(self, path: str | Path, edit: Edit | None = None) -> int | None:
        """Open a saved edit (``edit``: already read from ``path``)."""
        edit = edit or self.edit_files.read(path)
        if edit is None:
            return None
        tag = self.open_photo(edit.photo, edit=edit, edit_path=str(path))
        if tag is not None:
            self.settings.set_folder("sessions", str(Path(path).parent))
        return tag

    def open_demo(self) -> int | None:
        photo, reference = demo_paths()
        if not photo.is_file():
            self.dialogs.error(f"The demo photo is missing from {photo.parent}; reinstall Heirloom to restore it.")
            return None
        refs = tuple(Reference(str(reference)) for reference in [reference] if reference.is_file())
        return self.open_photo(photo, edit=replace(self.edit, photo=str(photo), references=refs, blend=1.0, hints=()))

    def offer_recovery(self) -> bool:
        """After a crash: offer an unsaved edit whose window is gone. True if it is being restored."""
        found = self.edit_files.recoverable()
        return found is not None and self.open_photo(found[0].photo, edit=found[0], recovered=True) is not None

    def _on_open_ended(self, message: str | None) -> None:
        self.opening = None
        if message is not None:
            self.dialogs.error(message)

    def _on_photo_opened(self, opened: OpenedPhoto) -> None:
        tag, edit, edit_path, recovered = self.opening
        self.opening = None
        self.photo = opened
        self.epoch_tag = tag
        self.last_preview = None
        self.hint_tool.reset()
        self.canvas.set_photo(opened.image, opened.size)
        self.undo_stack.clear()
        self.document.reset(edit)
        self.undo_stack.setClean()
        self.edit_files.path = edit_path
        if recovered:
            self.undo_stack.resetClean()  # the recovered edit is unsaved work until it is saved
        self._rebuild_recent_menu(self.settings.add_recent_file(opened.path))
        self._update_title()
        self._update_enabled()
        self.status.say(f"Opened {Path(opened.path).name} ({opened.size[0]} × {opened.size[1]}, {opened.bit_depth}-bit)", 5000)

    def _maybe_keep_changes(self) -> bool:
        """Before the edit is replaced: False if the user wants to keep working on it."""
        if self.undo_stack.isClean() or not self.has_photo:
            return True
        answer = self.dialogs.ask_save_changes(Path(self.edit.photo).name)
        if answer == "cancel":
            return False
        return self.edit_files.save() if answer == "save" else True

    # ---------------------------------------------------------------------------------------------
    # the document changed: update views, ask for a preview
    def _on_document_changed(self, fields: frozenset) -> None:
        edit = self.edit
        if "references" in fields:
            self.reference_panel.set_pinned(edit.references)
        if "blend" in fields:
            self.blend_slider.set_value(edit.blend)
        if "working_size" in fields:
            menus.check_choice(self._working_size_group, edit.working_size)
        if "model" in fields:
            menus.check_choice(self._model_group, edit.model)
            self._show_model()
        if "match_content" in fields:
            with QSignalBlocker(self.actions_by_name["match_content"]):  # a view update, not a new edit
                self.actions_by_name["match_content"].setChecked(edit.match_content)
        self.hint_tool.hints_changed()
        self._update_enabled()
        self._update_title()
        self.request_preview()

    def request_preview(self) -> int | None:
        if not self.has_photo or self.opening is not None:
            return None
        tag = self.requested_tag = self.jobs.new_tag()
        self.worker.request_preview(tag, self.edit)
        return tag

    @property
    def preview_is_current(self) -> bool:
        """True once the newest requested preview is on screen at display size."""
        preview = self.last_preview
        return preview is not None and preview.final and self.shown_tag >= self.requested_tag

    def _on_preview_ready(self, tag: int, result: PreviewResult) -> None:
        if tag < self.epoch_tag or tag < self.shown_tag or not self.has_photo:
            self.dropped_results += 1  # stale: an older edit, or a photo no longer open
            return
        self.shown_tag = tag
        if self.last_preview is None or self.last_preview.palette != result.palette:
            self.colour_panel.set_palette(result.palette)
        self.last_preview = result
        self.canvas.set_result(result.image)
        matching = self.edit.references and self.edit.match_content
        self.status.show_preview(result.seconds, result.coverage if matching else None)
        self.hint_tool.preview_shown(result.hint_lightness, result.final)

    def _on_preview_failed(self, tag: int, message: str) -> None:
        if tag >= self.epoch_tag:  # not a preview of a photo no longer open
            self.dialogs.error(message)

    # ---------------------------------------------------------------------------------------------
    # references and blend
    def add_references(self, paths: Sequence[str]) -> list[int]:
        """Check each photo in the worker (grey ones are refused there) and pin those that pass."""
        tags = []
        pinned = set(self.edit.reference_paths) | {job.subject for job in self.jobs.of_kind("reference")}
        for path in paths:
            path = str(Path(path).absolute())
            if path in pinned:
                continue
            tags.append(self.jobs.start("reference", CheckReference(path), subject=path, on_done=lambda checked: self._pin(checked.path)))
            pinned.add(path)
        if paths:
            self.settings.set_folder("references", str(Path(paths[0]).parent))
        return tags

    def _pin(self, path: str) -> None:
        if path not in self.edit.reference_paths:
            self.undo_stack.push(commands.AddReference(self.document, path))

    def _on_reference_rejected(self, path: str, message: str) -> None:
        if path in self.edit.reference_paths:
            self.document.set_references(self.edit.without_reference(path).references)
        self.dialogs.error(message)

    def remove_reference(self, path: str) -> None:
        if path in self.edit.reference_paths:
            self.undo_stack.push(commands.RemoveReference(self.document, path))

    def _on_automatic(self) -> None:
        if self.edit.references:
            self.undo_stack.push(commands.UseAutomatic(self.document))

    def _on_blend_changed(self, blend: float, gesture: int) -> None:
        if blend != self.edit.blend:
            self.undo_stack.push(commands.SetBlend(self.document, blend, gesture))

    def _on_match_content(self, checked: bool) -> None:
        if checked != self.edit.match_content:
            self.undo_stack.push(commands.SetContentMatching(self.document, checked))

    # ---------------------------------------------------------------------------------------------
    # model, device, working size
    def _show_model(self, info: ModelInfo | None = None, loading: bool = False) -> None:
        """Where the colorization runs and with which model; ``info``: the worker's news."""
        if info is not None and info.random_weights:
            self.status.say("No trained weights were found: running with random weights for development.", 8000)
        self.model_info = None if loading else info or self.model_info
        info = self.model_info
        device, untrained = (info.device, info.random_weights) if info is not None else (None, False)
        self.status.show_model(device, self.edit.model, self.options.device == "auto", untrained)

    def use_model(self, name: str) -> None:
        """Colorize with the model ``name`` from now on (a setting, not an undo step)."""
        self.settings.set_model(name)
        self.options = replace(self.options, colornet=name)
        self.document.set_model(name)
        self._rebuild_model_menu()

    def set_device(self, device: str) -> None:
        self.settings.set_device(device)
        menus.check_choice(self._device_group, device)
        self.options = replace(self.options, device=device)
        self.worker.submit(self.jobs.new_tag(), Configure(self.options))
        self._show_model(loading=True)
        self.request_preview()

    def _rebuild_model_menu(self) -> None:
        self._model_group = menus.fill_choices(
            self.submenus["models"], menus.model_choices(), self.edit.model, self.use_model, empty="No trained model installed"
        )

    def set_working_size(self, size: int) -> None:
        self.settings.set_working_size(size)
        if size != self.edit.working_size:
            self.undo_stack.push(commands.SetWorkingSize(self.document, size))

    def _rebuild_recent_menu(self, files: Sequence[str] | None = None) -> None:
        files = list(files if files is not None else self.settings.recent_files())
        clear = lambda: self._rebuild_recent_menu(self.settings.clear_recent_files())  # noqa: E731
        menus.fill_recent(self.submenus["recent"], files, self.open_photo, clear)

    def start_training(self, folder: str, name: str, steps: int) -> int:
        self.settings.set_folder("training", folder)
        dialog = self.train_dialog
        return self.jobs.start(
            "train", Train(folder, name, steps), progress=dialog.on_progress,
            on_done=lambda done: (self._rebuild_model_menu(), dialog.on_finished(done.record, done.stopped_early)),
            on_failed=dialog.on_failed, on_cancelled=dialog.on_cancelled,
        )

    def _on_train(self) -> None:
        if self.train_dialog is None:
            dialog = self.train_dialog = TrainDialog(self.settings.folder("training"), self)
            dialog.start_requested.connect(self.start_training)
            dialog.cancel_requested.connect(lambda: [self.jobs.cancel(job.tag) for job in self.jobs.of_kind("train")])
            dialog.use_model_requested.connect(self.use_model)
        self.train_dialog.show()
        self.train_dialog.raise_()

    # ---------------------------------------------------------------------------------------------
    # action slots (named _on_<action> in desktop.actions.ACTIONS)
    def _on_open(self) -> None:
        path = self.dialogs.open_photo(self.settings.folder("photos"))
        if path:
            self.open_photo(path)

    def _on_open_edit(self) -> None:
        path = self.dialogs.open_edit(self.settings.folder("sessions"))
        if path:
            self.open_edit(path)

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

    # -- drops (FileDropTarget): a photo or a saved edit ----------------------------------------
    def dropped_paths(self, urls) -> list[str]:
        edits = [u.toLocalFile() for u in urls if u.isLocalFile() and u.toLocalFile().endswith(".json")]
        return edits + image_paths_from_urls(urls)

    def paths_dropped(self, paths: list[str]) -> None:
        path = paths[0]
        if path.endswith(".json"):
            self.open_edit(path)
        else:
            self.open_photo(path)

    def closeEvent(self, event) -> None:
        question = ("Training is running", "Stop training and quit? The model being trained will not be saved.")
        if (self.jobs.of_kind("train") and not self.dialogs.ask_yes_no(*question)) or not self._maybe_keep_changes():
            event.ignore()
            return
        self.settings.save_window(self)
        self.edit_files.release()
        self.shutdown()
        if self.train_dialog is not None:
            self.train_dialog.running = False
            self.train_dialog.close()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the worker thread (waits for the running step of the current job to end)."""
        if self.worker_thread.isRunning():
            self.worker.stop()
            self.worker_thread.quit()
            self.worker_thread.wait()
