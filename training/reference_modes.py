"""The references of heirloom-eval's harder reference modes.

``ref_transformed`` — the photo itself, *seen differently*: mirrored (every other photo), rotated by
up to 15°, rescaled 0.7–1.4×, cropped to about 60 % of each side away from the centre, and exposed
±15 % (in linear light). It stands for the family-photo case: the same dress in another snapshot.
Every parameter is drawn from a generator seeded by the photo's file name, so a photo always gets
the same reference whatever else is scored with it.

``ref_retrieved`` — the most similar *other* colour photo of a pool (e.g. the training photos), by
the cosine similarity of the frozen encoder's pooled ImageNet descriptor of both grey images. It
stands for a reference of the same kind of thing: loosely similar, never the same scene. The pool's
descriptors are computed once and cached on disk under a key made of the pool's file list, so a
second run over the same pool reads them back in a moment.
"""

from __future__ import annotations

import hashlib
import math
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image, ImageOps

from core.color import rgb_to_lab
from core.matching import grey_rgb
from core.models import Encoder

MAX_ROTATION_DEGREES = 15.0
SCALE_RANGE = (0.7, 1.4)
CROP_FRACTION = 0.6  # of each side of the photo
EXPOSURE_RANGE = 0.15  # ± share of the linear-light exposure
DUPLICATE_SIMILARITY = 0.97  # a pool photo this close to the photo is taken for a copy of it
POOL_IMAGE_SIZE = 256  # pool photos are described, and given as references, as this centre square
POOL_CACHE_VERSION = 1
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})


# --- ref_transformed -------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewChange:
    """How ``transformed_view`` sees a photo differently."""

    mirrored: bool
    degrees: float  # counter-clockwise rotation
    scale: float  # the crop's size in the output relative to the photo's
    centre: tuple[float, float]  # (x, y) of the crop's centre, in the photo's pixels
    exposure: float  # linear-light gain


def name_seed(name: str) -> int:
    """A stable seed from a photo's file name (the same in every run, order and ``--limit``)."""
    return zlib.crc32(name.encode("utf-8"))


def draw_view_change(width: int, height: int, seed: int) -> ViewChange:
    """Random view parameters for a (width x height) photo; the crop always lies inside the photo."""
    rng = np.random.default_rng(seed)
    mirrored = bool(rng.random() < 0.5)
    degrees = float(rng.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES))
    scale = float(math.exp(rng.uniform(math.log(SCALE_RANGE[0]), math.log(SCALE_RANGE[1]))))
    exposure = float(1.0 + rng.uniform(-EXPOSURE_RANGE, EXPOSURE_RANGE))
    # The rotated crop's footprint in the photo, and how far off centre it can go and stay inside.
    theta = math.radians(degrees)
    cos, sin = abs(math.cos(theta)), abs(math.sin(theta))
    half_w, half_h = CROP_FRACTION * width / 2, CROP_FRACTION * height / 2
    reach_x = max(0.0, width / 2 - (half_w * cos + half_h * sin))
    reach_y = max(0.0, height / 2 - (half_w * sin + half_h * cos))
    # Off centre: each coordinate at least a third of the way to its limit, on a random side.
    offset = rng.uniform(1 / 3, 1.0, size=2) * rng.choice((-1.0, 1.0), size=2)
    centre = (float(width / 2 + offset[0] * reach_x), float(height / 2 + offset[1] * reach_y))
    return ViewChange(mirrored, degrees, scale, centre, exposure)


def transformed_view(rgb: np.ndarray, change: ViewChange) -> np.ndarray:
    """The photo (float RGB (H, W, 3) in [0, 1]) seen through ``change``: float RGB (h, w, 3)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB array shaped (H, W, 3), got {rgb.shape}")
    height, width = rgb.shape[:2]
    image = Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    # Rescale first (antialiased), then rotate and crop at unit scale.
    scaled = image.resize((max(1, round(width * change.scale)), max(1, round(height * change.scale))), Image.Resampling.LANCZOS)
    sx, sy = scaled.width / width, scaled.height / height
    out_w = max(8, round(CROP_FRACTION * width * sx))
    out_h = max(8, round(CROP_FRACTION * height * sy))
    cx, cy = change.centre[0] * sx, change.centre[1] * sy
    theta = math.radians(change.degrees)
    cos, sin = math.cos(theta), math.sin(theta)
    # Inverse map (output pixel -> scaled photo): x = a u + b v + c, y = d u + e v + f.
    a, b, d, e = cos, -sin, sin, cos
    c = cx - a * out_w / 2 - b * out_h / 2
    f = cy - d * out_w / 2 - e * out_h / 2
    view = scaled.transform((out_w, out_h), Image.Transform.AFFINE, (a, b, c, d, e, f), Image.Resampling.BICUBIC)
    if change.mirrored:
        view = ImageOps.mirror(view)
    out = np.asarray(view, dtype=np.float32) / 255.0
    linear = np.where(out <= 0.04045, out / 12.92, ((out + 0.055) / 1.055) ** 2.4) * change.exposure
    linear = np.clip(linear, 0.0, 1.0)
    srgb = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.power(linear, 1 / 2.4) - 0.055)
    return srgb.astype(np.float32)


def transformed_reference(rgb: np.ndarray, name: str) -> np.ndarray:
    """``ref_transformed``'s reference for the photo called ``name``."""
    height, width = rgb.shape[:2]
    return transformed_view(rgb, draw_view_change(width, height, name_seed(name)))


# --- ref_retrieved ---------------------------------------------------------------------------


def list_pool(root: str | Path, limit: int | None = None) -> list[str]:
    """The photos under ``root`` (recursively) as sorted relative paths; with ``limit``, that many
    spread evenly over the sorted list (so every subfolder is represented)."""
    root = Path(root)
    files = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES
    )
    if limit is not None and limit < len(files):
        picks = np.linspace(0, len(files) - 1, num=limit).round().astype(int)
        files = [files[i] for i in dict.fromkeys(picks.tolist())]
    return files


def load_square(path: str | Path, size: int = POOL_IMAGE_SIZE) -> np.ndarray:
    """A photo scaled so its short side is ``size``, centre square: float RGB (size, size, 3)."""
    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
    scale = size / min(image.size)
    new = (max(size, round(image.width * scale)), max(size, round(image.height * scale)))
    image = image.resize(new, Image.Resampling.LANCZOS)
    left, top = (new[0] - size) // 2, (new[1] - size) // 2
    return np.asarray(image.crop((left, top, left + size, top + size)), dtype=np.float32) / 255.0


@torch.inference_mode()
def grey_descriptor(encoder: Encoder, rgb: np.ndarray) -> np.ndarray:
    """The unit-length pooled descriptor (global_dim,) of a colour photo's grey version."""
    lab = rgb_to_lab(torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1))
    return grey_descriptor_of_lightness(encoder, lab[0].numpy())


@torch.inference_mode()
def grey_descriptor_of_lightness(encoder: Encoder, L: np.ndarray) -> np.ndarray:
    """The unit-length pooled descriptor (global_dim,) of a grey image given as lightness (H, W)."""
    tensor = torch.from_numpy(np.ascontiguousarray(L, dtype=np.float32))[None, None]
    features = encoder.global_features(grey_rgb(tensor))
    return torch.nn.functional.normalize(features, dim=1)[0].numpy()


def pool_key(root: str | Path, files: Sequence[str]) -> str:
    """A key for the pool's descriptors: its file list (names and byte sizes) and how they are made."""
    root = Path(root)
    digest = hashlib.sha256(f"v{POOL_CACHE_VERSION} size {POOL_IMAGE_SIZE}\n".encode())
    for name in files:
        digest.update(f"{name}\t{(root / name).stat().st_size}\n".encode())
    return digest.hexdigest()[:20]


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "heirloom" / "pools"


class ReferencePool:
    """Colour photos to retrieve references from, with their grey descriptors."""

    def __init__(self, root: str | Path, files: Sequence[str], descriptors: np.ndarray):
        if descriptors.shape[0] != len(files):
            raise ValueError(f"{len(files)} files but {descriptors.shape[0]} descriptors")
        if not files:
            raise ValueError(f"the reference pool {root} holds no photos")
        self.root = Path(root)
        self.files = list(files)
        self.descriptors = descriptors.astype(np.float32)

    @classmethod
    def build(
        cls,
        root: str | Path,
        encoder: Encoder,
        limit: int | None = None,
        cache_dir: str | Path | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> "ReferencePool":
        """Describe the pool's photos, or read their descriptors back from the cache."""
        root = Path(root)
        files = list_pool(root, limit)
        if not files:
            raise ValueError(f"there are no photos under {root} to retrieve references from")
        cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        path = cache / f"pool-{pool_key(root, files)}.npz"
        if path.is_file():
            with np.load(path) as data:
                if list(data["files"]) == files:
                    return cls(root, files, data["descriptors"])
        rows = []
        for index, name in enumerate(files):
            rows.append(grey_descriptor(encoder, load_square(root / name)))
            if progress is not None:
                progress(index + 1, len(files))
        descriptors = np.stack(rows).astype(np.float16)
        cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.npz")
        np.savez(partial, files=np.asarray(files), descriptors=descriptors)
        partial.replace(path)
        return cls(root, files, descriptors)

    def nearest(self, descriptor: np.ndarray, exclude_name: str = "") -> int:
        """Index of the most similar pool photo that is not the photo itself: not the same file
        name, and not so similar (cosine >= DUPLICATE_SIMILARITY) that it must be a copy."""
        similarity = self.descriptors @ descriptor.astype(np.float32)
        for index in np.argsort(-similarity, kind="stable"):
            if similarity[index] >= DUPLICATE_SIMILARITY:
                continue
            if exclude_name and Path(self.files[index]).name == exclude_name:
                continue
            return int(index)
        raise ValueError("every photo of the pool is a copy of the photo")

    def reference_for(self, encoder: Encoder, L: np.ndarray, name: str = "") -> np.ndarray:
        """``ref_retrieved``'s reference (float RGB square) for a photo given by its lightness."""
        index = self.nearest(grey_descriptor_of_lightness(encoder, L), name)
        return load_square(self.root / self.files[index])


def print_pool_progress(done: int, total: int) -> None:
    if done == total or done % 200 == 0:
        print(f"describing the reference pool: {done}/{total}", file=sys.stderr, flush=True)


def pool_retriever(
    root: str | Path, limit: int | None = None, cache_dir: str | Path | None = None, encoder: Encoder | None = None
) -> Callable[[object], np.ndarray]:
    """``retrieve(photo)`` for heirloom-eval: the ``ref_retrieved`` reference of an ``EvalPhoto``
    (anything with ``name`` and ``lab``), from the pool under ``root`` (descriptors cached)."""
    if encoder is None:
        from training.pretrained import build_encoder

        encoder = build_encoder("efficientnet_lite0")
    pool = ReferencePool.build(root, encoder, limit, cache_dir, print_pool_progress)

    def retrieve(photo) -> np.ndarray:
        return pool.reference_for(encoder, photo.lab[0], photo.name)

    return retrieve


class AutomaticMethod:
    """The ``automatic`` baseline: a method (Heirloom) scored as if it were given no reference."""

    name = "automatic"

    def __init__(self, inner):
        self.inner = inner

    def predict(self, L, reference_rgb, hints):
        return self.inner.predict(L, None, hints)
