"""Hint simulation as in Zhang et al. 2017: a geometric number of square patches whose colour is the
mean ground-truth ab under them, and a share of samples with no hints at all (automatic mode).

``hints_from_ab`` instead samples hints from a dense ab map such as the transfer sub-net's output,
exactly as the app does at inference (``core.hints.sample_hints_from_ab``), so the colorization
sub-net also learns from the imperfect hints it will be given there."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.hints import sample_hints_from_ab


@dataclass(frozen=True)
class HintSimulation:
    no_hint_share: float = 0.2  # samples that learn fully automatic colorization
    geometric_p: float = 1 / 8  # number of patches ~ Geometric(p) when hints are given ...
    dense_share: float = 0.5  # ... or, for this share, log-uniform in [1, max_hints] (many pinned colours)
    max_hints: int = 200
    min_patch: int = 1
    max_patch: int = 9
    reference_size: int = 256  # hint counts are drawn for a photo of this side, then scaled by area


def simulate_hints(
    ab: torch.Tensor, sim: HintSimulation, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """ab (N, 2, H, W) ground truth -> (hint ab, mask), each sample with its own random patches."""
    n, _, h, w = ab.shape
    hint_ab = torch.zeros_like(ab)
    mask = torch.zeros(n, 1, h, w, dtype=ab.dtype)
    area_scale = (h * w) / float(sim.reference_size**2)
    for i in range(n):
        if rng.random() < sim.no_hint_share:
            continue
        if rng.random() < sim.dense_share:
            drawn = float(np.exp(rng.uniform(0.0, np.log(sim.max_hints))))
        else:
            drawn = float(min(rng.geometric(sim.geometric_p), sim.max_hints))
        count = int(drawn * area_scale + rng.random())
        count = max(count, 1)
        sizes = rng.integers(sim.min_patch, sim.max_patch + 1, size=count)
        ys = rng.integers(0, h, size=count)
        xs = rng.integers(0, w, size=count)
        for size, y, x in zip(sizes.tolist(), ys.tolist(), xs.tolist()):
            y0, x0 = max(y - size // 2, 0), max(x - size // 2, 0)
            y1, x1 = min(y0 + size, h), min(x0 + size, w)
            mean = ab[i, :, y0:y1, x0:x1].mean(dim=(1, 2))
            hint_ab[i, :, y0:y1, x0:x1] = mean[:, None, None]
            mask[i, :, y0:y1, x0:x1] = 1.0
    return hint_ab, mask


def hints_from_ab(
    ab: torch.Tensor, L: torch.Tensor, density: float, patch: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense ab (N, 2, H, W), e.g. a transfer result, -> sparse (hint ab, mask) as the app samples them."""
    hint_ab = torch.zeros_like(ab)
    mask = torch.zeros_like(ab[:, :1])
    for i in range(ab.shape[0]):
        seed = int(rng.integers(0, 2**31))
        hint_ab[i], mask[i] = sample_hints_from_ab(ab[i], density, seed, patch, L[i])
    return hint_ab, mask
