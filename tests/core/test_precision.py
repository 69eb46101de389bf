"""Reduced-precision inference (core.models.precision) and the encoder's inference-only folding."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import skimage.data
import torch
import torch.nn.functional as F
from torch import nn

from core.api import Colorizer, ColorizerConfig, Edit, Reference
from core.color import rgb_to_lab
from core.device import PRECISIONS, inference_dtype, native_bfloat16
from core.models import EfficientNetLite0Encoder
from core.models.efficientnet_lite0 import SameConv2d
from core.models.precision import as_float32, reduced_precision, set_inference_dtype
from core.networks import load_encoder


class Probe(nn.Module):
    """Records whether its forward ran under autocast and in which type its convolution computed."""

    inference_dtype = None

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.seen: list[tuple[bool, torch.dtype]] = []

    @reduced_precision
    def forward(self, x: torch.Tensor) -> dict[str, object]:
        y = self.conv(x)
        self.seen.append((torch.is_autocast_enabled("cpu"), y.dtype))
        return {"maps": (y, y.argmax(1)), "pooled": [y.mean((2, 3))]}


def test_as_float32_converts_every_floating_tensor_and_keeps_the_rest():
    half = torch.ones(2, dtype=torch.bfloat16)
    index = torch.arange(3)
    out = as_float32({"a": (half, [half, index]), "b": "text", "c": 3})
    assert out["a"][0].dtype == torch.float32 and out["a"][1][0].dtype == torch.float32
    assert out["a"][1][1] is index and out["b"] == "text" and out["c"] == 3
    assert isinstance(out["a"], tuple) and isinstance(out["a"][1], list)


def test_reduced_precision_runs_in_the_set_type_only_for_inference():
    probe = Probe()
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        probe(x)
    assert probe.seen[-1] == (False, torch.float32)  # nothing set: as it is

    set_inference_dtype(probe, torch.device("cpu"), torch.bfloat16)
    assert probe.inference_dtype == ("cpu", torch.bfloat16)
    with torch.inference_mode():
        out = probe(x)
    assert probe.seen[-1] == (True, torch.bfloat16)
    assert out["maps"][0].dtype == torch.float32 and out["pooled"][0].dtype == torch.float32
    assert out["maps"][1].dtype == torch.int64
    assert not torch.is_autocast_enabled("cpu")  # the context ended with the call

    out = probe(x)  # gradients wanted (training): float32 regardless
    assert probe.seen[-1] == (False, torch.float32) and out["maps"][0].requires_grad

    set_inference_dtype(probe, torch.device("cpu"), None)
    assert probe.inference_dtype is None


def test_set_inference_dtype_reaches_only_modules_that_support_it():
    outer = nn.Sequential(Probe(), nn.Conv2d(1, 1, 1))
    set_inference_dtype(outer, torch.device("cpu"), torch.bfloat16)
    assert outer[0].inference_dtype == ("cpu", torch.bfloat16)
    assert not hasattr(outer[1], "inference_dtype") and not hasattr(outer, "inference_dtype")


def test_the_precision_choice():
    cpu = torch.device("cpu")
    assert inference_dtype(cpu, "float32") is None
    assert inference_dtype(cpu, "auto") == (torch.bfloat16 if native_bfloat16(cpu) else None)
    assert inference_dtype(torch.device("cuda"), "auto") is None  # GPUs: float32 (not tested here)
    with pytest.raises(ValueError, match="precision"):
        inference_dtype(cpu, "half")
    with pytest.raises(ValueError, match="precision"):
        ColorizerConfig(precision="half")
    assert set(PRECISIONS) == {"auto", "float32"}


@pytest.mark.parametrize("size", [(9, 9), (10, 12), (16, 15)])
@pytest.mark.parametrize("kernel,stride", [(1, 1), (3, 1), (5, 1), (3, 2), (5, 2)])
def test_same_conv_pads_like_tensorflow_with_or_without_a_copy(size, kernel, stride):
    torch.manual_seed(0)
    conv = SameConv2d(3, 4, kernel, stride=stride)
    x = torch.rand(1, 3, *size)
    h, w = size
    pad_h = max((-(-h // stride) - 1) * stride + kernel - h, 0)
    pad_w = max((-(-w // stride) - 1) * stride + kernel - w, 0)
    padded = F.pad(x, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2))
    expected = F.conv2d(padded, conv.weight, conv.bias, stride)
    assert conv(x).shape == (1, 4, -(-h // stride), -(-w // stride))
    torch.testing.assert_close(conv(x), expected, rtol=1e-5, atol=1e-6)


def test_folding_batchnorm_keeps_the_encoders_features():
    encoder = load_encoder("efficientnet_lite0").freeze()
    fused = copy.deepcopy(encoder).fuse_batchnorm()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fused.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in encoder.modules())
    fused.fuse_batchnorm()  # twice: nothing left to fold
    image = torch.from_numpy(skimage.data.chelsea()[::2, ::2].copy()).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        before, after = encoder.semantics(image), fused.semantics(image)
        assert int(encoder.classify(image).argmax()) == int(fused.classify(image).argmax())
    for name in before[0]:
        torch.testing.assert_close(after[0][name], before[0][name], rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(after[1], before[1], rtol=1e-4, atol=1e-4)
    assert not any(p.requires_grad for p in fused.parameters())


def test_bfloat16_encoder_features_match_float32_ones():
    encoder = load_encoder("efficientnet_lite0").freeze().fuse_batchnorm()
    reduced = set_inference_dtype(copy.deepcopy(encoder), torch.device("cpu"), torch.bfloat16)
    image = torch.from_numpy(skimage.data.astronaut()[::4, ::4].copy()).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        full, low = encoder(image), reduced(image)
    for name, maps in full.items():
        assert low[name].dtype == torch.float32
        assert float(F.cosine_similarity(maps, low[name], dim=1).mean()) > 0.999


def test_bfloat16_pipeline_gives_the_float32_colours_to_rounding():
    """The shipped weights' previews in bfloat16 (forced here, whatever this CPU computes natively)
    stay within a fraction of an ab unit of the float32 ones; with a reference a few pixels differ
    more, where a sampled hint or a match near its threshold goes the other way."""
    from tests.core.test_pipeline import shipped_colorizer

    full = shipped_colorizer()
    reduced = shipped_colorizer()
    set_inference_dtype(reduced.models.colornet, torch.device("cpu"), torch.bfloat16)
    set_inference_dtype(reduced.models.transfer, torch.device("cpu"), torch.bfloat16)
    assert reduced.models.transfer.encoder.inference_dtype == ("cpu", torch.bfloat16)
    scene = skimage.data.astronaut()[::2, ::2].copy()
    L = rgb_to_lab(torch.from_numpy(scene[:, :192]).permute(2, 0, 1).double() / 255)[0].float().numpy()
    results = []
    for colorizer in (full, reduced):
        edit = Edit(colorizer.hold(L, "target"), working_size=128, model=colorizer.config.colornet)
        reference = Reference(colorizer.hold(scene[:, 64:], "reference"))
        with_reference = Edit(edit.photo, references=(reference,), working_size=128, model=colorizer.config.colornet)
        results.append([colorizer.preview(edit).ab, colorizer.preview(with_reference).ab])
    automatic, with_reference = (np.abs(a.astype(np.float64) - b) for a, b in zip(*results))
    assert automatic.mean() < 0.3 and automatic.max() < 3.0  # measured: 0.12 and 1.4
    assert with_reference.mean() < 0.6 and np.percentile(with_reference, 95) < 2.5  # measured: 0.28, 1.4


def test_the_app_infers_in_the_precision_its_config_asks_for():
    cpu = torch.device("cpu")
    exact = Colorizer(ColorizerConfig(working_size=128, device="cpu", precision="float32", allow_random_weights=True))
    assert exact.models.colornet.inference_dtype is None and exact.models.transfer.encoder.inference_dtype is None
    assert not any(isinstance(m, nn.BatchNorm2d) for m in exact.models.transfer.encoder.modules())  # folded for inference
    auto = Colorizer(ColorizerConfig(working_size=128, device="cpu", allow_random_weights=True))
    expected = None if inference_dtype(cpu) is None else ("cpu", torch.bfloat16)
    assert auto.models.colornet.inference_dtype == expected and auto.models.transfer.encoder.inference_dtype == expected
    assert isinstance(auto.models.transfer.encoder, EfficientNetLite0Encoder)
