"""How far a hint's colour spreads over the region it lands in: local … whole region (0-100 %).

Like the :class:`~desktop.blend_slider.BlendSlider`, a drag of the handle reports every move with one
gesture number (one undo step when it changes a hint); a key press or a click on the groove is a step
of its own.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

from desktop.commands import new_gesture

TOOLTIP = (
    "How far a hint's colour spreads. Local: it colours only about the hint. Whole region: it carries "
    "over the whole area the hint lands in, up to where the brightness changes sharply.\n"
    "Sets the selected hint, and the hints you add next."
)


class ReachSlider(QWidget):
    reach_changed = Signal(float, int)  # reach 0..1, gesture number

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setPageStep(10)
        self.slider.setToolTip(TOOLTIP)
        self.caption = QLabel("Reach")
        self.caption.setToolTip(TOOLTIP)
        near, far = QLabel("local"), QLabel("whole region")
        for label in (near, far):
            label.setStyleSheet("color: gray")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(near)
        layout.addWidget(self.slider, 1)
        layout.addWidget(far)
        self._gesture: int | None = None
        self.slider.sliderPressed.connect(self._on_slider_pressed)
        self.slider.sliderReleased.connect(self._on_slider_released)
        self.slider.valueChanged.connect(self._on_value_changed)

    def value(self) -> float:
        return self.slider.value() / 100

    def set_value(self, reach: float) -> None:
        """Show ``reach`` without reporting it back (the view follows the model under a blocker)."""
        with QSignalBlocker(self.slider):
            self.slider.setValue(round(reach * 100))

    def _on_slider_pressed(self) -> None:
        self._gesture = new_gesture()

    def _on_slider_released(self) -> None:
        self._gesture = None

    def _on_value_changed(self, percent: int) -> None:
        gesture = self._gesture if self._gesture is not None else new_gesture()
        self.reach_changed.emit(percent / 100, gesture)
