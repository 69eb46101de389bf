"""Tests for the references of ref_transformed and ref_retrieved (training/reference_modes.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from training import reference_modes as rm


def smooth_photo(seed: int, size: int = 64) -> np.ndarray:
    coarse = np.random.default_rng(seed).random((4, 4, 3))
    return np.kron(coarse, np.ones((size // 4, size // 4, 1))).astype(np.float32)


def test_the_transformed_reference_depends_only_on_the_photo_name():
    rgb = smooth_photo(0)
    first = rm.transformed_reference(rgb, "a.jpg")
    assert np.array_equal(first, rm.transformed_reference(rgb, "a.jpg"))
    assert first.dtype == np.float32 and first.min() >= 0 and first.max() <= 1
    others = [rm.draw_view_change(64, 64, rm.name_seed(f"{i}.jpg")) for i in range(5)]
    assert len({change.degrees for change in others}) == 5


@pytest.mark.parametrize("seed", range(40))
def test_view_changes_stay_in_range_and_their_crop_inside_the_photo(seed):
    width, height = 96, 64
    change = rm.draw_view_change(width, height, seed)
    assert abs(change.degrees) <= rm.MAX_ROTATION_DEGREES
    assert rm.SCALE_RANGE[0] <= change.scale <= rm.SCALE_RANGE[1]
    assert abs(change.exposure - 1) <= rm.EXPOSURE_RANGE
    theta = math.radians(change.degrees)
    half_w, half_h = rm.CROP_FRACTION * width / 2, rm.CROP_FRACTION * height / 2
    for sx, sy in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
        x = change.centre[0] + sx * half_w * math.cos(theta) - sy * half_h * math.sin(theta)
        y = change.centre[1] + sx * half_w * math.sin(theta) + sy * half_h * math.cos(theta)
        assert -1e-6 <= x <= width + 1e-6 and -1e-6 <= y <= height + 1e-6
    # off centre: at least a third of the way to the limit on each axis
    assert change.centre != (width / 2, height / 2)


def test_a_plain_view_change_is_the_crop_and_mirroring_mirrors_it():
    rgb = np.random.default_rng(1).random((50, 50, 3)).astype(np.float32)
    plain = rm.ViewChange(mirrored=False, degrees=0.0, scale=1.0, centre=(25.0, 25.0), exposure=1.0)
    view = rm.transformed_view(rgb, plain)
    assert view.shape == (30, 30, 3)
    assert np.abs(view - rgb[10:40, 10:40]).max() < 2 / 255
    mirrored = rm.transformed_view(rgb, rm.ViewChange(True, 0.0, 1.0, (25.0, 25.0), 1.0))
    assert np.array_equal(mirrored, view[:, ::-1])


def test_scale_sets_the_size_and_exposure_the_brightness():
    rgb = np.full((60, 60, 3), 0.5, dtype=np.float32)
    smaller = rm.transformed_view(rgb, rm.ViewChange(False, 0.0, 0.7, (30.0, 30.0), 1.0))
    larger = rm.transformed_view(rgb, rm.ViewChange(False, 0.0, 1.4, (30.0, 30.0), 1.0))
    assert smaller.shape[:2] == (25, 25) and larger.shape[:2] == (50, 50)
    brighter = rm.transformed_view(rgb, rm.ViewChange(False, 0.0, 1.0, (30.0, 30.0), 1.15))
    darker = rm.transformed_view(rgb, rm.ViewChange(False, 0.0, 1.0, (30.0, 30.0), 0.85))
    assert darker.mean() < 0.5 - 0.02 < 0.5 + 0.02 < brighter.mean()


def test_transformed_view_rejects_a_grey_array():
    with pytest.raises(ValueError, match="RGB"):
        rm.transformed_view(np.zeros((8, 8)), rm.ViewChange(False, 0.0, 1.0, (4.0, 4.0), 1.0))


class CountingEncoder:
    """A stand-in encoder: the descriptor of a grey image is how its four quadrants differ in brightness."""

    def __init__(self):
        self.calls = 0

    def global_features(self, rgb: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        grey = rgb.mean(dim=1)[0]
        h, w = grey.shape[0] // 2, grey.shape[1] // 2
        quads = [grey[:h, :w], grey[:h, w:], grey[h:, :w], grey[h:, w:]]
        means = torch.stack([q.mean() for q in quads])
        return (means - means.mean())[None]


def write_pool(root, count: int = 6) -> list[np.ndarray]:
    photos = []
    for index in range(count):
        rgb = smooth_photo(index, 32)
        folder = root / ("a" if index % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rgb * 255).astype(np.uint8)).save(folder / f"p{index}.png")
        photos.append(rgb)
    return photos


def test_the_pool_is_listed_recursively_and_a_limit_spreads_over_it(tmp_path):
    write_pool(tmp_path)
    files = rm.list_pool(tmp_path)
    assert files == sorted(files) and len(files) == 6 and files[0].startswith("a/")
    spread = rm.list_pool(tmp_path, limit=3)
    assert len(spread) == 3 and spread[0] == files[0] and spread[-1] == files[-1]


def test_pool_descriptors_are_cached_by_the_file_list(tmp_path):
    write_pool(tmp_path / "pool")
    encoder = CountingEncoder()
    first = rm.ReferencePool.build(tmp_path / "pool", encoder, cache_dir=tmp_path / "cache")
    assert encoder.calls == 6 and len(list((tmp_path / "cache").glob("pool-*.npz"))) == 1
    again = rm.ReferencePool.build(tmp_path / "pool", encoder, cache_dir=tmp_path / "cache")
    assert encoder.calls == 6  # read back, not recomputed
    assert np.allclose(again.descriptors, first.descriptors, atol=1e-3)
    rm.ReferencePool.build(tmp_path / "pool", encoder, limit=3, cache_dir=tmp_path / "cache")
    assert encoder.calls == 9  # another file list, another cache entry
    assert len(list((tmp_path / "cache").glob("pool-*.npz"))) == 2


def test_retrieval_skips_the_photo_itself_and_its_copies(tmp_path):
    photos = write_pool(tmp_path / "pool")
    encoder = CountingEncoder()
    pool = rm.ReferencePool.build(tmp_path / "pool", encoder, cache_dir=tmp_path / "cache")
    L = rm.rgb_to_lab(torch.from_numpy(photos[2]).permute(2, 0, 1))[0].numpy()
    descriptor = rm.grey_descriptor_of_lightness(encoder, L)
    index = pool.nearest(descriptor, exclude_name="p2.png")
    assert pool.files[index] != "b/p2.png"
    similarity = pool.descriptors @ descriptor
    allowed = [i for i, name in enumerate(pool.files) if name != "b/p2.png" and similarity[i] < rm.DUPLICATE_SIMILARITY]
    assert index == max(allowed, key=lambda i: similarity[i])
    reference = pool.reference_for(encoder, L, "p2.png")
    assert reference.shape == (rm.POOL_IMAGE_SIZE, rm.POOL_IMAGE_SIZE, 3)


def test_an_empty_pool_is_refused_in_one_sentence(tmp_path):
    with pytest.raises(ValueError, match="no photos"):
        rm.ReferencePool.build(tmp_path, CountingEncoder(), cache_dir=tmp_path / "cache")
