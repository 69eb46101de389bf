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
from core.user_edit import reach_theta, user_edit_weights, user_hint_influence, user_hint_planes

# Simulated claims are spread on the lightness alone (training batches carry no semantic guide),
# with the lightness edges as strong as the app's were before it had the guide: 64 working pixels
# per 50 L units.
CLAIM_SIGMA_S, CLAIM_SIGMA_R = 64.0, 50.0


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


@dataclass(frozen=True)
class UserHintSimulation:
    """What the user's hint channel of a ``ColorNet(user_hints=True)`` is trained on.

    Of the samples with hints, ``user_share`` get hints of the user: with ``recolour_share`` of
    those the user recolours a region (a connected patch of similar colour around a random seed gets
    a new colour of random hue, in the target too, and one to three hints of it land inside), else
    the user pins true colours. The sampled hints step aside inside a recoloured region, as the
    pipeline's do inside a user's claim, and are dropped for ``alone_share`` of the user's samples.
    So the net learns to carry a user's colour over its region, and no further, whatever its hue."""

    user_share: float = 0.5
    recolour_share: float = 0.5
    alone_share: float = 0.5
    region_share: tuple[float, float] = (0.02, 0.5)  # of the crop's area
    tolerance: float = 14.0  # Lab distance from the seed's (3 x 3 mean) colour that joins its region
    chroma: tuple[float, float] = (20.0, 60.0)
    min_shift: float = 30.0  # ab distance of the new colour from the region's own
    texture: float = 0.5  # share of the region's own ab variation the recoloured target keeps
    seeds: int = 6  # seeds tried for a region before giving up (plain user hints then)


def _smoothed(lab: np.ndarray) -> np.ndarray:
    from scipy.ndimage import uniform_filter

    return uniform_filter(lab, size=(1, 3, 3), mode="nearest")


def recolour_region(lab: np.ndarray, sim: UserHintSimulation, rng: np.random.Generator) -> np.ndarray | None:
    """A boolean (H, W) region around a random seed: the connected pixels within ``sim.tolerance``
    of the seed's (3 x 3 mean) colour, holes filled, its area within ``sim.region_share``; None when
    no seed gives one."""
    from scipy.ndimage import binary_fill_holes, label

    smooth = _smoothed(lab)
    _, h, w = lab.shape
    low, high = sim.region_share[0] * h * w, sim.region_share[1] * h * w
    for _ in range(sim.seeds):
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        near = np.sqrt(((lab - smooth[:, y, x, None, None]) ** 2).sum(0)) < sim.tolerance
        labels, _ = label(near)
        region = binary_fill_holes(labels == labels[y, x])
        if low <= region.sum() <= high:
            return region
    return None


def new_region_colour(ab: np.ndarray, region: np.ndarray, L_mean: float, sim: UserHintSimulation, rng: np.random.Generator) -> np.ndarray:
    """An ab colour of random hue at least ``sim.min_shift`` from the region's mean, its chroma
    lowered for very dark or very light regions (which cannot hold much colour)."""
    own = ab[:, region].mean(axis=1)
    room = min(1.0, max(L_mean, 5.0) / 30.0, max(100.0 - L_mean, 5.0) / 20.0)
    for _ in range(20):
        hue = rng.uniform(0, 2 * np.pi)
        chroma = rng.uniform(*sim.chroma) * room
        colour = np.array([chroma * np.cos(hue), chroma * np.sin(hue)], dtype=np.float32)
        if np.linalg.norm(colour - own) >= sim.min_shift * room:
            return colour
    return colour


def _patches_inside(region: np.ndarray, count: int, hint: HintSimulation, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """Up to ``count`` squares (y0, y1, x0, x1) centred on region pixels, clipped to it."""
    ys, xs = np.nonzero(region)
    picks = rng.integers(0, len(ys), size=count)
    boxes = []
    for pick in picks.tolist():
        size = int(rng.integers(hint.min_patch, min(hint.max_patch, 5) + 1))
        y, x = int(ys[pick]), int(xs[pick])
        y0, x0 = max(y - size // 2, 0), max(x - size // 2, 0)
        boxes.append((y0, y0 + size, x0, x0 + size))
    return boxes


def simulate_user_hints(
    lab: torch.Tensor,
    hint_ab: torch.Tensor,
    mask: torch.Tensor,
    hint: HintSimulation,
    sim: UserHintSimulation,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split a batch's simulated hints into sampled and user hints, recolouring regions for some.

    ``lab`` (N, 3, H, W) truth; ``hint_ab``/``mask`` the sampled hints of :func:`simulate_hints`.
    Returns (target ab, hint ab, mask, user ab, user mask): the target differs from the truth only
    inside recoloured regions."""
    target = lab[:, 1:].clone()
    hint_ab, mask = hint_ab.clone(), mask.clone()
    user_ab, user_mask = torch.zeros_like(hint_ab), torch.zeros_like(mask)
    plain = HintSimulation(**{**hint.__dict__, "no_hint_share": 0.0})
    for i in range(lab.shape[0]):
        if not bool(mask[i].any()) or rng.random() >= sim.user_share:
            continue
        region = recolour_region(lab[i].numpy(), sim, rng) if rng.random() < sim.recolour_share else None
        if region is not None:
            inside = torch.from_numpy(region)
            colour = new_region_colour(target[i].numpy(), region, float(lab[i, 0][inside].mean()), sim, rng)
            own = target[i][:, inside].mean(dim=1, keepdim=True)
            target[i][:, inside] = torch.from_numpy(colour)[:, None] + sim.texture * (target[i][:, inside] - own)
            for y0, y1, x0, x1 in _patches_inside(region, int(rng.integers(1, 4)), hint, rng):
                under = inside[y0:y1, x0:x1]
                patch = target[i, :, y0:y1, x0:x1]
                user_ab[i, :, y0:y1, x0:x1] = torch.where(under, patch[:, under].mean(dim=1)[:, None, None], 0.0)
                user_mask[i, :, y0:y1, x0:x1] = under.to(mask.dtype)
            mask[i] = mask[i] * (~inside).to(mask.dtype)  # sampled hints step aside in the user's region
            hint_ab[i] = hint_ab[i] * mask[i]
        else:
            user_ab[i : i + 1], user_mask[i : i + 1] = simulate_hints(target[i : i + 1], plain, rng)
        if rng.random() < sim.alone_share:
            hint_ab[i].zero_()
            mask[i].zero_()
    return target, hint_ab, mask, user_ab, user_mask


def user_hint_inputs(
    L: torch.Tensor,
    user_ab: torch.Tensor,
    user_mask: torch.Tensor,
    rng: np.random.Generator,
    reach: tuple[float, float] = (0.0, 1.0),
    regions: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The simulated user's hints as a user-hint net reads them (core.user_edit.user_hint_planes,
    as the pipeline gives them): (colour (N, 2, H, W), claim (N, 1, H, W)). Each connected patch of
    ``user_mask`` is one click at its centre; each sample's clicks get one reach drawn from ``reach``
    (the hint panel's slider), so the net learns what a claim of any reach means. With ``regions``
    the claims also fill the regions of the lightness they reach, as the app's claims do (there
    without the semantic guide, which training batches do not carry); without, the claims end where
    the edge-aware spread fades, as the shipped sub-net was trained."""
    from scipy.ndimage import center_of_mass, label

    colour, claim = torch.zeros_like(user_ab), torch.zeros_like(user_mask)
    for i in range(L.shape[0]):
        pinned = user_mask[i, 0].numpy() > 0
        if not pinned.any():
            continue
        labels, count = label(pinned)
        centres = [(int(round(y)), int(round(x))) for y, x in center_of_mass(pinned, labels, range(1, count + 1))]
        weights = user_edit_weights(L[i, 0].float().numpy(), sigma_s=CLAIM_SIGMA_S, sigma_r=CLAIM_SIGMA_R, regions=regions)
        influence = user_hint_influence(centres, weights, reach_theta(float(rng.uniform(*reach))))
        spread, claimed = user_hint_planes(user_ab[i].float().numpy(), user_mask[i].float().numpy(), weights, influence)
        colour[i], claim[i, 0] = torch.from_numpy(spread), torch.from_numpy(claimed)
    return colour, claim
