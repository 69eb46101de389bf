"""The open edit as a QObject: holds the current :class:`EditSession` and says when it changes.

Undo commands are its only writers during editing; views listen to :attr:`changed` and redraw.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, Signal

from desktop.model import EditSession, ReferenceEntry

FIELDS = ("photo_path", "references", "blend", "hints", "working_size", "match_content")


class SessionDocument(QObject):
    changed = Signal(frozenset)  # the names of the EditSession fields that changed

    def __init__(self, session: EditSession | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session or EditSession()

    @property
    def session(self) -> EditSession:
        return self._session

    def reset(self, session: EditSession) -> None:
        """Replace the whole edit (a photo or a session was opened)."""
        self._session = session
        self.changed.emit(frozenset(FIELDS))

    def _update(self, **fields) -> None:
        new = replace(self._session, **fields)
        changed = frozenset(name for name in fields if getattr(new, name) != getattr(self._session, name))
        self._session = new
        if changed:
            self.changed.emit(changed)

    def set_hints(self, hints: tuple) -> None:
        self._update(hints=tuple(hints))

    def set_references(self, references: tuple[ReferenceEntry, ...]) -> None:
        self._update(references=tuple(references))

    def set_blend(self, blend: float) -> None:
        self._update(blend=float(blend))

    def set_working_size(self, size: int) -> None:
        self._update(working_size=int(size))

    def set_match_content(self, enabled: bool) -> None:
        self._update(match_content=bool(enabled))
