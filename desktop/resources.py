"""Where the app finds its bundled files (icons, the demo photo) and keeps its own (the autosave)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QIcon


def resources_dir() -> Path:
    from core.api import resources_dir as core_resources_dir

    return core_resources_dir()


def demo_paths() -> tuple[Path, Path]:
    """The bundled demo photo and its colour reference."""
    folder = resources_dir() / "demo"
    return folder / "demo_photo.jpg", folder / "demo_reference.jpg"


def app_icon() -> QIcon:
    icons = resources_dir() / "icons"
    icon = QIcon()
    for name in ("heirloom.svg", "heirloom.png"):
        if (icons / name).is_file():
            icon.addFile(str(icons / name))
    return icon


def default_autosave_dir() -> Path:
    from core.api import user_data_dir

    return user_data_dir() / "autosave"
