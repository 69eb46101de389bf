"""How strongly the references' colours are applied (the AdaIN blend), 0-100 %.

While the handle is dragged every move is reported with the same gesture number, so the edits merge
into one undo step and the preview follows live (:class:`~desktop.gesture_slider.GestureSlider`).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from desktop.gesture_slider import GestureSlider


class BlendSlider(QWidget):
    blend_changed = Signal(float, int)  # blend 0..1, gesture number

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = GestureSlider()
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
        self.slider.valueChanged.connect(self._show)
        self.slider.fraction_changed.connect(self.blend_changed)
        self._show(100)

    def value(self) -> float:
        return self.slider.fraction()

    def set_value(self, blend: float) -> None:
        """Show ``blend`` without reporting it back."""
        self.slider.show_fraction(blend)
        self._show(self.slider.value())

    def step_up(self) -> None:
        """Ten percent stronger: one undo step of its own."""
        self.slider.setValue(self.slider.value() + 10)

    def step_down(self) -> None:
        self.slider.setValue(self.slider.value() - 10)

    def _show(self, percent: int) -> None:
        self.label.setText(f"{percent} %")
