"""Photo-library datasets: scan a folder tree, decode every photo once into a cache of resized copies,
then serve random crops as Lab tensors. Each sample is a pure function of (seed, epoch, index), so a
resumed run sees exactly the batches it would have seen."""

from __future__ import annotations

import hashlib
import json
import queue
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

import numpy as np
import torch
from PIL import Image, ImageOps

from core.color import rgb_to_lab
from core.files import atomic_output, atomic_write

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".heic", ".heif"}
HEIF_SUFFIXES = {".heic", ".heif"}
MIN_SIDE = 64
GRAY_CHROMA = 4.0  # mean |ab| below this (Lab units) counts as a near-grayscale photo


def _heif_support() -> bool:
    """Register the HEIC/HEIF decoder with Pillow if the optional pillow-heif package is present."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    register_heif_opener()
    return True


@dataclass
class ScanReport:
    """What a scan found: the usable photos, and which files were skipped for which reason."""

    kept: list[Path] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    skipped_files: dict[str, str] = field(default_factory=dict)  # path -> reason

    def skip(self, path: Path, reason: str) -> None:
        self.skipped[reason] += 1
        self.skipped_files[str(path)] = reason

    def summary(self) -> str:
        parts = [f"{len(self.kept)} photos usable"]
        parts += [f"{count} skipped ({reason})" for reason, count in sorted(self.skipped.items())]
        return ", ".join(parts)

    def skipped_lines(self, limit: int = 20) -> list[str]:
        """``skipped <file>: <reason>`` for the first ``limit`` skipped files, then how many more."""
        items = sorted(self.skipped_files.items())
        lines = [f"skipped {path}: {reason}" for path, reason in items[:limit]]
        if len(items) > limit:
            lines.append(f"... and {len(items) - limit} more skipped files")
        return lines


def find_photos(root: Path | str) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"The photo folder {root} does not exist.")
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in PHOTO_SUFFIXES)


def load_square(path: Path, size: int) -> np.ndarray | str:
    """The photo resized (short side = size) and centre-cropped to size x size RGB, or a skip reason."""
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            if min(image.size) < MIN_SIDE:
                return "too small"
            image = image.convert("RGB")
            image = ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS)
            return np.array(image, dtype=np.uint8)
    except Exception:  # any decoder failure means "unreadable" for a library scan
        return "unreadable"


def mean_chroma(rgb: np.ndarray) -> float:
    lab = rgb_to_lab(torch.from_numpy(rgb).permute(2, 0, 1).float() / 255.0)
    return float(lab[1:].abs().mean())


def _cache_key(files: Sequence[Path], size: int) -> str:
    digest = hashlib.sha1(str(size).encode())
    for path in files:
        stat = path.stat()
        digest.update(f"{path}|{stat.st_size}|{int(stat.st_mtime)}".encode())
    return digest.hexdigest()[:16]


class PhotoCache:
    """All usable photos of a library as one uint8 array (N, size, size, 3), memory-mapped from disk."""

    def __init__(self, images: np.ndarray, files: list[Path], report: ScanReport) -> None:
        self.images = images
        self.files = files
        self.report = report

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        return int(self.images.shape[1])

    @classmethod
    def build(
        cls,
        root: Path | str,
        cache_dir: Path | str,
        size: int = 160,
        limit: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> "PhotoCache":
        files = find_photos(root)
        if limit is not None:
            files = files[:limit]
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        key = _cache_key(files, size)
        array_path = cache_dir / f"photos-{key}.npy"
        index_path = cache_dir / f"photos-{key}.json"
        if array_path.is_file() and index_path.is_file():
            index = json.loads(index_path.read_text())
            report = ScanReport([Path(p) for p in index["kept"]], Counter(index["skipped"]), index.get("skipped_files", {}))
            return cls(np.load(array_path, mmap_mode="r"), report.kept, report)

        report = ScanReport()
        kept_images: list[np.ndarray] = []
        heif = _heif_support() if any(p.suffix.lower() in HEIF_SUFFIXES for p in files) else False
        for i, path in enumerate(files):
            if path.suffix.lower() in HEIF_SUFFIXES and not heif:
                result: np.ndarray | str = "HEIC/HEIF (install pillow-heif to read them)"
            else:
                result = load_square(path, size)
            if isinstance(result, str):
                report.skip(path, result)
            elif mean_chroma(result) < GRAY_CHROMA:
                report.skip(path, "near-grayscale")
            else:
                kept_images.append(result)
                report.kept.append(path)
            if progress is not None:
                progress(i + 1, len(files))
        if not kept_images:
            raise ValueError(f"No usable colour photos in {root}: {report.summary()}.")
        # Written under unique temporary names and renamed, so that processes building the same
        # cache at once (DDP on a shared disk) never see a half-written file.
        with atomic_output(array_path) as stream:
            np.save(stream, np.stack(kept_images))
        index = {"kept": [str(p) for p in report.kept], "skipped": dict(report.skipped), "skipped_files": report.skipped_files}
        atomic_write(index_path, json.dumps(index))
        return cls(np.load(array_path, mmap_mode="r"), report.kept, report)


def split_indices(n: int, val_count: int, seed: int = 1234) -> tuple[np.ndarray, np.ndarray]:
    """A fixed held-out slice for validation; the rest trains."""
    order = np.random.default_rng(seed).permutation(n)
    val_count = min(val_count, max(n // 10, 1)) if n > 1 else 0
    return np.sort(order[val_count:]), np.sort(order[:val_count])


def parse_repeats(text: str) -> dict[str, int]:
    """``"bsds_train=8,imagenet_sample=2"`` -> {"bsds_train": 8, "imagenet_sample": 2}."""
    repeats: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, count = part.partition("=")
        try:
            value = int(count)
        except ValueError:
            value = 0
        if not sep or not name.strip() or value < 1:
            raise ValueError(f"repeats must look like 'folder=2,other=4' with whole counts >= 1, got '{text}'")
        repeats[name.strip()] = value
    return repeats


def oversample(indices: np.ndarray, files: Sequence[Path], repeats: dict[str, int]) -> np.ndarray:
    """``indices`` with each photo listed as often as the largest repeat of a folder on its path
    (once if none matches), so small folders closer to the photos a user cares about weigh more."""
    if not repeats:
        return indices
    counts = []
    for i in indices:
        parts = set(Path(files[int(i)]).parts[:-1])
        counts.append(max([n for name, n in repeats.items() if name in parts], default=1))
    return np.repeat(indices, counts)


@dataclass(frozen=True)
class Batch:
    rgb: torch.Tensor  # (N, 3, H, W) in [0, 1]
    lab: torch.Tensor  # (N, 3, H, W)
    indices: np.ndarray

    @property
    def L(self) -> torch.Tensor:
        return self.lab[:, :1]

    @property
    def ab(self) -> torch.Tensor:
        return self.lab[:, 1:]


class CropSampler:
    """Deterministic epochs of random crops and flips over a subset of a PhotoCache.

    ``rank``/``world_size`` shard every epoch's order for DistributedDataParallel: each process
    reads its own interleaved share of the same permutation.
    """

    def __init__(
        self,
        cache: PhotoCache,
        indices: np.ndarray,
        batch_size: int,
        crop: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        augment: bool = True,
    ) -> None:
        if crop > cache.size:
            raise ValueError(f"crop {crop} is larger than the cached photos ({cache.size})")
        self.cache = cache
        self.indices = np.asarray(indices)
        self.batch_size = batch_size
        self.crop = crop
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.augment = augment

    @property
    def batches_per_epoch(self) -> int:
        return max(len(self.indices) // (self.batch_size * self.world_size), 1)

    def epoch_order(self, epoch: int) -> np.ndarray:
        order = np.random.default_rng([self.seed, epoch]).permutation(self.indices)
        return order[self.rank :: self.world_size]

    def batch(self, epoch: int, position: int) -> Batch:
        """Batch number ``position`` of ``epoch`` (same answer every time it is asked)."""
        order = self.epoch_order(epoch)
        start = (position * self.batch_size) % max(len(order) - self.batch_size + 1, 1)
        chosen = order[start : start + self.batch_size]
        crops = []
        for index in chosen:
            rng = np.random.default_rng([self.seed, epoch, int(index), 7])
            image = self.cache.images[index]
            if self.augment:
                top = rng.integers(0, self.cache.size - self.crop + 1)
                left = rng.integers(0, self.cache.size - self.crop + 1)
            else:
                top = left = (self.cache.size - self.crop) // 2
            patch = image[top : top + self.crop, left : left + self.crop]
            if self.augment and rng.random() < 0.5:
                patch = patch[:, ::-1]
            crops.append(np.ascontiguousarray(patch))
        rgb = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255.0
        return Batch(rgb, rgb_to_lab(rgb), chosen)

    def reference_crops(self, indices: Sequence[int], rng: np.random.Generator) -> torch.Tensor:
        """Another random crop (and flip) of each of these photos, RGB (N, 3, crop, crop) in [0, 1]."""
        return random_crops(self.cache, indices, self.crop, rng)

    def iterate(self, epoch: int, position: int = 0) -> Iterator[tuple[int, int, Batch]]:
        """(epoch, position, batch) forever, starting at the given point."""
        while True:
            while position < self.batches_per_epoch:
                yield epoch, position, self.batch(epoch, position)
                position += 1
            epoch, position = epoch + 1, 0


def random_crops(
    cache: PhotoCache, indices: Sequence[int], crop: int, rng: np.random.Generator, flip: bool = True
) -> torch.Tensor:
    """A random crop (randomly flipped) of each listed cached photo, RGB (N, 3, crop, crop) in [0, 1]."""
    crops = []
    for index in indices:
        top, left = rng.integers(0, cache.size - crop + 1, size=2)
        patch = cache.images[int(index)][top : top + crop, left : left + crop]
        if flip and rng.random() < 0.5:
            patch = patch[:, ::-1]
        crops.append(np.ascontiguousarray(patch))
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float() / 255.0


T = TypeVar("T")


class Prefetched(Iterator[T]):
    """``items`` produced up to ``depth`` ahead by a background thread: on a GPU the next batches
    are cut and converted to Lab on the CPU while the GPU trains on this one. The same items in the
    same order; an exception in the producer is raised here; ``close()`` stops the thread."""

    def __init__(self, items: Iterator[T], depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"depth must be at least 1, got {depth}")
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(items,), daemon=True, name="prefetch")
        self._thread.start()

    def _produce(self, items: Iterator[T]) -> None:
        try:
            for item in items:
                if not self._offer((True, item)):
                    return
        except BaseException as error:  # handed to the consumer
            self._offer((False, error))
        else:
            self._offer((False, StopIteration()))

    def _offer(self, entry: tuple[bool, object]) -> bool:
        """Put ``entry`` on the queue as soon as there is room; False (dropped) once closed."""
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __next__(self) -> T:
        while True:
            if self._stop.is_set():
                raise StopIteration
            try:
                ok, value = self._queue.get(timeout=0.1)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    raise RuntimeError("the prefetching thread ended without handing on an item, an error or the end")
        if not ok:
            self._stop.set()
            raise value  # type: ignore[misc]
        return value  # type: ignore[return-value]

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
