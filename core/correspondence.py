"""Semantic correspondence: the reference's colours warped onto the photo by what things are.

Content matching (``core.matching``) pins a reference colour only where a photo cell and a reference
cell are each other's best match at cosine >= 0.75, which needs near-identical content. Here every
photo cell attends over *all* reference cells instead (He et al. 2018, *Deep Exemplar-based
Colorization*; Zhang et al. 2019): a softmax with a temperature over its ``top_k`` most similar
cells, by cosine similarity of the same grey content descriptors, gives

* a **warped reference ab** — the attention-weighted mean of those cells' colours, and
* a **confidence map** — how much to believe it: the best similarity ramped between ``low`` and
  ``high``, halved where the match is not mutual (the reference cell prefers another photo cell),
* and the reference's **relatedness** as a whole: the share of photo cells with a mutual match of
  similarity >= 0.75 (content matching's own test), ramped from 2 % to 10 %. The same scene seen
  differently passes that easily; a photo that only resembles this one (another beach, another
  face) rarely does. Its **strength** (:attr:`Warp.strength`) says how far the warped colours
  move the photo from its automatic colours: all the way for a related reference, and
  ``LOOSE_STRENGTH`` of the way for one that only resembles it. A loosely similar photo's colour
  at a similar place is a guess, right more often than not but often wrong: moved part of the
  way, it shows its palette where its content resembles the photo and scores above the automatic
  colours, where moved all the way it scored about 1 dB below them. A quarter of the way was best
  on 120 held-out training photos, each given the most similar other training photo (+0.09 dB over
  automatic colours, against +0.02 with none of the way and +0.01 with 0.45, the setting before
  the sub-net was trained on warped hints), and on dev as well.

Reference cells come from every source the caller describes: the reference at a few sizes and,
mirrored, at the same sizes, so a mirrored view of the same things matches as well as a straight
one. Each source is a (descriptors, ab) pair; the ab is averaged over each descriptor cell.

``warp_hints`` turns a warp into hints for the colorization sub-net: dense where the warp is
confident, with the confidence as the (fractional) mask, none below ``HINT_CONFIDENCE``. They are
the references' only hints: the sub-net, trained on such hints, extends them over the rest of the
photo better than hints sampled from the AdaIN transfer's colours would (``core.pipeline.warped_hints``).
The settings were tuned on held-out training photos (see the README's Quality section).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

TEMPERATURE = 0.02  # softmax temperature on cosine similarity
TOP_K = 8  # reference cells each photo cell attends over
CONFIDENCE_RANGE = (0.6, 0.8)  # best similarity ramped to confidence 0..1
NON_MUTUAL_FACTOR = 0.5  # confidence kept where the best match is not mutual
STRONG_SIMILARITY = 0.75  # a mutual match this close counts towards the reference's relatedness
RELATEDNESS_RANGE = (0.02, 0.10)  # share of strongly matched photo cells ramped to relatedness 0..1
HINT_CONFIDENCE = 0.2  # confidence a photo pixel needs for its warped colour to become a hint
LOOSE_STRENGTH = 0.25  # how far a loosely similar reference's warped colours move the automatic ones
TOP_K_BLOCK = 64  # columns per block of the similarity search (top_k_rows)


@dataclass(frozen=True)
class ReferenceCells:
    """All reference cells a photo can attend over: unit descriptors (M, C) and their mean ab (M, 2)."""

    keys: torch.Tensor
    colours: torch.Tensor

    def __post_init__(self) -> None:
        if self.keys.dim() != 2 or self.colours.shape != (self.keys.shape[0], 2):
            raise ValueError(
                f"expected keys (M, C) and colours (M, 2), got {tuple(self.keys.shape)} and {tuple(self.colours.shape)}"
            )


@dataclass(frozen=True)
class Warp:
    """A reference warped onto the photo, on the photo's descriptor grid (h, w)."""

    ab: torch.Tensor  # (2, h, w) attention-weighted reference colour
    confidence: torch.Tensor  # (h, w) in [0, 1]
    similarity: torch.Tensor  # (h, w) best cosine similarity
    mutual: torch.Tensor  # (h, w) bool: the best reference cell's own best photo cell is this one
    relatedness: float  # 0..1: how much of the photo the reference shows closely

    @property
    def strength(self) -> float:
        """How far (0..1) the warped colours move the photo's automatic colours at full blend:
        1 for a related reference, ``LOOSE_STRENGTH`` for one that only resembles the photo."""
        return self.relatedness + (1.0 - self.relatedness) * LOOSE_STRENGTH

    def coverage(self, threshold: float = HINT_CONFIDENCE) -> float:
        """Share of the photo (0..1) confident enough to become hints."""
        return float((self.confidence >= threshold).float().mean())


def describe_sources(
    describe: Callable[[torch.Tensor], torch.Tensor], labs: Sequence[torch.Tensor], mirror: bool = True
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(descriptors, ab) of each reference Lab image (1, 3, H, W) and, with ``mirror``, of its mirror
    image; ``describe(L)`` gives content descriptors (1, C, h, w) of a lightness plane (1, 1, H, W)
    (``functools.partial(core.matching.content_descriptors, encoder)``)."""
    sources = []
    for lab in labs:
        if lab.dim() != 4 or lab.shape[:2] != (1, 3):
            raise ValueError(f"a reference must be Lab shaped (1, 3, H, W), got {tuple(lab.shape)}")
        for view in (lab, lab.flip(-1)) if mirror else (lab,):
            sources.append((describe(view[:, :1]), view[0, 1:]))
    return sources


def reference_cells(sources: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> ReferenceCells:
    """Cells of every source: ``sources`` are (descriptors (1, C, h, w), ab (2, H, W)) pairs, the ab
    at the size the descriptors were computed for; each cell's colour is the mean ab under it."""
    if not sources:
        raise ValueError("reference_cells needs at least one source")
    keys, colours = [], []
    channels = sources[0][0].shape[1]
    for descriptors, ab in sources:
        if descriptors.dim() != 4 or descriptors.shape[:2] != (1, channels):
            raise ValueError(f"descriptors must be shaped (1, {channels}, h, w), got {tuple(descriptors.shape)}")
        if ab.dim() != 3 or ab.shape[0] != 2:
            raise ValueError(f"ab must be shaped (2, H, W), got {tuple(ab.shape)}")
        h, w = descriptors.shape[2:]
        keys.append(descriptors[0].reshape(channels, h * w).T)
        colours.append(F.adaptive_avg_pool2d(ab[None], (h, w))[0].reshape(2, h * w).T)
    return ReferenceCells(torch.cat(keys), torch.cat(colours))


def top_k_rows(values: torch.Tensor, k: int, block: int = TOP_K_BLOCK) -> tuple[torch.Tensor, torch.Tensor]:
    """``values.topk(k, dim=1)`` (largest, sorted) of a (n, M) matrix: the same values and indices
    (but where values tie), faster for long rows. Only the ``k`` blocks of ``block`` columns with
    the highest maxima can hold a row's ``k`` largest values (any other block has ``k`` larger
    values in front of its maximum), so it takes block maxima, then the ``k`` largest among those
    blocks' values: half the time at 1,536 x 6,464. Rows whose length is no multiple of ``block``,
    or short ones, go to topk."""
    n, m = values.shape
    if m % block or m // block <= 2 * k:
        top, index = values.topk(k, dim=1)
        return top, index
    blocks = values.view(n, m // block, block)
    top_blocks = blocks.amax(dim=2).topk(k, dim=1).indices  # (n, k)
    picked = blocks.gather(1, top_blocks[:, :, None].expand(-1, -1, block)).reshape(n, k * block)
    top, local = picked.topk(k, dim=1)
    return top, top_blocks.gather(1, local // block) * block + local % block


def soft_warp(
    target: torch.Tensor,
    cells: ReferenceCells,
    temperature: float = TEMPERATURE,
    top_k: int = TOP_K,
    confidence_range: tuple[float, float] = CONFIDENCE_RANGE,
    non_mutual: float = NON_MUTUAL_FACTOR,
    relatedness_range: tuple[float, float] = RELATEDNESS_RANGE,
) -> Warp:
    """Warp the reference ``cells`` onto the photo's descriptors ``target`` (1, C, h, w)."""
    if target.dim() != 4 or target.shape[0] != 1:
        raise ValueError(f"target descriptors must be shaped (1, C, h, w), got {tuple(target.shape)}")
    channels, h, w = target.shape[1:]
    if cells.keys.shape[1] != channels:
        raise ValueError(f"reference cells have {cells.keys.shape[1]} channels, the photo's {channels}")
    if temperature <= 0 or top_k < 1:
        raise ValueError(f"temperature must be positive and top_k at least 1, got {temperature} and {top_k}")
    for low, high in (confidence_range, relatedness_range):
        if not low < high:
            raise ValueError(f"a range must have low < high, got ({low}, {high})")
    queries = target[0].reshape(channels, h * w).T  # (n, C)
    count = cells.keys.shape[0]
    padding = (-count) % TOP_K_BLOCK  # zero keys, so that the rows split into whole blocks
    keys = torch.cat((cells.keys, cells.keys.new_zeros(padding, channels))) if padding else cells.keys
    similarity = queries @ keys.T  # (n, M + padding)
    similarity[:, count:] = float("-inf")
    value, index = top_k_rows(similarity, min(top_k, count))
    weights = torch.softmax(value / temperature, dim=1)  # (n, k)
    ab = (weights[:, :, None] * cells.colours[index]).sum(dim=1)  # (n, 2)
    best = value[:, 0]
    # Mutual: the best reference cell's own best photo cell is this one (only those columns are
    # searched, as rows of the transposed matrix: twice as fast as a column argmax, the same cells).
    chosen, column = index[:, 0].unique(return_inverse=True)
    mutual = similarity.T.index_select(0, chosen).argmax(dim=1)[column] == torch.arange(h * w, device=target.device)
    strong = float((mutual & (best >= STRONG_SIMILARITY)).float().mean())
    relatedness = min(1.0, max(0.0, (strong - relatedness_range[0]) / (relatedness_range[1] - relatedness_range[0])))
    low, high = confidence_range
    confidence = ((best - low) / (high - low)).clamp(0, 1)
    confidence = torch.where(mutual, confidence, confidence * non_mutual)
    shape = (h, w)
    return Warp(ab.T.reshape(2, h, w), confidence.reshape(shape), best.reshape(shape), mutual.reshape(shape), relatedness)


def warp_hints(
    warp: Warp, size: tuple[int, int], threshold: float = HINT_CONFIDENCE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense hints (ab (2, H, W), mask (1, H, W)) at working ``size`` (H, W): the warped colour and
    the confidence (both bilinear between cell centres) as a fractional mask wherever the
    confidence reaches ``threshold``; no hint elsewhere."""
    H, W = size
    ab = F.interpolate(warp.ab[None], size=(H, W), mode="bilinear", align_corners=False)[0]
    confidence = F.interpolate(warp.confidence[None, None], size=(H, W), mode="bilinear", align_corners=False)[0]
    mask = torch.where(confidence >= threshold, confidence.clamp(0, 1), torch.zeros_like(confidence))
    return ab * (mask > 0), mask
