"""The user's hints come first: a click recolours the region it lands in, on top of whatever the
pipeline painted without it (automatic colours, or the references' colours).

    weights = user_edit_weights(L)                        # once per photo (depends on L only)
    ab = compose_user_edit(base_ab, hint_ab, hint_mask, centres, weights)

The user's colour change at each hint (hint colour - the colour there without the user's hints) is
spread along the photo's regions by the edge-aware filter (core.propagation) and added to the
colours without the hints, scaled by how far the hints reach: full change where a hint's influence
is at least ``theta``, fading to none beyond. The sub-net never sees the user's hints, so the hints
the references give cannot drown them, and a purple sleeve stays a sleeve.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from core.propagation import EdgeWeights, _impulse_peak, edge_aware_filter, edge_weights, influence

USER_SIGMA_S = 64.0  # reach in working pixels
USER_SIGMA_R = 50.0  # lightness step costing as much as USER_SIGMA_S pixels of travel
USER_THETA = 0.25  # influence at which a hint's change applies in full


def user_edit_weights(L: np.ndarray, sigma_s: float = USER_SIGMA_S, sigma_r: float = USER_SIGMA_R) -> EdgeWeights:
    """The edge weights user edits spread with, for working-size lightness ``L`` (H, W)."""
    return edge_weights(L, sigma_s, sigma_r)


def user_hint_influence(centres: Sequence[tuple[int, int]], weights: EdgeWeights, theta: float = USER_THETA) -> np.ndarray:
    """(H, W) in [0, 1]: 1 where the hints at ``centres`` ((y, x) working pixels) claim the pixel,
    fading to 0 with distance and across lightness edges. Where it is 1, sampled or matched hints
    may step aside."""
    if theta <= 0:
        raise ValueError(f"theta must be positive, got {theta}")
    return np.minimum(1.0, influence(centres, weights) / theta).astype(np.float32)


def compose_user_edit(
    base_ab: np.ndarray,
    hint_ab: np.ndarray,
    hint_mask: np.ndarray,
    centres: Sequence[tuple[int, int]],
    weights: EdgeWeights,
    theta: float = USER_THETA,
) -> np.ndarray:
    """The colours ``base_ab`` (2, H, W) with the user's hints (``hint_ab`` (2, H, W) where
    ``hint_mask`` (1, H, W) is 1, clicked at ``centres``) laid on top; returns float32 (2, H, W).

    One filter pass spreads the changes, their weights and the hints' influence together."""
    base_ab = np.asarray(base_ab, dtype=np.float32)
    hint_ab = np.asarray(hint_ab, dtype=np.float32)
    mask = np.asarray(hint_mask, dtype=np.float32)
    if base_ab.shape != hint_ab.shape or base_ab.ndim != 3 or base_ab.shape[0] != 2:
        raise ValueError(f"expected base and hint ab shaped (2, H, W), got {base_ab.shape} and {hint_ab.shape}")
    if mask.shape != (1, *base_ab.shape[1:]):
        raise ValueError(f"hint mask must be shaped (1, {base_ab.shape[1]}, {base_ab.shape[2]}), got {mask.shape}")
    if theta <= 0:
        raise ValueError(f"theta must be positive, got {theta}")
    if not centres or not mask.any():
        return base_ab.copy()
    height, width = weights.shape
    impulses = np.zeros_like(mask)
    for y, x in centres:
        if not (0 <= y < height and 0 <= x < width):
            raise ValueError(f"hint centre {(y, x)} lies outside the {height}x{width} image")
        impulses[0, y, x] += 1.0
    change = (hint_ab - base_ab) * mask
    filtered = edge_aware_filter(np.concatenate((change, mask, impulses)), weights)
    peak = _impulse_peak(height, width, weights.sigma_s, len(weights.horizontal))
    spread = filtered[:2] / np.maximum(filtered[2:3], 1e-6 * peak)  # normalized convolution, dense
    reach = np.minimum(1.0, np.maximum(filtered[3:4], 0.0) / (peak * theta))
    out = base_ab + spread * reach
    return np.where(mask > 0, hint_ab, out).astype(np.float32)
