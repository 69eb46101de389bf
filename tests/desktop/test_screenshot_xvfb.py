"""The real window on a real X server (Xvfb): real core.api colorizer, a historical photo, a screenshot.

Uses the trained weights when installed, untrained networks otherwise (the script says which).
Skipped where Xvfb is not installed (apt-get install xvfb xauth)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
HISTORICAL = ROOT.parent / "shared" / "datasets" / "historical" / "public_domain" / "saratoga_broadway_c1900-1915.jpg"


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="Xvfb is not installed")
def test_real_window_screenshot_under_xvfb(tmp_path):
    photo = HISTORICAL if HISTORICAL.is_file() else ROOT / "resources" / "demo" / "demo_photo.jpg"
    out = tmp_path / "shot.png"
    env = dict(os.environ, HEIRLOOM_HOME=str(tmp_path / "home"), OMP_NUM_THREADS="1")
    env.pop("QT_QPA_PLATFORM", None)  # the real xcb platform, not offscreen
    command = [
        "xvfb-run", "-a", "-s", "-screen 0 1280x900x24 -noreset",
        sys.executable, "-m", "desktop.screenshot",
        "--photo", str(photo), "--out", str(out), "--size", "1100x760", "--hints", "1", "--browse", "",
    ]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "weights: " in result.stdout and f"saved {out}" in result.stdout
    with Image.open(out) as image:
        assert image.width == 1100 and image.height >= 760  # docks may ask for a little more height
        pixels = np.asarray(image.convert("RGB").resize((110, 76))).reshape(-1, 3)
        assert len(np.unique(pixels, axis=0)) > 50  # a real picture, not a blank window
