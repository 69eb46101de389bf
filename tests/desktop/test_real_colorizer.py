"""One pass through the real core.api colorizer (untrained networks, small sizes) in the window:
the worker's calls match the core API, not just the fake's."""

from __future__ import annotations

import math

from conftest import open_and_wait, pin, settle, wait_for_preview, wait_job
from PySide6.QtCore import QPoint, QPointF, Qt

from core.api import load_photo
from desktop.settings import EngineOptions
from desktop.worker import default_colorizer_factory


def test_real_colorizer_end_to_end(make_window, qtbot, photos, tmp_path, monkeypatch):
    def factory(options: EngineOptions):
        return default_colorizer_factory(EngineOptions(options.device, options.colornet, 64, allow_random_weights=True))

    window = make_window(factory=factory)
    window.set_working_size(64)
    open_and_wait(qtbot, window, photos["photo"])
    assert window.model_info.device.startswith("CPU")
    pin(qtbot, window, photos["reference"])
    wait_for_preview(qtbot, window, timeout=60_000)
    assert len(window.last_preview.palette) == 8
    canvas = window.canvas
    p = canvas.viewportTransform().map(QPointF(80.5, 60.5))
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(math.floor(p.x()), math.floor(p.y())))
    assert (window.edit.hints[0].x, window.edit.hints[0].y) == (80, 60)
    settle(qtbot, window)
    assert window.edit.hints[0].ab != (0.0, 0.0)  # the model's colour there settled in
    window.colour_panel.pick_rgb((40, 90, 220))
    window.blend_slider.slider.setValue(50)
    wait_for_preview(qtbot, window, timeout=60_000)
    target = tmp_path / "grandma-colour.jpg"
    wait_job(qtbot, window, window.exports.export_to(target), timeout=60_000)
    result = load_photo(target)
    assert result.size == (200, 150) and result.has_colour
