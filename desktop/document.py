"""The open edit as a QObject: holds the current :class:`core.edit.Edit` and says when it changes.

Undo commands are its only writers during editing; views listen to :attr:`changed` and redraw.
"""

from __future__ import annotations

from dataclasses import fields, replace

from PySide6.QtCore import QObject, Signal

from core.edit import Edit, Hint, Reference

FIELDS = tuple(f.name for f in fields(Edit) if not f.name.startswith("_"))


class EditDocument(QObject):
    changed = Signal(frozenset)  # the names of the Edit fields that changed

    def __init__(self, edit: Edit | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._edit = edit or Edit()

    @property
    def edit(self) -> Edit:
        return self._edit

    def reset(self, edit: Edit) -> None:
        """Replace the whole edit (a photo or a saved edit was opened)."""
        self._edit = edit
        self.changed.emit(frozenset(FIELDS))

    def _update(self, **values) -> None:
        new = replace(self._edit, **values)
        changed = frozenset(name for name in values if getattr(new, name) != getattr(self._edit, name))
        self._edit = new
        if changed:
            self.changed.emit(changed)

    def set_hints(self, hints: tuple[Hint, ...]) -> None:
        self._update(hints=tuple(hints))

    def set_references(self, references: tuple[Reference, ...]) -> None:
        self._update(references=tuple(references))

    def set_blend(self, blend: float) -> None:
        self._update(blend=float(blend))

    def set_working_size(self, size: int) -> None:
        self._update(working_size=int(size))

    def set_match_content(self, enabled: bool) -> None:
        self._update(match_content=bool(enabled))

    def set_model(self, name: str) -> None:
        self._update(model=name)
