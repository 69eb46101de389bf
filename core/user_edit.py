"""The user's hints come first: a click recolours the region it lands in, on top of whatever the
pipeline painted without it (automatic colours, or the references' colours).

    guide = semantic_guide(descriptors, L.shape)          # once per photo: what things are where
    weights = user_edit_weights(L, guide)                 # once per photo (with the lightness's regions)
    ab = compose_user_edit(base_ab, hint_ab, hint_mask, centres, weights, thetas)

The user's colour change at each hint (hint colour - the colour there without the user's hints) is
spread along the photo's regions by the edge-aware filter (core.propagation) and added to the
colours without the hints, scaled by how far the hints reach: full change where a hint's influence
is at least its ``theta``, fading to none beyond. Each hint has its own theta, from the reach the
user gives it (:func:`reach_theta`: reach 0 changes about the hint only, reach 1 the whole region
up to its edges). A claim then extends over the regions of the lightness it reaches
(:func:`lightness_regions`, a graph-based segmentation): a region takes at least the mean claim
over its pixels, so a hint fills the shape it lands in instead of the filter's diamond-shaped
fade, while a region it barely touches stays nearly unclaimed (a hint set below the default reach
fills less, at reach 0 not at all). Where things are is read from the lightness and from the frozen
encoder's grey content descriptors (:func:`semantic_guide`): a sleeve and the wall behind it of the
same grey are still two things, so the spread stops between them. The colours underneath come from a
sub-net that reads the user's hints apart from the references' (or, with an older sub-net, from a
run without them), so the hints the references give cannot drown them, and a purple sleeve stays a
sleeve.

Beyond the claims the colours shift by the cast the hints agree on (:func:`agreed_cast`,
:func:`local_cast`): a hint near the colour the photo showed there before any hint corrects the
photo's colours (the automatic colours tend to be off, and differently on different things), so
things like it (near, as light, of the same kind, shown in a like colour) follow it, things unlike
it less, down to the cast the hints agree on, and several corrections that agree, further; a hint
of a clearly new colour recolours one thing and moves nothing beyond it.

A sub-net with a user-hint input reads the hints as :func:`user_hint_planes`: their colours spread
over the regions they claim, and the claim itself, so it sees where each hint reaches instead of
having to infer it from isolated points.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import numpy as np
import torch

from core.propagation import EdgeWeights, _impulse_peak, edge_aware_filter, edge_weights, influence

# Chosen on the recolour evaluation (dev and 300 training photos) with the regions below: F1 0.732 /
# 0.723, against 0.667 / 0.685 at reach 96 without regions, with 2-3.4 % of the outside changed.
USER_SIGMA_S = 64.0  # reach in working pixels
USER_SIGMA_R = 128.0  # lightness step costing as much as USER_SIGMA_S pixels of travel
USER_SIGMA_GUIDE = 2.5  # step of the semantic guide (in its standard deviations) costing as much
GUIDE_COMPONENTS = 3  # principal components of the content descriptors the guide keeps
GUIDE_MIN_SPREAD = 0.1  # floor of that deviation, in the unit descriptors' units (photos: 0.2-0.3)
USER_THETA = 0.25  # influence at which a hint's change applies in full, at the default reach (0.5)
USER_ITERATIONS = 2  # filter passes: a third faster than 3 (recolour F1 0.63 against 0.64 on dev, lightness only)
REGION_SCALE = 100.0  # Felzenszwalb-Huttenlocher scale on lightness in [0, 1]: larger, bigger regions
REGION_SIGMA = 0.8  # pre-smoothing of the lightness before it is segmented, in pixels
REGION_MIN_SIZE = 50  # working pixels; smaller regions merge into a neighbour
REGION_GUIDE_STEP = 2.5  # regions are also cut where the guide's first component crosses a multiple
# of this (zero included: a sleeve and the wall behind it of one grey fall on two sides of the main
# direction of what things are), then split into connected pieces
REGION_GUIDE_COMPONENTS = 1  # cut by all three: recolour F1 0.703 / 0.715 (dev / training), against 0.732 / 0.723
# The cast the hints agree on (agreed_cast), chosen on dev with true-colour hints and the recolour
# evaluation: 1 / 10 hints 24.64 / 26.75 dB without it, 25.10 / 27.83 with it, recolour unchanged.
# A limit of 40 gave 25.29 / 28.09, but moved the rest of the photo by up to 4.4 units for one hint.
CAST_LIMIT = 30.0  # ab change from which a hint recolours one thing and says nothing of the rest
CAST_DOUBT = 2.0  # statements' worth of doubt: one correction's photo-wide cast is 3.3 ab units at most
CAST_SAME = 1.0  # ab units within which two hints' colours are one statement (well under a just-noticeable step)
# (4 units chained the true colours of different things into one: ten hints 27.53 dB against 27.83)
# Where a correction applies beyond its claim (local_cast): an affinity on where a pixel is, how
# light, what it shows and in which colour, as in edit propagation by appearance (An & Pellacini
# 2008). Chosen on the first 40 dev photos with true-colour hints: 10 hints 27.85 dB with the
# photo-wide cast alone, 28.62 with place, lightness and content, 28.73 with the colour shown too;
# a guide step of 1.5 rather than 3 gives 28.68 and keeps a pale stroke on a near-white sky off
# the near-white street below it (the Detroit scene, with the prior's pull fixed at 0.05: the
# street's 90th percentile moved 3.9 ab units, 5.5 at 3; 3.65 as shipped, 3.6 without local_cast).
CAST_REACH = 0.47  # share of the short side at which a correction's pull on a pixel alike otherwise is exp(-1/2)
CAST_LIGHTNESS = 15.0  # L units: the same for a lightness step
CAST_GUIDE = 1.5  # semantic guide steps (its standard deviations): the same for a step in what things are
CAST_COLOUR = 5.0  # ab units: the same for a step in the colour shown before the hints
CAST_BLOCK = 64  # hints whose pulls are computed at once (a stroke's at most)
CAST_LOCAL_DOUBT = 0.5  # pull of the photo-wide cast (agreed_cast) over the number of statements, against
# 1 for a full-weight correction at its own pixel. A fixed 0.05 gave ten hints 28.68 dB on those 40
# photos, but a deliberate change of one thing's shade by 10 units then moved 35 % of the photo by
# over 6 units (30 dev photos, the photo-wide cast alone 7 %); 0.5 over the statements: 28.64, and 11 %.


@dataclass(frozen=True, eq=False)
class UserEditWeights(EdgeWeights):
    """Edge weights with the lightness's regions (``regions``: int labels (H, W), or None) that the
    user's claims extend over (:func:`user_hint_influence`), and the ``lightness`` (H, W) and
    semantic ``guide`` (C, H, W) they were made from, which say where corrections apply beyond the
    claims (:func:`local_cast`); each may be None."""

    regions: np.ndarray | None = None
    lightness: np.ndarray | None = None
    guide: np.ndarray | None = None


def reach_theta(reach: float) -> float:
    """The influence at which a hint of ``reach`` (0..1) applies in full: 1 at reach 0 (only on flat
    ground right at the hint), USER_THETA at 0.5, USER_THETA**2 at 1 (about 2.8x further)."""
    if not 0.0 <= reach <= 1.0:
        raise ValueError(f"reach must be between 0 and 1, got {reach}")
    return USER_THETA ** (2.0 * reach)


def _thetas(centres: Sequence[tuple[int, int]], theta: float | Sequence[float]) -> list[float]:
    """One positive theta per hint centre (``theta`` one for all, or one per hint)."""
    thetas = [theta] * len(centres) if np.isscalar(theta) else list(theta)
    if len(thetas) != len(centres):
        raise ValueError(f"expected one theta per hint centre, got {len(thetas)} for {len(centres)}")
    if any(not t > 0 for t in thetas):
        raise ValueError(f"theta must be positive, got {min(thetas)}")
    return thetas


def semantic_guide(descriptors: np.ndarray, size: tuple[int, int], components: int = GUIDE_COMPONENTS) -> np.ndarray:
    """What things are where, as a guide for the edge-aware filter: the content descriptors
    ``descriptors`` (C, h, w) of the grey photo (core.matching) projected on their ``components``
    principal directions, divided by the projections' pooled standard deviation (at least
    GUIDE_MIN_SPREAD, so that a near-uniform photo's noise is not blown up into edges), upsampled
    bilinearly to ``size`` (H, W); float32 (components, H, W). Deterministic (an exact
    eigendecomposition); a photo whose cells all look alike gives a flat guide."""
    descriptors = np.asarray(descriptors, dtype=np.float64)
    if descriptors.ndim != 3 or min(descriptors.shape) < 1:
        raise ValueError(f"descriptors must be shaped (C, h, w), got {descriptors.shape}")
    channels, h, w = descriptors.shape
    cells = descriptors.reshape(channels, h * w).T
    cells = cells - cells.mean(axis=0)
    _, vectors = np.linalg.eigh(cells.T @ cells)  # ascending eigenvalues
    projected = cells @ vectors[:, ::-1][:, : min(components, channels)]  # (h * w, components)
    projected = projected / max(float(projected.std()), GUIDE_MIN_SPREAD)
    planes = torch.from_numpy(projected.T.reshape(1, -1, h, w).astype(np.float32))
    guide = torch.nn.functional.interpolate(planes, size=tuple(size), mode="bilinear", align_corners=False)[0]
    return np.ascontiguousarray(guide.numpy())


def lightness_regions(
    L: np.ndarray, guide: np.ndarray | None = None, scale: float = REGION_SCALE, min_size: int = REGION_MIN_SIZE
) -> np.ndarray:
    """Int32 labels (H, W) of the regions the working-size lightness ``L`` (H, W, in [0, 100])
    falls into: the graph-based segmentation of Felzenszwalb & Huttenlocher (2004), which merges
    neighbouring pixels while the lightness step between two parts is small against the variation
    inside them. With the photo's :func:`semantic_guide` (C, H, W), a region is also cut where its
    first component crosses a multiple of REGION_GUIDE_STEP, so that things of one grey stay apart,
    and every region is one connected piece.
    Deterministic; about 50 ms at 256 x 256 on a 2-core CPU, once per photo."""
    from skimage.measure import label  # only the user's edits need them
    from skimage.segmentation import felzenszwalb

    L = np.asarray(L, dtype=np.float64)
    if L.ndim != 2 or min(L.shape) < 1:
        raise ValueError(f"lightness must be shaped (H, W), got {L.shape}")
    labels = felzenszwalb(L / 100.0, scale=scale, sigma=REGION_SIGMA, min_size=min_size)
    if guide is not None:
        guide = np.asarray(guide, dtype=np.float64)
        if guide.ndim != 3 or guide.shape[1:] != L.shape:
            raise ValueError(f"guide must be shaped (C, {L.shape[0]}, {L.shape[1]}), got {guide.shape}")
        keys = labels.astype(np.int64).ravel()
        for component in np.nan_to_num(guide[:REGION_GUIDE_COMPONENTS]):  # each one's bin (16: +-20 deviations)
            bins = np.clip(np.floor(component.ravel() / REGION_GUIDE_STEP), -8, 7).astype(np.int64) + 8
            keys = np.unique(keys * 16 + bins, return_inverse=True)[1].astype(np.int64)  # stays < H * W
        # A region the guide crosses twice would share one label between pieces that do not touch:
        # each connected piece is a region of its own.
        labels = label(keys.reshape(L.shape), background=-1, connectivity=1) - 1
    return labels.astype(np.int32)


def user_edit_weights(
    L: np.ndarray,
    guide: np.ndarray | None = None,
    sigma_s: float = USER_SIGMA_S,
    sigma_r: float = USER_SIGMA_R,
    iterations: int = USER_ITERATIONS,
    sigma_guide: float = USER_SIGMA_GUIDE,
    regions: bool = True,
) -> UserEditWeights:
    """The edge weights user edits spread with, for working-size lightness ``L`` (H, W) and, where
    given, the photo's :func:`semantic_guide` (C, H, W): edges of either stop the spread. With
    ``regions``, the claims also extend over the lightness's :func:`lightness_regions`."""
    weights = edge_weights(L, sigma_s, sigma_r, iterations, guide=guide, sigma_guide=sigma_guide)
    labels = lightness_regions(L, guide) if regions else None
    lightness = np.asarray(L, dtype=np.float32)
    guide = None if guide is None else np.asarray(guide, dtype=np.float32)
    copied = {field.name: getattr(weights, field.name) for field in fields(weights)}
    return UserEditWeights(**copied, regions=labels, lightness=lightness, guide=guide)


def region_fill(theta: float) -> float:
    """How fully a hint of ``theta`` (:func:`reach_theta`) fills the regions it reaches: 0 at reach 0
    (only about the hint), rising to 1 at the default reach (0.5) and beyond."""
    return float(np.clip(np.log(theta) / np.log(USER_THETA), 0.0, 1.0))


def extend_over_regions(reach: np.ndarray, regions: np.ndarray, source: np.ndarray | None = None) -> np.ndarray:
    """``reach`` (H, W) raised in each of ``regions`` (int labels (H, W)) to at least the mean of
    ``source`` (the reach itself unless given) over that region: a region a claim mostly covers is
    claimed nearly whole, one it grazes barely."""
    source = reach if source is None else source
    if reach.shape != regions.shape or source.shape != regions.shape:
        raise ValueError(f"expected reach, source and regions of one shape, got {reach.shape}, {source.shape} and {regions.shape}")
    flat = regions.ravel()
    count = int(flat.max()) + 1
    mean = np.bincount(flat, source.ravel(), count) / np.maximum(np.bincount(flat, None, count), 1)
    return np.maximum(reach, mean[regions]).astype(np.float32)


def user_hint_influence(
    centres: Sequence[tuple[int, int]], weights: EdgeWeights, theta: float | Sequence[float] = USER_THETA
) -> np.ndarray:
    """(H, W) in [0, 1]: 1 where the hints at ``centres`` ((y, x) working pixels) claim the pixel,
    fading to 0 with distance and across the weights' edges (``theta``: one for all, or one per hint),
    extended over the lightness's regions where the weights carry them (:func:`extend_over_regions`),
    as fully as each hint's reach asks (:func:`region_fill`).
    Where it is 1, sampled or matched hints may step aside."""
    thetas = _thetas(centres, theta)
    reach = influence(centres, weights, [1.0 / t for t in thetas]).astype(np.float32)
    regions = getattr(weights, "regions", None)
    fills = [region_fill(t) for t in thetas]
    if regions is None or not any(fills):
        return reach
    if min(fills) < 1.0:  # hints short of the default reach fill their regions less, or not at all
        return extend_over_regions(reach, regions, influence(centres, weights, [f / t for f, t in zip(fills, thetas)]))
    return extend_over_regions(reach, regions)


def _spread(values: np.ndarray, mask: np.ndarray, weights: EdgeWeights) -> np.ndarray:
    """``values`` (C, H, W), zero where ``mask`` (1, H, W) is 0, spread densely over the photo by one
    edge-aware filter pass (normalised convolution: each pixel takes the hints that reach it best)."""
    height, width = weights.shape
    filtered = edge_aware_filter(np.concatenate((values, mask)), weights)
    peak = _impulse_peak(height, width, weights.sigma_s, len(weights.horizontal))
    return filtered[:-1] / np.maximum(filtered[-1:], 1e-6 * peak)


def user_hint_planes(
    hint_ab: np.ndarray, hint_mask: np.ndarray, weights: EdgeWeights, reach: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The user's hints as a user-hint sub-net reads them: (colour (2, H, W), claim (H, W)), float32.

    ``hint_ab``/``hint_mask`` (2, H, W)/(1, H, W) are the rasterised hints and ``reach`` (H, W) their
    :func:`user_hint_influence`. The colour is the hints' ab spread edge-aware (normalised
    convolution: each pixel takes the hints that reach it best, the exact colour under a hint); the
    claim is the reach, 1 under the hints."""
    mask = np.asarray(hint_mask, dtype=np.float32)
    hint_ab = np.asarray(hint_ab, dtype=np.float32) * mask
    if reach.shape != weights.shape or mask.shape != (1, *weights.shape):
        raise ValueError(f"expected hints, mask and reach of size {weights.shape}, got {hint_ab.shape}, {mask.shape}, {reach.shape}")
    if not mask.any():
        return np.zeros_like(hint_ab), np.zeros(weights.shape, np.float32)
    colour = np.where(mask > 0, hint_ab, _spread(hint_ab, mask, weights))
    return colour.astype(np.float32), np.maximum(reach, mask[0]).astype(np.float32)


def _cast_weights(changes: np.ndarray, fills: np.ndarray) -> np.ndarray:
    """How much each hint's change (n, 2) says about the rest of the photo (n,): Tukey's biweight
    of its size against CAST_LIMIT (0 for a recolouring) times its fill (0 for a hint kept local)."""
    size = np.hypot(changes[:, 0], changes[:, 1])
    return np.nan_to_num(np.clip(1.0 - (size / CAST_LIMIT) ** 2, 0.0, 1.0) ** 2 * np.clip(fills, 0.0, 1.0))


def _statements(colours: np.ndarray) -> np.ndarray:
    """Int labels (n,) grouping the hint colours ``colours`` (n, 2) that lie within CAST_SAME of
    each other, directly or through a chain of such colours (a stroke, a colour taken from a hint)."""
    from scipy.sparse.csgraph import connected_components  # only the user's edits need it

    near = np.hypot(*(colours[:, None, :] - colours[None, :, :]).transpose(2, 0, 1)) <= CAST_SAME
    return connected_components(near, directed=False)[1]


def agreed_cast(changes: np.ndarray, colours: np.ndarray, fills: Sequence[float]) -> np.ndarray:
    """The shift (2,) of the colours beyond the hints' claims that the hints agree on, float64.

    ``changes`` (n, 2) are each hint's colour minus the colour there before any of the user's
    hints, ``colours`` (n, 2) the hints' colours and ``fills`` their :func:`region_fill` (a hint kept
    local says nothing about the rest of the photo). A hint whose change is CAST_LIMIT or more
    recolours one thing and weighs nothing; a smaller one corrects the photo's colours and weighs
    (1 - (change / CAST_LIMIT)^2)^2 (Tukey's biweight) times its fill. Hints of one colour (within
    CAST_SAME ab units), such as a stroke's or a colour taken from another hint, are one statement:
    its weight is their mean weight, its change their weighted mean change. The cast is the
    statements' weighted sum of changes over their total weight plus CAST_DOUBT: one correction
    casts 3.3 ab units at most, several that agree most of their mean change. (It is what the
    photo shifts by far from the corrections and unlike them: :func:`local_cast`.)"""
    changes = np.nan_to_num(np.asarray(changes, dtype=np.float64).reshape(-1, 2))
    colours = np.asarray(colours, dtype=np.float64).reshape(-1, 2)
    fills = np.asarray(fills, dtype=np.float64).reshape(-1)
    if not len(changes) == len(colours) == len(fills):
        raise ValueError(f"expected one colour and fill per change, got {len(changes)}, {len(colours)} and {len(fills)}")
    if not len(changes):
        return np.zeros(2)
    weight = _cast_weights(changes, fills)
    if not weight.any():
        return np.zeros(2)
    return _statements_cast(changes, weight, _statements(colours))


def _statements_cast(changes: np.ndarray, weight: np.ndarray, statement: np.ndarray) -> np.ndarray:
    """:func:`agreed_cast` from the hints' changes (n, 2), their cast weights (n,, not all zero) and
    their statements' labels (n,)."""
    total = np.bincount(statement, weight)
    shift = np.stack([np.bincount(statement, weight * changes[:, i]) for i in range(2)], axis=1)
    mean_weight = total / np.bincount(statement)
    change = shift / np.maximum(total, 1e-12)[:, None]
    return (mean_weight[:, None] * change).sum(axis=0) / (mean_weight.sum() + CAST_DOUBT)


def local_cast(
    changes: np.ndarray,
    colours: np.ndarray,
    fills: Sequence[float],
    centres: Sequence[tuple[int, int]],
    lightness: np.ndarray,
    guide: np.ndarray | None = None,
    shown: np.ndarray | None = None,
) -> np.ndarray:
    """The shift (2, H, W) of the colours beyond the hints' claims, float32: each pixel follows the
    corrections made at pixels like it, and the photo-wide :func:`agreed_cast` where none is.

    ``changes``, ``colours`` and ``fills`` are as for :func:`agreed_cast`, one per hint clicked at
    ``centres`` ((y, x) working pixels); ``lightness`` (H, W), ``guide`` (C, H, W, the photo's
    :func:`semantic_guide`) and ``shown`` (2, H, W, the colours before the hints) describe the
    pixels (either of the last two may be None). A correction pulls a pixel with its cast weight
    times an affinity exp(-d^2 / 2), d the distance between the two pixels in place (CAST_REACH of
    the short side), lightness (CAST_LIGHTNESS), what they show (CAST_GUIDE) and the colour shown
    (CAST_COLOUR); the photo-wide cast pulls with CAST_LOCAL_DOUBT over the number of statements
    (one correction might be a change of one thing's shade; ten that agree are the photo's
    error), and each pixel takes the weighted mean. So the automatic colours' error, which
    differs between the sky and a face, is corrected where each correction was made and on things
    like it. A lone full-weight correction moves things just like its own pixel by two thirds of
    its change, and those about 1.2 steps away (some 18 L units, 6 ab units of colour shown, 1.8
    guide steps or half the short side, or a mix) by half that; things far from it fall back to
    the few units of the photo-wide cast. Several corrections are trusted further. The hints of one
    statement (a stroke) share their statement's weight, as in :func:`agreed_cast` (a recolouring
    among them included). A recolouring (a change of CAST_LIMIT or more) pulls nothing."""
    changes = np.nan_to_num(np.asarray(changes, dtype=np.float64).reshape(-1, 2))
    colours = np.asarray(colours, dtype=np.float64).reshape(-1, 2)
    fills = np.asarray(fills, dtype=np.float64).reshape(-1)
    lightness = np.nan_to_num(np.asarray(lightness, dtype=np.float32))
    if lightness.ndim != 2:
        raise ValueError(f"lightness must be shaped (H, W), got {lightness.shape}")
    height, width = lightness.shape
    if not len(changes) == len(colours) == len(fills) == len(centres):
        raise ValueError(f"expected one colour, fill and centre per change, got {len(colours)}, {len(fills)} and {len(centres)} for {len(changes)}")
    if guide is not None and np.shape(guide)[1:] != lightness.shape:
        raise ValueError(f"guide must be shaped (C, {height}, {width}), got {np.shape(guide)}")
    if shown is not None and np.shape(shown) != (2, height, width):
        raise ValueError(f"the colours shown must be shaped (2, {height}, {width}), got {np.shape(shown)}")
    weight = _cast_weights(changes, fills)
    if not weight.any():  # nothing corrects: no cast anywhere
        return np.zeros((2, height, width), dtype=np.float32)
    statement = _statements(colours)
    prior = _statements_cast(changes, weight, statement)  # agreed_cast, its statements found once
    weight = weight / np.bincount(statement)[statement]  # a statement weighs as one hint
    used = np.flatnonzero(weight > 0)
    for i in used:
        y, x = centres[i]
        if not (0 <= y < height and 0 <= x < width):
            raise ValueError(f"hint centre {(y, x)} lies outside the {height}x{width} image")
    step = CAST_REACH * min(height, width)  # working pixels
    planes = [  # (F, pixels), channels first: the distances below are one matrix product
        (torch.arange(height, dtype=torch.float32) / step)[:, None].expand(height, width).reshape(1, -1),
        (torch.arange(width, dtype=torch.float32) / step)[None, :].expand(height, width).reshape(1, -1),
        torch.from_numpy(lightness).reshape(1, -1) / CAST_LIGHTNESS,
    ]
    for extra, unit in ((guide, CAST_GUIDE), (shown, CAST_COLOUR)):
        if extra is not None:
            extra = torch.from_numpy(np.asarray(extra, dtype=np.float32))
            planes.append(torch.nan_to_num(extra.reshape(len(extra), -1)) / unit)
    features = torch.cat(planes)
    at = features[:, [int(centres[i][0]) * width + int(centres[i][1]) for i in used]]  # (F, n)
    # log pull = log weight - |f - a|^2 / 2 = [log weight - |a|^2 / 2, -1/2, a] . [1, |f|^2, f]: one
    # matrix product and an exponential in place, with no (n, pixels) temporaries in between.
    pixels = torch.cat((torch.ones(1, height * width), features.square().sum(0, keepdim=True), features))
    log_weight = torch.from_numpy(np.log(weight[used]).astype(np.float32))
    rows = torch.cat(((log_weight - 0.5 * at.square().sum(0))[:, None], torch.full((len(used), 1), -0.5), at.T), dim=1)
    moves = torch.from_numpy(changes[used].T.astype(np.float32))  # (2, n)
    doubt = CAST_LOCAL_DOUBT / len(np.unique(statement[used]))  # one correction is trusted less than several
    shift = doubt * torch.from_numpy(prior.astype(np.float32))[:, None].repeat(1, height * width)
    total = torch.full((height * width,), doubt)
    for start in range(0, len(used), CAST_BLOCK):  # a few strokes' hundreds of hints in bounded memory
        block = slice(start, start + CAST_BLOCK)
        # (Rounding can leave a squared distance a little below zero: no pull exceeds its weight.)
        logs = torch.mm(rows[block], pixels)
        pull = torch.minimum(logs, log_weight[block, None], out=logs).exp_()  # (block, pixels)
        shift += moves[:, block] @ pull
        total += pull.sum(0)
    cast = shift / total
    return np.ascontiguousarray(cast.reshape(2, height, width).numpy(), dtype=np.float32)


def _mean_about(ab: np.ndarray, y: int, x: int) -> np.ndarray:
    """The mean colour (2,) of ``ab`` (2, H, W) over the 3 x 3 pixels about (y, x), inside the photo."""
    return ab[:, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2].astype(np.float64).mean(axis=(1, 2))


def compose_user_edit(
    base_ab: np.ndarray,
    hint_ab: np.ndarray,
    hint_mask: np.ndarray,
    centres: Sequence[tuple[int, int]],
    weights: EdgeWeights,
    theta: float | Sequence[float] = USER_THETA,
    reach: np.ndarray | None = None,
    before_ab: np.ndarray | None = None,
    colours: Sequence[tuple[float, float]] | None = None,
) -> np.ndarray:
    """The colours ``base_ab`` (2, H, W) with the user's hints (``hint_ab`` (2, H, W) where
    ``hint_mask`` (1, H, W) is 1, clicked at ``centres``) laid on top; returns float32 (2, H, W).

    The hints' changes are spread by one filter pass (normalised convolution) and applied as far as
    the hints reach: ``reach`` (H, W) is :func:`user_hint_influence` of the same hints, computed here
    unless the caller already has it. Beyond their reach the colours shift by the cast the hints
    agree on: none for a hint that recolours a thing; for one that corrects the photo's colours,
    most on things like the corrected one and a little elsewhere (:func:`local_cast`, where the
    weights carry the lightness, as :func:`user_edit_weights` gives them; else the photo-wide
    :func:`agreed_cast`); more for several corrections that agree. Each hint's change is
    its colour (``colours``, one (a, b) per centre; else read from ``hint_ab`` at the centre, where
    a later hint's patch may cover an earlier one) minus ``before_ab`` (2, H, W) about its centre:
    the colours without any of the user's hints, where ``base_ab`` already carries them (a sub-net
    that reads the hints); ``base_ab`` unless given."""
    base_ab = np.asarray(base_ab, dtype=np.float32)
    hint_ab = np.asarray(hint_ab, dtype=np.float32)
    mask = np.asarray(hint_mask, dtype=np.float32)
    if base_ab.shape != hint_ab.shape or base_ab.ndim != 3 or base_ab.shape[0] != 2:
        raise ValueError(f"expected base and hint ab shaped (2, H, W), got {base_ab.shape} and {hint_ab.shape}")
    if mask.shape != (1, *base_ab.shape[1:]):
        raise ValueError(f"hint mask must be shaped (1, {base_ab.shape[1]}, {base_ab.shape[2]}), got {mask.shape}")
    if reach is None:
        reach = user_hint_influence(centres, weights, theta)
    elif reach.shape != base_ab.shape[1:]:
        raise ValueError(f"reach must be shaped {base_ab.shape[1:]}, got {reach.shape}")
    thetas = _thetas(centres, theta)
    before = base_ab if before_ab is None else np.asarray(before_ab, dtype=np.float32)
    if before.shape != base_ab.shape:
        raise ValueError(f"the colours before the hints must be shaped {base_ab.shape}, got {before.shape}")
    if colours is None:
        colours = [tuple(hint_ab[:, y, x]) if mask[0, y, x] > 0 else None for y, x in centres]
    elif len(colours) != len(centres):
        raise ValueError(f"expected one colour per hint centre, got {len(colours)} for {len(centres)}")
    if not centres or not mask.any():
        return base_ab.copy()
    spread = _spread((hint_ab - base_ab) * mask, mask, weights)
    kept = [i for i, colour in enumerate(colours) if colour is not None]
    changes = np.reshape([np.asarray(colours[i], np.float64) - _mean_about(before, *centres[i]) for i in kept], (-1, 2))
    kept_colours, fills = np.reshape([colours[i] for i in kept], (-1, 2)), [region_fill(thetas[i]) for i in kept]
    lightness = getattr(weights, "lightness", None)
    if lightness is not None:
        if lightness.shape != base_ab.shape[1:]:
            raise ValueError(f"the weights describe a {lightness.shape} photo, the colours are {base_ab.shape[1:]}")
        at = [centres[i] for i in kept]
        cast = local_cast(changes, kept_colours, fills, at, lightness, getattr(weights, "guide", None), before)
    else:
        cast = agreed_cast(changes, kept_colours, fills).astype(np.float32)[:, None, None]
    out = base_ab + spread * reach[None] + (1.0 - reach)[None] * cast
    return np.where(mask > 0, hint_ab, out).astype(np.float32)
