"""Choosing a hint's colour, ideepcolor-style: the :class:`HintColourPanel`.

The panel offers the colour the model currently predicts at the hint, a palette taken from the
references, recently used colours, the ab gamut at the hint's lightness (every colour that pixel can
show, which is the set a hint can reach there), and Qt's free colour dialog. Whatever is chosen is
snapped into that gamut before it is reported as ``colour_picked((a, b), gesture)``. Below the title,
the :class:`~desktop.reach_slider.ReachSlider` (:attr:`HintColourPanel.reach`) says how far the hint's
colour spreads.

The numbers come from the core (a :class:`core.api.Probe` of the hint's pixel and the colour helpers
of :mod:`core.api`, imported when first needed); the panel only shows them.
"""

from __future__ import annotations

import functools
from typing import Sequence

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QColorDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.commands import new_gesture
from desktop.reach_slider import ReachSlider

AB_RANGE = 110.0  # the gamut view spans a and b from -AB_RANGE to +AB_RANGE (as Probe.gamut does)
MAX_RECENT = 8


def default_lightness() -> float:
    """The lightness a colour is shown at before it has a pixel of the photo (new hints)."""
    from core.api import DEFAULT_LIGHTNESS

    return float(DEFAULT_LIGHTNESS)


@functools.lru_cache(maxsize=4)
def gamut_rgba(L: float) -> np.ndarray:
    """Every (a, b) displayable at lightness ``L``, as Probe.gamut draws it."""
    from core.api import ab_plane_rgba

    return ab_plane_rgba(L)


def ab_to_rgb8(L: float, ab) -> tuple[int, int, int]:
    from core.api import ab_to_rgb8 as convert

    return tuple(int(v) for v in convert(L, ab))


def snap_ab(L: float, ab) -> tuple[float, float]:
    from core.api import snap_ab as snap

    a, b = snap(L, ab)
    return float(a), float(b)


def rgb8_to_ab(rgb) -> tuple[float, float]:
    from core.api import rgb8_to_ab as convert

    a, b = convert(tuple(int(v) for v in rgb))
    return float(a), float(b)


def _css(rgb: Sequence[int]) -> str:
    return "#%02x%02x%02x" % tuple(rgb)


class SwatchButton(QToolButton):
    """A square button showing one colour."""

    def __init__(self, rgb: Sequence[int] = (128, 128, 128), size: int = 22, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(size, size)
        self.rgb: tuple[int, int, int] = (128, 128, 128)
        self.set_rgb(rgb)

    def set_rgb(self, rgb: Sequence[int]) -> None:
        self.rgb = tuple(int(v) for v in rgb)
        self.setStyleSheet(f"QToolButton {{ background: {_css(self.rgb)}; border: 1px solid #222; }}")
        self.setToolTip(_css(self.rgb))


class GamutView(QWidget):
    """The (a, b) plane at one lightness; in-gamut colours shown, the rest left dark. Click or drag."""

    picked = Signal(float, float, int)  # a, b (snapped), gesture

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(150, 150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self._lightness = 50.0  # replaced by the first set_state
        self._image: QImage | None = None
        self._current: tuple[float, float] | None = None
        self._predicted: tuple[float, float] | None = None
        self._gesture: int | None = None

    def sizeHint(self) -> QSize:
        return QSize(200, 200)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return width

    def set_state(
        self, lightness: float, current: tuple[float, float] | None, predicted: tuple[float, float] | None, gamut=None
    ) -> None:
        """Show the (a, b) plane at ``lightness``: ``gamut`` is its RGBA picture ((n, n, 4) uint8,
        transparent outside the gamut; None keeps the one shown)."""
        self._lightness = float(lightness)
        self._current = current
        self._predicted = predicted
        if gamut is not None:
            rgba = np.ascontiguousarray(gamut, dtype=np.uint8)
            self._image = QImage(rgba.data, rgba.shape[1], rgba.shape[0], 4 * rgba.shape[1], QImage.Format.Format_RGBA8888).copy()
        self.update()

    def _square(self) -> QRectF:
        side = min(self.width(), self.height()) - 2
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def ab_at(self, pos: QPointF) -> tuple[float, float]:
        square = self._square()
        a = ((pos.x() - square.left()) / square.width() * 2 - 1) * AB_RANGE
        b = (1 - (pos.y() - square.top()) / square.height() * 2) * AB_RANGE
        return a, b

    def point_of(self, ab: tuple[float, float]) -> QPointF:
        square = self._square()
        return QPointF(
            square.left() + (ab[0] / AB_RANGE + 1) / 2 * square.width(),
            square.top() + (1 - ab[1] / AB_RANGE) / 2 * square.height(),
        )

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        square = self._square()
        painter.fillRect(square, QColor(30, 30, 30))
        if self._image is not None:
            painter.drawImage(square, self._image)
        painter.setPen(QPen(QColor(255, 255, 255, 70), 1))
        centre = self.point_of((0.0, 0.0))
        painter.drawLine(QPointF(square.left(), centre.y()), QPointF(square.right(), centre.y()))
        painter.drawLine(QPointF(centre.x(), square.top()), QPointF(centre.x(), square.bottom()))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._predicted is not None:
            p = self.point_of(self._predicted)
            painter.setPen(QPen(QColor(0, 0, 0), 3))
            painter.drawLine(p + QPointF(-4, -4), p + QPointF(4, 4))
            painter.drawLine(p + QPointF(-4, 4), p + QPointF(4, -4))
            painter.setPen(QPen(QColor(255, 255, 255), 1))
            painter.drawLine(p + QPointF(-4, -4), p + QPointF(4, 4))
            painter.drawLine(p + QPointF(-4, 4), p + QPointF(4, -4))
        if self._current is not None:
            p = self.point_of(self._current)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(0, 0, 0), 3))
            painter.drawEllipse(p, 6, 6)
            painter.setPen(QPen(QColor(255, 255, 255), 1.5))
            painter.drawEllipse(p, 6, 6)
        painter.end()

    def _pick(self, pos: QPointF) -> None:
        a, b = snap_ab(self._lightness, self.ab_at(pos))
        self._current = (a, b)
        self.update()
        self.picked.emit(a, b, self._gesture if self._gesture is not None else new_gesture())

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._gesture = new_gesture()
            self._pick(event.position())

    def mouseMoveEvent(self, event) -> None:
        if self._gesture is not None:
            self._pick(event.position())

    def mouseReleaseEvent(self, event) -> None:
        self._gesture = None


class HintColourPanel(QWidget):
    """The colour panel for the selected hint (or for the next hint when none is selected)."""

    colour_picked = Signal(object, int, bool)  # (a, b) snapped to the gamut, gesture, the model's colour there

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._lightness: float | None = None  # until the window says what the panel is about
        self._current: tuple[float, float] | None = None
        self._predicted: tuple[float, float] | None = None
        self._gamut = None

        self.title = QLabel("Colour for new hints")
        self.title.setWordWrap(True)
        self.current_swatch = SwatchButton(size=36)
        self.current_swatch.setEnabled(False)
        self.predicted_button = QPushButton("Model's colour here")
        self.predicted_button.setToolTip("Use the colour the model currently predicts at this point")
        self.predicted_button.clicked.connect(self._on_predicted_clicked)
        self.predicted_swatch = SwatchButton(size=22)
        self.predicted_swatch.clicked.connect(self._on_predicted_clicked)
        self.gamut = GamutView()
        self.gamut.setToolTip("Every colour this pixel can take at its brightness; click or drag to choose")
        self.gamut.picked.connect(self._on_gamut_picked)
        self.palette_row = QHBoxLayout()
        self.palette_row.setSpacing(3)
        self.palette_note = QLabel("Pin a reference for its colours")
        self.palette_note.setStyleSheet("color: gray")
        self.recent_row = QHBoxLayout()
        self.recent_row.setSpacing(3)
        self.more_button = QPushButton("More colours…")
        self.more_button.clicked.connect(self._on_more_clicked)
        self.reach = ReachSlider()
        self.palette_buttons: list[SwatchButton] = []
        self.recent_buttons: list[SwatchButton] = []

        top = QGridLayout()
        top.addWidget(self.current_swatch, 0, 0, 2, 1)
        top.addWidget(self.title, 0, 1, 1, 2)
        top.addWidget(self.predicted_swatch, 1, 1)
        top.addWidget(self.predicted_button, 1, 2)
        top.setColumnStretch(2, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.reach)
        layout.addWidget(self.gamut, 1)
        layout.addWidget(QLabel("From the references"))
        layout.addLayout(self.palette_row)
        layout.addWidget(self.palette_note)
        layout.addWidget(QLabel("Recently used"))
        layout.addLayout(self.recent_row)
        layout.addWidget(self.more_button)
        self._refresh()

    # -- state from the main window -----------------------------------------------------------
    def set_context(
        self,
        lightness: float,
        current_ab: tuple[float, float] | None,
        predicted_ab: tuple[float, float] | None,
        title: str,
        gamut=None,
    ) -> None:
        """What the panel is about: the lightness there, the colour chosen, the model's colour, and
        the gamut picture at that lightness (a Probe's ``gamut``; None keeps the one shown)."""
        self._lightness = float(lightness)
        self._current = current_ab
        self._predicted = predicted_ab
        self._gamut = gamut
        self.title.setText(title)
        self._refresh()

    @property
    def lightness(self) -> float:
        return self._lightness if self._lightness is not None else default_lightness()

    def set_palette(self, colours: Sequence[Sequence[int]]) -> None:
        self.palette_buttons = self._fill_row(self.palette_row, colours)
        self.palette_note.setVisible(not colours)

    def set_recent(self, colours: Sequence[Sequence[int]]) -> None:
        self.recent_buttons = self._fill_row(self.recent_row, list(colours)[:MAX_RECENT])

    def _fill_row(self, row: QHBoxLayout, colours) -> list[SwatchButton]:
        while row.count():
            item = row.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()
                item.widget().deleteLater()
        buttons = []
        for rgb in colours:
            button = SwatchButton(rgb)
            button.clicked.connect(lambda checked=False, rgb=tuple(rgb): self.pick_rgb(rgb))
            row.addWidget(button)
            buttons.append(button)
        row.addStretch(1)
        return buttons

    def _refresh(self) -> None:
        L = self._lightness
        if L is None:
            return
        self.current_swatch.set_rgb(ab_to_rgb8(L, self._current) if self._current else (128, 128, 128))
        has_prediction = self._predicted is not None
        self.predicted_button.setEnabled(has_prediction)
        self.predicted_swatch.setEnabled(has_prediction)
        self.predicted_swatch.set_rgb(ab_to_rgb8(L, self._predicted) if has_prediction else (128, 128, 128))
        self.gamut.set_state(L, self._current, self._predicted, self._gamut)

    # -- choosing -----------------------------------------------------------------------------
    def pick_ab(self, ab: tuple[float, float], gesture: int | None = None, from_model: bool = False) -> tuple[float, float]:
        snapped = snap_ab(self._lightness if self._lightness is not None else default_lightness(), ab)
        self._current = snapped
        self._refresh()
        self.colour_picked.emit(snapped, gesture if gesture is not None else new_gesture(), from_model)
        return snapped

    def pick_rgb(self, rgb: Sequence[int]) -> tuple[float, float]:
        return self.pick_ab(rgb8_to_ab(rgb))

    def _on_predicted_clicked(self) -> None:
        if self._predicted is not None:
            self.pick_ab(self._predicted, from_model=True)

    def _on_gamut_picked(self, a: float, b: float, gesture: int) -> None:
        self._current = (a, b)
        self._refresh()
        self.colour_picked.emit((a, b), gesture, False)

    def _on_more_clicked(self) -> None:
        start = QColor(*ab_to_rgb8(self._lightness, self._current)) if self._current and self._lightness is not None else QColor(128, 128, 128)
        colour = QColorDialog.getColor(start, self, "Hint colour")
        if colour.isValid():
            self.pick_rgb((colour.red(), colour.green(), colour.blue()))
