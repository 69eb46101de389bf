"""Guided upsampling of the working-size ab onto the full-resolution lightness."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core import upsample
from core.color import rgb_to_lab
from core.upsample import Cancelled, fit_guided, render_strips, resize_lightness


def lab_of(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8/uint16 -> Lab (3, H, W) float64."""
    top = 65535.0 if rgb.dtype == np.uint16 else 255.0
    return rgb_to_lab(torch.from_numpy(rgb.astype(np.float64) / top).permute(2, 0, 1))


def textured_lightness(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    L = 55 + 25 * np.sin(x / 11.0) * np.cos(y / 13.0) + rng.normal(0, 3, (h, w))
    return np.clip(L, 5, 95).astype(np.float32)


def test_flat_ab_stays_flat():
    L_full = np.clip(textured_lightness(120, 160), 25, 80)  # where (12, -18) is displayable
    L_low = resize_lightness(L_full, (40, 30))
    ab_low = torch.tensor([12.0, -18.0]).view(1, 2, 1, 1).expand(1, 2, 30, 40)
    coefficients = fit_guided(L_low, ab_low)
    assert float(coefficients.A.abs().max()) < 1e-3
    assert torch.allclose(coefficients.B, ab_low, atol=1e-3)
    target = torch.tensor([12.0, -18.0], dtype=torch.float64).view(2, 1, 1)
    precise = lab_of(render_strips(L_full, coefficients, bit_depth=16))
    assert float((precise[1:] - target).abs().max()) < 0.05
    # 8-bit rounding moves ab a little, most in the darkest pixels.
    coarse = (lab_of(render_strips(L_full, coefficients))[1:] - target).abs()
    assert float(coarse.mean()) < 0.5 and float(coarse.max()) < 2.5


def _step_edge(height=64, width=200, edge=102, scale=4):
    """Full-res L with a vertical step at ``edge`` and the two-colour ab a network would predict at
    1/scale (area averages, so the column straddling the edge is a mixture)."""
    L = np.where(np.arange(width)[None, :] < edge, 35.0, 70.0).astype(np.float32).repeat(height, 0)
    left, right = torch.tensor([40.0, 20.0]), torch.tensor([-30.0, 35.0])
    ab_full = torch.where(torch.arange(width)[None, None, :] < edge, left.view(2, 1, 1), right.view(2, 1, 1))
    ab_full = ab_full.expand(2, height, width)
    L_low = resize_lightness(L, (width // scale, height // scale))
    ab_low = F.avg_pool2d(ab_full[None].float(), scale)
    return L, L_low, ab_low, ab_full


def test_colours_follow_the_full_resolution_edge():
    L, L_low, ab_low, ab_full = _step_edge()
    lab = lab_of(render_strips(L, fit_guided(L_low, ab_low)))
    guided_error = (lab[1:] - ab_full).norm(dim=0).amax(dim=0)  # worst error per column
    bilinear = F.interpolate(ab_low, size=L.shape, mode="bilinear", align_corners=False)[0]
    bilinear_error = (bilinear - ab_full).norm(dim=0).amax(dim=0)
    # Every pixel keeps the colour of its own side of the edge: a > 0 left of it, a < 0 right.
    assert bool((lab[1][:, :102] > 25).all()) and bool((lab[1][:, 102:] < -15).all())
    bleeding = lambda error: int((error > 10).sum())  # noqa: E731 - columns visibly off-colour
    assert bleeding(guided_error) == 0
    assert bleeding(bilinear_error) >= 4
    assert float(guided_error.max()) < float(bilinear_error.max()) / 3


@pytest.mark.parametrize("bit_depth, tolerance", [(8, 0.5), (16, 0.02)])
def test_output_keeps_the_lightness(bit_depth, tolerance):
    L_full = textured_lightness(90, 130, seed=1)
    L_low = resize_lightness(L_full, (45, 30))
    # Strong, varying colour: much of it falls outside sRGB and must be pulled in, not clipped.
    y, x = torch.meshgrid(torch.arange(30.0), torch.arange(45.0), indexing="ij")
    ab_low = torch.stack((90 * torch.sin(x / 5), 90 * torch.cos(y / 4)))[None]
    out = render_strips(L_full, fit_guided(L_low, ab_low), bit_depth=bit_depth)
    assert out.dtype == (np.uint16 if bit_depth == 16 else np.uint8)
    assert out.shape == (90, 130, 3)
    lab = lab_of(out)
    assert float((lab[0] - torch.from_numpy(L_full)).abs().max()) <= tolerance
    assert float(lab[1:].norm(dim=0).mean()) > 20  # and the colour was kept, not dropped


def test_without_gamut_pull_clipping_changes_lightness():
    L_full = np.full((20, 20), 85.0, dtype=np.float32)
    coefficients = fit_guided(torch.full((1, 1, 10, 10), 85.0), torch.tensor([0.0, -100.0]).view(1, 2, 1, 1).expand(1, 2, 10, 10))
    kept = lab_of(render_strips(L_full, coefficients))[0]
    clipped = lab_of(render_strips(L_full, coefficients, keep_in_gamut=False))[0]
    assert float((kept - 85).abs().max()) <= 0.5
    assert float((clipped - 85).abs().max()) > 2


def test_strips_join_seamlessly(monkeypatch):
    L_full = textured_lightness(97, 61, seed=2)
    L_low = resize_lightness(L_full, (31, 49))
    ab_low = torch.randn(1, 2, 49, 31, generator=torch.Generator().manual_seed(0)) * 30
    coefficients = fit_guided(L_low, ab_low)
    whole = render_strips(L_full, coefficients)
    monkeypatch.setattr(upsample, "STRIP_PIXELS", 61 * 7)  # 7 rows per strip, the last one short
    progress = []
    strips = render_strips(L_full, coefficients, progress=progress.append)
    assert np.array_equal(whole, strips)
    assert len(progress) == 14 and progress == sorted(progress) and progress[-1] == 1.0


def test_cancel_raises_cancelled():
    L_full = textured_lightness(40, 40)
    coefficients = fit_guided(resize_lightness(L_full, (20, 20)), torch.zeros(1, 2, 20, 20))
    with pytest.raises(Cancelled):
        render_strips(L_full, coefficients, cancel=lambda: True)
    calls = []

    def cancel_on_second_strip():
        calls.append(1)
        return len(calls) > 1

    upsample_rows = upsample.STRIP_PIXELS
    try:
        upsample.STRIP_PIXELS = 40 * 10
        with pytest.raises(Cancelled):
            render_strips(L_full, coefficients, cancel=cancel_on_second_strip)
    finally:
        upsample.STRIP_PIXELS = upsample_rows
    assert len(calls) == 2


def test_resize_lightness_of_a_large_scan_matches_a_direct_resize():
    H, W = 2600, 3100  # 8 megapixels
    y, x = np.mgrid[0:H, 0:W].astype(np.float32)
    L = (50 + 30 * np.sin(x / 150) * np.cos(y / 110) + 10 * (x > 1500)).astype(np.float32)
    for size in ((256, 215), (100, 84)):
        ours = resize_lightness(L, size)
        direct = F.interpolate(torch.from_numpy(L)[None, None], size=size[::-1], mode="bilinear", antialias=True, align_corners=False)
        assert ours.shape == (1, 1, size[1], size[0]) and ours.dtype == torch.float32
        assert float((ours - direct).abs().max()) < 0.05


def test_resize_lightness_keeps_the_geometry():
    # On a linear ramp any symmetric filter returns the ramp at the working pixel centres; a result
    # stretched against the photo would drift towards the far edge.
    H, W = 2603, 3107
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    L = (10 + 0.02 * x + 0.01 * y).astype(np.float32)
    w, h = 256, 214
    ours = resize_lightness(L, (w, h))[0, 0].double()
    cx = (np.arange(w) + 0.5) * W / w - 0.5
    cy = (np.arange(h) + 0.5) * H / h - 0.5
    expected = torch.from_numpy(10 + 0.02 * cx[None, :] + 0.01 * cy[:, None])
    inner = (slice(3, -3), slice(3, -3))  # away from the borders, where the filter is truncated
    assert float((ours[inner] - expected[inner]).abs().max()) < 0.01


def test_resize_lightness_at_the_same_size_is_a_view():
    L = textured_lightness(30, 40)
    out = resize_lightness(L, (40, 30))
    assert out.shape == (1, 1, 30, 40) and np.array_equal(out[0, 0].numpy(), L)
