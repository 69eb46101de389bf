"""Colour hints: what the user pins, rasterised into the ab + mask planes the colorization sub-net reads."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from core.color import lab_to_rgb, rgb_to_lab, snap_ab_to_gamut
from core.edit import MAX_HINT_RADIUS, Hint

MAX_RADIUS = MAX_HINT_RADIUS


def rgb_to_ab(rgb: Sequence[int] | str) -> tuple[float, float]:
    """The Lab chroma (a, b) of an sRGB colour (0-255 triple or '#rrggbb')."""
    r, g, b = parse_rgb(rgb)
    lab = rgb_to_lab(torch.tensor([r, g, b], dtype=torch.float64).view(3, 1, 1) / 255.0)
    return float(lab[1, 0, 0]), float(lab[2, 0, 0])


def parse_rgb(value: Sequence[int] | str) -> tuple[int, int, int]:
    """'#rrggbb', 'rrggbb' or an (r, g, b) triple of 0-255 integers."""
    if isinstance(value, str):
        text = value.strip().lstrip("#")
        if len(text) != 6:
            raise ValueError(f"colour {value!r} is not of the form #RRGGBB")
        try:
            return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
        except ValueError:
            raise ValueError(f"colour {value!r} is not of the form #RRGGBB") from None
    r, g, b = (int(v) for v in value)
    if not all(0 <= v <= 255 for v in (r, g, b)):
        raise ValueError(f"colour {tuple(value)!r} has components outside 0-255")
    return r, g, b


def hint_on_photo(hint: Hint, size: tuple[int, int]) -> bool:
    """True when the hint's point lies on a photo of ``size`` (width, height): its pixel exists."""
    width, height = size
    return -0.5 <= hint.x < width - 0.5 and -0.5 <= hint.y < height - 0.5


# -- colour helpers for the picker (scalar colours; re-exported by core.api) -----------------------
def ab_to_rgb8(L: float, ab: Sequence[float]) -> tuple[int, int, int]:
    """The sRGB colour (0-255) of one Lab value, clipped into the displayable range."""
    lab = torch.tensor([float(L), float(ab[0]), float(ab[1])], dtype=torch.float64).view(3, 1, 1)
    rgb = lab_to_rgb(lab)[:, 0, 0].clamp(0, 1)
    return tuple(int(v * 255 + 0.5) for v in rgb.tolist())


def rgb8_to_ab(rgb: Sequence[int]) -> tuple[float, float]:
    """The Lab chroma (a, b) of an sRGB colour; only the chroma becomes a hint."""
    return rgb_to_ab(tuple(rgb))


def snap_ab(L: float, ab: Sequence[float]) -> tuple[float, float]:
    """(a, b) moved towards grey, hue kept, until it is displayable at lightness L."""
    return snap_hint_to_gamut(Hint(0, 0, (float(ab[0]), float(ab[1]))), L).ab


def working_centre(hint: Hint, original_size: tuple[int, int], working_size: tuple[int, int]) -> tuple[float, float]:
    """Where ``hint``'s pixel centre falls at the working size, (x, y) in working pixels (sizes are
    (width, height)): x_work = (x + 0.5) * w / W - 0.5. Its pixel is floor(c + 0.5) of each."""
    (W, H), (w, h) = original_size, working_size
    return (hint.x + 0.5) * w / W - 0.5, (hint.y + 0.5) * h / H - 0.5


def rasterize_hints(
    hints: Iterable[Hint],
    original_size: tuple[int, int],
    working_size: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hints in original-photo pixels -> (ab (2, h, w), mask (1, h, w)) at the working size.

    ``original_size`` and ``working_size`` are (width, height). Pixel centres map by
    x_work = (x + 0.5) * w / W - 0.5; later hints win where patches overlap.
    """
    W, H = original_size
    w, h = working_size
    ab = torch.zeros(2, h, w)
    mask = torch.zeros(1, h, w)
    sx, sy = w / W, h / H
    for hint in hints:
        cx, cy = working_centre(hint, original_size, working_size)
        rx, ry = hint.radius * sx, hint.radius * sy
        x0, x1 = int(np.floor(cx - rx + 0.5)), int(np.floor(cx + rx + 0.5))
        y0, y1 = int(np.floor(cy - ry + 0.5)), int(np.floor(cy + ry + 0.5))
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, w - 1), min(y1, h - 1)
        if x0 > x1 or y0 > y1:
            continue  # outside the photo
        ab[0, y0 : y1 + 1, x0 : x1 + 1] = hint.ab[0]
        ab[1, y0 : y1 + 1, x0 : x1 + 1] = hint.ab[1]
        mask[0, y0 : y1 + 1, x0 : x1 + 1] = 1.0
    return ab, mask


def sample_hints_from_ab(
    ab: torch.Tensor,
    density: float,
    seed: int = 0,
    patch: int = 3,
    L: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sparse hints drawn from a dense ab map (2, h, w): ``density`` = share of pixels that become
    patch centres (seeded); each patch takes the mean ab under it. Returns (ab planes, mask).

    With ``L`` given, low-chroma samples in very dark or bright areas are skipped (their colour is
    noise there).
    """
    if ab.dim() != 3 or ab.shape[0] != 2:
        raise ValueError(f"ab must be shaped (2, H, W), got {tuple(ab.shape)}")
    _, h, w = ab.shape
    count = int(round(density * h * w))
    out_ab = torch.zeros_like(ab)
    mask = torch.zeros(1, h, w, dtype=ab.dtype, device=ab.device)
    if count <= 0:
        return out_ab, mask
    rng = np.random.default_rng(seed)
    ys = rng.integers(0, h, size=count)
    xs = rng.integers(0, w, size=count)
    half = patch // 2
    pooled = torch.nn.functional.avg_pool2d(ab[None], patch, stride=1, padding=half, count_include_pad=False)[0]
    keep = torch.ones(count, dtype=torch.bool)
    if L is not None:
        lum = L.reshape(-1, h, w)[0][ys, xs]
        keep = (lum > 3) & (lum < 97)
    for y, x, k in zip(ys.tolist(), xs.tolist(), keep.tolist()):
        if not k:
            continue
        y0, y1, x0, x1 = max(y - half, 0), min(y + half + 1, h), max(x - half, 0), min(x + half + 1, w)
        out_ab[:, y0:y1, x0:x1] = pooled[:, y, x, None, None]
        mask[:, y0:y1, x0:x1] = 1.0
    return out_ab, mask


def snap_hint_to_gamut(hint: Hint, lightness: float) -> Hint:
    """The same hint with its colour moved, hue kept, into the gamut displayable at ``lightness``."""
    L = torch.tensor([[[float(lightness)]]], dtype=torch.float64)
    ab = torch.tensor(hint.ab, dtype=torch.float64).view(2, 1, 1)
    snapped = snap_ab_to_gamut(L, ab)
    return hint.recoloured((float(snapped[0, 0, 0]), float(snapped[1, 0, 0])), picked=hint.picked)


def push_pull_fill(ab: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Spread sparse hints over the whole image (push-pull, Gortler et al. 1996).

    ``ab`` (N, 2, H, W) is valid where ``mask`` (N, 1, H, W) is 1. Push: sum-pool colour and weight
    down an image pyramid; pull: from the coarsest level back up, keep a level's own estimate where
    it has weight and take the coarser (smooth) estimate elsewhere. Pixels under hints keep their
    colour; an image without hints stays zero. Costs a few pooling passes, even for many hints.
    """
    if ab.dim() != 4 or ab.shape[1] != 2 or mask.shape[1] != 1:
        raise ValueError(f"expected ab (N, 2, H, W) and mask (N, 1, H, W), got {tuple(ab.shape)} and {tuple(mask.shape)}")
    values, weights = [ab * mask], [mask]
    while min(values[-1].shape[2:]) > 1:
        values.append(F.avg_pool2d(values[-1], 2, ceil_mode=True) * 4)
        weights.append(F.avg_pool2d(weights[-1], 2, ceil_mode=True) * 4)
    filled = values[-1] / weights[-1].clamp(min=eps)
    for value, weight in zip(reversed(values[:-1]), reversed(weights[:-1])):
        coarse = F.interpolate(filled, size=value.shape[2:], mode="bilinear", align_corners=False)
        confidence = weight.clamp(max=1.0)
        filled = confidence * (value / weight.clamp(min=eps)) + (1 - confidence) * coarse
    return filled
