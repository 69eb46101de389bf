""""Train on my photos": fine-tune the colorization model on a folder of the family's colour photos.

The dialog only collects the folder, a name and the number of steps, and shows what the worker
reports (progress, a live loss plot, the time left). The training itself runs in the worker thread.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

PLOT_COLOURS = (QColor(66, 133, 244), QColor(219, 68, 55), QColor(244, 180, 0), QColor(15, 157, 88))


def format_eta(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s left"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


class LossPlot(QWidget):
    """Each loss the trainer reports, as a line over the steps (log scale, autoscaled)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(320, 160)
        self.series: dict[str, list[tuple[int, float]]] = {}
        self.total_steps = 1

    def clear(self) -> None:
        self.series.clear()
        self.update()

    def add(self, step: int, total: int, losses: dict) -> None:
        self.total_steps = max(int(total), 1)
        for name, value in losses.items():
            value = float(value)
            if math.isfinite(value) and value > 0:
                self.series.setdefault(name, []).append((int(step), value))
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        margin = 8
        area = self.rect().adjusted(margin, margin + 14, -margin, -margin)
        painter.setPen(QPen(self.palette().mid().color(), 1))
        painter.drawRect(area)
        values = [v for points in self.series.values() for _, v in points]
        if not values:
            painter.setPen(self.palette().text().color())
            painter.drawText(area, Qt.AlignmentFlag.AlignCenter, "The loss appears here while training runs")
            painter.end()
            return
        low, high = math.log10(min(values)), math.log10(max(values))
        if high - low < 1e-6:
            low, high = low - 0.5, high + 0.5
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        legend_x = area.left()
        for index, (name, points) in enumerate(self.series.items()):
            colour = PLOT_COLOURS[index % len(PLOT_COLOURS)]
            path = QPainterPath()
            for i, (step, value) in enumerate(points):
                x = area.left() + area.width() * step / self.total_steps
                y = area.bottom() - area.height() * (math.log10(value) - low) / (high - low)
                path.moveTo(x, y) if i == 0 else path.lineTo(x, y)
            painter.setPen(QPen(colour, 1.5))
            painter.drawPath(path)
            label = f"{name} {points[-1][1]:.4g}"
            painter.drawText(QPointF(legend_x, margin + 10), label)
            legend_x += painter.fontMetrics().horizontalAdvance(label) + 16
        painter.end()


class TrainDialog(QDialog):
    start_requested = Signal(str, str, int)  # photos folder, model name, steps
    cancel_requested = Signal()
    use_model_requested = Signal(str)  # the new model's weights name

    def __init__(self, folder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train on my photos")
        self.setMinimumWidth(480)
        intro = QLabel(
            "Fine-tune the colorization model on your own colour photos, so it learns your family's "
            "clothes, rooms and places. It runs on this computer; nothing is uploaded. A few hundred "
            "photos and a few thousand steps work well; on a CPU this takes a while."
        )
        intro.setWordWrap(True)
        self.folder_edit = QLineEdit(folder)
        self.folder_edit.setPlaceholderText("A folder of colour photos")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._on_browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)
        self.name_edit = QLineEdit("my-family")
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(10, 200_000)
        self.steps_spin.setSingleStep(500)
        self.steps_spin.setValue(2000)
        form = QFormLayout()
        form.addRow("Photos", folder_row)
        form.addRow("Model name", self.name_edit)
        form.addRow("Steps", self.steps_spin)

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.plot = LossPlot()

        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton("Start training", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton("Stop", QDialogButtonBox.ButtonRole.RejectRole)
        self.use_button = self.buttons.addButton("Use this model", QDialogButtonBox.ButtonRole.ApplyRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.start_button.clicked.connect(self._on_start)
        self.cancel_button.clicked.connect(self._on_stop)
        self.use_button.clicked.connect(self._on_use)
        self.close_button.clicked.connect(self.close)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.buttons)
        self.running = False
        self.model_name: str | None = None
        self._set_running(False)
        self.use_button.setVisible(False)

    def _set_running(self, running: bool) -> None:
        self.running = running
        for widget in (self.folder_edit, self.name_edit, self.steps_spin, self.start_button):
            widget.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.close_button.setEnabled(not running)

    def _on_browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of colour photos", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def _on_start(self) -> None:
        folder = self.folder_edit.text().strip()
        name = self.name_edit.text().strip()
        if not folder or not Path(folder).is_dir():
            self.status.setText("Choose a folder of colour photos first.")
            return
        if not name:
            self.status.setText("Give the model a name, for example “Family 1950s”.")
            return
        self.plot.clear()
        self.progress_bar.setValue(0)
        self.use_button.setVisible(False)
        self.status.setText("Starting…")
        self._set_running(True)
        self.start_requested.emit(folder, name, self.steps_spin.value())

    def _on_stop(self) -> None:
        self.status.setText("Stopping after the current step…")
        self.cancel_button.setEnabled(False)
        self.cancel_requested.emit()

    def _on_use(self) -> None:
        if self.model_name:
            self.use_model_requested.emit(self.model_name)
            self.close()

    # -- reports from the worker --------------------------------------------------------------
    def on_progress(self, progress) -> None:
        total = max(int(getattr(progress, "total", 1)), 1)
        step = int(getattr(progress, "step", 0))
        self.progress_bar.setValue(round(1000 * step / total))
        losses = dict(getattr(progress, "losses", {}) or {})
        message = getattr(progress, "message", "")
        if not losses and message:  # a status report (scanning the photos, resuming)
            self.status.setText(message)
            return
        self.plot.add(step, total, losses)
        eta = format_eta(getattr(progress, "eta", None))
        self.status.setText(f"Step {step} of {total}" + (f" — {eta}" if eta else ""))

    def on_finished(self, record, stopped_early: bool = False) -> None:
        self._set_running(False)
        self.model_name = getattr(record, "name", None) or self.name_edit.text().strip()
        if stopped_early:
            self.status.setText(f"Training stopped early; the model trained so far was saved as '{self.model_name}'.")
        else:
            self.progress_bar.setValue(1000)
            self.status.setText(f"Your personal model '{self.model_name}' is ready. It is listed in the Model menu.")
        self.use_button.setVisible(True)

    def on_failed(self, message: str) -> None:
        self._set_running(False)
        self.status.setText(message)

    def on_cancelled(self) -> None:
        self._set_running(False)
        self.status.setText("Training stopped; no model was added.")

    def reject(self) -> None:
        if not self.running:  # Escape must not hide a training that is still going
            super().reject()

    def closeEvent(self, event) -> None:
        if self.running:
            event.ignore()  # stop first: the worker is still training
            return
        super().closeEvent(event)
