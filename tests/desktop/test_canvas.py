"""The canvas reports intents in photo pixels, whatever the zoom, scroll or display-image size."""

from __future__ import annotations

import math

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage

from desktop.canvas import HintCanvas, Marker, clamp_pixel, pixel_at, points_along, wheel_radius

PHOTO = (300, 200)  # the full-resolution photo is 300 x 200 ...
DISPLAY = (150, 100)  # ... but the canvas is given a half-size display image


@pytest.fixture
def canvas(qtbot):
    view = HintCanvas()
    qtbot.addWidget(view)
    view.resize(420, 320)
    view.show()
    image = QImage(*DISPLAY, QImage.Format.Format_RGB32)
    image.fill(QColor(120, 120, 120))
    view.set_photo(image, PHOTO)
    return view


def view_point(canvas: HintCanvas, x: float, y: float) -> QPoint:
    """The screen pixel of the viewport over the centre of photo pixel (x, y)."""
    p = canvas.viewportTransform().map(QPointF(x + 0.5, y + 0.5))
    return QPoint(math.floor(p.x()), math.floor(p.y()))


def scene_under(canvas: HintCanvas, pos: QPoint) -> QPointF:
    """Where the centre of screen pixel ``pos`` falls in the photo."""
    inverse, _ = canvas.viewportTransform().inverted()
    return inverse.map(QPointF(pos) + QPointF(0.5, 0.5))


def test_pure_helpers():
    assert pixel_at(0.0, 0.0, PHOTO) == (0, 0)
    assert pixel_at(299.99, 199.5, PHOTO) == (299, 199)
    assert pixel_at(300.0, 10, PHOTO) is None and pixel_at(-0.01, 10, PHOTO) is None
    assert clamp_pixel(-50, 500, PHOTO) == (0, 199)
    assert wheel_radius(2, 1) == 3 and wheel_radius(10, 1) == 12
    assert wheel_radius(3, -1) == 2 and wheel_radius(0.5, -1) == 0


@pytest.mark.parametrize("zoom", [0.5, 1.0, 2.0, 3.7, 8.0])
@pytest.mark.parametrize("target", [(0, 0), (123, 45), (299, 199), (150, 100)])
def test_click_adds_a_hint_at_the_right_pixel_at_any_zoom(canvas, qtbot, zoom, target):
    canvas.set_zoom(zoom)
    canvas.centerOn(QPointF(target[0] + 0.5, target[1] + 0.5))
    pos = view_point(canvas, *target)
    assert canvas.viewport().rect().contains(pos)
    with qtbot.waitSignal(canvas.hint_added) as signal:
        qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    x, y = signal.args
    scene = scene_under(canvas, pos)
    assert (x, y) == (math.floor(scene.x()), math.floor(scene.y()))  # exactly the pixel under the cursor
    tolerance = 0 if zoom > 1 else math.ceil(1 / zoom)
    assert abs(x - target[0]) <= tolerance and abs(y - target[1]) <= tolerance


def test_click_outside_the_photo_adds_nothing(canvas, qtbot):
    canvas.set_zoom(0.5)  # the photo is smaller than the view: there is margin around it
    corner = QPoint(2, 2)
    assert pixel_at(scene_under(canvas, corner).x(), scene_under(canvas, corner).y(), PHOTO) is None
    with qtbot.assertNotEmitted(canvas.hint_added):
        qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=corner)


def test_marker_press_drag_and_release(canvas, qtbot):
    canvas.set_zoom(2.0)
    canvas.centerOn(QPointF(100, 100))
    canvas.set_markers([Marker(90, 95, 2, (200, 30, 30), id=7)])
    moved = []
    canvas.hint_moved.connect(lambda *args: moved.append(args))
    start = view_point(canvas, 90, 95)
    with qtbot.waitSignal(canvas.hint_pressed) as pressed:
        qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, pos=start)
    assert pressed.args == [7]  # hints are named by id, not by place in a list
    qtbot.mouseMove(canvas.viewport(), view_point(canvas, 100, 97))
    qtbot.mouseMove(canvas.viewport(), view_point(canvas, 110, 99))
    with qtbot.waitSignal(canvas.hint_released):
        qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(canvas, 110, 99))
    assert moved[-1] == (7, 110.0, 99.0)


def test_right_click_removes_and_wheel_resizes_the_hint_under_the_cursor(canvas, qtbot):
    canvas.set_zoom(1.0)
    canvas.centerOn(QPointF(60, 60))
    canvas.set_markers([Marker(50, 50, 3, (0, 0, 255), id=4), Marker(70, 60, 2, (0, 255, 0), id=9)])
    with qtbot.waitSignal(canvas.hint_removed) as removed:
        qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.RightButton, pos=view_point(canvas, 70, 60))
    assert removed.args == [9]
    with qtbot.waitSignal(canvas.hint_resized) as resized:
        _wheel(canvas, view_point(canvas, 50, 50), 120)
    assert resized.args == [4, 4.0]


def _wheel(canvas, pos, delta):
    from PySide6.QtCore import QPoint as _P
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    event = QWheelEvent(
        QPointF(pos), QPointF(canvas.viewport().mapToGlobal(pos)), _P(0, 0), _P(0, delta),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
    )
    QApplication.sendEvent(canvas.viewport(), event)


def test_wheel_elsewhere_zooms_and_fit_and_actual_size(canvas, qtbot):
    canvas.zoom_fit()
    fitted = canvas.zoom
    assert fitted == pytest.approx(min(canvas.viewport().width() / PHOTO[0], canvas.viewport().height() / PHOTO[1]), rel=0.05)
    _wheel(canvas, QPoint(100, 100), 120)
    assert canvas.zoom == pytest.approx(fitted * 1.25)
    canvas.zoom_actual()
    assert canvas.zoom == 1.0


def test_markers_stay_readable_and_can_be_hidden(canvas, qtbot):
    canvas.set_zoom(0.5)
    canvas.set_markers([Marker(150, 100, 0, (255, 255, 255), id=1)], selected=1)
    canvas.viewport().repaint()
    image = canvas.viewport().grab().toImage()
    centre = view_point(canvas, 150, 100)
    # drawn at least MIN_MARKER_PX wide even though the hint is one pixel at half zoom
    assert image.pixelColor(centre + QPoint(4, 0)) == QColor(255, 255, 255)
    ring = {image.pixelColor(centre + QPoint(dx, 0)).name() for dx in range(5, 12)}
    assert "#000000" in ring  # a dark ring around a light swatch
    canvas.set_show_hints(False)
    canvas.viewport().repaint()
    hidden = canvas.viewport().grab().toImage()
    assert hidden.pixelColor(centre + QPoint(4, 0)) != QColor(255, 255, 255)
    assert canvas.marker_index_at(QPointF(centre)) is None


def test_split_view_and_hold_to_compare(canvas):
    result = QImage(*DISPLAY, QImage.Format.Format_RGB32)
    result.fill(QColor(200, 40, 40))
    canvas.set_result(result)
    canvas.zoom_fit()

    def colour_at(x, y):
        canvas.viewport().repaint()
        return canvas.viewport().grab().toImage().pixelColor(view_point(canvas, x, y))

    assert colour_at(20, 100).red() == 200
    canvas.set_split(0.5)
    assert colour_at(20, 100) == QColor(120, 120, 120)  # left of the divider: the original
    assert colour_at(280, 100).red() == 200
    canvas.set_split(None)
    canvas.set_show_original(True)
    assert colour_at(280, 100) == QColor(120, 120, 120)
    canvas.set_show_original(False)
    assert colour_at(280, 100).red() == 200


def test_points_along_a_path():
    assert points_along([], 4, 64) == []
    assert points_along([(5, 5)], 4, 64) == [(5, 5)]
    assert points_along([(0, 0), (20, 0)], 4, 64) == [(x, 0) for x in range(0, 21, 4)]
    assert points_along([(0, 0), (10, 0), (10, 10)], 5, 64) == [(0, 0), (5, 0), (10, 0), (10, 5), (10, 10)]
    long = points_along([(0, 0), (1000, 0)], 2, 64)
    assert len(long) == 64 and long[0] == (0, 0) and long[-1] == (1000, 0)  # capped: spaced wider
    assert points_along([(3, 3), (3, 4)], 0, 64) == [(3, 3), (3, 4)]  # never one pixel twice in a row


def test_shift_drag_is_drawn_then_reported_once_on_release(canvas, qtbot):
    canvas.set_zoom(1.0)
    canvas.centerOn(QPointF(150, 100))
    canvas.set_brush((200, 40, 40), 2)
    strokes = []
    canvas.stroke_drawn.connect(strokes.append)
    shift = Qt.KeyboardModifier.ShiftModifier
    with qtbot.assertNotEmitted(canvas.hint_added), qtbot.assertNotEmitted(canvas.hint_moved):
        qtbot.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, shift, view_point(canvas, 100, 100))
        for x in range(110, 200, 10):
            qtbot.mouseMove(canvas.viewport(), view_point(canvas, x, 100 + (x - 100) // 4))
            assert strokes == []  # nothing reported while painting ...
        canvas.viewport().grab()  # ... but the path is drawn
        with qtbot.waitSignal(canvas.stroke_drawn):
            qtbot.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, shift, view_point(canvas, 190, 122))
    assert len(strokes) == 1
    path = strokes[0]
    assert path[0] == (100, 100) and path[-1] == (190, 122) and len(path) == 10
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(canvas, 50, 50))
    assert len(strokes) == 1  # a plain click is no stroke
