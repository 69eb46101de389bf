"""Edge-aware propagation of colour hints: the domain transform's recursive filter (Gastal & Oliveira
2011), steered by the photo's lightness.

The domain transform maps each row (and column) of the photo to a line on which neighbouring pixels
lie ``1 + (sigma_s / sigma_r) * |dL|`` apart, so a lightness edge is a long way to travel. A first-order
recursive filter run forwards and backwards along that line has an exponential kernel in the
transformed distance: what it spreads fades with distance and all but stops at lightness edges.
Alternating horizontal and vertical passes, with the kernel narrowed at each iteration, makes it
isotropic enough.

Everything that depends only on the lightness (the feedback coefficient between every pair of
neighbours, for every pass) is computed once by ``edge_weights``; each click then costs only the
filter sweeps (``edge_aware_filter``). On top of the filter:

    propagate(values, mask, weights, prior)  normalized convolution: the hints spread along the
                                             photo's regions, with ``prior`` where none reaches
    influence(centres, weights)              how much each pixel belongs to the hints clicked at
                                             ``centres`` (1 at a hint on flat ground, fading away)

Arrays are numpy float32; the lightness is (H, W) in [0, 100], values (C, H, W).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

DEFAULT_SIGMA_S = 64.0  # spatial reach in working pixels (the kernel's standard deviation on flat ground)
DEFAULT_SIGMA_R = 6.0  # lightness step (L units) that costs as much as sigma_s pixels of travel
DEFAULT_ITERATIONS = 3
DEFAULT_SIGMA_GUIDE = 50.0  # the same for a guide's channels (e.g. ab units of the automatic colours)


@dataclass(frozen=True, eq=False)
class EdgeWeights:
    """The recursive filter's feedback coefficients for one lightness image; reuse between clicks.

    ``horizontal[i]`` is (W, 1, H): the weight linking column x - 1 to column x for iteration i
    (row 0 unused); ``vertical[i]`` is (H, 1, W), linking row y - 1 to row y. Laid out with the swept
    axis first so that every step of a sweep reads contiguous memory.
    """

    horizontal: tuple[np.ndarray, ...]
    vertical: tuple[np.ndarray, ...]
    sigma_s: float
    sigma_r: float

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the lightness the weights describe."""
        return self.vertical[0].shape[0], self.horizontal[0].shape[0]


def _iteration_sigmas(sigma_s: float, iterations: int) -> list[float]:
    """Per-iteration kernel widths whose combined variance is sigma_s^2 (Gastal & Oliveira, eq. 14)."""
    norm = math.sqrt(4**iterations - 1)
    return [sigma_s * math.sqrt(3) * 2 ** (iterations - i - 1) / norm for i in range(iterations)]


def edge_weights(
    L: np.ndarray,
    sigma_s: float = DEFAULT_SIGMA_S,
    sigma_r: float = DEFAULT_SIGMA_R,
    iterations: int = DEFAULT_ITERATIONS,
    guide: np.ndarray | None = None,
    sigma_guide: float = DEFAULT_SIGMA_GUIDE,
) -> EdgeWeights:
    """The feedback coefficients ``a ** d`` between neighbours of lightness ``L`` (H, W) in [0, 100],
    with ``d = 1 + sigma_s / sigma_r * |dL|`` the domain-transform distance and ``a = exp(-sqrt(2) /
    sigma_i)`` for each iteration's kernel width.

    ``guide`` (C, H, W), e.g. the automatic colours, adds ``sigma_s / sigma_guide * sum_c |dguide_c|``
    to the distance, so boundaries the lightness does not show (a red flower among green leaves of
    the same lightness) can still stop the spread."""
    L = np.asarray(L, dtype=np.float32)
    if L.ndim != 2 or min(L.shape) < 1:
        raise ValueError(f"lightness must be shaped (H, W), got {L.shape}")
    if sigma_s <= 0 or sigma_r <= 0 or sigma_guide <= 0:
        raise ValueError(f"sigmas must be positive, got {sigma_s}, {sigma_r} and {sigma_guide}")
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, got {iterations}")
    ratio = sigma_s / sigma_r
    dx = np.zeros_like(L)
    dy = np.zeros_like(L)
    dx[:, 1:] = 1 + ratio * np.abs(np.diff(L, axis=1))
    dy[1:, :] = 1 + ratio * np.abs(np.diff(L, axis=0))
    if guide is not None:
        guide = np.asarray(guide, dtype=np.float32)
        if guide.ndim != 3 or guide.shape[1:] != L.shape:
            raise ValueError(f"guide must be shaped (C, {L.shape[0]}, {L.shape[1]}), got {guide.shape}")
        guide_ratio = sigma_s / sigma_guide
        dx[:, 1:] += guide_ratio * np.abs(np.diff(guide, axis=2)).sum(axis=0)
        dy[1:, :] += guide_ratio * np.abs(np.diff(guide, axis=1)).sum(axis=0)
    horizontal, vertical = [], []
    for sigma in _iteration_sigmas(sigma_s, iterations):
        log_a = -math.sqrt(2) / sigma
        horizontal.append(np.ascontiguousarray(np.exp(log_a * dx).T[:, None, :]))
        vertical.append(np.ascontiguousarray(np.exp(log_a * dy)[:, None, :]))
    return EdgeWeights(tuple(horizontal), tuple(vertical), float(sigma_s), float(sigma_r))


def _sweep(lines: np.ndarray, weights: np.ndarray) -> None:
    """Forward then backward first-order recursion along axis 0, in place:
    y[n] = (1 - w[n]) x[n] + w[n] y[n-1], then z[n] = (1 - w[n+1]) y[n] + w[n+1] z[n+1].

    The (1 - w) x terms are one vectorised product, so each step is two small numpy calls. With
    several channels the weights are first spread over them, so that every step multiplies two
    contiguous rows (numpy's broadcasting loop is slower than the copy)."""
    if lines.shape[1] > 1:
        steps = lines.shape[0]
        lines = lines.reshape(steps, -1)  # a view: the caller's array is updated
        weights = np.ascontiguousarray(np.broadcast_to(weights, (steps, lines.shape[1] // weights.shape[2], weights.shape[2]))).reshape(steps, -1)
    scratch = np.empty(lines.shape[1:], dtype=lines.dtype)
    lines[1:] *= 1.0 - weights[1:]
    for n in range(1, lines.shape[0]):
        np.multiply(lines[n - 1], weights[n], out=scratch)
        lines[n] += scratch
    lines[:-1] *= 1.0 - weights[1:]
    for n in range(lines.shape[0] - 2, -1, -1):
        np.multiply(lines[n + 1], weights[n + 1], out=scratch)
        lines[n] += scratch


def edge_aware_filter(values: np.ndarray, weights: EdgeWeights) -> np.ndarray:
    """The recursive edge-aware filter applied to ``values`` (C, H, W); returns a new float32 array.

    Linear in ``values`` and constant-preserving: a flat image comes back unchanged."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 3 or values.shape[1:] != weights.shape:
        raise ValueError(f"values must be shaped (C, {weights.shape[0]}, {weights.shape[1]}), got {values.shape}")
    out = np.ascontiguousarray(values.transpose(2, 0, 1))  # (W, C, H): sweep along x
    for i, (horizontal, vertical) in enumerate(zip(weights.horizontal, weights.vertical)):
        if i:
            out = np.ascontiguousarray(out.transpose(2, 1, 0))  # back to (W, C, H)
        _sweep(out, horizontal)
        out = np.ascontiguousarray(out.transpose(2, 1, 0))  # (H, C, W): sweep along y
        _sweep(out, vertical)
    # (H, C, W) -> (C, H, W) moves whole rows: far cheaper than the transposes between sweeps.
    return np.ascontiguousarray(out.transpose(1, 0, 2))


@lru_cache(maxsize=32)
def _impulse_peak(height: int, width: int, sigma_s: float, iterations: int) -> float:
    """The filter's response at the centre of a one-pixel impulse on flat ground (far from borders);
    with constant weights the passes are separable, so two 1-D runs give it."""

    def peak_1d(size: int) -> float:
        size = max(size, 1)
        line = np.zeros((size, 1, 1), dtype=np.float64)
        line[size // 2] = 1.0
        for sigma in _iteration_sigmas(sigma_s, iterations):
            _sweep(line, np.full((size, 1, 1), math.exp(-math.sqrt(2) / sigma)))
        return float(line[size // 2, 0, 0])

    return peak_1d(2 * width + 1) * peak_1d(2 * height + 1)


def propagate(
    values: np.ndarray,
    mask: np.ndarray,
    weights: EdgeWeights,
    prior: np.ndarray | None = None,
    prior_weight: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray]:
    """Spread ``values`` (C, H, W), known where ``mask`` (1, H, W) is 1, along the photo's regions.

    Normalized convolution with the edge-aware kernel K: ``filled = (K*(v m) + e p) / (K*m + e)``,
    where ``e`` is ``prior_weight`` times a lone pixel hint's own response, so a pixel the hints
    barely reach takes ``prior`` (C, H, W; zero if None). Also returns the hints' support
    ``K*m / (K*m + e)`` (1, H, W) in [0, 1]. Pixels under the mask keep (nearly) their values.
    """
    values = np.asarray(values, dtype=np.float32)
    mask = np.asarray(mask, dtype=np.float32)
    if mask.ndim != 3 or mask.shape[0] != 1 or values.ndim != 3 or values.shape[1:] != mask.shape[1:]:
        raise ValueError(f"expected values (C, H, W) and mask (1, H, W), got {values.shape} and {mask.shape}")
    if prior is not None and np.shape(prior) != values.shape:
        raise ValueError(f"prior must be shaped like values {values.shape}, got {np.shape(prior)}")
    channels = values.shape[0]
    filtered = edge_aware_filter(np.concatenate((values * mask, mask)), weights)
    spread, density = filtered[:channels], np.maximum(filtered[channels:], 0.0)
    eps = prior_weight * _impulse_peak(*weights.shape, weights.sigma_s, len(weights.horizontal))
    base = 0.0 if prior is None else eps * np.asarray(prior, dtype=np.float32)
    filled = (spread + base) / (density + eps)
    # Under the hints themselves the hint's own value wins outright.
    filled = np.where(mask > 0, values, filled)
    return filled.astype(np.float32), (density / (density + eps)).astype(np.float32)


def influence(
    centres: Sequence[tuple[int, int]], weights: EdgeWeights, strengths: Sequence[float] | None = None
) -> np.ndarray:
    """How far the hints clicked at ``centres`` ((y, x) in working pixels) reach: (H, W) in [0, 1],
    1 at a hint on flat ground, fading with distance and dropping across lightness edges. A hint of
    ``strength`` s (one per centre; 1 by default) counts s times: it reaches 1 further out."""
    height, width = weights.shape
    if strengths is None:
        strengths = [1.0] * len(centres)
    elif len(strengths) != len(centres):
        raise ValueError(f"expected one strength per hint centre, got {len(strengths)} for {len(centres)}")
    impulses = np.zeros((1, height, width), dtype=np.float32)
    for (y, x), strength in zip(centres, strengths):
        if not (0 <= y < height and 0 <= x < width):
            raise ValueError(f"hint centre {(y, x)} lies outside the {height}x{width} image")
        impulses[0, y, x] += strength
    if not centres:
        return impulses[0]
    peak = _impulse_peak(height, width, weights.sigma_s, len(weights.horizontal))
    return np.clip(edge_aware_filter(impulses, weights)[0] / peak, 0.0, 1.0)
