"""Menus whose entries change while the app runs: recent photos, models, devices, working sizes."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from PySide6.QtCore import QSignalBlocker
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QMenu

from core.edit import WORKING_SIZES

DEVICES = (("auto", "&Automatic"), ("cpu", "&CPU"), ("cuda", "&GPU (CUDA)"), ("mps", "GPU (Apple &Metal)"))
WORKING_SIZE_NOTES = {256: " (default)", 512: " (finer, slower)"}


def fill_choices(
    menu: QMenu,
    choices: Sequence[tuple[object, str]],
    current: object,
    chosen: Callable[[object], None],
    empty: str = "",
) -> QActionGroup:
    """One checkable entry per (value, label); picking one calls ``chosen(value)``."""
    menu.clear()
    group = QActionGroup(menu)
    if not choices and empty:
        menu.addAction(empty).setEnabled(False)
    for value, label in choices:
        action = menu.addAction(label)
        action.setCheckable(True)
        action.setData(value)
        action.setChecked(value == current)
        group.addAction(action)
        action.triggered.connect(lambda checked=False, value=value: chosen(value))
    return group


def check_choice(group: QActionGroup, value: object) -> None:
    """Show ``value`` as the current choice without triggering anything."""
    for action in group.actions():
        with QSignalBlocker(action):
            action.setChecked(action.data() == value)


def model_choices() -> list[tuple[str, str]]:
    """(weights name, label) of every registered colorization model, bundled and personal."""
    try:
        from core.api import list_weights

        records = list_weights(kind="colornet")
    except Exception:  # noqa: BLE001 - a broken manifest must not stop the window; loading reports it
        return []
    return [(r.name, r.name if r.description == r.name else f"{r.name} — {r.description}") for r in records]


def working_size_choices() -> list[tuple[int, str]]:
    return [(size, f"{size} px{WORKING_SIZE_NOTES.get(size, '')}") for size in WORKING_SIZES]


def fill_recent(menu: QMenu, files: Sequence[str], open_file: Callable[[str], None], clear: Callable[[], None]) -> None:
    menu.clear()
    for index, path in enumerate(files):
        action = menu.addAction(f"&{index + 1} {Path(path).name}" if index < 9 else Path(path).name)
        action.setToolTip(path)
        action.triggered.connect(lambda checked=False, path=path: open_file(path))
    if files:
        menu.addSeparator()
        menu.addAction("Clear list", clear)
    else:
        menu.addAction("No recent photos").setEnabled(False)
