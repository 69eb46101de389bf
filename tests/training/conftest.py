"""Shared set-up for the training tests: one CPU thread, a tiny photo library built from scikit-image's
sample photos, small configs, weights folders that point at temporary directories, and the
benchmark scripts loaded as modules."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType
from typing import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from skimage import data as skdata  # noqa: E402

torch.set_num_threads(1)

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load_benchmark(name: str) -> ModuleType:
    """benchmarks/<name>.py as a module (registered in sys.modules, as its dataclasses need)."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def load_benchmark() -> Callable[[str], ModuleType]:
    """The loader of the benchmark scripts: ``load_benchmark("gpu_session")`` is benchmarks/gpu_session.py."""
    return _load_benchmark

SAMPLE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "retina")
PHOTO_SIDE = 72  # above the library scan's 64-pixel minimum


def _quadrants(rgb: np.ndarray) -> list[np.ndarray]:
    h, w = rgb.shape[0] // 2, rgb.shape[1] // 2
    return [rgb[:h, :w], rgb[:h, w:], rgb[h:, :w], rgb[h:, w:]]


@pytest.fixture(scope="session")
def photo_library(tmp_path_factory) -> Path:
    """Colour photos (quadrants of the sample photos) in a folder tree, PNG and JPEG, read-only use."""
    root = tmp_path_factory.mktemp("library")
    for name in SAMPLE_PHOTOS:
        folder = root / name[:3]
        folder.mkdir(exist_ok=True)
        for i, part in enumerate(_quadrants(getattr(skdata, name)()[..., :3])):
            image = Image.fromarray(np.ascontiguousarray(part)).resize((PHOTO_SIDE, PHOTO_SIDE), Image.Resampling.LANCZOS)
            suffix = ".png" if i % 2 else ".jpg"
            image.save(folder / f"{name}-{i}{suffix}", quality=95)
    return root


@pytest.fixture
def weights_home(tmp_path, monkeypatch) -> Path:
    """Empty bundled and user weights folders under tmp_path (returned: the folder holding both)."""
    monkeypatch.setenv("HEIRLOOM_HOME", str(tmp_path / "user"))
    monkeypatch.setenv("HEIRLOOM_RESOURCES", str(tmp_path / "resources"))
    return tmp_path


@pytest.fixture
def small_config(photo_library, tmp_path):
    """Factory of configs that train in well under a second per step on one CPU thread:
    ``small_config(ColorNetConfig, "run-a", steps=6)``."""

    def make(config_type, out: str = "run", **overrides):
        values = _small_values(photo_library, tmp_path / out)
        values.update(overrides)
        return config_type(**values)

    return make


def _small_values(photos: Path, out: Path) -> dict:
    return dict(
        photos=str(photos),
        out=str(out),
        steps=4,
        batch_size=2,
        crop=32,
        cache_size=48,
        warmup=2,
        val_every=1000,
        val_count=4,
        checkpoint_every=1000,
        threads=1,
        device="cpu",
    )
