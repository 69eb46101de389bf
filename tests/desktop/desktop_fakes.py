"""A stand-in for ``core.api.Colorizer`` with the same methods, fast and deterministic.

Its "colorization" tints the photo's lightness by the blend and the number of references, so tests
can see that edits reach the result; ``delay`` makes previews slow, ``fail_with`` makes them fail.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from core.api import Preview, working_size_for
from core.imageio import ImageError, Photo, load_photo, photo_from_array, save_image
from core.upsample import Cancelled


@dataclass(frozen=True)
class _Config:
    working_size: int


class FakeColorizer:
    def __init__(self, options, delay: float = 0.0, fail_with: BaseException | None = None) -> None:
        self.config = _Config(options.working_size)
        self.options = options
        self.delay = delay
        self.fail_with = fail_with
        self.device_description = "CPU (fake)"
        self.models = type("Models", (), {"metadata": {"colornet": {}}})()
        self.calls: Counter = Counter()
        self._ids = itertools.count(1)
        self.photo: Photo | None = None
        self.references: dict[int, float] = {}
        self.blend = 1.0
        self.content_matching = True
        self.hints: tuple = ()

    # -- edits ------------------------------------------------------------------------------
    def set_target(self, photo) -> None:
        self.calls["set_target"] += 1
        self.photo = photo if isinstance(photo, Photo) else load_photo(photo)

    def add_reference(self, photo, weight: float = 1.0, name=None) -> int:
        self.calls["add_reference"] += 1
        if isinstance(photo, np.ndarray):
            photo = photo_from_array(photo)
        elif not isinstance(photo, Photo):
            photo = load_photo(photo)
        if not photo.has_colour:
            raise ImageError(f"'{photo.path.name if photo.path else 'This reference'}' has no colour to take; choose a colour photo as reference.")
        ref_id = next(self._ids)
        self.references[ref_id] = weight
        return ref_id

    def remove_reference(self, ref_id: int) -> None:
        del self.references[ref_id]

    def set_reference_weight(self, ref_id: int, weight: float) -> None:
        self.references[ref_id] = weight

    def set_blend(self, alpha: float) -> None:
        if not 0 <= alpha <= 1:
            raise ValueError("blend must be between 0 and 1")
        self.blend = alpha

    def set_hints(self, hints) -> None:
        self.hints = tuple(hints)

    def set_working_size(self, size: int) -> None:
        self.config = replace(self.config, working_size=int(size))

    # -- results ----------------------------------------------------------------------------
    @property
    def original_size(self) -> tuple[int, int]:
        return self.photo.size

    def _ab(self) -> tuple[float, float]:
        if self.references:
            return 40.0 * self.blend, 20.0 + 10 * len(self.references)
        return 5.0, 10.0

    def _colour(self, L: np.ndarray, scale: float) -> np.ndarray:
        a, b = self._ab()
        rgb = np.stack([L + a * 0.8, L, L + b * 0.2 - a * 0.3], axis=-1) / 100.0
        return np.clip(rgb, 0, 1) * scale

    def preview(self) -> Preview:
        self.calls["preview"] += 1
        if self.photo is None:
            raise RuntimeError("no photo is open: call set_target first")
        if self.delay:
            time.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with
        w, h = working_size_for(self.photo.size, self.config.working_size)
        L = self.photo.lightness()
        ys = (np.arange(h) * self.photo.height // h)[:, None]
        xs = (np.arange(w) * self.photo.width // w)[None, :]
        L_work = L[ys, xs].astype(np.float32)
        rgb = (self._colour(L_work, 255) + 0.5).astype(np.uint8)
        ab = np.empty((2, h, w), np.float32)
        ab[0], ab[1] = self._ab()
        return Preview(rgb, ab, L_work, self.photo.size, 0.001)

    def render(self, max_side=None, progress=None, cancel=None) -> np.ndarray:
        self.calls["render"] += 1
        L = self.photo.lightness()
        if max_side is not None and max(L.shape) > max_side:
            step = int(np.ceil(max(L.shape) / max_side))
            L = L[::step, ::step]
        sixteen = self.photo.bit_depth == 16 and max_side is None
        rows = np.array_split(np.arange(L.shape[0]), 4)
        out = np.empty(L.shape + (3,), np.uint16 if sixteen else np.uint8)
        for i, chunk in enumerate(rows):
            if cancel is not None and cancel():
                raise Cancelled()
            if self.delay:
                time.sleep(self.delay / 4)
            out[chunk] = (self._colour(L[chunk], 65535 if sixteen else 255) + 0.5).astype(out.dtype)
            if progress is not None:
                progress((i + 1) / len(rows))
        return out

    def export(self, path, quality=95, progress=None, cancel=None):
        rgb = self.render(progress=progress, cancel=cancel)
        return save_image(path, rgb, sources=[self.photo.path] if self.photo.path else [], quality=quality)

    def set_content_matching(self, enabled: bool) -> None:
        self.content_matching = bool(enabled)

    def match_coverage(self) -> float:
        return 0.25 * min(len(self.references), 2) if self.content_matching else 0.0

    def reference_palette(self, count: int = 8):
        if not self.references:
            return []
        return [(200, 40, 40), (40, 160, 60), (30, 60, 200)][:count]
