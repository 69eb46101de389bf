"""The colorization pipeline as stages, each a pure function of its inputs, memoised on exactly the
parts of the edit it reads:

    stage               reads                                           reruns when
    lightness           photo, working size                             the photo or size changes
    global_features     lightness, model                                ... or the model changes
    precolorize         lightness, global features, model               (same)
    encode_target       lightness, pre-colorization                     (same)
    encode_reference    one reference, working size                     that reference is new
    describe_target     lightness                                       the photo or size changes
    describe_reference  one reference (and its mirror image), size       that reference is new
    warp / match        target and reference descriptions               the set of references changes
    transfer            target features, reference stats and weights,   a reference, a weight, the blend
                        blend, warp (content-aware strength)            or content matching changes
    reference hints     transfer, warp, blend                           (with the transfer)
    colorize            lightness, reference hints, model               (with the reference hints)
    user_weights        lightness (and its regions), content            the photo, size or model changes
                        descriptors
    user_edit           colorize, pre-colorization, user hints,         a hint changes (and all above)
                        user weights (a user-hint sub-net: its rerun)

The references' colours reach the sub-net through the soft warp (``config.correspondence == "warp"``,
core.correspondence; the transfer then runs only at blend 0) or through content matching's mutual
matches ("match") beside hints sampled from the transfer, as without matching. The user's hints are
laid over the result by ``user_edit`` (core.user_edit): inside the user's claims the references'
sampled hints step aside. A sub-net with a user-hint input reruns once with the user's hints in
their own channels, then their colours are spread over their claims edge-aware; with an older
sub-net no network runs again. With ``config.user_edit`` off the user's hints are only further
inputs of the colorize stage, as in the paper.

A :class:`Pipeline` keeps a small bounded cache per stage, counts each stage it actually runs in
``stage_calls`` and times it in ``timings``. Nothing here knows about files: the caller
(:class:`core.api.Colorizer`) hands in the photo's lightness and the references' pixels under keys
that change whenever their contents do.
"""

from __future__ import annotations

import time
import warnings
from collections import Counter, OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Callable, Hashable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from core.color import lab_to_rgb, rgb_to_lab
from core.config import ColorizerConfig
from core.correspondence import Warp, reference_cells, soft_warp, warp_hints
from core.hints import Hint, rasterize_hints, sample_hints_from_ab, working_centre
from core.imageio import Photo
from core.matching import (
    Matches,
    clearance,
    content_descriptors,
    content_strength,
    correspondence_hints,
    descriptors_from,
    grey_rgb,
    match,
)
from core.models import ColorNet, ReferenceStats, TransferNet
from core.upsample import Cancelled, resize_lightness
from core.user_edit import (
    UserEditWeights,
    compose_user_edit,
    reach_theta,
    semantic_guide,
    user_edit_weights,
    user_hint_influence,
    user_hint_planes,
)

REFERENCE_SOURCE_SIDE = 1024  # references are kept at most this large (short side)
PALETTE_CHROMA = 8.0  # palette colours come from pixels at least this chromatic (when there are enough)
PALETTE_SAMPLES = 20_000  # reference pixels the palette's k-means looks at
PALETTE_ITERATIONS = 12  # k-means iterations
STAGE_CACHE_SIZE = 8  # results kept per stage (a few photos, sizes or blends back)
REFERENCE_CACHE_SIZE = 32  # results kept per reference stage
CLAIM_HELD = 0.5  # a user hint's claim from which the references' sampled hints step aside for it


# -- inputs -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """The photo to colorize: its full-resolution lightness under a key that names those pixels."""

    key: str
    lightness: np.ndarray = field(compare=False, repr=False)  # (H, W) float32, L in [0, 100]

    @property
    def size(self) -> tuple[int, int]:
        H, W = self.lightness.shape
        return W, H


@dataclass(frozen=True)
class Source:
    """A reference: its 8-bit pixels (short side at most REFERENCE_SOURCE_SIDE) under a key."""

    key: str
    weight: float
    pixels: torch.Tensor = field(compare=False, repr=False)  # (1, 3, h, w) uint8


@dataclass(frozen=True)
class Job:
    """One edit as the pipeline reads it (see :meth:`core.api.Colorizer` for how an Edit becomes one)."""

    target: Target
    references: tuple[Source, ...] = ()
    blend: float = 1.0
    match_references: bool = True  # matched reference colours become hints
    content_aware: bool = True  # the blend is scaled by content similarity
    hints: tuple[Hint, ...] = ()
    working_size: int = 256
    model: str = ""


@dataclass(frozen=True)
class Nets:
    """The networks of one model name: its colornet and the encoder its global fusion reads."""

    colornet: ColorNet
    global_encoder: torch.nn.Module | None = None


# -- pure stages --------------------------------------------------------------------------------
def working_size_for(size: tuple[int, int], short_side: int) -> tuple[int, int]:
    """(w, h) with the short side = ``short_side`` (never upscaling), aspect ratio kept."""
    W, H = size
    scale = min(1.0, short_side / min(W, H))
    return max(1, round(W * scale)), max(1, round(H * scale))


def working_pixel(original_size: tuple[int, int], shape: tuple[int, int], x: float, y: float) -> tuple[int, int]:
    """(row, column) of the working-size (h, w) ``shape`` pixel under photo pixel (x, y)."""
    (W, H), (h, w) = original_size, shape
    return int(np.clip(np.floor((y + 0.5) * h / H), 0, h - 1)), int(np.clip(np.floor((x + 0.5) * w / W), 0, w - 1))


def colour_at(L: np.ndarray, ab: np.ndarray, original_size: tuple[int, int], x: float, y: float) -> tuple[float, tuple[float, float]]:
    """(L, ab) of working-size planes L (h, w) and ab (2, h, w) under photo pixel (x, y)."""
    v, u = working_pixel(original_size, L.shape, x, y)
    return float(L[v, u]), (float(ab[0, v, u]), float(ab[1, v, u]))


def reference_source(photo: Photo) -> torch.Tensor:
    """The reference as 8-bit RGB (1, 3, h, w), shrunk to REFERENCE_SOURCE_SIDE on its 8-bit pixels
    (a 12-megapixel reference never becomes a float copy; torch's uint8 antialiased resize reads the
    pixels in place)."""
    pixels = photo.pixels
    if photo.bit_depth == 16:
        pixels = (pixels >> 8).astype(np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    pixels = pixels[:, :, :3] if pixels.shape[2] >= 3 else np.repeat(pixels[:, :, :1], 3, axis=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a read-only array: it is only read
        rgb = torch.from_numpy(pixels).permute(2, 0, 1)[None]
    H, W = pixels.shape[:2]
    w, h = working_size_for((W, H), REFERENCE_SOURCE_SIDE)
    if (w, h) == (W, H):
        return rgb.clone(memory_format=torch.contiguous_format)  # one copy, owned, row-major
    return F.interpolate(rgb, size=(h, w), mode="bilinear", antialias=True, align_corners=False)


def reference_rgb(pixels: torch.Tensor, short_side: int) -> torch.Tensor:
    """The reference's uint8 pixels as RGB in [0, 1] (1, 3, h, w) at working size."""
    rgb = pixels.float() / 255
    h, w = rgb.shape[2:]
    new_w, new_h = working_size_for((w, h), short_side)
    if (new_w, new_h) != (w, h):
        rgb = F.interpolate(rgb, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)
    return rgb.clamp(0, 1)


def reference_lab(rgb: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """The working-size reference in Lab, at ``scale`` times that size (matching looks at a few)."""
    if scale == 1.0:
        return rgb_to_lab(rgb)
    size = [max(8, round(side * scale)) for side in rgb.shape[2:]]
    rgb = F.interpolate(rgb, size=size, mode="bilinear", antialias=scale < 1, align_corners=False)
    return rgb_to_lab(rgb.clamp(0, 1))


def describe_globally(
    encoder: torch.nn.Module, transfer: TransferNet, L: torch.Tensor, colornet: ColorNet
) -> tuple[dict[str, object], torch.Tensor | None]:
    """What ``colornet``'s fusion reads of the grey photo, as its keyword arguments (the pooled
    ImageNet descriptor, and the spatial maps when it fuses them), and, when ``encoder`` is the
    transfer encoder, the content descriptors matching reads, from the same pass (else None)."""
    taps, pooled, maps = encoder.semantics(grey_rgb(L))
    return colornet.fusion_inputs(pooled, maps), (descriptors_from(encoder, taps) if encoder is transfer.encoder else None)


def coarse_transfer(
    transfer: TransferNet,
    features: dict[str, torch.Tensor],
    L: torch.Tensor,
    stats: Sequence[ReferenceStats],
    weights: Sequence[float],
    strength: float | torch.Tensor,
) -> torch.Tensor:
    """AdaIN on the pooled reference statistics and the decoder: the coarse ab (1, 2, h, w)."""
    pooled = ReferenceStats.pooled(list(stats), list(weights))
    rgb = transfer.decode(features, tuple(L.shape[2:]), pooled, strength)
    return rgb_to_lab(rgb.clamp(0, 1))[:, 1:]


def matched_hints(
    matches: Matches, colours: Sequence[torch.Tensor], auto_ab: torch.Tensor, blend: float, size: tuple[int, int], config: ColorizerConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Correspondence hints (ab (2, h, w), mask (1, h, w)) at working ``size``. A matched colour moves
    from the automatic colour towards the reference's with the blend, so blend 0 leaves the photo as
    if there were no reference."""
    ab, mask = correspondence_hints(matches, colours, size, config.match_threshold, config.hint_patch)
    if blend < 1.0:
        ab = blend * ab + (1 - blend) * auto_ab[0] * mask
    return ab, mask


def reference_hints(
    coarse: torch.Tensor,
    L: torch.Tensor,
    matched: tuple[torch.Tensor, torch.Tensor] | None,
    matches: Matches | None,
    config: ColorizerConfig,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The hints the references give (ab (2, h, w), mask (1, h, w)).

    Where a reference shows the photo's own content its colours are pinned directly (``matched``);
    hints sampled from the transfer's coarse colours cover the rest, kept clear of the matched cells.
    """
    h, w = L.shape[2:]
    share = matches.coverage(config.match_threshold) if matched is not None else 0.0
    ab, mask = sample_hints_from_ab(coarse[0].cpu(), config.hint_density * (1 - share), config.seed, config.hint_patch, L[0].cpu())
    ab, mask = ab.to(L.device), mask.to(L.device)
    if matched is not None and share > 0:
        matched_ab, matched_mask = matched
        radius = round(config.match_clearance * min(h, w))
        mask = mask * (1 - clearance(matches, config.match_threshold, (h, w), radius))
        ab = torch.where(matched_mask > 0, matched_ab, ab * mask)
        mask = torch.maximum(mask, matched_mask)
    return ab, mask


def warped_hints(
    coarse: Callable[[], torch.Tensor], L: torch.Tensor, warp: Warp | None, auto_ab: torch.Tensor, blend: float, config: ColorizerConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """The hints the references give through the soft warp (ab (2, h, w), mask (1, h, w)): the warped
    colours where the warp is confident (a fractional mask), moving from the automatic colour towards
    the reference's with the blend, part of the way only for a loosely similar reference; no hint
    elsewhere. Without a warp (``warp`` None: blend 0, or content matching off) the hints are sampled
    from the transfer's coarse colours (``coarse()``), as in the paper's pipeline. With one, none
    are: the sub-net, trained on warped hints, extends them better than the transfer's palette does
    (on dev, the photo seen differently scored 29.80 dB without them and 29.51 with the density
    before; a related crop 34.31 and 34.28; the same on held-out training photos)."""
    h, w = L.shape[2:]
    if warp is None:
        ab, mask = sample_hints_from_ab(coarse()[0].cpu(), config.hint_density, config.seed, config.hint_patch, L[0].cpu())
        return ab.to(L.device), mask.to(L.device)
    if warp.coverage() == 0.0:
        return torch.zeros((2, h, w), device=L.device), torch.zeros((1, h, w), device=L.device)
    warped_ab, warped_mask = (t.to(L.device) for t in warp_hints(warp, (h, w)))
    strength = blend * warp.strength  # a loosely similar reference moves the colours part of the way
    if strength < 1.0:
        warped_ab = strength * warped_ab + (1 - strength) * auto_ab[0] * (warped_mask > 0)
    return warped_ab, warped_mask


def hint_centres(
    hints: Sequence[Hint], original_size: tuple[int, int], size: tuple[int, int]
) -> tuple[list[tuple[int, int]], list[float], list[tuple[float, float] | None]]:
    """The hints' centres as (y, x) working pixels (``size`` is (w, h)), as rasterize_hints maps them,
    the theta of each hint's reach (core.user_edit.reach_theta) and each hint's colour as a statement
    about the photo's colours (None for a colour picked from the result: it only holds what was
    shown); hints off the photo are left out."""
    w, h = size
    centres, thetas, colours = [], [], []
    for hint in hints:
        # the pixel rasterize_hints centres the hint's patch on (Python's round takes halves to even)
        x, y = (int(np.floor(c + 0.5)) for c in working_centre(hint, original_size, size))
        if 0 <= x < w and 0 <= y < h:
            centres.append((y, x))
            thetas.append(reach_theta(hint.reach))
            colours.append(None if hint.picked else hint.ab)
    return centres, thetas, colours


def hint_planes(
    L: torch.Tensor,
    from_references: tuple[torch.Tensor, torch.Tensor] | None,
    hints: Sequence[Hint],
    original_size: tuple[int, int],
) -> tuple[torch.Tensor, torch.Tensor]:
    """All hints as the colornet reads them (ab (1, 2, h, w), mask (1, 1, h, w)): the references'
    hints, with the user's painted over them."""
    h, w = L.shape[2:]
    hint_ab = torch.zeros(1, 2, h, w, device=L.device)
    mask = torch.zeros(1, 1, h, w, device=L.device)
    if from_references is not None:
        hint_ab[0], mask[0] = from_references
    if hints:
        user_ab, user_mask = rasterize_hints(hints, original_size, (w, h))
        user_ab, user_mask = user_ab.to(L.device), user_mask.to(L.device)
        hint_ab[0] = torch.where(user_mask > 0, user_ab, hint_ab[0])
        mask[0] = torch.maximum(mask[0], user_mask)
    return hint_ab, mask


def palette(labs: Sequence[torch.Tensor], count: int, seed: int) -> list[tuple[int, int, int]]:
    """Dominant colours of Lab images (each (1, 3, h, w)): k-means on their pixels' chroma, most
    chromatic first, as 0-255 sRGB."""
    data = torch.cat([lab[0].reshape(3, -1).T.cpu() for lab in labs])
    chroma = data[:, 1:].norm(dim=1)
    data = data[chroma > PALETTE_CHROMA] if int((chroma > PALETTE_CHROMA).sum()) >= count else data
    generator = torch.Generator().manual_seed(seed)
    picks = data[torch.randperm(len(data), generator=generator)[: min(len(data), PALETTE_SAMPLES)]]
    centres = picks[torch.randperm(len(picks), generator=generator)[:count]].clone()
    for _ in range(PALETTE_ITERATIONS):
        assign = torch.cdist(picks[:, 1:], centres[:, 1:]).argmin(dim=1)
        for k in range(len(centres)):
            members = picks[assign == k]
            if len(members):
                centres[k] = members.mean(dim=0)
    order = centres[:, 1:].norm(dim=1).argsort(descending=True)
    rgb = lab_to_rgb(centres[order].T[:, :, None])[:, :, 0].T
    return [tuple(int(v * 255 + 0.5) for v in colour) for colour in rgb.tolist()]


# -- memoisation --------------------------------------------------------------------------------
class StageCache:
    """The last ``size`` results of one stage, by key (least recently used dropped first)."""

    def __init__(self, size: int = STAGE_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, object] = OrderedDict()

    def get(self, key: Hashable, compute: Callable[[], object]) -> object:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = compute()
        self._items[key] = value
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return value

    def discard(self, key: Hashable) -> None:
        self._items.pop(key, None)

    def clear(self) -> None:
        self._items.clear()


def _hint_key(hints: Sequence[Hint]) -> tuple:
    """What of the hints the pipeline reads (ids are bookkeeping: renumbering reruns nothing)."""
    return tuple((h.x, h.y, h.ab, h.radius, h.reach, h.picked) for h in hints)


class Pipeline:
    """The stages above, memoised. ``nets(model)`` gives the networks of a model name."""

    def __init__(self, config: ColorizerConfig, transfer: TransferNet, device: torch.device, nets: Callable[[str], Nets]) -> None:
        self.config = config
        self.transfer = transfer
        self.device = device
        self.nets = nets
        self.stage_calls: Counter = Counter()
        self.timings: dict[str, float] = {}
        self._caches: dict[str, StageCache] = {}
        # Set for one preview (``cancellable``): when it returns True, the stage about to run, or the
        # sub-net between two of its blocks, raises Cancelled (a newer edit is waiting).
        self.cancel: Callable[[], bool] | None = None

    def _memo(self, stage: str, key: Hashable, compute: Callable[[], object], counted: bool = True, size: int = STAGE_CACHE_SIZE):
        cache = self._caches.setdefault(stage, StageCache(size))
        return cache.get(key, (lambda: self._timed(stage, compute)) if counted else compute)

    def _timed(self, stage: str, compute: Callable[[], object]) -> object:
        """Count a run of ``stage`` and record how long it took (Cancelled first if asked to stop)."""
        if self.cancel is not None and self.cancel():
            raise Cancelled()
        self.stage_calls[stage] += 1
        started = time.perf_counter()
        try:
            return compute()
        finally:
            self.timings[stage] = time.perf_counter() - started

    # -- the target ------------------------------------------------------------------------------
    def lightness(self, job: Job) -> torch.Tensor:
        """L (1, 1, h, w) at working size."""
        size = working_size_for(job.target.size, job.working_size)
        key = (job.target.key, job.working_size)
        return self._memo("resize_target", key, lambda: resize_lightness(job.target.lightness, size).to(self.device))

    def global_features(self, job: Job) -> tuple[dict[str, object], torch.Tensor | None]:
        """(what the colornet's fusion reads, as its keyword arguments; content descriptors from the
        same pass): ({}, None) for a net without fusion."""
        nets = self.nets(job.model)
        if nets.global_encoder is None:
            return {}, None
        key = (job.target.key, job.working_size, job.model)
        return self._memo(
            "global_features", key, lambda: describe_globally(nets.global_encoder, self.transfer, self.lightness(job), nets.colornet)
        )

    def precolorized(self, job: Job) -> torch.Tensor:
        """The colornet's ab without hints (1, 2, h, w): the automatic result."""
        key = (job.target.key, job.working_size, job.model)

        def run() -> torch.Tensor:
            L, (semantics, _) = self.lightness(job), self.global_features(job)
            colornet = self.nets(job.model).colornet
            with self._interruptible(colornet):
                return self._timed("precolorize", lambda: colornet(L, **semantics))

        return self._memo("precolorize", key, run, counted=False)

    def target_features(self, job: Job) -> dict[str, torch.Tensor]:
        key = (job.target.key, job.working_size, job.model)

        def run() -> dict[str, torch.Tensor]:
            L, ab = self.lightness(job), self.precolorized(job)
            return self._timed("encode_target", lambda: self.transfer.encode(lab_to_rgb(torch.cat((L, ab), dim=1))))

        return self._memo("encode_target", key, run, counted=False)

    def target_descriptors(self, job: Job) -> torch.Tensor:
        """The photo's content descriptors: from the global-fusion pass when it made them."""
        _, described = self.global_features(job)
        if described is not None:
            return described
        key = (job.target.key, job.working_size)
        return self._memo("describe_target", key, lambda: content_descriptors(self.transfer.encoder, self.lightness(job)))

    # -- the references --------------------------------------------------------------------------
    def _reference_rgb(self, source: Source, short_side: int) -> torch.Tensor:
        key = (source.key, short_side)
        rgb = self._memo("reference_rgb", key, lambda: reference_rgb(source.pixels, short_side), False, REFERENCE_CACHE_SIZE)
        return rgb.to(self.device)

    def reference_stats(self, source: Source, short_side: int) -> ReferenceStats:
        def run() -> ReferenceStats:
            return self.transfer.reference_stats(self.transfer.encode(self._reference_rgb(source, short_side)))

        return self._memo("encode_reference", (source.key, short_side), run, size=REFERENCE_CACHE_SIZE)

    def reference_lab(self, source: Source, short_side: int) -> torch.Tensor:
        key = (source.key, short_side)
        return self._memo("reference_lab", key, lambda: reference_lab(self._reference_rgb(source, short_side)), False, REFERENCE_CACHE_SIZE)

    def reference_descriptors(self, source: Source, short_side: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(content descriptors of its grey, its ab) at each of the matching scales and, for the soft
        warp, of its mirror image at working size (last; one encoder pass with the straight view), so
        a mirrored view of the same things is found as well as a straight one."""

        def run() -> list[tuple[torch.Tensor, torch.Tensor]]:
            described, mirrored = [], None
            for scale in self.config.match_scales:
                lab = self.reference_lab(source, short_side) if scale == 1.0 else reference_lab(self._reference_rgb(source, short_side), scale)
                grey, ab = lab[:, :1], lab[0, 1:]
                with_mirror = self.warping and scale == 1.0  # one encoder pass for both views
                descriptors = content_descriptors(self.transfer.encoder, torch.cat((grey, grey.flip(-1))) if with_mirror else grey)
                described.append((descriptors[:1], ab))
                if with_mirror:
                    mirrored = (descriptors[1:], ab.flip(-1))
            if self.warping and mirrored is None:  # 1x is not among the matching scales
                lab = self.reference_lab(source, short_side).flip(-1)
                mirrored = (content_descriptors(self.transfer.encoder, lab[:, :1]), lab[0, 1:])
            return described + ([mirrored] if mirrored is not None else [])

        return self._memo("describe_reference", (source.key, short_side), run, size=REFERENCE_CACHE_SIZE)

    # -- correspondence, transfer, hints ---------------------------------------------------------
    @property
    def warping(self) -> bool:
        return self.config.correspondence == "warp"

    def warp(self, job: Job) -> Warp:
        """The references' colours warped onto the photo by what things are (core.correspondence)."""
        key = (job.target.key, job.working_size, tuple(s.key for s in job.references))

        def run() -> Warp:
            target = self.target_descriptors(job)
            sources = []
            for source in job.references:
                sources += self.reference_descriptors(source, job.working_size)
            return self._timed("warp", lambda: soft_warp(target, reference_cells(sources)))

        return self._memo("warp", key, run, counted=False)

    def matches(self, job: Job) -> tuple[Matches, list[torch.Tensor]]:
        """Where the references show what the photo shows, and the ab of each matched source (as
        :func:`core.matching.match` indexes them)."""
        key = (job.target.key, job.working_size, tuple(s.key for s in job.references))

        def run() -> tuple[Matches, list[torch.Tensor]]:
            target = self.target_descriptors(job)
            sources = [d for s in job.references for d in self.reference_descriptors(s, job.working_size)]
            found = self._timed("match", lambda: match(target, [d for d, _ in sources]))
            return found, [ab for _, ab in sources]

        return self._memo("match", key, run, counted=False)

    def coverage(self, job: Job) -> float:
        """Share of the photo (0..1) the references show closely enough to pin their own colours."""
        if not job.references or not job.match_references:
            return 0.0
        if self.warping:
            return self.warp(job).coverage()
        return self.matches(job)[0].coverage(self.config.match_threshold)

    def similarity(self, job: Job) -> torch.Tensor:
        """How closely the references show each photo cell (h, w): the best cosine similarity."""
        return self.warp(job).similarity if self.warping else self.matches(job)[0].similarity

    def _transfer_key(self, job: Job) -> tuple:
        refs = tuple((s.key, s.weight) for s in job.references)
        return (job.target.key, job.working_size, job.model, refs, job.blend, job.content_aware)

    def coarse(self, job: Job) -> torch.Tensor:
        """The transfer's coarse ab (1, 2, h, w); the job has references."""

        def run() -> torch.Tensor:
            features = self.target_features(job)
            stats = [self.reference_stats(s, job.working_size) for s in job.references]
            strength: float | torch.Tensor = job.blend
            if job.content_aware and job.blend != 0.0:
                strength = job.blend * content_strength(self.similarity(job), *self.config.similarity_range)
            L, weights = self.lightness(job), [s.weight for s in job.references]
            return self._timed("transfer", lambda: coarse_transfer(self.transfer, features, L, stats, weights, strength))

        return self._memo("transfer", self._transfer_key(job), run, counted=False)

    def reference_hints(self, job: Job) -> tuple[torch.Tensor, torch.Tensor]:
        def run() -> tuple[torch.Tensor, torch.Tensor]:
            L = self.lightness(job)
            if self.warping:
                warp = self.warp(job) if job.match_references and job.blend != 0.0 else None
                return warped_hints(lambda: self.coarse(job), L, warp, self.precolorized(job), job.blend, self.config)
            coarse, matched, matches = self.coarse(job), None, None
            if job.match_references and job.blend != 0.0:
                matches, colours = self.matches(job)
                matched = matched_hints(matches, colours, self.precolorized(job), job.blend, tuple(L.shape[2:]), self.config)
            return reference_hints(coarse, L, matched, matches, self.config)

        key = self._transfer_key(job) + (job.match_references,)
        return self._memo("reference_hints", key, run, counted=False)

    def final_ab(self, job: Job) -> torch.Tensor:
        """The result's ab (1, 2, h, w) at working size."""
        if not job.references and not job.hints:
            return self.precolorized(job)
        if not job.hints or not self.config.user_edit:
            return self.colorize(job)
        return self.user_edit(job)

    def prepare(self, job: Job) -> None:
        """Compute ahead, once per photo, what a first reference or a first hint would wait for: the
        photo's content descriptors (the warp and the hints read them), the hints' edge weights and
        regions, and where a first reference would be transferred (no soft warp, or the job's
        matching off) the pre-coloured photo's encoder features."""
        if not self.warping or not job.match_references:
            self.target_features(job)
        if self.config.user_edit:
            self.user_weights(job)
        elif job.match_references:  # the warp or the matches read them
            self.target_descriptors(job)

    def _colorize_key(self, job: Job) -> tuple:
        ref_key = self._transfer_key(job) + (job.match_references,) if job.references else None
        return (job.target.key, job.working_size, job.model, ref_key, _hint_key(job.hints))

    def colorize(self, job: Job) -> torch.Tensor:
        """The sub-net on the references' hints and the job's own."""

        def run() -> torch.Tensor:
            L = self.lightness(job)
            from_references = self.reference_hints(job) if job.references else None
            return self._run_colornet(job, L, from_references, job.hints)

        return self._memo("colorize", self._colorize_key(job), run, counted=False)

    def _run_colornet(
        self, job: Job, L: torch.Tensor, from_references, hints: Sequence[Hint], reach: np.ndarray | None = None
    ) -> torch.Tensor:
        """The sub-net on the references' hints and ``hints``; a user-hint net reads ``hints`` in
        their own channels, spread over their claims (``reach``: their user_hint_influence, computed
        here unless given), except in the paper's pipeline (``user_edit`` off), which feeds them with
        the references' hints, as published."""
        colornet = self.nets(job.model).colornet
        user: dict[str, torch.Tensor] = {}
        if hints and colornet.user_hints and self.config.user_edit:  # the user's hints in their own channels
            weights = self.user_weights(job)
            user_ab, user_mask = rasterize_hints(hints, job.target.size, tuple(L.shape[:1:-1]))
            if reach is None:
                centres, thetas, _ = hint_centres(hints, job.target.size, tuple(L.shape[:1:-1]))
                reach = user_hint_influence(centres, weights, thetas) if centres else np.zeros(weights.shape, np.float32)
            colour, claim = user_hint_planes(user_ab.numpy(), user_mask.numpy(), weights, reach)
            user = {"user_ab": torch.from_numpy(colour)[None].to(L.device), "user_mask": torch.from_numpy(claim)[None, None].to(L.device)}
            hints = ()
        hint_ab, mask = hint_planes(L, from_references, hints, job.target.size)
        semantics, _ = self.global_features(job)
        with self._interruptible(colornet):
            return self._timed("colorize", lambda: colornet(L, hint_ab, mask, **user, **semantics))

    @contextmanager
    def cancellable(self, cancel: Callable[[], bool] | None) -> Iterator[None]:
        """Within the block, Cancelled is raised (at once, before a stage, or between two blocks of
        the sub-net) as soon as ``cancel()`` returns True; nothing half-computed is cached."""
        if cancel is not None and cancel():
            raise Cancelled()
        self.cancel = cancel
        try:
            yield
        finally:
            self.cancel = None

    @contextmanager
    def _interruptible(self, net: torch.nn.Module) -> Iterator[None]:
        """While a network runs, check ``cancel`` before each of its top-level blocks: a preview
        made stale by a newer edit (a slider still moving) stops within a block, not a whole run."""
        cancel = self.cancel
        if cancel is None:
            yield
            return

        def check(*_) -> None:
            if cancel():
                raise Cancelled()

        handles = []
        try:
            for block in net.children():
                handles.append(block.register_forward_pre_hook(check))
            yield
        finally:
            for handle in handles:
                handle.remove()

    def user_weights(self, job: Job) -> UserEditWeights:
        """The edge weights the user's hints spread with: the lightness's edges and those of what
        things are (the photo's content descriptors as a core.user_edit.semantic_guide), with the
        lightness's regions their claims fill (core.user_edit.lightness_regions), and the lightness
        and guide that say which things are alike for the corrections (core.user_edit.local_cast)."""
        key = (job.target.key, job.working_size, job.model)

        def run() -> UserEditWeights:  # what it reads first, so that only its own work is timed
            L = self.lightness(job)[0, 0].float().cpu().numpy()
            descriptors = self.target_descriptors(job)[0].float().cpu().numpy()
            return self._timed("user_weights", lambda: user_edit_weights(L, semantic_guide(descriptors, L.shape)))

        return self._memo("user_weights", key, run, counted=False)

    def user_edit(self, job: Job) -> torch.Tensor:
        """The result without the user's hints, with them laid over it: each hint claims the region it
        lands in (fading with distance, stopping where the lightness or what things are changes);
        there the references' colours step aside, and the hint's colour change is spread over the
        region edge-aware (core.user_edit), so nothing outside the claims changes by the spread and
        the references' hints cannot drown a hint. A sub-net with a user-hint input (``ColorNet.user_hints``) first
        reruns with the user's hints in their own channels (the references' hints inside the claims
        left out): trained to carry a true colour where the photo's content says it belongs, and a
        new colour over its region only. Without one, the references' colours step aside for the
        automatic ones and no network runs. Beyond the claims, the colours follow the corrections
        (hints near the colour shown), measured against the result without them: most on things
        like the corrected ones, and by the cast the hints agree on elsewhere
        (core.user_edit.local_cast, core.user_edit.agreed_cast)."""

        def run() -> torch.Tensor:
            L = self.lightness(job)
            h, w = L.shape[2:]
            centres, thetas, colours = hint_centres(job.hints, job.target.size, (w, h))
            before = self.final_ab(replace(job, hints=()))  # shown before the first hint: memoised
            if not centres:
                return before
            weights = self.user_weights(job)
            user_ab, user_mask = rasterize_hints(job.hints, job.target.size, (w, h))
            reach = None  # computed by the compose unless the claim is needed first
            if self.nets(job.model).colornet.user_hints:
                reach = user_hint_influence(centres, weights, thetas)
                base = self._run_user_colornet(job, L, reach)
            else:
                base = before
            if job.references and reach is None:
                reach = user_hint_influence(centres, weights, thetas)
                claimed = torch.from_numpy(reach)
                if bool((self.reference_hints(job)[1].cpu() * claimed).any()):  # else nothing steps aside
                    claim = claimed.to(base.device)[None, None]
                    base = base + claim * (self.precolorized(job) - base)
            ab, hint_ab, hint_mask = base[0].float().cpu().numpy(), user_ab.numpy(), user_mask.numpy()
            before_ab = before[0].float().cpu().numpy()
            out = self._timed(
                "user_edit",
                lambda: compose_user_edit(ab, hint_ab, hint_mask, centres, weights, thetas, reach, before_ab, colours),
            )
            return torch.from_numpy(out)[None].to(base.device, base.dtype)

        return self._memo("user_edit", self._colorize_key(job), run, counted=False)

    def _run_user_colornet(self, job: Job, L: torch.Tensor, reach: np.ndarray) -> torch.Tensor:
        """The sub-net on the references' hints outside the user's claims (``reach`` (h, w), their
        user_hint_influence, at least CLAIM_HELD) and the user's hints in their own channels."""
        from_references = None
        if job.references:
            ab, mask = self.reference_hints(job)
            outside = (torch.from_numpy(reach) < CLAIM_HELD).to(mask.device, mask.dtype)[None]
            from_references = (ab * outside, mask * outside)
        return self._run_colornet(job, L, from_references, job.hints, reach)

    def palette(self, references: Sequence[Source], short_side: int, count: int) -> list[tuple[int, int, int]]:
        if not references:
            return []
        return palette([self.reference_lab(s, short_side) for s in references], count, self.config.seed)
