"""One pass through the real core.api colorizer (untrained networks, small sizes) in the window:
the worker's calls match the core API, not just the fake's."""

from __future__ import annotations

import math

from conftest import open_and_wait, pin, wait_for_preview, wait_job
from PySide6.QtCore import QPoint, QPointF, Qt

from core.imageio import load_photo
from desktop.model import EngineOptions
from desktop.worker import default_colorizer_factory


def test_real_colorizer_end_to_end(make_window, qtbot, photos, tmp_path, monkeypatch):
    def factory(options: EngineOptions):
        return default_colorizer_factory(EngineOptions(options.device, options.colornet, 64, allow_random_weights=True))

    window = make_window(factory=factory)
    window.set_working_size(64)
    open_and_wait(qtbot, window, photos["photo"])
    assert window._model_info.device.startswith("CPU")
    pin(qtbot, window, photos["reference"])
    wait_for_preview(qtbot, window, timeout=60_000)
    assert len(window._last_preview.palette) == 8
    canvas = window.canvas
    p = canvas.viewportTransform().map(QPointF(80.5, 60.5))
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(math.floor(p.x()), math.floor(p.y())))
    assert (window.session.hints[0].x, window.session.hints[0].y) == (80, 60)
    window.picker.pick_rgb((40, 90, 220))
    window.blend_slider.slider.setValue(50)
    wait_for_preview(qtbot, window, timeout=60_000)
    target = tmp_path / "grandma-colour.jpg"
    wait_job(qtbot, window, window.export_to(target), timeout=60_000)
    result = load_photo(target)
    assert result.size == (200, 150) and result.has_colour
