"""What Heirloom remembers between runs (QSettings): folders, recent files, device, model, working size,
the reach of new hints.

Every read and write of the app's settings goes through :class:`AppSettings`; nothing else touches
``QSettings`` keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QByteArray, QSettings

from core.edit import DEFAULT_MODEL, DEFAULT_REACH, DEFAULT_WORKING_SIZE, WORKING_SIZE_RANGE

MAX_RECENT_FILES = 10
MAX_RECENT_COLOURS = 8


@dataclass(frozen=True)
class EngineOptions:
    """How the app starts the colorizer: the device, and the model and working size of new edits."""

    device: str = "auto"
    colornet: str = DEFAULT_MODEL
    working_size: int = DEFAULT_WORKING_SIZE
    allow_random_weights: bool = False


class AppSettings:
    def __init__(self, settings: QSettings | None = None) -> None:
        self.q = settings or QSettings()

    def _str(self, key: str, default: str = "") -> str:
        value = self.q.value(key, default)
        return str(value) if value is not None else default

    def _list(self, key: str) -> list:
        value = self.q.value(key, [])
        if value is None or value == "":
            return []
        return list(value) if isinstance(value, (list, tuple)) else [value]

    # -- folders ----------------------------------------------------------------------------
    def folder(self, purpose: str) -> str:
        """The last folder used for ``purpose`` (photos, references, export, sessions, batch, training)."""
        return self._str(f"folders/{purpose}")

    def set_folder(self, purpose: str, folder: str) -> None:
        self.q.setValue(f"folders/{purpose}", folder)

    # -- recent files and colours -----------------------------------------------------------
    def recent_files(self) -> list[str]:
        return [str(p) for p in self._list("recent/files")]

    def add_recent_file(self, path: str) -> list[str]:
        files = [path] + [p for p in self.recent_files() if p != path]
        files = files[:MAX_RECENT_FILES]
        self.q.setValue("recent/files", files)
        return files

    def clear_recent_files(self) -> list[str]:
        self.q.setValue("recent/files", [])
        return []

    def recent_colours(self) -> list[tuple[int, int, int]]:
        colours = []
        for text in self._list("recent/colours"):
            try:
                r, g, b = (int(v) for v in str(text).split(","))
                colours.append((r, g, b))
            except ValueError:
                continue
        return colours

    def add_recent_colour(self, rgb: tuple[int, int, int], replace_newest: bool = False) -> list[tuple[int, int, int]]:
        """Put ``rgb`` first; ``replace_newest`` drops the newest first (one drag, one colour)."""
        colours = self.recent_colours()
        if replace_newest:
            colours = colours[1:]
        colours = [tuple(rgb)] + [c for c in colours if c != tuple(rgb)]
        colours = colours[:MAX_RECENT_COLOURS]
        self.q.setValue("recent/colours", [",".join(str(v) for v in c) for c in colours])
        return colours

    # -- engine -----------------------------------------------------------------------------
    def engine_options(self, allow_random_weights: bool = False) -> EngineOptions:
        try:
            size = int(self.q.value("engine/working_size", DEFAULT_WORKING_SIZE))
        except (TypeError, ValueError, OverflowError):
            size = DEFAULT_WORKING_SIZE
        if not WORKING_SIZE_RANGE[0] <= size <= WORKING_SIZE_RANGE[1]:
            size = DEFAULT_WORKING_SIZE
        return EngineOptions(
            device=self._str("engine/device", "auto") or "auto",
            colornet=self._str("engine/model", DEFAULT_MODEL) or DEFAULT_MODEL,
            working_size=size,
            allow_random_weights=allow_random_weights,
        )

    def set_device(self, device: str) -> None:
        self.q.setValue("engine/device", device)

    def set_model(self, name: str) -> None:
        self.q.setValue("engine/model", name)

    def set_working_size(self, size: int) -> None:
        self.q.setValue("engine/working_size", int(size))

    # -- hints ------------------------------------------------------------------------------
    def hint_reach(self) -> float:
        """How far new hints reach (0 about the hint .. 1 its whole region), as last chosen."""
        try:
            reach = float(self.q.value("hints/reach", DEFAULT_REACH))
        except (TypeError, ValueError, OverflowError):
            return DEFAULT_REACH
        return reach if 0.0 <= reach <= 1.0 else DEFAULT_REACH

    def set_hint_reach(self, reach: float) -> None:
        self.q.setValue("hints/reach", float(reach))

    # -- window -----------------------------------------------------------------------------
    @property
    def first_run(self) -> bool:
        return self._str("app/first_run_done", "") != "1"

    def mark_first_run_done(self) -> None:
        self.q.setValue("app/first_run_done", "1")

    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        return self.q.value("window/geometry"), self.q.value("window/state")

    def set_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.q.setValue("window/geometry", geometry)
        self.q.setValue("window/state", state)

    def restore_window(self, window) -> None:
        """Put a QMainWindow back where it was, with its docks and toolbars as they were."""
        geometry, state = self.window_state()
        if geometry is not None:
            window.restoreGeometry(geometry)
        if state is not None:
            window.restoreState(state)

    def save_window(self, window) -> None:
        self.set_window_state(window.saveGeometry(), window.saveState())

    def sync(self) -> None:
        self.q.sync()
