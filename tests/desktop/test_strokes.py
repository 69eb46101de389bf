"""Strokes and reach, end to end on the fake colorizer: a Shift-drag paints a line of hints in one undo
step, and the reach slider sets how far new hints and the selected hint spread."""

from __future__ import annotations

import math

import pytest
from conftest import settle, wait_for_preview, wait_opened
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication

from core.edit import DEFAULT_REACH, read_edit
from desktop import hint_tool

SHIFT = Qt.KeyboardModifier.ShiftModifier


def view_point(window, x: float, y: float) -> QPoint:
    p = window.canvas.viewportTransform().map(QPointF(x + 0.5, y + 0.5))
    return QPoint(math.floor(p.x()), math.floor(p.y()))


def paint_stroke(qtbot, window, points):
    """Shift-drag through ``points`` (photo pixels) and wait until the stroke's colour has settled."""
    viewport = window.canvas.viewport()
    window.canvas.zoom_fit()
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, SHIFT, view_point(window, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(viewport, view_point(window, *point))
    with qtbot.waitSignal(window.canvas.stroke_drawn):
        qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, SHIFT, view_point(window, *points[-1]))
    settle(qtbot, window)


def click_pixel(qtbot, window, x, y):
    window.canvas.zoom_fit()
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(window, x, y))
    settle(qtbot, window)


def test_shift_drag_paints_one_colour_in_one_undo_step(opened, qtbot):
    window = opened
    window.colour_panel.pick_rgb((40, 90, 200))  # the brush colour (no hint selected)
    changes = []
    window.document.changed.connect(changes.append)
    paint_stroke(qtbot, window, [(20, 40), (60, 50), (100, 60), (140, 60)])
    hints = window.edit.hints
    assert len(hints) > 1 and len({h.ab for h in hints}) == 1 and not any(h.picked for h in hints)
    assert {h.radius for h in hints} == {window.hint_tool.default_radius()} and {h.reach for h in hints} == {DEFAULT_REACH}
    assert (hints[0].x, hints[0].y) == (20, 40) and (hints[-1].x, hints[-1].y) == (140, 60)
    assert len(changes) == 1  # one change of the edit, so one preview, on release
    assert window.undo_stack.count() == 1 and window.undo_stack.text(0) == "Paint colour stroke"
    ids = [h.id for h in hints]
    window.undo_stack.undo()
    assert window.edit.hints == ()
    window.undo_stack.redo()
    assert [h.id for h in window.edit.hints] == ids and window.edit.hints == hints
    wait_for_preview(qtbot, window)
    assert window.worker.colorizer.last_edit.hints == hints


def test_a_stroke_without_a_brush_colour_takes_the_models_colour_where_it_began(opened, qtbot):
    window = opened
    paint_stroke(qtbot, window, [(30, 30), (90, 30)])
    hints = window.edit.hints
    assert len(hints) > 1 and len({h.ab for h in hints}) == 1
    assert hints[0].ab == pytest.approx((5.0, 10.0), abs=0.01)  # what the fake predicts there
    assert not any(h.picked for h in hints)  # a colour carried along the stroke, onto other things
    assert window.undo_stack.count() == 1


def test_a_long_stroke_is_capped_and_a_plain_click_adds_one_hint(opened, qtbot):
    window = opened
    paint_stroke(qtbot, window, [(0, 0), (199, 0), (199, 149), (0, 149), (0, 0)])
    assert 1 < len(window.edit.hints) <= hint_tool.MAX_STROKE_HINTS
    count = len(window.edit.hints)
    click_pixel(qtbot, window, 100, 75)
    assert len(window.edit.hints) == count + 1 and window.undo_stack.count() == 2
    assert window.hint_tool.selected == window.edit.hints[-1].id


def test_a_stroke_beyond_the_hint_limit_is_refused_with_a_message(opened, qtbot, monkeypatch):
    window = opened
    said = []
    monkeypatch.setattr(hint_tool, "MAX_HINTS", 3)
    monkeypatch.setattr(window.hint_tool, "say", lambda text, ms: said.append(text))
    paint_stroke(qtbot, window, [(20, 40), (140, 40)])
    assert window.edit.hints == () and window.undo_stack.count() == 0
    assert "at most 3 hints" in said[0]


def test_reach_slider_sets_new_hints_and_the_selected_hint(opened, qtbot, settings):
    window = opened
    reach = window.colour_panel.reach
    assert reach.slider.toolTip() and reach.value() == DEFAULT_REACH
    reach.slider.setValue(20)  # nothing selected: the reach of new hints, remembered
    assert window.undo_stack.count() == 0 and settings.hint_reach() == 0.2
    click_pixel(qtbot, window, 50, 50)
    hint_id = window.edit.hints[0].id
    assert window.edit.hint(hint_id).reach == 0.2 and window.hint_tool.selected == hint_id
    steps = window.undo_stack.count()
    reach.slider.setSliderDown(True)  # a drag on the selected hint ...
    for value in (30, 50, 70, 90):
        reach.slider.setValue(value)
        QApplication.processEvents()
    reach.slider.setSliderDown(False)
    assert window.edit.hint(hint_id).reach == 0.9 and window.undo_stack.count() == steps + 1  # ... is one step
    assert window.undo_stack.text(steps) == "Change hint reach"
    wait_for_preview(qtbot, window)
    assert window.worker.colorizer.last_edit.hint(hint_id).reach == 0.9
    window.undo_stack.undo()
    assert window.edit.hint(hint_id).reach == 0.2 and reach.slider.value() == 20  # the slider follows
    window.undo_stack.redo()
    assert window.edit.hint(hint_id).reach == 0.9
    window.hint_tool.deselect()
    assert reach.value() == 0.9 and settings.hint_reach() == 0.9  # new hints reach as far as the last set
    paint_stroke(qtbot, window, [(20, 100), (120, 100)])
    assert {h.reach for h in window.edit.hints if h.id != hint_id} == {0.9}


def test_reach_is_remembered_between_runs(make_window, settings):
    window = make_window()
    window.colour_panel.reach.slider.setValue(75)
    again = make_window()
    assert again.hint_tool.reach == 0.75 and again.colour_panel.reach.slider.value() == 75


def test_reach_round_trips_through_the_session_file(opened, qtbot, tmp_path):
    window = opened
    window.colour_panel.reach.slider.setValue(10)
    paint_stroke(qtbot, window, [(20, 40), (80, 40)])
    click_pixel(qtbot, window, 100, 100)
    window.colour_panel.reach.slider.setValue(95)  # the selected (clicked) hint
    saved = window.edit
    assert {h.reach for h in saved.hints} == {0.1, 0.95}
    path = tmp_path / "strokes.heirloom.json"
    window.dialogs.save_edit = lambda suggested: str(path)
    window.actions_by_name["save_edit"].trigger()
    assert read_edit(path) == saved
    window.undo_stack.setClean()
    window.open_edit(path)
    wait_opened(qtbot, window)
    assert window.edit == saved and window.undo_stack.count() == 0
