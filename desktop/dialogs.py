"""The window's questions and messages in one place (file dialogs, confirmations, errors).

Errors are shown in one non-blocking message box that is reused, so a failure repeated by every
preview never stacks up windows, and nothing waits on the user while the worker keeps going.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from core.edit import EDIT_SUFFIX
from desktop.actions import shortcut_table

PHOTO_FILTER = "Photos (*.jpg *.jpeg *.png *.tif *.tiff *.webp *.bmp);;All files (*)"
EXPORT_FILTERS = {
    ".png": "PNG image (*.png)",
    ".jpg": "JPEG image (*.jpg *.jpeg)",
    ".tif": "TIFF image (*.tif *.tiff)",
}
EDIT_FILTER = f"Heirloom edits (*{EDIT_SUFFIX} *.json)"


class Dialogs:
    def __init__(self, parent: QWidget) -> None:
        self.parent = parent
        self.message_box: QMessageBox | None = None
        self.last_error: str | None = None

    # -- messages -----------------------------------------------------------------------------
    def error(self, text: str, title: str = "Heirloom") -> None:
        self.last_error = text
        self._show(QMessageBox.Icon.Warning, title, text)

    def info(self, text: str, title: str = "Heirloom") -> None:
        self._show(QMessageBox.Icon.Information, title, text)

    def _show(self, icon: QMessageBox.Icon, title: str, text: str) -> None:
        box = self.message_box
        if box is None:
            box = QMessageBox(self.parent)
            box.setWindowModality(Qt.WindowModality.NonModal)
            box.setStandardButtons(QMessageBox.StandardButton.Ok)
            self.message_box = box
        box.setIcon(icon)
        box.setWindowTitle(title)
        box.setText(text)
        box.show()
        box.raise_()

    def shortcuts(self) -> None:
        rows = "".join(f"<tr><td>{what}</td><td>&nbsp;&nbsp;<b>{keys}</b></td></tr>" for what, keys in shortcut_table())
        box = QMessageBox(QMessageBox.Icon.NoIcon, "Keyboard shortcuts", f"<table>{rows}</table>", QMessageBox.StandardButton.Close, self.parent)
        box.open()

    def about(self) -> None:
        from desktop.app import version

        QMessageBox.about(
            self.parent,
            "About Heirloom",
            f"<b>Heirloom {version()}</b><br>Bring colour back to old family photos, on your own computer."
            "<br><br>Exemplar-based colorization (Xu et al., CVPR 2020) with user-guided hints (Zhang et al., 2017).",
        )

    def ask_save_changes(self, name: str) -> str:
        """'save', 'discard' or 'cancel'."""
        answer = QMessageBox.question(
            self.parent,
            "Unsaved changes",
            f"Save your edit of {name} before closing it?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(answer, "cancel")

    def ask_recover(self, name: str) -> bool:
        answer = QMessageBox.question(
            self.parent,
            "Recover unsaved edit?",
            f"Heirloom did not close properly last time. Restore your unsaved edit of {name}?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        return answer == QMessageBox.StandardButton.Yes

    def ask_yes_no(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self.parent, title, text)
        return answer == QMessageBox.StandardButton.Yes

    # -- files --------------------------------------------------------------------------------
    def open_photo(self, folder: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open a photo", folder, PHOTO_FILTER)
        return path or None

    def open_references(self, folder: str) -> list[str]:
        paths, _ = QFileDialog.getOpenFileNames(self.parent, "Choose colour reference photos", folder, PHOTO_FILTER)
        return list(paths)

    def choose_folder(self, title: str, folder: str) -> str | None:
        return QFileDialog.getExistingDirectory(self.parent, title, folder) or None

    def open_edit(self, folder: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open a saved edit", folder, EDIT_FILTER)
        return path or None

    def save_edit(self, suggested: str) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, "Save the edit", suggested, EDIT_FILTER)
        if not path:
            return None
        if not path.endswith(EDIT_SUFFIX) and not path.endswith(".json"):
            path += EDIT_SUFFIX
        return path

    def export_path(self, suggested: str) -> str | None:
        suffix = Path(suggested).suffix.lower()
        filters = ";;".join(EXPORT_FILTERS.values())
        path, chosen = QFileDialog.getSaveFileName(
            self.parent, "Export the colour photo", suggested, filters, EXPORT_FILTERS.get(suffix, "")
        )
        if not path:
            return None
        if Path(path).suffix.lower() not in (".png", ".jpg", ".jpeg", ".tif", ".tiff"):
            ext = next((e for e, f in EXPORT_FILTERS.items() if f == chosen), ".png")
            path += ext
        return path
