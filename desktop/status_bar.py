"""The window's status bar: a busy indicator, the zoom, how much the references match, the time of
the last preview, and where the colorization runs with which model."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar


class StatusBar(QStatusBar):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
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
        self.device_label.setToolTip("Where the colorization runs, and which model")
        for widget in (self.busy_bar, self.zoom_label, self.match_label, self.time_label, self.device_label):
            self.addPermanentWidget(widget)

    def say(self, text: str, timeout_ms: int = 0) -> None:
        if text:
            self.showMessage(text, timeout_ms)
        else:
            self.clearMessage()

    def show_zoom(self, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom:.0%}")

    def show_preview(self, seconds: float, coverage: float | None) -> None:
        """The time a preview took, and the references' match (None: not matching)."""
        self.time_label.setText(f"{seconds:.2f} s")
        self.match_label.setText(f"Reference match {coverage:.0%}" if coverage is not None else "")

    def show_model(self, device: str | None, model: str, automatic: bool = False, untrained: bool = False) -> None:
        """Where the colorization runs (None: still loading) and which model."""
        if device is None:
            self.device_label.setText("Loading the model…")
            return
        note = " (untrained: development only)" if untrained else ""
        self.device_label.setText(f"{'Auto: ' if automatic else ''}{device} · {model}{note}")
