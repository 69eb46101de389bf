"""A 0-100 % slider whose changes carry an undo gesture number.

While the handle is dragged every move is reported with the same gesture number, so the edits it
causes merge into one undo step; a key press or a click on the groove is a step of its own. Setting
the value from the model (:meth:`GestureSlider.show_fraction`) reports nothing back.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QSlider, QWidget

from desktop.commands import new_gesture


class GestureSlider(QSlider):
    fraction_changed = Signal(float, int)  # value 0..1, gesture number

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.setRange(0, 100)
        self.setPageStep(10)
        self._gesture: int | None = None
        self.sliderPressed.connect(self._on_pressed)
        self.sliderReleased.connect(self._on_released)
        self.valueChanged.connect(self._on_value_changed)

    def fraction(self) -> float:
        return self.value() / 100

    def show_fraction(self, fraction: float) -> None:
        """Show ``fraction`` without reporting it back (the view follows the model under a blocker)."""
        with QSignalBlocker(self):
            self.setValue(round(fraction * 100))

    def _on_pressed(self) -> None:
        self._gesture = new_gesture()

    def _on_released(self) -> None:
        self._gesture = None

    def _on_value_changed(self, percent: int) -> None:
        self.fraction_changed.emit(percent / 100, self._gesture if self._gesture is not None else new_gesture())
