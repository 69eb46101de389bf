"""The photo view: zoom, pan, before/after, and colour-hint markers.

The canvas holds pictures and markers, never the edit or the model. It reports what the user did as
intents in *image* coordinates (pixels of the original photo, whatever the zoom):
``hint_added(x, y)``, ``hint_pressed(id)``, ``hint_moved(id, x, y)``, ``hint_removed(id)``
and ``hint_resized(id, radius)``, where ``id`` is the hint's own id (see :class:`core.edit.Hint`), and
``stroke_drawn(path)`` when a Shift-drag ends (the pixels it passed; it is drawn while it lasts and
reported once, on release). The scene is laid out in original-photo pixels, so a display image of any
size is simply scaled to cover it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsScene, QGraphicsView

MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
WHEEL_ZOOM_STEP = 1.25
MIN_MARKER_PX = 12  # markers are never drawn smaller than this on screen
HIT_SLOP_PX = 4
DIVIDER_SLOP_PX = 8


@dataclass(frozen=True)
class Marker:
    """How one hint is drawn: where (image pixels), how big (patch half-size) and in what colour."""

    x: float
    y: float
    radius: float
    rgb: tuple[int, int, int]
    id: int = 0  # the hint's id, reported back in the canvas's signals


# -- pure helpers (coordinate maths; tested directly) ------------------------------------------
def pixel_at(scene_x: float, scene_y: float, size: tuple[int, int]) -> tuple[int, int] | None:
    """The image pixel under a scene point, or None outside the photo. Pixel (i, j) covers
    [i, i+1) x [j, j+1) in scene coordinates."""
    x, y = math.floor(scene_x), math.floor(scene_y)
    if 0 <= x < size[0] and 0 <= y < size[1]:
        return x, y
    return None


def clamp_pixel(scene_x: float, scene_y: float, size: tuple[int, int]) -> tuple[int, int]:
    """The image pixel nearest a scene point (dragging a hint off the edge keeps it on the photo)."""
    return (
        min(max(math.floor(scene_x), 0), size[0] - 1),
        min(max(math.floor(scene_y), 0), size[1] - 1),
    )


def marker_rect(marker: Marker, zoom: float) -> QRectF:
    """The marker's square in view pixels, centred on (0, 0): the hint's patch, at least MIN_MARKER_PX."""
    side = max((2 * marker.radius + 1) * zoom, MIN_MARKER_PX)
    return QRectF(-side / 2, -side / 2, side, side)


def marker_at(centres: Sequence[QPointF], rects: Sequence[QRectF], point: QPointF, slop: float = HIT_SLOP_PX) -> int | None:
    """Index of the topmost marker (the last drawn) whose square, grown by ``slop``, holds ``point``."""
    for index in range(len(centres) - 1, -1, -1):
        rect = rects[index].translated(centres[index]).adjusted(-slop, -slop, slop, slop)
        if rect.contains(point):
            return index
    return None


def points_along(path: Sequence[tuple[float, float]], step: float, limit: int) -> list[tuple[int, int]]:
    """Pixels about ``step`` apart along the polyline ``path``, its two ends included; at most
    ``limit`` of them (a longer path spaces them wider) and never the same pixel twice in a row."""
    if not path:
        return []
    lengths = [0.0]
    for (x0, y0), (x1, y1) in zip(path, path[1:]):
        lengths.append(lengths[-1] + math.hypot(x1 - x0, y1 - y0))
    total = lengths[-1]
    count = 1 if total == 0 else min(max(limit, 1), max(2, round(total / max(step, 1e-6)) + 1))
    points: list[tuple[int, int]] = []
    segment = 0
    for i in range(count):
        at = total * i / (count - 1) if count > 1 else 0.0
        while segment < len(path) - 2 and lengths[segment + 1] < at:
            segment += 1
        span = lengths[segment + 1] - lengths[segment] if len(path) > 1 else 0.0
        t = (at - lengths[segment]) / span if span > 0 else 0.0
        (x0, y0), (x1, y1) = path[segment], path[min(segment + 1, len(path) - 1)]
        pixel = (round(x0 + t * (x1 - x0)), round(y0 + t * (y1 - y0)))
        if not points or points[-1] != pixel:
            points.append(pixel)
    return points


def wheel_radius(radius: float, steps: float) -> float:
    """Patch half-size after ``steps`` wheel notches: at least one pixel, or 20 %, per notch."""
    for _ in range(int(abs(steps))):
        radius = max(radius * 1.2, radius + 1) if steps > 0 else min(radius / 1.2, radius - 1)
    return max(radius, 0.0)


class _ResultItem(QGraphicsPixmapItem):
    """The colour result; in split view it paints only right of the divider (the original shows through)."""

    def __init__(self) -> None:
        super().__init__()
        self.reveal_from = 0.0  # in item coordinates

    def paint(self, painter: QPainter, option, widget=None) -> None:
        if self.reveal_from > 0:
            rect = self.boundingRect()
            painter.save()
            painter.setClipRect(QRectF(self.reveal_from, rect.top(), rect.width() - self.reveal_from, rect.height()))
            super().paint(painter, option, widget)
            painter.restore()
        else:
            super().paint(painter, option, widget)


class HintCanvas(QGraphicsView):
    hint_added = Signal(float, float)  # x, y: image pixel
    hint_pressed = Signal(int)  # hint id: its marker was pressed, select it (a drag may follow)
    hint_moved = Signal(int, float, float)  # hint id, new x, y
    hint_released = Signal(int)  # hint id: the drag of its marker ended
    hint_removed = Signal(int)  # hint id
    hint_resized = Signal(int, float)  # hint id, new radius (image pixels)
    stroke_drawn = Signal(object)  # tuple of (x, y) image pixels a Shift-drag passed, in order
    zoom_changed = Signal(float)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.SmoothPixmapTransform | QPainter.RenderHint.Antialiasing)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.FullViewportUpdate)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.setMouseTracking(True)
        self.setAcceptDrops(False)  # files dropped here go to the main window
        self.viewport().setAcceptDrops(False)
        self._original = QGraphicsPixmapItem()
        self._result = _ResultItem()
        for item in (self._original, self._result):
            item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
            self.scene().addItem(item)
        self._size: tuple[int, int] | None = None
        self._markers: tuple[Marker, ...] = ()
        self._selected: int | None = None
        self._show_hints = True
        self._show_original = False
        self._split: float | None = None  # divider position as a share of the width, or None
        self._fit = True
        self._drag_id: int | None = None
        self._drag_pixel: tuple[int, int] | None = None
        self._stroke: list[tuple[int, int]] | None = None  # the Shift-drag being painted
        self._brush: tuple[tuple[int, int, int] | None, float] = (None, 0.0)  # its colour, radius
        self._dragging_divider = False
        self._pan_from: QPoint | None = None
        self._space_down = False

    # -- content --------------------------------------------------------------------------------
    @property
    def image_size(self) -> tuple[int, int] | None:
        return self._size

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_photo(self, original: QImage, size: tuple[int, int]) -> None:
        """Show a newly opened photo (its display image) covering ``size`` = (W, H) image pixels."""
        self._size = (int(size[0]), int(size[1]))
        self._place(self._original, original)
        self._result.setPixmap(QPixmap())
        self._markers, self._selected = (), None
        self.scene().setSceneRect(QRectF(0, 0, *self._size))
        self.zoom_fit()

    def set_result(self, image: QImage) -> None:
        if self._size is not None:
            self._place(self._result, image)
            self._update_split()

    def _place(self, item: QGraphicsPixmapItem, image: QImage) -> None:
        item.setPixmap(QPixmap.fromImage(image))
        if image.width() > 0 and self._size is not None:
            item.setTransform(QTransform.fromScale(self._size[0] / image.width(), self._size[1] / image.height()))

    def set_markers(self, markers: Sequence[Marker], selected: int | None = None) -> None:
        """Show ``markers``; ``selected`` is the id of the one drawn as selected (or None)."""
        self._markers = tuple(markers)
        self._selected = selected if any(m.id == selected for m in self._markers) else None
        self.viewport().update()

    @property
    def markers(self) -> tuple[Marker, ...]:
        return self._markers

    def set_brush(self, rgb: tuple[int, int, int] | None, radius: float) -> None:
        """How a stroke is drawn while it is painted: the colour (None: not chosen yet) and radius."""
        self._brush = (rgb, float(radius))

    def set_show_hints(self, show: bool) -> None:
        self._show_hints = show
        self.viewport().update()

    def set_show_original(self, show: bool) -> None:
        """Press-and-hold comparison: show the untouched photo while ``show`` is True."""
        self._show_original = show
        self._result.setVisible(not show)

    def set_split(self, share: float | None) -> None:
        """Split view: the original left of the divider, the result right of it (None = off)."""
        self._split = None if share is None else min(max(float(share), 0.0), 1.0)
        self._update_split()

    def show_split(self, on: bool) -> None:
        """Split view at the middle, or off."""
        self.set_split(0.5 if on else None)

    @property
    def split(self) -> float | None:
        return self._split

    def _update_split(self) -> None:
        pixmap_width = self._result.pixmap().width()
        self._result.reveal_from = 0.0 if self._split is None else self._split * pixmap_width
        self._result.update()
        self.viewport().update()

    # -- zoom -----------------------------------------------------------------------------------
    def zoom_fit(self) -> None:
        self._fit = True
        if self._size is not None:
            self.fitInView(self.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)
        self.zoom_changed.emit(self.zoom)

    def zoom_actual(self) -> None:
        """100 %: one photo pixel on one screen pixel."""
        self.set_zoom(1.0)

    def zoom_in(self) -> None:
        self.zoom_by(1.25)

    def zoom_out(self) -> None:
        self.zoom_by(0.8)

    def zoom_by(self, factor: float) -> None:
        self.set_zoom(self.zoom * factor)

    def set_zoom(self, zoom: float) -> None:
        self._fit = False
        zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
        self.setTransform(QTransform.fromScale(zoom, zoom))
        self.zoom_changed.emit(self.zoom)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fit:
            self.zoom_fit()

    # -- geometry ---------------------------------------------------------------------------------
    def _marker_geometry(self) -> tuple[list[QPointF], list[QRectF]]:
        zoom = self.zoom
        centres = [QPointF(self.mapFromScene(QPointF(m.x + 0.5, m.y + 0.5))) for m in self._markers]
        return centres, [marker_rect(m, zoom) for m in self._markers]

    def marker_index_at(self, view_pos: QPointF) -> int | None:
        if not self._show_hints or not self._markers:
            return None
        centres, rects = self._marker_geometry()
        return marker_at(centres, rects, view_pos)

    def marker_under(self, view_pos: QPointF) -> Marker | None:
        index = self.marker_index_at(view_pos)
        return None if index is None else self._markers[index]

    def scene_at(self, view_pos: QPointF) -> QPointF:
        """The scene point under the centre of the screen pixel at ``view_pos``."""
        inverse, _ = self.viewportTransform().inverted()
        return inverse.map(QPointF(math.floor(view_pos.x()) + 0.5, math.floor(view_pos.y()) + 0.5))

    def _divider_x(self) -> float | None:
        if self._split is None or self._size is None:
            return None
        return float(self.mapFromScene(QPointF(self._split * self._size[0], 0)).x())

    # -- mouse ------------------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        pos = event.position()
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_down):
            self._pan_from = pos.toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if self._size is None:
            return
        marker = self.marker_under(pos)
        if button == Qt.MouseButton.RightButton:
            if marker is not None:
                self.hint_removed.emit(marker.id)
            return
        if button != Qt.MouseButton.LeftButton:
            return
        scene = self.scene_at(pos)
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            pixel = pixel_at(scene.x(), scene.y(), self._size)
            if pixel is not None:  # a stroke: drawn here while it lasts, reported on release
                self._stroke = [pixel]
                self.viewport().update()
            return
        divider = self._divider_x()
        if divider is not None and abs(pos.x() - divider) <= DIVIDER_SLOP_PX and marker is None:
            self._dragging_divider = True
            return
        if marker is not None:
            self._drag_id = marker.id
            self._drag_pixel = (int(marker.x), int(marker.y))
            self.hint_pressed.emit(marker.id)
            return
        pixel = pixel_at(scene.x(), scene.y(), self._size)
        if pixel is not None:
            before = {m.id for m in self._markers}
            self.hint_added.emit(float(pixel[0]), float(pixel[1]))
            added = [m.id for m in self._markers if m.id not in before]
            if len(added) == 1:  # the hint was added: a drag from here moves it
                self._drag_id, self._drag_pixel = added[0], pixel
                self.hint_pressed.emit(added[0])

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        if self._pan_from is not None:
            delta = pos.toPoint() - self._pan_from
            self._pan_from = pos.toPoint()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            return
        if self._dragging_divider and self._size is not None:
            scene = self.scene_at(pos)
            self.set_split(scene.x() / self._size[0])
            return
        if self._stroke is not None and self._size is not None:
            scene = self.scene_at(pos)
            pixel = clamp_pixel(scene.x(), scene.y(), self._size)
            if pixel != self._stroke[-1]:
                self._stroke.append(pixel)
                self.viewport().update()
            return
        if self._drag_id is not None and self._size is not None:
            scene = self.scene_at(pos)
            pixel = clamp_pixel(scene.x(), scene.y(), self._size)
            if pixel != self._drag_pixel:
                self._drag_pixel = pixel
                self.hint_moved.emit(self._drag_id, float(pixel[0]), float(pixel[1]))
            return
        hovering = self.marker_index_at(pos) is not None
        divider = self._divider_x()
        if divider is not None and abs(pos.x() - divider) <= DIVIDER_SLOP_PX:
            self.viewport().setCursor(Qt.CursorShape.SplitHCursor)
        elif self._space_down:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.viewport().setCursor(Qt.CursorShape.SizeAllCursor if hovering else Qt.CursorShape.CrossCursor)

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().unsetCursor()
        if self._drag_id is not None:
            hint_id, self._drag_id = self._drag_id, None
            self.hint_released.emit(hint_id)
        if self._stroke is not None:
            stroke, self._stroke = tuple(self._stroke), None
            self.viewport().update()
            self.stroke_drawn.emit(stroke)
        self._dragging_divider = False

    def mouseDoubleClickEvent(self, event) -> None:
        self.mousePressEvent(event)  # a quick second click is just another click, not a special gesture

    def wheelEvent(self, event) -> None:
        steps = event.angleDelta().y() / 120
        if steps == 0:
            return
        marker = None
        if not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            marker = self.marker_under(event.position())
        if marker is not None:
            self.hint_resized.emit(marker.id, wheel_radius(marker.radius, steps))
        else:
            self.zoom_by(WHEEL_ZOOM_STEP**steps)
        event.accept()

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.viewport().unsetCursor()
            return
        super().keyReleaseEvent(event)

    # -- drawing ----------------------------------------------------------------------------------
    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        painter.save()
        painter.resetTransform()  # draw in view pixels so markers read the same at every zoom
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        divider = self._divider_x()
        if divider is not None and not self._show_original:
            self._draw_divider(painter, divider)
        if self._show_hints and self._markers:
            centres, rects = self._marker_geometry()
            for marker, centre, box in zip(self._markers, centres, rects):
                self._draw_marker(painter, marker, box.translated(centre), marker.id == self._selected)
        if self._stroke is not None:
            self._draw_stroke(painter)
        painter.restore()

    def _draw_stroke(self, painter: QPainter) -> None:
        # The path as wide as the hints it will lay down, in the brush colour over a dark edge.
        rgb, radius = self._brush
        points = [QPointF(self.mapFromScene(QPointF(x + 0.5, y + 0.5))) for x, y in self._stroke]
        width = max((2 * radius + 1) * self.zoom, 3.0)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for colour, pen_width in ((QColor(0, 0, 0, 160), width + 2), (QColor(*(rgb or (255, 255, 255))), width)):
            pen = QPen(colour, pen_width)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            if len(points) > 1:
                painter.drawPolyline(points)
            else:
                painter.drawPoint(points[0])
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    @staticmethod
    def _draw_marker(painter: QPainter, marker: Marker, box: QRectF, selected: bool) -> None:
        # A colour swatch inside a black and a white ring: readable on dark and light photos alike.
        painter.fillRect(box, QColor(*marker.rgb))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(0, 0, 0), 1))
        painter.drawRect(box.adjusted(-1, -1, 0, 0))
        painter.setPen(QPen(QColor(255, 255, 255), 1))
        painter.drawRect(box.adjusted(-2, -2, 1, 1))
        if selected:
            painter.setPen(QPen(QColor(0, 0, 0), 1))
            painter.drawRect(box.adjusted(-4, -4, 3, 3))
            painter.setPen(QPen(QColor(255, 255, 255), 1, Qt.PenStyle.DashLine))
            painter.drawRect(box.adjusted(-4, -4, 3, 3))

    def _draw_divider(self, painter: QPainter, x: float) -> None:
        height = self.viewport().height()
        painter.setPen(QPen(QColor(0, 0, 0, 160), 3))
        painter.drawLine(QPointF(x, 0), QPointF(x, height))
        painter.setPen(QPen(QColor(255, 255, 255), 1))
        painter.drawLine(QPointF(x, 0), QPointF(x, height))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setBrush(QColor(255, 255, 255))
        painter.setPen(QPen(QColor(0, 0, 0), 1))
        painter.drawEllipse(QPointF(x, height / 2), 7, 7)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
