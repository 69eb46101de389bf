"""Desktop tests run headless (offscreen Qt), on one CPU thread, with a fake colorizer where speed
matters. Each test gets its own settings file and app data folder."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from desktop_fakes import FakeColorizer  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "heirloom-home"
    home.mkdir()
    monkeypatch.setenv("HEIRLOOM_HOME", str(home))
    return home


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    from desktop.settings import AppSettings

    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def photos(tmp_path) -> dict[str, Path]:
    """A grey photo to colorize, a 16-bit grey scan, colour references and a grey would-be reference."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:150, 0:200]
    grey = ((x + y) % 256).astype(np.uint8)
    Image.fromarray(grey).save(folder / "grandma.png")
    wide = (np.mgrid[0:90, 0:120][1] * 500).astype(np.uint16)
    Image.fromarray(wide).save(folder / "scan16.png")
    colour = rng.integers(0, 255, size=(60, 80, 3), dtype=np.uint8)
    colour[..., 0] = 220  # clearly coloured
    Image.fromarray(colour).save(folder / "dress.jpg")
    Image.fromarray(np.roll(colour, 1, axis=2)).save(folder / "garden.jpg")
    Image.fromarray(np.full((40, 40), 128, np.uint8)).convert("RGB").save(folder / "grey_ref.jpg")
    return {
        "photo": folder / "grandma.png",
        "scan16": folder / "scan16.png",
        "reference": folder / "dress.jpg",
        "reference2": folder / "garden.jpg",
        "grey_reference": folder / "grey_ref.jpg",
        "folder": folder,
    }


@pytest.fixture
def fake_factory():
    made: list[FakeColorizer] = []

    def factory(options):
        colorizer = FakeColorizer(options)  # the worker builds it through a factory of EngineOptions
        made.append(colorizer)
        return colorizer

    factory.made = made
    return factory


@pytest.fixture
def make_window(qtbot, settings, tmp_path, fake_factory):
    """A main window on the fake colorizer; closed (and its worker thread stopped) after the test."""
    from desktop.main_window import MainWindow
    from desktop.settings import EngineOptions

    windows = []

    def make(factory=None, trainer=None, **kwargs):
        window = MainWindow(
            EngineOptions(working_size=64),
            factory=factory or fake_factory,
            trainer=trainer,
            settings=settings,
            autosave_dir=tmp_path / "autosave",
            display_side=kwargs.pop("display_side", 400),
            **kwargs,
        )
        qtbot.addWidget(window)
        window.dialogs.ask_save_changes = lambda name: "discard"
        window.resize(900, 650)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.shutdown()


@pytest.fixture
def opened(make_window, photos, qtbot):
    """A window with the grey test photo open and its first display-size preview on screen."""
    window = make_window()
    open_and_wait(qtbot, window, photos["photo"])
    return window


def open_and_wait(qtbot, window, path, **kwargs):
    window.open_photo(path, **kwargs)
    wait_opened(qtbot, window)
    wait_for_preview(qtbot, window)


def wait_opened(qtbot, window, timeout=10_000):
    """Wait until the photo being opened is on the canvas."""

    def done():
        assert window.has_photo and window.opening is None

    qtbot.waitUntil(done, timeout=timeout)


def wait_job(qtbot, window, tag, timeout=10_000):
    """Wait until a long job (export, batch) has finished and its progress dialog is gone."""
    qtbot.waitUntil(lambda: tag not in window.jobs.jobs, timeout=timeout)


def settle(qtbot, window, timeout=10_000):
    """Wait until the worker has answered every probe (a new hint's colour settles in then)."""
    qtbot.waitUntil(lambda: not window.jobs.of_kind("probe"), timeout=timeout)


def wait_for_preview(qtbot, window, timeout=10_000):
    """Wait until the newest requested preview has been shown at display size."""

    def shown():
        assert window.preview_is_current

    qtbot.waitUntil(shown, timeout=timeout)


def pin(qtbot, window, *paths):
    """Pin references and wait until the worker has checked them and the edit holds them.

    (Waiting on the worker's signal alone is not enough: a directly connected receiver runs in the
    worker thread, before the window's queued slot.)"""
    window.add_references([str(p) for p in paths])
    qtbot.waitUntil(lambda: all(str(p) in window.edit.reference_paths for p in paths), timeout=10_000)
