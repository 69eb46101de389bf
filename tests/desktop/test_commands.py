"""Undo commands: each edit is one step, undo/redo restore the exact edit, gestures merge, and hints
are named by id."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QUndoStack

from core.edit import Edit, Hint, Reference
from desktop import commands
from desktop.document import EditDocument


@pytest.fixture
def doc(qapp):
    return EditDocument(Edit("/photo.jpg", blend=0.5))


@pytest.fixture
def stack(qapp):
    return QUndoStack()


def test_every_edit_undoes_and_redoes_exactly(doc, stack):
    states = [doc.edit]
    edits = [
        lambda: commands.AddHint(doc, Hint(10, 10, (20, 30), 2)),
        lambda: commands.AddHint(doc, Hint(50, 40, (-10, 5), 4)),
        lambda: commands.MoveHint(doc, 1, 12, 13, commands.new_gesture()),
        lambda: commands.RecolourHint(doc, 2, (33.5, -7.25)),
        lambda: commands.ResizeHint(doc, 1, 6),
        lambda: commands.AddReference(doc, "/refs/a.jpg"),
        lambda: commands.AddReference(doc, "/refs/b.jpg"),
        lambda: commands.RemoveReference(doc, "/refs/a.jpg"),
        lambda: commands.SetBlend(doc, 0.8),
        lambda: commands.SetWorkingSize(doc, 512),
        lambda: commands.RemoveHint(doc, 1),
        lambda: commands.UseAutomatic(doc),
        lambda: commands.ClearHints(doc),
    ]
    for make in edits:
        stack.push(make())
        states.append(doc.edit)
    assert stack.count() == len(edits)
    assert doc.edit.hints == () and doc.edit.references == () and doc.edit.working_size == 512
    for i in range(len(edits), 0, -1):
        stack.undo()
        assert doc.edit == states[i - 1]
    for i in range(1, len(edits) + 1):
        stack.redo()
        assert doc.edit == states[i]


def test_hints_are_named_by_id_so_a_removal_shifts_nothing(doc, stack):
    for x in (1, 2, 3):
        stack.push(commands.AddHint(doc, Hint(x, x, (1, 1))))
    assert [h.id for h in doc.edit.hints] == [1, 2, 3]
    stack.push(commands.RemoveHint(doc, 1))
    stack.push(commands.MoveHint(doc, 3, 30, 30, commands.new_gesture()))
    assert [(h.id, h.x) for h in doc.edit.hints] == [(2, 2), (3, 30)]
    stack.undo()
    stack.undo()
    stack.push(commands.AddHint(doc, Hint(9, 9, (1, 1))))
    assert [h.id for h in doc.edit.hints] == [1, 2, 3, 4]  # an id is never given twice


def test_a_new_hints_colour_settles_without_an_undo_step(doc, stack):
    stack.push(commands.AddHint(doc, Hint(5, 5, (0, 0))))
    stack.push(commands.MoveHint(doc, 1, 6, 6, commands.new_gesture()))  # moved before the colour came
    commands.settle_hint_colour(stack, doc, 1, (0, 0), (12.5, -3.0))
    assert stack.count() == 2 and doc.edit.hint(1).ab == (12.5, -3.0)
    stack.push(commands.AddHint(doc, Hint(7, 7, (0, 0), picked=True)))
    commands.settle_hint_colour(stack, doc, 2, (0, 0), (4.0, 5.0))
    assert doc.edit.hint(2).picked and doc.edit.hint(2).ab == (4.0, 5.0)  # still the colour shown
    stack.undo()
    stack.undo()
    assert (doc.edit.hint(1).x, doc.edit.hint(1).ab) == (5, (12.5, -3.0))  # as if added with it
    stack.undo()
    stack.redo()
    assert doc.edit.hint(1).ab == (12.5, -3.0)


def test_a_drag_is_one_undo_step(doc, stack):
    stack.push(commands.AddHint(doc, Hint(0, 0, (1, 1))))
    gesture = commands.new_gesture()
    for x in range(1, 30):
        stack.push(commands.MoveHint(doc, 1, x, x // 2, gesture))
    assert stack.count() == 2
    assert (doc.edit.hints[0].x, doc.edit.hints[0].y) == (29, 14)
    stack.undo()
    assert (doc.edit.hints[0].x, doc.edit.hints[0].y) == (0, 0)
    stack.push(commands.MoveHint(doc, 1, 5, 5, commands.new_gesture()))
    stack.push(commands.MoveHint(doc, 1, 6, 6, commands.new_gesture()))
    assert stack.count() == 3  # separate drags stay separate steps


def test_blend_slider_gesture_merges_and_a_return_to_start_vanishes(doc, stack):
    gesture = commands.new_gesture()
    for value in (0.55, 0.6, 0.7, 0.9):
        stack.push(commands.SetBlend(doc, value, gesture))
    assert stack.count() == 1 and doc.edit.blend == 0.9
    assert stack.command(0).text() == "Reference strength 90%"
    stack.push(commands.SetBlend(doc, 0.5, gesture))  # dragged back to where it started
    assert stack.count() == 0 and doc.edit.blend == 0.5


def test_keyboard_blend_steps_are_separate(doc, stack):
    stack.push(commands.SetBlend(doc, 0.6))
    stack.push(commands.SetBlend(doc, 0.7))
    assert stack.count() == 2


def test_wheel_resizes_of_one_hint_merge_within_a_burst(doc, stack, monkeypatch):
    stack.push(commands.AddHint(doc, Hint(0, 0, (1, 1), 2)))
    stack.push(commands.AddHint(doc, Hint(9, 9, (1, 1), 2)))
    clock = [100.0]
    monkeypatch.setattr(commands.time, "monotonic", lambda: clock[0])
    for radius in (3, 4, 5):
        clock[0] += 0.2
        stack.push(commands.ResizeHint(doc, 1, radius))
    assert stack.count() == 3
    stack.push(commands.ResizeHint(doc, 2, 7))  # another hint: a new step
    clock[0] += 5
    stack.push(commands.ResizeHint(doc, 2, 8))  # long after: a new step
    assert stack.count() == 5
    assert [h.radius for h in doc.edit.hints] == [5, 8]


def test_recolour_drag_in_the_gamut_merges(doc, stack):
    stack.push(commands.AddHint(doc, Hint(0, 0, (1, 1))))
    gesture = commands.new_gesture()
    for a in range(10):
        stack.push(commands.RecolourHint(doc, 1, (a, -a), gesture))
    assert stack.count() == 2 and doc.edit.hints[0].ab == (9, -9)


def test_document_reports_only_changed_fields(doc):
    seen = []
    doc.changed.connect(seen.append)
    doc.set_blend(0.5)
    doc.set_blend(0.25)
    doc.set_references((Reference("/r.jpg"),))
    assert seen == [frozenset({"blend"}), frozenset({"references"})]


def test_a_stroke_is_one_step_and_redo_keeps_its_ids(doc, stack):
    stack.push(commands.AddHint(doc, Hint(0, 0, (1, 1))))
    stroke = commands.AddStroke(doc, [Hint(x, 5, (20, -10), 2, reach=0.8) for x in (10, 14, 18)])
    stack.push(stroke)
    assert stroke.hint_ids == (2, 3, 4) and stack.count() == 2
    added = doc.edit.hints[1:]
    assert [h.id for h in added] == [2, 3, 4] and {(h.ab, h.reach) for h in added} == {((20, -10), 0.8)}
    stack.undo()
    assert [h.id for h in doc.edit.hints] == [1]
    stack.redo()
    assert doc.edit.hints[1:] == added
    commands.settle_hint_colours(stack, doc, stroke.hint_ids, (20, -10), (5.0, 6.0))
    assert {h.ab for h in doc.edit.hints[1:]} == {(5.0, 6.0)} and doc.edit.hints[0].ab == (1, 1)
    stack.undo()
    stack.redo()
    assert {h.ab for h in doc.edit.hints[1:]} == {(5.0, 6.0)}  # as if painted in that colour


def test_reach_slider_drag_on_one_hint_merges(doc, stack):
    stack.push(commands.AddHint(doc, Hint(0, 0, (1, 1))))
    gesture = commands.new_gesture()
    for reach in (0.4, 0.3, 0.1, -0.5):
        stack.push(commands.SetHintReach(doc, 1, reach, gesture))
    assert stack.count() == 2 and doc.edit.hint(1).reach == 0.0  # clamped
    stack.push(commands.SetHintReach(doc, 1, 0.9))  # a key press: a step of its own
    assert stack.count() == 3
    stack.undo()
    stack.undo()
    assert doc.edit.hint(1).reach == 0.5
