"""Small toolbar icons drawn with QPainter, so the app looks the same with or without an icon theme."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPen, QPixmap

INK = QColor(60, 60, 60)
ACCENT = QColor(214, 104, 52)


def _pen(width: float = 2.0, colour: QColor = INK) -> QPen:
    pen = QPen(colour, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _magnifier(p: QPainter, sign: str) -> None:
    p.setPen(_pen(2.2))
    p.drawEllipse(QRectF(4, 4, 16, 16))
    p.drawLine(QPointF(18, 18), QPointF(27, 27))
    p.drawLine(QPointF(8, 12), QPointF(16, 12))
    if sign == "+":
        p.drawLine(QPointF(12, 8), QPointF(12, 16))


def _zoom_fit(p: QPainter) -> None:
    p.setPen(_pen(2.2))
    for x, y, dx, dy in ((4, 4, 1, 1), (28, 4, -1, 1), (4, 28, 1, -1), (28, 28, -1, -1)):
        p.drawLine(QPointF(x, y), QPointF(x + 7 * dx, y))
        p.drawLine(QPointF(x, y), QPointF(x, y + 7 * dy))
    p.drawRect(QRectF(11, 11, 10, 10))


def _zoom_actual(p: QPainter) -> None:
    p.setPen(_pen(2.0))
    font = QFont()
    font.setPixelSize(13)
    font.setBold(True)
    p.setFont(font)
    p.drawText(QRectF(0, 0, 32, 32), Qt.AlignmentFlag.AlignCenter, "1:1")


def _hints(p: QPainter) -> None:
    box = QRectF(10, 10, 12, 12)
    p.fillRect(box, ACCENT)
    p.setPen(QPen(QColor(0, 0, 0), 1.5))
    p.drawRect(box.adjusted(-1.5, -1.5, 1.5, 1.5))
    p.setPen(QPen(QColor(255, 255, 255), 1.5))
    p.drawRect(box.adjusted(-3, -3, 3, 3))
    p.setPen(QPen(QColor(0, 0, 0), 1))
    p.drawRect(box.adjusted(-4.5, -4.5, 4.5, 4.5))


def _split(p: QPainter) -> None:
    p.fillRect(QRectF(4, 6, 12, 20), QColor(150, 150, 150))
    p.fillRect(QRectF(16, 6, 12, 20), QColor(110, 170, 220))
    p.fillRect(QRectF(16, 18, 12, 8), QColor(90, 160, 90))
    p.setPen(_pen(1.5))
    p.drawRect(QRectF(4, 6, 24, 20))
    p.setPen(_pen(2.0, QColor(255, 255, 255)))
    p.drawLine(QPointF(16, 3), QPointF(16, 29))


def _original(p: QPainter) -> None:
    path = QPainterPath()
    path.moveTo(3, 16)
    path.quadTo(16, 4, 29, 16)
    path.quadTo(16, 28, 3, 16)
    p.setPen(_pen(2.0))
    p.drawPath(path)
    p.setBrush(QColor(120, 120, 120))
    p.drawEllipse(QPointF(16, 16), 5, 5)


def _export(p: QPainter) -> None:
    p.setPen(_pen(2.2))
    p.drawLine(QPointF(16, 4), QPointF(16, 19))
    p.drawLine(QPointF(10, 13), QPointF(16, 19))
    p.drawLine(QPointF(22, 13), QPointF(16, 19))
    p.drawPolyline([QPointF(5, 19), QPointF(5, 27), QPointF(27, 27), QPointF(27, 19)])
    p.fillRect(QRectF(8, 22, 16, 3), ACCENT)


PAINTERS: dict[str, Callable[[QPainter], None]] = {
    "zoom_in": lambda p: _magnifier(p, "+"),
    "zoom_out": lambda p: _magnifier(p, "-"),
    "zoom_fit": _zoom_fit,
    "zoom_actual": _zoom_actual,
    "hints": _hints,
    "split": _split,
    "original": _original,
    "export": _export,
}


def painted_icon(name: str) -> QIcon:
    """A 32 px icon (with a 64 px version for high-density screens) drawn by ``PAINTERS[name]``."""
    icon = QIcon()
    for size in (32, 64):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.scale(size / 32, size / 32)
        PAINTERS[name](painter)
        painter.end()
        icon.addPixmap(pixmap)
    return icon
