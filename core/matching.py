"""Content matching between the photo and its references, on the frozen encoder's grey features.

A reference often shows some of the same things as the photo: the same house in a later colour
snapshot, the same dress. Where it does, its colours there are the best evidence we have, better
than the statistics AdaIN transfers. Both images are read *grey* (the photo has no colour, and the
reference's colour must not decide the match), described at stride 8 by the encoder's mid-level
features, and compared by cosine similarity. The session matches each reference at a few sizes
(``ColorizerConfig.match_scales``), so the same things photographed nearer or farther still match;
each size is simply one more set of reference descriptors here.

Two things come out of a match:

* **correspondence hints** - a target cell whose best reference cell picks it back (mutual nearest
  neighbours) with similarity >= ``threshold`` takes that cell's colour as a hint;
* **a content-strength map** - how much of each part of the photo the references show at all
  (best similarity, ramped between ``low`` and ``high``); the AdaIN blend is scaled by it, so a
  reference's palette lands on what it resembles and an unrelated reference changes little.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F

from core.color import lab_to_rgb
from core.models.encoder import Encoder

DESCRIPTOR_STRIDES = (8, 16)  # the taps that describe content: objects' parts, not edges or scenes


def descriptor_taps(encoder: Encoder) -> tuple[str, ...]:
    """The encoder taps a descriptor is built from (stride 8 and 16; the deepest tap if none)."""
    names = tuple(t.name for t in encoder.taps if t.stride in DESCRIPTOR_STRIDES)
    return names or (encoder.taps[-1].name,)


def grey_rgb(L: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) lightness -> the grey RGB image the encoder reads."""
    if L.dim() != 4 or L.shape[1] != 1:
        raise ValueError(f"lightness must be shaped (N, 1, H, W), got {tuple(L.shape)}")
    return lab_to_rgb(torch.cat((L, torch.zeros_like(L).expand(-1, 2, -1, -1)), dim=1)).clamp(0, 1)


def content_descriptors(encoder: Encoder, L: torch.Tensor) -> torch.Tensor:
    """Unit-length content descriptors (1, C, h, w) of a lightness plane, on the finest chosen tap's grid."""
    return descriptors_from(encoder, encoder(grey_rgb(L)))


def descriptors_from(encoder: Encoder, features: dict[str, torch.Tensor]) -> torch.Tensor:
    """``content_descriptors`` from the encoder's taps of the grey image, when a pass has already produced them."""
    maps = [F.normalize(features[name], dim=1) for name in descriptor_taps(encoder)]
    size = maps[0].shape[2:]
    maps = [m if m.shape[2:] == size else F.interpolate(m, size=size, mode="bilinear", align_corners=False) for m in maps]
    return F.normalize(torch.cat(maps, dim=1), dim=1)


@dataclass(frozen=True)
class Matches:
    """For each target cell (h, w): its most similar reference cell over all references."""

    similarity: torch.Tensor  # (h, w) cosine similarity of the best match
    reference: torch.Tensor  # (h, w) index of the reference it lies in
    position: torch.Tensor  # (h, w) flat index of the cell in that reference's grid
    mutual: torch.Tensor  # (h, w) bool: that reference cell's own best target cell is this one
    grids: tuple[tuple[int, int], ...]  # (h', w') of each reference's descriptor grid

    def confident(self, threshold: float) -> torch.Tensor:
        return self.mutual & (self.similarity >= threshold)

    def coverage(self, threshold: float) -> float:
        """Share of the target cells (0..1) matched confidently."""
        return float(self.confident(threshold).float().mean())


def match(target: torch.Tensor, references: Sequence[torch.Tensor]) -> Matches:
    """Best matches of ``target`` descriptors (1, C, h, w) among the ``references`` (each (1, C, h', w'))."""
    if target.dim() != 4 or target.shape[0] != 1:
        raise ValueError(f"target descriptors must be shaped (1, C, h, w), got {tuple(target.shape)}")
    if not references:
        raise ValueError("match needs at least one reference")
    channels, h, w = target.shape[1:]
    queries = target.reshape(channels, h * w).T
    best = torch.full((h * w,), -2.0, device=target.device)
    source = torch.zeros(h * w, dtype=torch.long, device=target.device)
    position = torch.zeros(h * w, dtype=torch.long, device=target.device)
    mutual = torch.zeros(h * w, dtype=torch.bool, device=target.device)
    cells = torch.arange(h * w, device=target.device)
    grids = []
    for index, ref in enumerate(references):
        if ref.dim() != 4 or ref.shape[:2] != (1, channels):
            raise ValueError(f"reference descriptors must be shaped (1, {channels}, h, w), got {tuple(ref.shape)}")
        grids.append(tuple(ref.shape[2:]))
        similarity = queries @ ref.reshape(channels, -1)  # (target cells, reference cells)
        value, where = similarity.max(dim=1)
        back = similarity.argmax(dim=0)
        better = value > best
        best = torch.where(better, value, best)
        source = torch.where(better, torch.full_like(source, index), source)
        position = torch.where(better, where, position)
        mutual = torch.where(better, back[where] == cells, mutual)
    shape = (h, w)
    return Matches(best.reshape(shape), source.reshape(shape), position.reshape(shape), mutual.reshape(shape), tuple(grids))


def content_strength(similarity: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Similarity (h, w) ramped to [0, 1]: 0 at or below ``low``, 1 at or above ``high``; (1, 1, h, w)."""
    if not low < high:
        raise ValueError(f"similarity range must have low < high, got ({low}, {high})")
    return ((similarity - low) / (high - low)).clamp(0, 1)[None, None]


def correspondence_hints(
    matches: Matches,
    reference_ab: Sequence[torch.Tensor],
    size: tuple[int, int],
    threshold: float,
    patch: int = 3,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hints (ab (2, H, W), mask (1, H, W)) at working ``size`` (H, W) from the confident matches.

    Each confident target cell gets a ``patch``-square hint at its centre holding the mean colour
    of the same-sized patch at the centre of its matched reference cell (``reference_ab``: each
    reference's ab (2, H', W') at working size).
    """
    H, W = size
    h, w = matches.similarity.shape
    device = matches.similarity.device
    ab = torch.zeros(2, H, W, device=device)
    mask = torch.zeros(1, H, W, device=device)
    confident = matches.confident(threshold)
    half = patch // 2
    for index, ref_ab in enumerate(reference_ab):
        chosen = confident & (matches.reference == index)
        if not bool(chosen.any()):
            continue
        Hr, Wr = ref_ab.shape[1:]
        hr, wr = matches.grids[index]
        ty, tx = torch.nonzero(chosen, as_tuple=True)
        qy, qx = matches.position[ty, tx] // wr, matches.position[ty, tx] % wr
        # cell centres in pixels, on each image's own grid
        py, px = _centre(ty, H, h), _centre(tx, W, w)
        uy, ux = _centre(qy, Hr, hr), _centre(qx, Wr, wr)
        pooled = F.avg_pool2d(ref_ab[None], patch, stride=1, padding=half, count_include_pad=False)[0]
        colours = pooled[:, uy, ux]  # (2, n)
        for dy in range(-half, half + 1):
            for dx in range(-half, half + 1):
                y, x = (py + dy).clamp(0, H - 1), (px + dx).clamp(0, W - 1)
                ab[:, y, x] = colours
                mask[:, y, x] = 1.0
    return ab, mask


def _centre(cell: torch.Tensor, pixels: int, cells: int) -> torch.Tensor:
    return ((cell.float() + 0.5) * pixels / cells).long().clamp(0, pixels - 1)


def clearance(matches: Matches, threshold: float, size: tuple[int, int], radius: int) -> torch.Tensor:
    """(1, H, W) mask, 1 within about ``radius`` pixels of a confidently matched cell, at ``size`` (H, W).

    Dilated on the cell grid (cheap at any radius), then spread to pixels.
    """
    H, W = size
    w = matches.similarity.shape[1]
    cells = matches.confident(threshold).float()[None, None]
    reach = max(0, -(-radius * w // W))  # radius in cells, rounded up
    if reach:
        cells = F.max_pool2d(cells, 2 * reach + 1, stride=1, padding=reach)
    return F.interpolate(cells, size=(H, W), mode="nearest")[0]
