"""Edge-aware upsampling of the working-size ab to the photo's full resolution.

The fast guided filter (He & Sun 2015): at working size, fit ab ≈ A·L + B in every small window
(L is the guide), smooth the coefficients, then evaluate A·L_full + B with the coefficients
bilinearly upsampled. Colour edges therefore follow the full-resolution lightness edges instead of
bleeding across them. The full-resolution pass runs in row strips, so a 24-megapixel scan never needs
more than a few full-size float planes, and the original L is used unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from core.color import lab_to_rgb

STRIP_PIXELS = 1_500_000


class Cancelled(Exception):
    """Raised when the caller's ``cancel()`` returns True during a long render."""


def _box(x: torch.Tensor, radius: int) -> torch.Tensor:
    k = 2 * radius + 1
    return F.avg_pool2d(F.pad(x, (radius,) * 4, mode="replicate"), k, stride=1)


@dataclass(frozen=True)
class GuidedCoefficients:
    """ab ≈ A * (L / 100) + B, with A and B (1, 2, h, w) at working size."""

    A: torch.Tensor
    B: torch.Tensor


def fit_guided(L_low: torch.Tensor, ab_low: torch.Tensor, radius: int = 2, eps: float = 2e-3) -> GuidedCoefficients:
    """L_low (1, 1, h, w) in [0, 100] and ab_low (1, 2, h, w) -> smoothed guided-filter coefficients."""
    I = L_low.float() / 100.0
    p = ab_low.float()
    mean_I = _box(I, radius)
    mean_p = _box(p, radius)
    cov_Ip = _box(I * p, radius) - mean_I * mean_p
    var_I = _box(I * I, radius) - mean_I * mean_I
    A = cov_Ip / (var_I + eps)
    B = mean_p - A * mean_I
    return GuidedCoefficients(_box(A, radius), _box(B, radius))


def _interp_weights(out_len: int, in_len: int, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices and weights of align_corners=False bilinear interpolation for output rows start:stop."""
    stop = out_len if stop is None else stop
    pos = (np.arange(start, stop, dtype=np.float64) + 0.5) * (in_len / out_len) - 0.5
    pos = np.clip(pos, 0, in_len - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, in_len - 1)
    return lo, hi, (pos - lo).astype(np.float32)


def _upsample_columns(coef: torch.Tensor, width: int) -> torch.Tensor:
    """(1, C, h, w) -> (C, h, width): interpolate along x only (cheap: h rows)."""
    lo, hi, t = _interp_weights(width, coef.shape[3])
    c = coef[0]
    t_ = torch.from_numpy(t).to(c.device)
    return c[:, :, lo] * (1 - t_) + c[:, :, hi] * t_


def render_strips(
    L_full: np.ndarray,
    coefficients: GuidedCoefficients,
    bit_depth: int = 8,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    keep_in_gamut: bool = True,
) -> np.ndarray:
    """Full-resolution sRGB (H, W, 3) uint8/uint16 from the original L and the guided coefficients."""
    H, W = L_full.shape
    coef = torch.cat((coefficients.A, coefficients.B), dim=1).cpu()  # (1, 4, h, w)
    h = coef.shape[2]
    columns = _upsample_columns(coef, W)  # (4, h, W)
    dtype = np.uint16 if bit_depth == 16 else np.uint8
    scale = 65535.0 if bit_depth == 16 else 255.0
    out = np.empty((H, W, 3), dtype=dtype)
    rows = max(1, STRIP_PIXELS // max(W, 1))
    for top in range(0, H, rows):
        if cancel is not None and cancel():
            raise Cancelled()
        bottom = min(top + rows, H)
        lo, hi, t = _interp_weights(H, h, top, bottom)
        t_ = torch.from_numpy(t)[None, :, None]
        strip = columns[:, lo] * (1 - t_) + columns[:, hi] * t_  # (4, rows, W)
        L = torch.from_numpy(np.ascontiguousarray(L_full[top:bottom]))[None]
        ab = strip[:2] * (L / 100.0) + strip[2:]
        rgb = lab_to_rgb(torch.cat((L, ab), dim=0), clip=False)
        if keep_in_gamut:
            rgb = _pull_into_gamut(L, ab, rgb)
        rgb = rgb.clamp_(0, 1).mul_(scale).add_(0.5)
        out[top:bottom] = rgb.permute(1, 2, 0).numpy().astype(dtype)
        if progress is not None:
            progress(bottom / H)
    return out


def _pull_into_gamut(L: torch.Tensor, ab: torch.Tensor, rgb: torch.Tensor, steps: int = 8) -> torch.Tensor:
    """For pixels whose colour falls outside sRGB, shrink the chroma (hue and L kept) until it fits,
    so that clipping never changes the lightness of the photo."""
    outside = ((rgb < -1e-4) | (rgb > 1 + 1e-4)).any(dim=0)
    if not bool(outside.any()):
        return rgb
    idx = outside.nonzero(as_tuple=True)
    L_o = L[0][idx]
    ab_o = ab[:, idx[0], idx[1]]
    low = torch.zeros_like(L_o)
    high = torch.ones_like(L_o)
    for _ in range(steps):
        mid = (low + high) / 2
        lab = torch.stack((L_o, ab_o[0] * mid, ab_o[1] * mid))[:, :, None]
        test = lab_to_rgb(lab, clip=False)[:, :, 0]
        good = ((test >= -1e-4) & (test <= 1 + 1e-4)).all(dim=0)
        low = torch.where(good, mid, low)
        high = torch.where(good, high, mid)
    lab = torch.stack((L_o, ab_o[0] * low, ab_o[1] * low))[:, :, None]
    rgb[:, idx[0], idx[1]] = lab_to_rgb(lab, clip=False)[:, :, 0]
    return rgb


def resize_lightness(L_full: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """Antialiased resize of the full-resolution L (H, W) to ``size`` = (w, h) -> (1, 1, h, w).

    Torch's antialiased bilinear resize is separable and reads the float32 plane in place, so even a
    24-megapixel scan needs only an (H, w) intermediate. (An integer box pre-shrink would have to
    crop the rows and columns that do not fill a box, which stretches the result against the photo
    by up to a working pixel at the far edges.)
    """
    H, W = L_full.shape
    w, h = size
    tensor = torch.from_numpy(np.ascontiguousarray(L_full, dtype=np.float32))[None, None]
    if (w, h) == (W, H):
        return tensor
    return F.interpolate(tensor, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
