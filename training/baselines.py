"""The contract every scored colorization method meets, and the simple baselines it is judged against.

A method sees only what a user would give the app: the lightness of the photo, optionally a colour
reference photo, and optionally a few colour hints. It answers with the ab planes for every pixel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np
import torch
from skimage.graph import MCP_Geometric

from core.color import rgb_to_lab

# Below this standard deviation (in L units) a lightness channel is treated as flat.
_FLAT_L_STD = 1e-6


@dataclass(frozen=True)
class PatchHint:
    """A user colour hint: the square patch of ``size`` pixels centred on (y, x) should have ``ab``."""

    y: int
    x: int
    ab: tuple[float, float]
    size: int = 3


class Method(Protocol):
    """A colorization method as the evaluation sees it."""

    name: str

    def predict(
        self, L: np.ndarray, reference_rgb: np.ndarray | None, hints: Sequence[PatchHint]
    ) -> np.ndarray:
        """L float32 (H, W) in [0, 100]; reference float32 (h, w, 3) in [0, 1] or None.

        Returns ab as float32 (2, H, W).
        """
        ...


def _lab_of(rgb: np.ndarray) -> np.ndarray:
    """Float RGB (H, W, 3) in [0, 1] -> float64 Lab (3, H, W)."""
    tensor = torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1)
    return rgb_to_lab(tensor).numpy().astype(np.float64)


def _gray_ab(L: np.ndarray) -> np.ndarray:
    return np.zeros((2, *L.shape), dtype=np.float32)


class GrayMethod:
    """Leaves the photo grey (ab = 0): the floor every other method should beat."""

    name = "gray"

    def predict(self, L, reference_rgb, hints):
        return _gray_ab(L)


class NearestHintMethod:
    """Every pixel takes the ab of the nearest hint centre (a Voronoi fill); grey without hints.

    Distances are Euclidean in pixels; a pixel equally near two hints takes the earlier one.
    The reference photo is ignored.
    """

    name = "nearest"

    def predict(self, L, reference_rgb, hints):
        ab = _gray_ab(L)
        if not hints:
            return ab
        rows = np.arange(L.shape[0], dtype=np.float64)[:, None]
        cols = np.arange(L.shape[1], dtype=np.float64)[None, :]
        best = np.full(L.shape, np.inf)
        owner = np.zeros(L.shape, dtype=np.intp)
        for index, hint in enumerate(hints):
            distance = (rows - hint.y) ** 2 + (cols - hint.x) ** 2
            closer = distance < best
            best[closer] = distance[closer]
            owner[closer] = index
        colours = np.asarray([hint.ab for hint in hints], dtype=np.float32)  # (K, 2)
        return np.ascontiguousarray(colours[owner].transpose(2, 0, 1))


class ReinhardMethod:
    """Global Lab statistics transfer (after Reinhard et al. 2001) for a target that has only L.

    Reinhard matches each Lab channel's mean and standard deviation to the reference's. The target's
    L is standardised, z = (L - mean(L)) / std(L), and mapped into the reference's lightness range as
    L' = mean(L_ref) + std(L_ref) * z. With no target colour to rescale, ab is then predicted from L'
    by the reference's own global linear relation between lightness and colour (least squares):

        ab = mean(ab_ref) + cov(L_ref, ab_ref) / std(L_ref) * z

    So the prediction's mean ab equals the reference's exactly, and where light and dark parts of the
    reference differ in colour (blue sky over brown earth) the target follows suit. A flat target or
    reference gets the reference's mean ab everywhere. Without a reference the photo stays grey;
    hints are ignored.
    """

    name = "reinhard"

    def predict(self, L, reference_rgb, hints):
        if reference_rgb is None:
            return _gray_ab(L)
        lab = _lab_of(reference_rgb).reshape(3, -1)
        ref_l, ref_ab = lab[0], lab[1:]
        ref_l_std = ref_l.std()
        mean_ab = ref_ab.mean(axis=1)
        if ref_l_std > _FLAT_L_STD:
            covariance = ((ref_l - ref_l.mean()) * (ref_ab - mean_ab[:, None])).mean(axis=1)
            slope = covariance / ref_l_std
        else:
            slope = np.zeros(2)
        target_l = np.asarray(L, dtype=np.float64)
        target_l_std = target_l.std()
        if target_l_std > _FLAT_L_STD:
            z = (target_l - target_l.mean()) / target_l_std
        else:
            z = np.zeros_like(target_l)
        ab = mean_ab[:, None, None] + slope[:, None, None] * z[None]
        return ab.astype(np.float32)


class GeodesicMethod:
    """Classical edge-aware edit propagation (the An & Pellacini 2008 family), no learning.

    Each hint reaches every pixel with weight ``k = exp(-d / sigma)``, where ``d`` is the geodesic
    distance from the hint's centre: the cheapest path whose step costs ``1 + edge * |grad L|`` pixels
    (Dijkstra, skimage's MCP), so a lightness edge is a long way round. The colour is the weighted mean
    of the hints' colours, faded towards grey where the hints barely reach:

        ab = sum(k_i * ab_i) / (sum(k_i) + floor)

    Grey without hints; the reference photo is ignored.
    """

    name = "geodesic"

    def __init__(self, sigma: float = 64.0, edge: float = 1.0, floor: float = 0.05):
        self.sigma, self.edge, self.floor = sigma, edge, floor

    def predict(self, L, reference_rgb, hints):
        ab = _gray_ab(L)
        if not hints:
            return ab
        grad_y, grad_x = np.gradient(np.asarray(L, dtype=np.float64))
        cost = 1.0 + self.edge * np.hypot(grad_x, grad_y)
        total = np.zeros(L.shape)
        spread = np.zeros((2, *L.shape))
        for hint in hints:
            distance, _ = MCP_Geometric(cost).find_costs([(hint.y, hint.x)])
            weight = np.exp(-distance / self.sigma)
            total += weight
            spread += weight * np.asarray(hint.ab, dtype=np.float64)[:, None, None]
        return (spread / (total + self.floor)).astype(np.float32)


BASELINES: tuple[type, ...] = (GrayMethod, NearestHintMethod, ReinhardMethod, GeodesicMethod)
