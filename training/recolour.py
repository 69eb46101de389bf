"""The ``recolour`` evaluation: does one hint recolour the region the user means, and only it?

For each photo a region whose true colour stands apart from its surroundings (a dress, a jacket,
a flower bed, the sky) is found by segmenting the ground truth, given a new, clearly different
colour, and one hint of that colour is placed at the region's most interior point. A method is run
twice, without and with the hint (with the same reference, if any); a pixel counts as *changed* when
its ab moved more than ``CHANGE_THRESHOLD`` units and towards the hint colour (a positive dot product
with the direction from the method's own first result to the hint colour). Scores per photo, then
averaged over the photos that have a region:

    recall     share of the region's pixels that changed
    precision  share of the changed pixels that lie in the region (0 when nothing changed)
    f1         their harmonic mean
    outside    share of the pixels outside the region that changed

How a region is chosen (all from the ground truth, deterministic): SLIC superpixels on the true Lab
merged where their mean colours are close (a region adjacency graph cut); a region qualifies when it
covers 3-40 % of the photo and the mean ab of the region and of the ring around it (``RING`` pixels
wide) lie at least ``MIN_CONTRAST`` apart. One qualifying region is drawn per photo with a generator
seeded by the photo's name. The new colour is drawn the same way from twelve hues at chroma
``NEW_CHROMA`` snapped into the gamut at the hint's lightness, among those at least
``MIN_COLOUR_DISTANCE`` from the region's and the ring's true mean ab.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
from scipy import ndimage
from skimage import graph, segmentation

from core.color import snap_ab_to_gamut
from training.baselines import Method, PatchHint
from training.reference_modes import transformed_reference

RECOLOUR_MODES = ("recolour", "recolour_ref", "recolour_related")
RECOLOUR_METRICS = ("f1", "recall", "precision", "outside")
RECOLOUR_SEED = 0
CHANGE_THRESHOLD = 6.0  # ab units a pixel must move (towards the hint colour) to count as changed
MIN_SHARE, MAX_SHARE = 0.03, 0.40  # a region's share of the photo
MIN_CONTRAST = 12.0  # ab distance between the mean colours of a region and of its ring
RING = 8  # pixels
MERGE_THRESHOLD = 8.0  # Lab distance under which neighbouring superpixels merge
NEW_CHROMA = 45.0
MIN_COLOUR_DISTANCE = 35.0
HUES = 12
HINT_SIZE = 3


@dataclass(frozen=True, eq=False)
class RecolourTask:
    """A region of one photo (``region`` bool (H, W)) and the hint that recolours it."""

    region: np.ndarray
    hint: PatchHint
    contrast: float  # ab distance between the region's and its ring's true mean colours


def _photo_rng(name: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def segment(lab: np.ndarray) -> np.ndarray:
    """Labels (H, W) of the true Lab image (3, H, W): SLIC superpixels merged by mean colour."""
    image = np.ascontiguousarray(lab.transpose(1, 2, 0), dtype=np.float64)
    superpixels = segmentation.slic(
        image, n_segments=200, compactness=10.0, convert2lab=False, channel_axis=-1, start_label=0
    )
    rag = graph.rag_mean_color(image, superpixels, mode="distance")
    return graph.cut_threshold(superpixels, rag, MERGE_THRESHOLD)


def _ring(region: np.ndarray) -> np.ndarray:
    grown = ndimage.binary_dilation(region, structure=np.ones((3, 3), bool), iterations=RING)
    return grown & ~region


def candidate_regions(lab: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Every qualifying region of a Lab image (3, H, W) as (bool mask, contrast), in label order."""
    labels = segment(lab)
    total = labels.size
    found = []
    for label in np.unique(labels):
        region = labels == label
        share = region.sum() / total
        if not MIN_SHARE <= share <= MAX_SHARE:
            continue
        ring = _ring(region)
        if not ring.any():
            continue
        contrast = float(np.linalg.norm(lab[1:, region].mean(axis=1) - lab[1:, ring].mean(axis=1)))
        if contrast >= MIN_CONTRAST:
            found.append((region, contrast))
    return found


def interior_point(region: np.ndarray) -> tuple[int, int]:
    """(y, x) of the region's pixel farthest from its border (the first such in raster order)."""
    distance = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(distance)), region.shape)
    return int(y), int(x)


def new_colour(lab: np.ndarray, region: np.ndarray, hint_l: float, rng: np.random.Generator) -> tuple[float, float] | None:
    """A displayable ab far from both the region's and its ring's true colours, or None."""
    hues = np.arange(HUES) * (2 * np.pi / HUES)
    ab = torch.tensor(np.stack((np.cos(hues), np.sin(hues))) * NEW_CHROMA, dtype=torch.float64)
    ab = snap_ab_to_gamut(torch.full((1, HUES, 1), float(hint_l), dtype=torch.float64), ab[:, :, None])[:, :, 0].numpy()
    own = lab[1:, region].mean(axis=1)
    around = lab[1:, _ring(region)].mean(axis=1)
    far = (np.linalg.norm(ab - own[:, None], axis=0) >= MIN_COLOUR_DISTANCE) & (
        np.linalg.norm(ab - around[:, None], axis=0) >= MIN_COLOUR_DISTANCE
    )
    choices = np.flatnonzero(far)
    if choices.size == 0:
        return None
    pick = int(choices[rng.integers(choices.size)])
    return float(ab[0, pick]), float(ab[1, pick])


def recolour_task(name: str, lab: np.ndarray, seed: int = RECOLOUR_SEED) -> RecolourTask | None:
    """The region, new colour and hint for the photo ``name`` with true Lab ``lab``; None when the
    photo has no region that stands apart (or no colour far enough from it)."""
    rng = _photo_rng(name, seed)
    candidates = candidate_regions(lab)
    while candidates:
        region, contrast = candidates.pop(int(rng.integers(len(candidates))))
        y, x = interior_point(region)
        margin = HINT_SIZE // 2
        y = int(np.clip(y, margin, lab.shape[1] - 1 - margin))
        x = int(np.clip(x, margin, lab.shape[2] - 1 - margin))
        hint_l = float(lab[0, y - margin : y + margin + 1, x - margin : x + margin + 1].mean())
        colour = new_colour(lab, region, hint_l, rng)
        if colour is not None:
            return RecolourTask(region, PatchHint(y=y, x=x, ab=colour, size=HINT_SIZE), contrast)
    return None


def changed_towards(before: np.ndarray, after: np.ndarray, ab: tuple[float, float], threshold: float = CHANGE_THRESHOLD) -> np.ndarray:
    """Pixels (H, W) whose ab moved from ``before`` to ``after`` (both (2, H, W)) by more than
    ``threshold`` and towards the colour ``ab``."""
    if before.shape != after.shape or before.ndim != 3 or before.shape[0] != 2:
        raise ValueError(f"expected two ab maps shaped (2, H, W), got {before.shape} and {after.shape}")
    moved = after.astype(np.float64) - before
    target = np.asarray(ab, dtype=np.float64)[:, None, None] - before
    return (np.hypot(moved[0], moved[1]) > threshold) & ((moved * target).sum(axis=0) > 0)


def score_recolour(changed: np.ndarray, region: np.ndarray) -> dict[str, float]:
    """Recall, precision, F1 and the changed share outside, for bool maps ``changed`` and ``region``."""
    hits = float((changed & region).sum())
    recall = hits / max(float(region.sum()), 1.0)
    precision = hits / float(changed.sum()) if changed.any() else 0.0
    f1 = 2 * recall * precision / (recall + precision) if recall + precision > 0 else 0.0
    outside = float((changed & ~region).sum()) / max(float((~region).sum()), 1.0)
    return {"f1": f1, "recall": recall, "precision": precision, "outside": outside}


def recolour_scores(
    method: Method, L: np.ndarray, task: RecolourTask, reference_rgb: np.ndarray | None = None
) -> dict[str, float]:
    """Run ``method`` without and with the task's hint and score what changed."""
    before = np.asarray(method.predict(L, reference_rgb, ()), dtype=np.float32)
    after = np.asarray(method.predict(L, reference_rgb, (task.hint,)), dtype=np.float32)
    return score_recolour(changed_towards(before, after, task.hint.ab), task.region)


def evaluate_recolour(
    photos: Sequence[Any],
    methods: Sequence[Method],
    seed: int = RECOLOUR_SEED,
    timer: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """Scores of every method in both recolour modes over ``photos`` (EvalPhoto-like: name, rgb, lab).

    ``recolour`` runs without a reference; ``recolour_ref`` with the next photo (wrapping) as an
    unrelated reference, as a user trying the app with the demo's reference would;
    ``recolour_related`` with the photo itself seen differently (``ref_transformed``'s reference),
    whose colours the pipeline takes as hints everywhere, inside the region too: the user's one hint
    must still win there. Returns
    ``{"results": {mode: {method: {metric: mean}}}, "photos": names with a region}`` (no modes
    when no photo has a region);
    ``timer(method name, seconds)`` is told how long each method took.
    """
    import time

    scores: dict[str, dict[str, list[dict[str, float]]]] = {
        mode: {method.name: [] for method in methods} for mode in RECOLOUR_MODES
    }
    scored = []
    for index, photo in enumerate(photos):
        task = recolour_task(photo.name, np.asarray(photo.lab, dtype=np.float64), seed)
        if task is None:
            continue
        scored.append(photo.name)
        references = {
            "recolour": None,
            "recolour_ref": photos[(index + 1) % len(photos)].rgb,
            "recolour_related": transformed_reference(photo.rgb, photo.name),
        }
        L = np.asarray(photo.lab[0], dtype=np.float32)
        for mode, reference in references.items():
            for method in methods:
                started = time.perf_counter()
                scores[mode][method.name].append(recolour_scores(method, L, task, reference))
                if timer is not None:
                    timer(method.name, time.perf_counter() - started)
    results = {
        mode: {
            name: {key: float(np.mean([s[key] for s in per_photo])) for key in RECOLOUR_METRICS}
            for name, per_photo in by_method.items()
        }
        for mode, by_method in scores.items()
    }
    return {"results": results if scored else {}, "photos": scored}
