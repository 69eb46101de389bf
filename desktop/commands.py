"""One QUndoCommand per kind of edit. Each stores the old and new value of one session field and
calls one document method; drags and slider moves merge into a single step through ``id`` and
``mergeWith`` (commands of one gesture share a ``gesture`` number).
"""

from __future__ import annotations

import itertools
import time

from PySide6.QtGui import QUndoCommand

from core.hints import Hint
from desktop.document import SessionDocument
from desktop.model import ReferenceEntry

_gestures = itertools.count(1)


def new_gesture() -> int:
    """A fresh number for one drag, slider move or wheel burst; commands sharing it merge."""
    return next(_gestures)


class _FieldEdit(QUndoCommand):
    """Sets one session field from ``old`` to ``new``; merges with the next edit of the same gesture."""

    merge_id = -1  # subclasses that merge give a unique positive id

    def __init__(self, document: SessionDocument, old, new, text: str, gesture: int | None = None) -> None:
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


# -- hints --------------------------------------------------------------------------------------
class _HintsEdit(_FieldEdit):
    def apply(self, value) -> None:
        self.document.set_hints(value)


class AddHint(_HintsEdit):
    def __init__(self, document: SessionDocument, hint: Hint) -> None:
        session = document.session
        super().__init__(document, session.hints, session.with_hint(hint).hints, "Add colour hint")


class _OneHintEdit(_HintsEdit):
    """A change to the hint at ``index``; it merges only with edits of that same hint."""

    def __init__(self, document: SessionDocument, index: int, hint: Hint, text: str, gesture: int | None) -> None:
        session = document.session
        super().__init__(document, session.hints, session.with_hint_at(index, hint).hints, text, gesture)
        self.index = index

    def can_merge(self, other) -> bool:
        return super().can_merge(other) and other.index == self.index


class MoveHint(_OneHintEdit):
    merge_id = 101

    def __init__(self, document: SessionDocument, index: int, x: float, y: float, gesture: int) -> None:
        super().__init__(document, index, document.session.hints[index].moved(x, y), "Move colour hint", gesture)


class RecolourHint(_OneHintEdit):
    merge_id = 102

    def __init__(self, document: SessionDocument, index: int, ab: tuple[float, float], gesture: int | None = None) -> None:
        super().__init__(document, index, document.session.hints[index].recoloured(ab), "Change hint colour", gesture)


class ResizeHint(_OneHintEdit):
    """Patch size from the mouse wheel: a burst of wheel steps on one hint is one undo step."""

    merge_id = 103
    BURST_SECONDS = 1.0

    def __init__(self, document: SessionDocument, index: int, radius: float) -> None:
        super().__init__(document, index, document.session.hints[index].resized(radius), "Resize colour hint", gesture=0)
        self.stamp = time.monotonic()

    def can_merge(self, other) -> bool:
        return super().can_merge(other) and other.stamp - self.stamp < self.BURST_SECONDS

    def mergeWith(self, other) -> bool:
        merged = super().mergeWith(other)
        if merged:
            self.stamp = other.stamp
        return merged


class RemoveHint(_HintsEdit):
    def __init__(self, document: SessionDocument, index: int) -> None:
        session = document.session
        super().__init__(document, session.hints, session.without_hint(index).hints, "Remove colour hint")


class ClearHints(_HintsEdit):
    def __init__(self, document: SessionDocument) -> None:
        super().__init__(document, document.session.hints, (), "Remove all hints")


# -- references ---------------------------------------------------------------------------------
class _ReferencesEdit(_FieldEdit):
    def apply(self, value) -> None:
        self.document.set_references(value)


class AddReference(_ReferencesEdit):
    def __init__(self, document: SessionDocument, path: str, weight: float = 1.0) -> None:
        session = document.session
        new = session.with_reference(path, weight).references
        super().__init__(document, session.references, new, f"Add reference {ReferenceEntry(path).name}")


class RemoveReference(_ReferencesEdit):
    def __init__(self, document: SessionDocument, path: str) -> None:
        session = document.session
        new = session.without_reference(path).references
        super().__init__(document, session.references, new, f"Remove reference {ReferenceEntry(path).name}")


class UseAutomatic(_ReferencesEdit):
    """The explicit "automatic (no reference)" choice: unpins every reference in one step."""

    def __init__(self, document: SessionDocument) -> None:
        super().__init__(document, document.session.references, (), "Use automatic colours")


# -- settings of the edit -----------------------------------------------------------------------
class SetBlend(_FieldEdit):
    merge_id = 201

    def __init__(self, document: SessionDocument, blend: float, gesture: int | None = None) -> None:
        super().__init__(document, document.session.blend, float(blend), f"Reference strength {blend:.0%}", gesture)

    def apply(self, value) -> None:
        self.document.set_blend(value)


class SetContentMatching(_FieldEdit):
    def __init__(self, document: SessionDocument, enabled: bool) -> None:
        text = "Match reference content" if enabled else "Reference palette everywhere"
        super().__init__(document, document.session.match_content, bool(enabled), text)

    def apply(self, value) -> None:
        self.document.set_match_content(value)


class SetWorkingSize(_FieldEdit):
    def __init__(self, document: SessionDocument, size: int) -> None:
        super().__init__(document, document.session.working_size, int(size), f"Working size {size} px")

    def apply(self, value) -> None:
        self.document.set_working_size(value)
