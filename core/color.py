"""Colour maths: sRGB <-> CIE Lab (D65) on torch tensors, and the network normalisation constants.

Conversions take tensors shaped ``(*, 3, H, W)`` with sRGB in [0, 1] and Lab with L in [0, 100]
and a, b roughly in [-128, 127]; they match ``skimage.color.rgb2lab`` / ``lab2rgb``.
"""

from __future__ import annotations

import numpy as np
import torch

# Network normalisation (one place for the whole project): the colorization sub-net reads
# (L - L_CENTER) / L_NORM and ab / AB_NORM, and writes ab / AB_NORM.
L_CENTER = 50.0
L_NORM = 100.0
AB_NORM = 110.0

# ImageNet statistics used by the frozen encoders (RGB in [0, 1]).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# D65 white point and the sRGB primaries.
_WHITE = (0.95047, 1.0, 1.08883)
_RGB_TO_XYZ = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_XYZ_TO_RGB = tuple(map(tuple, np.linalg.inv(np.asarray(_RGB_TO_XYZ)).tolist()))
_EPS = 0.008856  # (6/29)^3
_KAPPA = 7.787  # (29/6)^2 / 3


def _check_shape(image: torch.Tensor) -> None:
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"expected a torch.Tensor, got {type(image).__name__}")
    if image.dim() < 3 or image.shape[-3] != 3:
        raise ValueError(f"expected a tensor shaped (*, 3, H, W), got {tuple(image.shape)}")


def _matrix(rows, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(rows, dtype=like.dtype, device=like.device)


def _apply_matrix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,...jhw->...ihw", matrix, image)


def srgb_to_linear(rgb: torch.Tensor) -> torch.Tensor:
    return torch.where(rgb > 0.04045, ((rgb.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4, rgb / 12.92)


def linear_to_srgb(rgb: torch.Tensor) -> torch.Tensor:
    safe = rgb.clamp(min=0.0031308)
    return torch.where(rgb > 0.0031308, 1.055 * safe ** (1 / 2.4) - 0.055, rgb * 12.92)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1], shaped (*, 3, H, W) -> Lab, same shape."""
    _check_shape(rgb)
    xyz = _apply_matrix(_matrix(_RGB_TO_XYZ, rgb), srgb_to_linear(rgb))
    white = _matrix(_WHITE, rgb).view(3, 1, 1)
    xyz = xyz / white
    f = torch.where(xyz > _EPS, xyz.clamp(min=_EPS) ** (1 / 3), _KAPPA * xyz + 16 / 116)
    fx, fy, fz = f.unbind(-3)
    L = 116 * fy - 16
    # skimage computes L from the unclipped cube root only above eps, like here; below it, the
    # linear branch gives L = 903.3 * y, which the expression above reproduces.
    a = 500 * (fx - fy)
    b = 200 * (fy - fz)
    return torch.stack((L, a, b), dim=-3)


def lab_to_rgb(lab: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """Lab shaped (*, 3, H, W) -> sRGB in [0, 1] (clipped unless ``clip=False``)."""
    _check_shape(lab)
    L, a, b = lab.unbind(-3)
    fy = (L + 16) / 116
    fx = fy + a / 500
    fz = (fy - b / 200).clamp(min=0)
    f = torch.stack((fx, fy, fz), dim=-3)
    xyz = torch.where(f > 0.2068966, f.clamp(min=0) ** 3, (f - 16 / 116) / _KAPPA)
    white = _matrix(_WHITE, lab).view(3, 1, 1)
    linear = _apply_matrix(_matrix(_XYZ_TO_RGB, lab), xyz * white)
    rgb = linear_to_srgb(linear)
    return rgb.clamp(0, 1) if clip else rgb


def normalize_l(L: torch.Tensor) -> torch.Tensor:
    return (L - L_CENTER) / L_NORM


def unnormalize_l(L: torch.Tensor) -> torch.Tensor:
    return L * L_NORM + L_CENTER


def normalize_ab(ab: torch.Tensor) -> torch.Tensor:
    return ab / AB_NORM


def unnormalize_ab(ab: torch.Tensor) -> torch.Tensor:
    return ab * AB_NORM


def gray_lut(bit_depth: int) -> np.ndarray:
    """Lab lightness of every grey level of an ``bit_depth``-bit image (float32 lookup table).

    Turning a grey photo into L through this table is exact and costs one byte-per-pixel lookup,
    so a 24-megapixel scan never needs a float RGB copy.
    """
    if bit_depth not in (8, 16):
        raise ValueError(f"bit depth must be 8 or 16, got {bit_depth}")
    levels = torch.linspace(0, 1, 2**bit_depth, dtype=torch.float64)
    linear = srgb_to_linear(levels)
    # For grey, X/Xn = Y/Yn = Z/Zn = linear value (the primaries' rows sum to the white point).
    y = linear
    f = torch.where(y > _EPS, y.clamp(min=_EPS) ** (1 / 3), _KAPPA * y + 16 / 116)
    return (116 * f - 16).to(torch.float32).numpy()


def lightness_of_rgb(rgb: np.ndarray, bit_depth: int) -> np.ndarray:
    """Lab L of an integer sRGB image (H, W, 3) as float32 (H, W), computed in row strips."""
    out = np.empty(rgb.shape[:2], dtype=np.float32)
    weights = np.asarray(_RGB_TO_XYZ[1], dtype=np.float32)
    lut = srgb_to_linear(torch.linspace(0, 1, 2**bit_depth)).numpy().astype(np.float32)
    step = max(1, 2_000_000 // max(1, rgb.shape[1]))
    for top in range(0, rgb.shape[0], step):
        strip = lut[rgb[top : top + step]]  # linear RGB
        y = strip @ weights
        f = np.where(y > _EPS, np.cbrt(np.maximum(y, _EPS)), _KAPPA * y + 16 / 116)
        out[top : top + step] = 116 * f - 16
    return out


def ab_gamut_mask(L: float, resolution: int = 64, ab_range: float = 110.0) -> np.ndarray:
    """Boolean (resolution, resolution) grid: which (a, b) are displayable sRGB at lightness L.

    Row i is b from +ab_range (top) to -ab_range (bottom); column j is a from -ab_range to +ab_range.
    """
    axis = torch.linspace(-ab_range, ab_range, resolution, dtype=torch.float64)
    b, a = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    lab = torch.stack((torch.full_like(a, float(L)), a, b))
    rgb = lab_to_rgb(lab, clip=False)
    inside = ((rgb >= -1e-6) & (rgb <= 1 + 1e-6)).all(dim=0)
    return inside.numpy()


def snap_ab_to_gamut(L: torch.Tensor, ab: torch.Tensor, steps: int = 12) -> torch.Tensor:
    """Scale each ab towards grey, keeping its hue, until (L, ab) is displayable sRGB.

    ``L`` is shaped (*, 1, H, W) or broadcastable, ``ab`` (*, 2, H, W). Colours already in gamut are
    returned unchanged; others move to the most saturated in-gamut colour of the same hue (bisection).
    """
    L = L.to(ab.dtype)

    def inside(scale: torch.Tensor) -> torch.Tensor:
        lab = torch.cat((L.expand_as(ab[..., :1, :, :]), ab * scale), dim=-3)
        rgb = lab_to_rgb(lab, clip=False)
        return ((rgb >= -1e-4) & (rgb <= 1 + 1e-4)).all(dim=-3, keepdim=True)

    ones = torch.ones_like(ab[..., :1, :, :])
    ok = inside(ones)
    if bool(ok.all()):
        return ab
    low = torch.zeros_like(ones)
    high = ones.clone()
    for _ in range(steps):
        mid = (low + high) / 2
        good = inside(mid)
        low = torch.where(good, mid, low)
        high = torch.where(good, high, mid)
    return torch.where(ok, ab, ab * low)


DEFAULT_LIGHTNESS = 60.0  # the lightness a colour is shown at when no pixel of the photo is chosen


def ab_plane_rgba(L: float, resolution: int = 96, ab_range: float = 110.0) -> np.ndarray:
    """The ideepcolor-style gamut view: (resolution, resolution, 4) uint8 of every (a, b) at lightness
    L, transparent where the colour is not displayable. Rows run b from +range (top) to -range, columns
    a from -range to +range (the layout of :func:`ab_gamut_mask`)."""
    inside = ab_gamut_mask(L, resolution, ab_range)
    axis = torch.linspace(-ab_range, ab_range, resolution, dtype=torch.float64)
    b, a = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    rgb = lab_to_rgb(torch.stack((torch.full_like(a, float(L)), a, b))).clamp(0, 1)
    out = np.zeros((resolution, resolution, 4), dtype=np.uint8)
    out[..., :3] = (rgb.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    out[..., 3] = np.where(inside, 255, 0)
    return out
