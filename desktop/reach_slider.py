"""How far a hint's colour spreads over the region it lands in: local … whole region (0-100 %).

A drag of the handle is one undo step when it changes a hint (:class:`~desktop.gesture_slider.GestureSlider`).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from desktop.gesture_slider import GestureSlider

TOOLTIP = (
    "How far a hint's colour spreads. Local: it colours only about the hint. Whole region: it carries "
    "over the whole area the hint lands in, up to where the brightness changes sharply.\n"
    "A hint close to the colour the photo had there before your hints also corrects the rest of it a little "
    "(hints that agree, more); a local hint does not, nor does a clearly different colour.\n"
    "Sets the selected hint, and the hints you add next."
)


class ReachSlider(QWidget):
    reach_changed = Signal(float, int)  # reach 0..1, gesture number

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = GestureSlider()
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
        self.slider.fraction_changed.connect(self.reach_changed)

    def value(self) -> float:
        return self.slider.fraction()

    def set_value(self, reach: float) -> None:
        """Show ``reach`` without reporting it back."""
        self.slider.show_fraction(reach)
