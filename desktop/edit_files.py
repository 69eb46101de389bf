"""Edit files: saving and reading ``.heirloom.json`` edits, the autosave, and recovery after a crash.

Each running Heirloom keeps its own autosave (``autosave-<instance>.heirloom.json``) beside a lock
file that records its owner (process id, host and start time). Recovery offers only autosaves whose
owner is gone, so a second window never "recovers" (or deletes) the live work of the first; a clean
close deletes only its own autosave. A recovery file that cannot be read is moved aside (renamed
``….bad``) and named in a message, so it is never offered again.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QUndoStack

from core.edit import EDIT_SUFFIX, Edit, EditError, parse_json, read_edit, write_edit
from desktop.dialogs import Dialogs
from desktop.document import EditDocument
from desktop.settings import AppSettings

AUTOSAVE_DELAY_MS = 1500
AUTOSAVE_PREFIX = "autosave"
LOCK_SUFFIX = ".lock"
BAD_SUFFIX = ".bad"


@dataclass(frozen=True)
class Owner:
    """Who keeps an autosave: a process on a host, started at a time."""

    pid: int
    host: str
    started: float

    @classmethod
    def me(cls) -> "Owner":
        return cls(os.getpid(), socket.gethostname(), time.time())

    @classmethod
    def read(cls, path: Path) -> "Owner | None":
        """The owner a lock file records; None when it is missing or unreadable."""
        try:
            data = parse_json(path.read_bytes())
            return cls(int(data["pid"]), str(data["host"]), float(data["started"]))
        except (OSError, EditError, KeyError, TypeError, ValueError, OverflowError):
            return None

    def is_alive(self) -> bool:
        if self.host != socket.gethostname():
            return True  # another machine's process cannot be checked: leave its files alone
        return process_exists(self.pid)


def process_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill would end the process on Windows
        import ctypes

        kernel = ctypes.windll.kernel32
        handle = kernel.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        kernel.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def move_aside(path: Path) -> Path:
    """Rename a file that cannot be used to ``<name>.bad`` (numbered if that exists)."""
    target = path.with_name(path.name + BAD_SUFFIX)
    number = 1
    while target.exists():
        target = path.with_name(f"{path.name}.{number}{BAD_SUFFIX}")
        number += 1
    os.replace(path, target)
    return target


class EditFiles(QObject):
    """Save, read, autosave and recover the window's edit (see the module's docstring)."""

    def __init__(
        self,
        folder: Path,
        document: EditDocument,
        undo_stack: QUndoStack,
        dialogs: Dialogs,
        settings: AppSettings,
        say: Callable[[str, int], None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.folder = Path(folder)
        self.document = document
        self.undo_stack = undo_stack
        self.dialogs = dialogs
        self.settings = settings
        self.say = say
        self.path: str | None = None  # the file the open edit was saved to or opened from
        instance = f"{os.getpid()}-{secrets.token_hex(3)}"
        self.autosave_path = self.folder / f"{AUTOSAVE_PREFIX}-{instance}{EDIT_SUFFIX}"
        self.lock_path = self.folder / f"{AUTOSAVE_PREFIX}-{instance}{LOCK_SUFFIX}"
        self.owner = Owner.me()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(AUTOSAVE_DELAY_MS)
        self._timer.timeout.connect(self.autosave)
        undo_stack.indexChanged.connect(self._on_index_changed)
        undo_stack.cleanChanged.connect(self._on_clean_changed)

    @property
    def edit(self) -> Edit:
        return self.document.edit

    def _on_index_changed(self, index: int) -> None:
        self._timer.start()  # autosave once the edits pause

    def _on_clean_changed(self, clean: bool) -> None:
        if clean:
            self.discard_autosave()

    # -- saving and reading -------------------------------------------------------------------
    def save_to(self, path: str | Path) -> bool:
        try:
            write_edit(path, self.edit)
        except OSError as error:
            self.dialogs.error(f"The edit could not be saved to '{Path(path).name}' ({error.strerror or error}); choose another folder.")
            return False
        self.path = str(path)
        self.undo_stack.setClean()
        self.settings.set_folder("sessions", str(Path(path).parent))
        self.say(f"Edit saved to {Path(path).name}", 5000)
        return True

    def save(self) -> bool:
        return self.save_to(self.path) if self.path else self.save_as()

    def save_as(self) -> bool:
        photo = Path(self.edit.photo)
        folder = self.settings.folder("sessions") or str(photo.parent)
        path = self.dialogs.save_edit(str(Path(folder) / (photo.stem + EDIT_SUFFIX)))
        return bool(path) and self.save_to(path)

    def read(self, path: str | Path) -> Edit | None:
        """The edit saved in ``path``, or None after telling the user why it cannot be used."""
        try:
            edit = read_edit(path)
        except EditError as error:
            self.dialogs.error(str(error))
            return None
        if edit.photo is None:
            self.dialogs.error(f"The edit '{Path(path).name}' names no photo.")
            return None
        return edit

    # -- autosave -----------------------------------------------------------------------------
    def autosave(self) -> None:
        """Keep a copy of unsaved work in the app data folder; removed once the work is saved."""
        if self.edit.photo is None or self.undo_stack.isClean():
            self.discard_autosave()
            return
        try:
            self._claim()
            write_edit(self.autosave_path, self.edit)
        except OSError:
            self.say("Autosave failed: the app data folder is not writable.", 5000)

    def _claim(self) -> None:
        """Write this instance's lock (before its autosave exists, so that is never an orphan)."""
        if not self.lock_path.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            self.lock_path.write_text(json.dumps(asdict(self.owner)) + "\n", encoding="utf-8")

    def discard_autosave(self) -> None:
        """Delete this instance's autosave (never another's)."""
        self._timer.stop()
        self.autosave_path.unlink(missing_ok=True)

    def release(self) -> None:
        """A clean close: this instance's autosave and lock go."""
        self.discard_autosave()
        self.lock_path.unlink(missing_ok=True)

    # -- recovery -----------------------------------------------------------------------------
    def orphans(self) -> list[Path]:
        """Autosaves whose owner is gone (newest first); the older single shared file counts."""
        try:
            files = [p for p in self.folder.glob(f"{AUTOSAVE_PREFIX}*{EDIT_SUFFIX}") if p != self.autosave_path]
        except OSError:
            return []
        found = []
        for path in files:
            lock = path.with_name(path.name[: -len(EDIT_SUFFIX)] + LOCK_SUFFIX)
            owner = Owner.read(lock)
            if owner is None or not owner.is_alive():
                found.append(path)
        return sorted(found, key=lambda p: p.stat().st_mtime if p.exists() else 0, reverse=True)

    def _forget(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        path.with_name(path.name[: -len(EDIT_SUFFIX)] + LOCK_SUFFIX).unlink(missing_ok=True)

    def recoverable(self) -> tuple[Edit, Path] | None:
        """After a crash: the first orphaned autosave the user wants back, adopted as this
        instance's own autosave; unreadable ones are moved aside and named, declined ones deleted."""
        for path in self.orphans():
            try:
                edit = read_edit(path)
                if edit.photo is None:
                    raise EditError(f"'{path.name}' names no photo.")
            except EditError as error:
                try:
                    aside = move_aside(path)
                except OSError:
                    aside = None
                with suppress(OSError):
                    self._forget(path)
                where = f" It was moved aside as '{aside}'." if aside else ""
                self.dialogs.error(f"An unsaved edit could not be recovered: {error}{where}")
                continue
            if not self.dialogs.ask_recover(Path(edit.photo).name):
                self._forget(path)
                continue
            try:
                self._claim()
                os.replace(path, self.autosave_path)  # ours now: kept until saved or closed cleanly
                self._forget(path)
            except OSError:
                pass
            return edit, self.autosave_path
        return None
