"""How strongly the references' colours are applied (the AdaIN blend), 0-100 %.

While the handle is dragged every move is reported with the same gesture number, so the edits merge
into one undo step and the preview follows live; a key press or a click on the groove is a step of
its own.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QWidget

from desktop.commands import new_gesture


class BlendSlider(QWidget):
    blend_changed = Signal(float, int)  # blend 0..1, gesture number

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setPageStep(10)
        self.slider.setValue(100)
        self.slider.setMinimumWidth(140)
        self.slider.setMaximumWidth(320)
        self.slider.setToolTip("How strongly the reference's colours are applied (AdaIN blend)")
        self.label = QLabel()
        self.label.setMinimumWidth(40)
        self.caption = QLabel("Reference strength")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        self._gesture: int | None = None
        self.slider.sliderPressed.connect(self._on_slider_pressed)
        self.slider.sliderReleased.connect(self._on_slider_released)
        self.slider.valueChanged.connect(self._on_value_changed)
        self._show(100)

    def value(self) -> float:
        return self.slider.value() / 100

    def set_value(self, blend: float) -> None:
        """Show ``blend`` without reporting it back (the view follows the model under a blocker)."""
        with QSignalBlocker(self.slider):
            self.slider.setValue(round(blend * 100))
        self._show(self.slider.value())

    def step_up(self) -> None:
        """Ten percent stronger: one undo step of its own."""
        self.slider.setValue(self.slider.value() + 10)

    def step_down(self) -> None:
        self.slider.setValue(self.slider.value() - 10)

    def _show(self, percent: int) -> None:
        self.label.setText(f"{percent} %")

    def _on_slider_pressed(self) -> None:
        self._gesture = new_gesture()

    def _on_slider_released(self) -> None:
        self._gesture = None

    def _on_value_changed(self, percent: int) -> None:
        self._show(percent)
        gesture = self._gesture if self._gesture is not None else new_gesture()
        self.blend_changed.emit(percent / 100, gesture)
