"""Colour references: browse a folder as thumbnails, pin one or several, remove them, or choose the
explicit "automatic (no reference)" mode. Photos dropped on the panel are offered for pinning.

The panel only reports what the user asked for; the main window checks each photo (grey ones are
refused with a message) and turns accepted requests into undoable edits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PySide6.QtCore import QEvent, QSignalBlocker, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QImageReader, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from core.edit import Reference

THUMB_SIDE = 96
PINNED_SIDE = 64
THUMBS_PER_TICK = 4  # thumbnails decoded per event-loop turn, so a big folder never freezes the window
PATH_ROLE = Qt.ItemDataRole.UserRole


def supported_image(path: str | Path) -> bool:
    from core.api import is_supported_image  # suffix check only, no disk access

    return is_supported_image(path)


def image_paths_from_urls(urls) -> list[str]:
    """Local image files among dropped URLs (folders and other files are ignored)."""
    paths = []
    for url in urls:
        if url.isLocalFile():
            path = url.toLocalFile()
            if Path(path).is_file() and supported_image(path):
                paths.append(path)
    return paths


class FileDropTarget:
    """Drag-and-drop of local files onto a Qt widget (list it before the widget class).

    ``dropped_paths`` picks the files the widget takes from the dropped URLs (images by default);
    a drag is accepted only if there are some, and ``paths_dropped`` receives them on the drop.
    """

    def dropped_paths(self, urls) -> list[str]:
        return image_paths_from_urls(urls)

    def paths_dropped(self, paths: list[str]) -> None:
        raise NotImplementedError

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and self.dropped_paths(event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        paths = self.dropped_paths(event.mimeData().urls())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.paths_dropped(paths)


def load_thumbnail(path: str, side: int) -> QImage:
    """A small upright copy of a photo; JPEGs are decoded straight at the reduced size."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > side:
        reader.setScaledSize(size.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        image = QImage(side, side, QImage.Format.Format_RGB32)
        image.fill(QColor(90, 60, 60))
    return image


def _placeholder(side: int) -> QIcon:
    pixmap = QPixmap(side, side)
    pixmap.fill(QColor(70, 70, 70))
    return QIcon(pixmap)


class _ThumbnailList(QListWidget):
    delete_pressed = Signal()

    def event(self, event) -> bool:
        # Claim Delete/Backspace before the window's "Delete Hint" shortcut sees them.
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_pressed.emit()
            return
        super().keyPressEvent(event)

    def __init__(self, side: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(side, side))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setGridSize(QSize(side + 14, side + 24))
        self.setUniformItemSizes(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.setAcceptDrops(False)
        self.viewport().setAcceptDrops(False)


class ReferencePanel(FileDropTarget, QWidget):
    reference_pinned = Signal(str)  # pin this photo as a reference
    references_dropped = Signal(list)  # image paths dropped onto the panel
    reference_removed = Signal(str)
    automatic_chosen = Signal()
    folder_chosen = Signal(str)  # the user asked to browse a folder (the window shows a dialog)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.automatic = QRadioButton("Automatic (no reference)")
        self.automatic.setAutoExclusive(False)
        self.automatic.setToolTip("Let the model choose the colours on its own")
        self.automatic.setChecked(True)
        self.automatic.toggled.connect(self._on_automatic_toggled)

        self.pinned = _ThumbnailList(PINNED_SIDE)
        self.pinned.setFixedHeight(PINNED_SIDE + 34)
        self.pinned.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.pinned.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.pinned.customContextMenuRequested.connect(self._on_pinned_menu)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Unpin the selected references (Delete)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.pinned.delete_pressed.connect(self.remove_selected)

        self.folder_button = QPushButton("Folder…")
        self.folder_button.setToolTip("Browse a folder of colour photos")
        self.folder_button.clicked.connect(lambda: self.folder_chosen.emit(self._folder or ""))
        self.folder_label = QLabel("No folder chosen")
        self.folder_label.setStyleSheet("color: gray")
        self.folder_label.setWordWrap(True)
        self.browser = _ThumbnailList(THUMB_SIDE)
        self.browser.itemActivated.connect(lambda item: self.reference_pinned.emit(item.data(PATH_ROLE)))
        self.pin_button = QPushButton("Pin as reference")
        self.pin_button.clicked.connect(self.pin_selected)
        hint = QLabel("Double-click a photo to pin it, or drop photos here.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: gray")

        pinned_row = QHBoxLayout()
        pinned_row.addWidget(QLabel("Pinned references"), 1)
        pinned_row.addWidget(self.remove_button)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_button)
        folder_row.addWidget(self.folder_label, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.automatic)
        layout.addLayout(pinned_row)
        layout.addWidget(self.pinned)
        layout.addLayout(folder_row)
        layout.addWidget(self.browser, 1)
        layout.addWidget(self.pin_button)
        layout.addWidget(hint)

        self._folder: str | None = None
        self._pending: list[QListWidgetItem] = []
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setInterval(0)
        self._thumb_timer.timeout.connect(self._load_some_thumbnails)
        self._update_buttons()
        self.pinned.itemSelectionChanged.connect(self._update_buttons)
        self.browser.itemSelectionChanged.connect(self._update_buttons)

    # -- the model's state, shown ----------------------------------------------------------------
    def set_pinned(self, references: Sequence[Reference]) -> None:
        self.pinned.clear()
        for entry in references:
            item = QListWidgetItem(QIcon(QPixmap.fromImage(load_thumbnail(entry.path, PINNED_SIDE))), entry.name)
            item.setData(PATH_ROLE, entry.path)
            item.setToolTip(entry.path)
            self.pinned.addItem(item)
        with QSignalBlocker(self.automatic):
            self.automatic.setChecked(not references)
        self._update_buttons()

    def pinned_paths(self) -> list[str]:
        return [self.pinned.item(i).data(PATH_ROLE) for i in range(self.pinned.count())]

    # -- browsing ---------------------------------------------------------------------------------
    @property
    def folder(self) -> str | None:
        return self._folder

    def set_folder(self, folder: str) -> None:
        """List the folder's photos at once with placeholders; thumbnails fill in a few at a time."""
        self._folder = folder
        self.browser.clear()
        self._pending.clear()
        try:
            paths = sorted(p for p in Path(folder).iterdir() if p.is_file() and supported_image(p))
        except OSError:
            paths = []
        self.folder_label.setText(f"{Path(folder).name or folder} ({len(paths)} photos)")
        self.folder_label.setToolTip(folder)
        icon = _placeholder(THUMB_SIDE)
        for path in paths:
            item = QListWidgetItem(icon, path.name)
            item.setData(PATH_ROLE, str(path))
            item.setToolTip(str(path))
            self.browser.addItem(item)
            self._pending.append(item)
        if self._pending:
            self._thumb_timer.start()
        self._update_buttons()

    def _load_some_thumbnails(self) -> None:
        for _ in range(THUMBS_PER_TICK):
            if not self._pending:
                self._thumb_timer.stop()
                return
            item = self._pending.pop(0)
            item.setIcon(QIcon(QPixmap.fromImage(load_thumbnail(item.data(PATH_ROLE), THUMB_SIDE))))

    @property
    def thumbnails_pending(self) -> int:
        return len(self._pending)

    def pin_selected(self) -> None:
        for item in self.browser.selectedItems():
            self.reference_pinned.emit(item.data(PATH_ROLE))

    def remove_selected(self) -> None:
        for item in self.pinned.selectedItems():
            self.reference_removed.emit(item.data(PATH_ROLE))

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(bool(self.pinned.selectedItems()))
        self.pin_button.setEnabled(bool(self.browser.selectedItems()))

    def _on_pinned_menu(self, pos) -> None:
        item = self.pinned.itemAt(pos)
        if item is None:
            return
        menu = QMenu(self)
        menu.addAction("Remove reference", lambda: self.reference_removed.emit(item.data(PATH_ROLE)))
        menu.exec(self.pinned.viewport().mapToGlobal(pos))

    def _on_automatic_toggled(self, checked: bool) -> None:
        if checked:
            self.automatic_chosen.emit()
        else:
            # Leaving automatic mode happens by pinning a reference, not by unticking.
            with QSignalBlocker(self.automatic):
                self.automatic.setChecked(True)

    # -- drops (FileDropTarget) ---------------------------------------------------------------------
    def paths_dropped(self, paths: list[str]) -> None:
        self.references_dropped.emit(paths)
