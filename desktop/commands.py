"""One QUndoCommand per kind of edit. Each stores the old and new value of one edit field and
calls one document method; drags and slider moves merge into a single step through ``id`` and
``mergeWith`` (commands of one gesture share a ``gesture`` number).
"""

from __future__ import annotations

import itertools
import time
from typing import Iterable, Sequence

from PySide6.QtGui import QUndoCommand, QUndoStack

from core.edit import Hint, Reference
from desktop.document import EditDocument

_gestures = itertools.count(1)


def new_gesture() -> int:
    """A fresh number for one drag, slider move or wheel burst; commands sharing it merge."""
    return next(_gestures)


class _FieldEdit(QUndoCommand):
    """Sets one edit field from ``old`` to ``new``; merges with the next edit of the same gesture."""

    merge_id = -1  # subclasses that merge give a unique positive id

    def __init__(self, document: EditDocument, old, new, text: str, gesture: int | None = None) -> None:
        super().__init__(text)
        self.document = document
        self.old = old
        self.new = new
        self.gesture = gesture

    def apply(self, value) -> None:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    def redo(self) -> None:
        self.apply(self.new)

    def undo(self) -> None:
        self.apply(self.old)

    def id(self) -> int:
        return self.merge_id if self.gesture is not None else -1

    def can_merge(self, other: "_FieldEdit") -> bool:
        return type(other) is type(self) and other.gesture == self.gesture

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, _FieldEdit) or not self.can_merge(other):
            return False
        self.new = other.new
        self.setText(other.text())
        self.setObsolete(self.new == self.old)
        return True


# -- hints (each identified by its id, which it keeps however the list changes) ---------------
class _HintsEdit(_FieldEdit):
    def apply(self, value) -> None:
        self.document.set_hints(value)


class AddHint(_HintsEdit):
    """Adds a hint under the edit's next id, which :attr:`hint_id` records."""

    def __init__(self, document: EditDocument, hint: Hint) -> None:
        edit = document.edit
        self.hint_id = edit.next_hint_id
        super().__init__(document, edit.hints, edit.with_hint(hint).hints, "Add colour hint")


class AddStroke(_HintsEdit):
    """Adds a stroke's hints in one step, each under a new id; :attr:`hint_ids` records them."""

    def __init__(self, document: EditDocument, hints: Sequence[Hint]) -> None:
        edit = document.edit
        new = edit.with_hints(hints).hints
        self.hint_ids = tuple(h.id for h in new[len(edit.hints):])
        super().__init__(document, edit.hints, new, "Paint colour stroke")


class _OneHintEdit(_HintsEdit):
    """A change to the hint ``hint_id``; it merges only with edits of that same hint."""

    def __init__(self, document: EditDocument, hint: Hint, text: str, gesture: int | None) -> None:
        edit = document.edit
        super().__init__(document, edit.hints, edit.replacing_hint(hint).hints, text, gesture)
        self.hint_id = hint.id

    def can_merge(self, other) -> bool:
        return super().can_merge(other) and other.hint_id == self.hint_id


class MoveHint(_OneHintEdit):
    merge_id = 101

    def __init__(self, document: EditDocument, hint_id: int, x: float, y: float, gesture: int) -> None:
        super().__init__(document, document.edit.hint(hint_id).moved(x, y), "Move colour hint", gesture)


class RecolourHint(_OneHintEdit):
    merge_id = 102

    def __init__(
        self, document: EditDocument, hint_id: int, ab: tuple[float, float], gesture: int | None = None, picked: bool | None = None
    ) -> None:
        """``picked``: the colour is the one the result shows there (Hint.recoloured)."""
        super().__init__(document, document.edit.hint(hint_id).recoloured(ab, picked), "Change hint colour", gesture)


class ResizeHint(_OneHintEdit):
    """Patch size from the mouse wheel: a burst of wheel steps on one hint is one undo step."""

    merge_id = 103
    BURST_SECONDS = 1.0

    def __init__(self, document: EditDocument, hint_id: int, radius: float) -> None:
        super().__init__(document, document.edit.hint(hint_id).resized(radius), "Resize colour hint", gesture=0)
        self.stamp = time.monotonic()

    def can_merge(self, other) -> bool:
        return super().can_merge(other) and other.stamp - self.stamp < self.BURST_SECONDS

    def mergeWith(self, other) -> bool:
        merged = super().mergeWith(other)
        if merged:
            self.stamp = other.stamp
        return merged


class SetHintReach(_OneHintEdit):
    """How far the hint's colour spreads (0 about the hint .. 1 its whole region); a slider drag merges."""

    merge_id = 104

    def __init__(self, document: EditDocument, hint_id: int, reach: float, gesture: int | None = None) -> None:
        super().__init__(document, document.edit.hint(hint_id).reaching(reach), "Change hint reach", gesture)


class RemoveHint(_HintsEdit):
    def __init__(self, document: EditDocument, hint_id: int) -> None:
        edit = document.edit
        super().__init__(document, edit.hints, edit.without_hint(hint_id).hints, "Remove colour hint")


class ClearHints(_HintsEdit):
    def __init__(self, document: EditDocument) -> None:
        super().__init__(document, document.edit.hints, (), "Remove all hints")


def settle_hint_colour(stack: QUndoStack, document: EditDocument, hint_id: int, provisional, ab) -> None:
    """Give hint ``hint_id`` the colour ``ab`` wherever it still has the ``provisional`` colour it
    was added with: in the edit and in every step of ``stack``, as if it had been added with it.
    (A new hint takes the model's colour at its pixel, which the worker reports a moment later;
    settling it this way adds no undo step, however many edits came in between.)"""
    settle_hint_colours(stack, document, (hint_id,), provisional, ab)


def settle_hint_colours(stack: QUndoStack, document: EditDocument, hint_ids: Iterable[int], provisional, ab) -> None:
    """:func:`settle_hint_colour` for several hints at once (a stroke): one change of the edit."""
    ids, provisional, ab = frozenset(hint_ids), tuple(provisional), (float(ab[0]), float(ab[1]))

    def settled(hints: tuple[Hint, ...]) -> tuple[Hint, ...]:
        return tuple(h.recoloured(ab, picked=h.picked) if h.id in ids and h.ab == provisional else h for h in hints)

    for index in range(stack.count()):
        command = stack.command(index)
        if isinstance(command, _HintsEdit):
            command.old, command.new = settled(command.old), settled(command.new)
    document.set_hints(settled(document.edit.hints))


# -- references ---------------------------------------------------------------------------------
class _ReferencesEdit(_FieldEdit):
    def apply(self, value) -> None:
        self.document.set_references(value)


class AddReference(_ReferencesEdit):
    def __init__(self, document: EditDocument, path: str, weight: float = 1.0) -> None:
        edit = document.edit
        new = edit.with_reference(path, weight).references
        super().__init__(document, edit.references, new, f"Add reference {Reference(path).name}")


class RemoveReference(_ReferencesEdit):
    def __init__(self, document: EditDocument, path: str) -> None:
        edit = document.edit
        new = edit.without_reference(path).references
        super().__init__(document, edit.references, new, f"Remove reference {Reference(path).name}")


class UseAutomatic(_ReferencesEdit):
    """The explicit "automatic (no reference)" choice: unpins every reference in one step."""

    def __init__(self, document: EditDocument) -> None:
        super().__init__(document, document.edit.references, (), "Use automatic colours")


# -- settings of the edit -----------------------------------------------------------------------
class SetBlend(_FieldEdit):
    merge_id = 201

    def __init__(self, document: EditDocument, blend: float, gesture: int | None = None) -> None:
        super().__init__(document, document.edit.blend, float(blend), f"Reference strength {blend:.0%}", gesture)

    def apply(self, value) -> None:
        self.document.set_blend(value)


class SetContentMatching(_FieldEdit):
    def __init__(self, document: EditDocument, enabled: bool) -> None:
        text = "Match reference content" if enabled else "Reference palette everywhere"
        super().__init__(document, document.edit.match_content, bool(enabled), text)

    def apply(self, value) -> None:
        self.document.set_match_content(value)


class SetWorkingSize(_FieldEdit):
    def __init__(self, document: EditDocument, size: int) -> None:
        super().__init__(document, document.edit.working_size, int(size), f"Working size {size} px")

    def apply(self, value) -> None:
        self.document.set_working_size(value)
