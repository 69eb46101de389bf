"""A stand-in for ``core.api.Colorizer`` with the same public surface (``core.api.ColorizerLike``),
fast and deterministic.

Its "colorization" tints the photo's lightness by the blend and the number of references, so tests
can see that edits reach the result; ``delay`` makes previews slow, ``fail_with`` makes them fail.
Like the real one it holds no edit: every call is handed the whole :class:`core.edit.Edit`.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

from core.api import Cancelled, Edit, Preview, Probe, ab_plane_rgba, no_colour_error, working_size_for
from core.api import load_photo, photo_from_array
from core.imageio import Photo, save_image

HELD_PREFIX = "memory:"


class FakeColorizer:
    def __init__(self, options=None, delay: float = 0.0, fail_with: BaseException | None = None) -> None:
        self.options = options
        self.delay = delay
        self.fail_with = fail_with
        self.device_description = "CPU (fake)"
        self.metadata: dict = {"colornet": {}}
        self.stage_calls: Counter = Counter()
        self.timings: dict[str, float] = {}
        self.last_edit: Edit | None = None  # the edit of the latest preview (what the tests look at)
        self._photos: dict[str, Photo] = {}
        self._held: dict[str, Photo] = {}

    # -- photos -------------------------------------------------------------------------------
    def open(self, path) -> Photo:
        key = os.fspath(path)
        if key in self._held:
            return self._held[key]
        if key not in self._photos:
            self.stage_calls["load"] += 1
            self._photos[key] = load_photo(key)
        return self._photos[key]

    def hold(self, photo, name: str | None = None) -> str:
        key = HELD_PREFIX + (name or f"photo-{len(self._held) + 1}")
        self._held[key] = photo if isinstance(photo, Photo) else photo_from_array(photo)
        return key

    def check_reference(self, path) -> Photo:
        photo = self.open(path)
        if not photo.has_colour:
            raise no_colour_error(photo.path.name if photo.path else None)
        return photo

    # -- results ------------------------------------------------------------------------------
    def _photo(self, edit: Edit) -> Photo:
        if edit.photo is None:
            raise ValueError("The edit has no photo to colorize; open a photo first.")
        for reference in edit.references:
            self.check_reference(reference.path)
        return self.open(edit.photo)

    @staticmethod
    def _ab(edit: Edit) -> tuple[float, float]:
        if edit.references:
            return 40.0 * edit.blend, 20.0 + 10 * len(edit.references)
        return 5.0, 10.0

    def _colour(self, edit: Edit, L: np.ndarray, scale: float) -> np.ndarray:
        a, b = self._ab(edit)
        rgb = np.stack([L + a * 0.8, L, L + b * 0.2 - a * 0.3], axis=-1) / 100.0
        return np.clip(rgb, 0, 1) * scale

    def prepare(self, edit: Edit, cancel=None) -> None:
        if cancel is not None and cancel():
            raise Cancelled()
        self.stage_calls["prepare"] += 1

    def preview(self, edit: Edit, cancel=None) -> Preview:
        self.stage_calls["preview"] += 1
        photo = self._photo(edit)
        if self.delay:
            time.sleep(self.delay)
        if self.fail_with is not None:
            raise self.fail_with
        if cancel is not None and cancel():
            raise Cancelled()
        self.last_edit = edit
        w, h = working_size_for(photo.size, edit.working_size)
        L = photo.lightness()
        ys = (np.arange(h) * photo.height // h)[:, None]
        xs = (np.arange(w) * photo.width // w)[None, :]
        L_work = L[ys, xs].astype(np.float32)
        rgb = (self._colour(edit, L_work, 255) + 0.5).astype(np.uint8)
        ab = np.empty((2, h, w), np.float32)
        ab[0], ab[1] = self._ab(edit)
        coverage = 0.25 * min(len(edit.references), 2) if edit.match_content else 0.0
        return Preview(rgb, ab, L_work, photo.size, 0.001, coverage)

    def render(self, edit: Edit, max_side=None, progress=None, cancel=None) -> np.ndarray:
        self.stage_calls["render"] += 1
        photo = self._photo(edit)
        L = photo.lightness()
        if max_side is not None and max(L.shape) > max_side:
            step = int(np.ceil(max(L.shape) / max_side))
            L = L[::step, ::step]
        sixteen = photo.bit_depth == 16 and max_side is None
        rows = np.array_split(np.arange(L.shape[0]), 4)
        out = np.empty(L.shape + (3,), np.uint16 if sixteen else np.uint8)
        for i, chunk in enumerate(rows):
            if cancel is not None and cancel():
                raise Cancelled()
            if self.delay:
                time.sleep(self.delay / 4)
            out[chunk] = (self._colour(edit, L[chunk], 65535 if sixteen else 255) + 0.5).astype(out.dtype)
            if progress is not None:
                progress((i + 1) / len(rows))
        return out

    def export(self, edit: Edit, path, quality=95, progress=None, cancel=None, overwrite=False) -> Path:
        rgb = self.render(edit, progress=progress, cancel=cancel)
        sources = [p for p in (edit.photo, *edit.reference_paths) if p is not None and p not in self._held]
        return save_image(path, rgb, sources=sources, quality=quality, overwrite=overwrite)

    def probe(self, edit: Edit, x: float, y: float) -> Probe:
        self.stage_calls["probe"] += 1
        photo = self._photo(edit)
        L = photo.lightness()
        H, W = L.shape
        lightness = float(L[int(np.clip(y, 0, H - 1)), int(np.clip(x, 0, W - 1))])
        return Probe(self._ab(edit), lightness, ab_plane_rgba(lightness))

    def palette(self, edit: Edit, count: int = 8) -> list[tuple[int, int, int]]:
        if not edit.references:
            return []
        return [(200, 40, 40), (40, 160, 60), (30, 60, 200)][:count]
