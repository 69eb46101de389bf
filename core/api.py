"""The one API the app, the CLI, the evaluation and the benchmarks use: a ``Colorizer`` that runs an
:class:`~core.edit.Edit` and holds no edit of its own.

    colorizer = Colorizer()                       # bundled weights, device picked automatically
    edit = Edit("grandma.jpg", references=(Reference("dress.jpg"),), blend=0.8)
    edit = edit.with_hint(Hint.from_rgb(120, 340, "#3a5fcd"))
    preview = colorizer.preview(edit)             # working size, fast
    colorizer.export(edit, "grandma-colour.png")  # full resolution, original L untouched

Each stage of :mod:`core.pipeline` is memoised on what it reads, so a preview after a small change
reruns only what that change touches (a new hint: the sub-net without the references' hints where it
lands, and the edge-aware spread of its colour).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np
import torch

from core.color import DEFAULT_LIGHTNESS, ab_plane_rgba, lab_to_rgb
from core.config import CORRESPONDENCES, ENCODERS, RANDOM_WEIGHTS_ENV, ColorizerConfig
from core.device import describe
from core.edit import Edit, EditError, Hint, Reference
from core.hints import ab_to_rgb8, rgb8_to_ab, snap_ab
from core.imageio import ImageError, OverwriteError, Photo, load_photo, photo_from_array, save_image
from core.networks import Models, global_encoder_for, load_colornet, load_encoder, load_models, place_colornet, place_net
from core.pipeline import Job, Nets, Pipeline, Source, StageCache, Target, colour_at, reference_source, working_pixel, working_size_for
from core.upsample import Cancelled, fit_guided, render_strips, resize_lightness
from core.weights import WeightsError
# for the desktop, which imports from the core only this module and core.edit
from core.imageio import is_supported_image
from core.output import OutputError, OutputPlan, is_earlier_result
from core.weights import list_weights, resources_dir, user_data_dir

__all__ = [
    "CORRESPONDENCES", "DEFAULT_LIGHTNESS", "ENCODERS", "RANDOM_WEIGHTS_ENV", "Cancelled", "Colorizer", "ColorizerConfig", "ColorizerLike",
    "Edit", "EditError", "Hint", "ImageError", "Models", "OverwriteError", "Photo", "Preview", "Probe", "Reference", "WeightsError",
    "ab_plane_rgba", "ab_to_rgb8", "load_encoder", "load_models", "load_photo", "no_colour_error", "rgb8_to_ab", "snap_ab",
    "working_size_for", "OutputError", "OutputPlan", "is_earlier_result", "is_supported_image", "list_weights",
    "photo_from_array", "resources_dir", "user_data_dir",  # from OutputError on: re-exported for the desktop
]

PHOTO_CACHE_SIZE = 2  # photos kept loaded (references are kept as their small source copies)
HELD_PREFIX = "memory:"  # keys of photos held in memory (Colorizer.hold)


@dataclass(frozen=True)
class Preview:
    """The edit's result at working size (what the app shows while editing)."""

    rgb: np.ndarray  # (h, w, 3) uint8
    ab: np.ndarray  # (2, h, w) float32
    L: np.ndarray  # (h, w) float32
    original_size: tuple[int, int]  # (W, H) of the photo
    seconds: float  # time spent computing this preview
    coverage: float = 0.0  # share of the photo (0..1) the references show closely enough to pin their colours

    def colour_at(self, x: float, y: float) -> tuple[float, tuple[float, float]]:
        """(L, ab) at photo pixel (x, y), read at working size: a probe without asking the colorizer."""
        return colour_at(self.L, self.ab, self.original_size, x, y)


@dataclass(frozen=True)
class Probe:
    """What the colour picker shows for one pixel of the photo."""

    ab: tuple[float, float]  # the colour the model predicts there
    L: float  # the photo's lightness there
    gamut: np.ndarray  # (96, 96, 4) uint8 RGBA: every (a, b) displayable at L (see core.color.ab_plane_rgba)


def no_colour_error(name: str | None) -> ImageError:
    """The one sentence for a grey photo offered as a colour reference."""
    return ImageError(f"'{name or 'This reference'}' has no colour to take; choose a colour photo as reference.")


@runtime_checkable
class ColorizerLike(Protocol):
    """What the app needs of a colorizer (``Colorizer``, and the tests' ``FakeColorizer``)."""

    stage_calls: Counter  # how often each pipeline stage ran (tests check the caching through it)
    metadata: dict  # the weights' metadata, e.g. {"colornet": {"random": True}}
    device_description: str  # e.g. "CPU (8 threads)", for the status bar

    def open(self, path: str | os.PathLike) -> Photo: ...

    def hold(self, photo: Photo | np.ndarray, name: str | None = None) -> str: ...

    def check_reference(self, path: str | os.PathLike) -> Photo: ...

    def preview(self, edit: Edit, cancel: Callable[[], bool] | None = None) -> Preview: ...

    def prepare(self, edit: Edit, cancel: Callable[[], bool] | None = None) -> None: ...

    def render(
        self, edit: Edit, max_side: int | None = None, progress: Callable[[float], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> np.ndarray: ...

    def export(
        self, edit: Edit, path: str | os.PathLike, quality: int = 95, progress: Callable[[float], None] | None = None,
        cancel: Callable[[], bool] | None = None, overwrite: bool = False,
    ) -> Path: ...

    def probe(self, edit: Edit, x: float, y: float) -> Probe: ...

    def palette(self, edit: Edit, count: int = 8) -> list[tuple[int, int, int]]: ...


@dataclass
class _Held:
    token: str  # changes whenever the key is held again
    photo: Photo | None  # None for a bare lightness plane
    lightness: np.ndarray | None = None


class Colorizer:
    """Runs edits with one set of networks. Not thread-safe: call it from one thread."""

    def __init__(self, config: ColorizerConfig | None = None, models: Models | None = None) -> None:
        self.config = config or ColorizerConfig()
        self.models = models or load_models(self.config)
        self.device = self.models.device
        self.metadata: dict = dict(self.models.metadata)  # plus "models": the metadata of other models used
        self._colornets: dict[str, Nets] = {self.config.colornet: Nets(self.models.colornet, self.models.global_encoder)}
        self._pipeline = Pipeline(self.config, self.models.transfer, self.device, self._nets)
        self.stage_calls: Counter = self._pipeline.stage_calls
        self.timings: dict[str, float] = self._pipeline.timings
        self._held: dict[str, _Held] = {}
        self._serial = 0
        self._photos = StageCache(PHOTO_CACHE_SIZE)  # token -> Photo
        self._lightness = StageCache(2)  # token -> full-resolution L of a photo
        self._sources = StageCache(64)  # token -> reference pixels (core.pipeline.reference_source)

    @property
    def device_description(self) -> str:
        return describe(self.device)

    def _nets(self, model: str) -> Nets:
        """The networks of a model name, loaded once (on the Colorizer's device)."""
        if model not in self._colornets:
            with torch.random.fork_rng():
                torch.manual_seed(self.config.seed)
                colornet, metadata = load_colornet(model, self.config.allow_random_weights)
            colornet = place_colornet(colornet, self.device, self.config.precision)
            encoder = global_encoder_for(colornet, self.models.transfer.encoder, self.config.allow_random_weights)
            self._colornets[model] = Nets(colornet, None if encoder is None else place_net(encoder, self.device, self.config.precision))
            self.metadata.setdefault("models", {})[model] = metadata
        return self._colornets[model]

    # -- photos -----------------------------------------------------------------------------------
    def _token(self, key: str | os.PathLike) -> str:
        """A name for the pixels under ``key`` that changes when they do (path + mtime + size)."""
        key = os.fspath(key)
        if key in self._held:
            return self._held[key].token
        try:
            status = os.stat(key)
        except OSError:
            load_photo(key)  # raises the ImageError that says why the file cannot be read
            raise
        return f"{os.path.abspath(key)}|{status.st_mtime_ns}|{status.st_size}"

    def open(self, path: str | os.PathLike) -> Photo:
        """The photo at ``path`` (or held there), loaded once while unchanged; ImageError if unreadable."""
        key = os.fspath(path)
        if key in self._held:
            held = self._held[key]
            if held.photo is None:
                raise ImageError(f"'{key}' is a lightness plane, not a photo.")
            return held.photo
        return self._photos.get(self._token(key), lambda: load_photo(key))

    def hold(self, photo: Photo | np.ndarray, name: str | None = None) -> str:
        """Keep an in-memory photo (a Photo, 8/16-bit pixels, or a float (H, W) lightness plane in
        [0, 100]) and return the key an Edit names it by (as its photo or a reference's path).
        Holding under the same ``name`` again replaces it."""
        self._serial += 1
        key = HELD_PREFIX + (name or f"photo-{self._serial}")
        if isinstance(photo, np.ndarray) and photo.ndim == 2 and np.issubdtype(photo.dtype, np.floating):
            held = _Held(f"{key}|{self._serial}", None, np.ascontiguousarray(photo, dtype=np.float32))
        else:
            held = _Held(f"{key}|{self._serial}", photo if isinstance(photo, Photo) else photo_from_array(photo))
        self._held[key] = held
        return key

    def check_reference(self, path: str | os.PathLike) -> Photo:
        """The photo at ``path`` if it can serve as a colour reference; ImageError (one sentence) if not."""
        photo = self.open(path)
        if not photo.has_colour:
            raise no_colour_error(photo.path.name if photo.path else None)
        return photo

    def _target(self, edit: Edit) -> Target:
        if edit.photo is None:
            raise EditError("The edit has no photo to colorize; open a photo first.")
        token = self._token(edit.photo)
        held = self._held.get(edit.photo)
        if held is not None and held.lightness is not None:
            return Target(token, held.lightness)
        return Target(token, self._lightness.get(token, lambda: self.open(edit.photo).lightness()))

    def _photo_of(self, edit: Edit) -> Photo | None:
        """The edit's photo (for its bit depth, EXIF and ICC profile); None for a lightness plane."""
        held = self._held.get(edit.photo)
        return None if held is not None and held.photo is None else self.open(edit.photo)

    def _references(self, edit: Edit) -> tuple[Source, ...]:
        sources = []
        for ref in edit.references:
            token = self._token(ref.path)
            pixels = self._sources.get(token, lambda: reference_source(self.check_reference(ref.path)))
            self._photos.discard(token)  # its small source copy is all that is kept of a reference
            sources.append(Source(token, ref.weight, pixels))
        return tuple(sources)

    def _job(self, edit: Edit) -> Job:
        return Job(
            self._target(edit), self._references(edit), edit.blend,
            match_references=self.config.match_references and edit.match_content,
            content_aware=self.config.content_aware and edit.match_content,
            hints=edit.hints, working_size=edit.working_size, model=edit.model,
        )

    # -- results ----------------------------------------------------------------------------------
    @torch.inference_mode()
    def preview(self, edit: Edit, cancel: Callable[[], bool] | None = None) -> Preview:
        """The result at working size; reruns only the stages the edit's changes made stale."""
        started = time.perf_counter()
        job = self._job(edit)
        with self._pipeline.cancellable(cancel):  # stages and the sub-net stop once a newer edit waits
            ab, L = self._pipeline.final_ab(job), self._pipeline.lightness(job)
        rgb = lab_to_rgb(torch.cat((L, ab), dim=1))[0]
        rgb8 = (rgb.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        coverage = self._pipeline.coverage(job)
        return Preview(
            rgb8, ab[0].float().cpu().numpy().copy(), L[0, 0].cpu().numpy().copy(), job.target.size, time.perf_counter() - started, coverage
        )

    @torch.inference_mode()
    def prepare(self, edit: Edit, cancel: Callable[[], bool] | None = None) -> None:
        """Compute and cache ahead what a first reference or hint on ``edit``'s photo would wait for."""
        with self._pipeline.cancellable(cancel):
            self._pipeline.prepare(self._job(edit))

    @torch.inference_mode()
    def render(
        self, edit: Edit, max_side: int | None = None, progress: Callable[[float], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> np.ndarray:
        """The colorized photo as sRGB (H, W, 3): full resolution and bit depth by default, or scaled
        so that its long side is at most ``max_side`` (for display). Raises Cancelled on request."""
        job = self._job(edit)
        ab, L_work = self._pipeline.final_ab(job), self._pipeline.lightness(job)
        photo = self._photo_of(edit)
        started = time.perf_counter()
        self.stage_calls["render"] += 1
        coefficients = fit_guided(L_work.cpu(), ab.float().cpu())
        L = job.target.lightness
        if max_side is not None and max(L.shape) > max_side:
            scale = max_side / max(L.shape)
            L = resize_lightness(L, (max(1, round(L.shape[1] * scale)), max(1, round(L.shape[0] * scale))))[0, 0].numpy()
        bit_depth = photo.bit_depth if photo is not None and max_side is None else 8
        out = render_strips(L, coefficients, bit_depth, progress, cancel)
        self.timings["render"] = time.perf_counter() - started
        return out

    def export(
        self, edit: Edit, path: str | os.PathLike, quality: int = 95, progress: Callable[[float], None] | None = None,
        cancel: Callable[[], bool] | None = None, overwrite: bool = False,
    ) -> Path:
        """Write the full-resolution result (PNG/JPEG/TIFF; 16-bit kept where the format allows) with
        the photo's EXIF and ICC profile. Never writes over the photo or a reference of the edit
        (OverwriteError); another existing file only with ``overwrite`` (else ImageError)."""
        sources = [p for p in (edit.photo, *edit.reference_paths) if p is not None and p not in self._held]
        rgb = self.render(edit, progress=progress, cancel=cancel)
        photo = self._photo_of(edit)
        exif, icc = (photo.exif, photo.icc_profile) if photo is not None else (None, None)
        return save_image(path, rgb, exif=exif, icc_profile=icc, sources=sources, quality=quality, overwrite=overwrite)

    @torch.inference_mode()
    def probe(self, edit: Edit, x: float, y: float) -> Probe:
        """The model's colour, the photo's lightness and the displayable gamut at photo pixel (x, y)."""
        job = self._job(edit)
        (W, H), ab = job.target.size, self._pipeline.final_ab(job)
        v, u = working_pixel(job.target.size, tuple(ab.shape[2:]), x, y)
        L = float(job.target.lightness[int(np.clip(y, 0, H - 1)), int(np.clip(x, 0, W - 1))])
        return Probe((float(ab[0, 0, v, u]), float(ab[0, 1, v, u])), L, ab_plane_rgba(L))

    @torch.inference_mode()
    def palette(self, edit: Edit, count: int = 8) -> list[tuple[int, int, int]]:
        """Dominant colours of the edit's references (k-means on their Lab pixels, most chromatic first)."""
        return self._pipeline.palette(self._references(edit), edit.working_size, count)
