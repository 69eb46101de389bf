"""Photo-library scan, decode cache and deterministic crops."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from core.color import rgb_to_lab
from training import data
from training.data import CropSampler, PhotoCache, Prefetched, find_photos, random_crops, split_indices


def _save(path, rgb) -> None:
    Image.fromarray(np.ascontiguousarray(rgb)).save(path)


@pytest.fixture
def mixed_folder(tmp_path):
    """Three colour photos, a grey one, a tiny one, a corrupt file, a stray text file."""
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    colour = skdata.astronaut()[::4, ::4]
    _save(folder / "a.jpg", colour)
    _save(folder / "sub" / "b.png", skdata.coffee()[::4, ::4])
    _save(folder / "sub" / "c.TIFF", skdata.chelsea()[::3, ::3])
    _save(folder / "grey.png", np.repeat(skdata.camera()[::4, ::4, None], 3, axis=2))
    _save(folder / "tiny.png", colour[:40, :40])
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG")
    (folder / "notes.txt").write_text("not a photo")
    return folder


def test_scan_reports_what_it_skipped_and_why(mixed_folder, tmp_path):
    cache = PhotoCache.build(mixed_folder, tmp_path / "cache", size=48)
    report = cache.report
    assert sorted(p.name for p in report.kept) == ["a.jpg", "b.png", "c.TIFF"]
    assert report.skipped == {"near-grayscale": 1, "too small": 1, "unreadable": 1}
    summary = report.summary()
    assert summary.startswith("3 photos usable")
    for reason in ("1 skipped (near-grayscale)", "1 skipped (too small)", "1 skipped (unreadable)"):
        assert reason in summary
    assert cache.images.shape == (3, 48, 48, 3) and cache.images.dtype == np.uint8


def test_heic_without_a_decoder_is_reported_not_fatal(tmp_path, monkeypatch):
    folder = tmp_path / "phone"
    folder.mkdir()
    _save(folder / "a.png", skdata.astronaut()[::4, ::4])
    (folder / "IMG_0001.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic")
    monkeypatch.setattr(data, "_heif_support", lambda: False)
    cache = PhotoCache.build(folder, tmp_path / "cache", size=48)
    assert len(cache) == 1
    assert cache.report.skipped == {"HEIC/HEIF (install pillow-heif to read them)": 1}


def test_scan_errors_say_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        find_photos(tmp_path / "nowhere")
    empty = tmp_path / "grey-only"
    empty.mkdir()
    _save(empty / "grey.png", np.repeat(skdata.camera()[::4, ::4, None], 3, axis=2))
    with pytest.raises(ValueError, match="No usable colour photos.*near-grayscale"):
        PhotoCache.build(empty, tmp_path / "cache", size=48)


def test_cache_is_decoded_once_and_reused(photo_library, tmp_path, monkeypatch):
    first = PhotoCache.build(photo_library, tmp_path / "cache", size=48)
    files = sorted(p.name for p in (tmp_path / "cache").iterdir())
    assert len(files) == 2 and not any(name.endswith(".tmp") for name in files)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cache should have been reused")

    monkeypatch.setattr(data, "load_square", no_decoding)
    again = PhotoCache.build(photo_library, tmp_path / "cache", size=48)
    assert isinstance(again.images, np.memmap)
    np.testing.assert_array_equal(np.asarray(again.images), np.asarray(first.images))
    assert again.files == first.files and again.report.skipped == first.report.skipped


def test_cache_is_rebuilt_for_another_size(photo_library, tmp_path):
    PhotoCache.build(photo_library, tmp_path / "cache", size=48)
    bigger = PhotoCache.build(photo_library, tmp_path / "cache", size=64)
    assert bigger.size == 64
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2


def test_crops_are_a_pure_function_of_epoch_and_position(photo_library, tmp_path):
    cache = PhotoCache.build(photo_library, tmp_path / "cache", size=48)
    indices = np.arange(len(cache))
    sampler = CropSampler(cache, indices, batch_size=4, crop=32, seed=3)
    a, b = sampler.batch(2, 1), sampler.batch(2, 1)
    torch.testing.assert_close(a.rgb, b.rgb, rtol=0, atol=0)
    np.testing.assert_array_equal(a.indices, b.indices)
    assert a.rgb.shape == (4, 3, 32, 32) and a.lab.shape == (4, 3, 32, 32)
    torch.testing.assert_close(a.lab, rgb_to_lab(a.rgb))
    assert not torch.equal(sampler.batch(3, 1).rgb, a.rgb)
    # Another sampler with the same seed (a resumed run) sees the same batches.
    twin = CropSampler(cache, indices, batch_size=4, crop=32, seed=3)
    torch.testing.assert_close(twin.batch(2, 1).rgb, a.rgb, rtol=0, atol=0)
    # iterate() picks up at any (epoch, position) and rolls over into the next epoch.
    stream = twin.iterate(2, twin.batches_per_epoch - 1)
    assert next(stream)[:2] == (2, twin.batches_per_epoch - 1)
    assert next(stream)[:2] == (3, 0)


def test_distributed_ranks_read_disjoint_shares(photo_library, tmp_path):
    cache = PhotoCache.build(photo_library, tmp_path / "cache", size=48)
    indices = np.arange(len(cache))
    ranks = [CropSampler(cache, indices, 2, 32, seed=0, rank=r, world_size=2) for r in range(2)]
    orders = [set(s.epoch_order(5).tolist()) for s in ranks]
    assert not orders[0] & orders[1]
    assert orders[0] | orders[1] == set(indices.tolist())


def test_validation_crops_are_centred_and_unflipped(photo_library, tmp_path):
    cache = PhotoCache.build(photo_library, tmp_path / "cache", size=48)
    sampler = CropSampler(cache, np.arange(3), batch_size=3, crop=32, augment=False)
    batch = sampler.batch(0, 0)
    expected = np.stack([cache.images[i][8:40, 8:40] for i in batch.indices])
    np.testing.assert_array_equal((batch.rgb.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8), expected)


def test_reference_crops_come_from_the_same_photos(photo_library, tmp_path):
    cache = PhotoCache.build(photo_library, tmp_path / "cache", size=48)
    picks = [0, 5, 5]
    a = random_crops(cache, picks, 32, np.random.default_rng(1))
    b = random_crops(cache, picks, 32, np.random.default_rng(1))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    for crop, index in zip(a, picks):
        patch = (crop.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        full = np.asarray(cache.images[index])
        found = any(
            np.array_equal(candidate[y : y + 32, x : x + 32], patch)
            for candidate in (full, full[:, ::-1])
            for y in range(17)
            for x in range(17)
        )
        assert found


def test_split_holds_out_a_fixed_slice():
    train, val = split_indices(100, 256, seed=7)
    assert len(val) == 10 and len(train) == 90 and not set(train) & set(val)
    again = split_indices(100, 256, seed=7)
    np.testing.assert_array_equal(again[1], val)
    assert len(split_indices(1, 10)[1]) == 0


def test_repeats_parse_and_reject_malformed_text():
    assert data.parse_repeats("") == {}
    assert data.parse_repeats(" scenes=4, old = 2 ") == {"scenes": 4, "old": 2}
    for bad in ("scenes", "scenes=0", "scenes=x", "=3", "scenes=1.5"):
        with pytest.raises(ValueError, match="repeats"):
            data.parse_repeats(bad)


def test_oversample_repeats_photos_of_the_named_folders(tmp_path):
    files = [tmp_path / "scenes" / "a.jpg", tmp_path / "faces" / "b.jpg", tmp_path / "scenes" / "deep" / "c.jpg"]
    indices = np.array([0, 1, 2])
    np.testing.assert_array_equal(data.oversample(indices, files, {}), indices)
    out = data.oversample(indices, files, {"scenes": 3, "deep": 5})
    # a photo takes the largest repeat of any folder on its path; unnamed folders count once
    assert sorted(out.tolist()) == [0, 0, 0, 1] + [2] * 5
    # only the indices given are expanded (the held-out slice stays out)
    assert sorted(data.oversample(np.array([1, 2]), files, {"scenes": 3}).tolist()) == [1, 2, 2, 2]


def test_prefetched_batches_are_the_same_batches_in_the_same_order(photo_library, tmp_path):
    cache = PhotoCache.build(photo_library, tmp_path / "cache", size=64)
    sampler = CropSampler(cache, np.arange(len(cache)), batch_size=2, crop=48, seed=3)
    direct = sampler.iterate(0)
    ahead = Prefetched(sampler.iterate(0), depth=2)
    try:
        for _ in range(7):  # past the end of an epoch
            (e1, p1, b1), (e2, p2, b2) = next(direct), next(ahead)
            assert (e1, p1) == (e2, p2) and torch.equal(b1.lab, b2.lab) and list(b1.indices) == list(b2.indices)
    finally:
        ahead.close()
    ahead._thread.join(timeout=30)
    assert not ahead._thread.is_alive()  # the producer stopped although its source never ends
    with pytest.raises(StopIteration):
        next(ahead)


def test_prefetched_hands_on_the_producers_error_and_the_end():
    def failing():
        yield 1
        yield 2
        raise OSError("disk gone")

    ahead = Prefetched(failing(), depth=1)  # a slow consumer: the queue is full when the error comes
    assert next(ahead) == 1
    time.sleep(0.5)
    assert next(ahead) == 2
    time.sleep(0.5)
    with pytest.raises(OSError, match="disk gone"):
        next(ahead)
    ahead._thread.join(timeout=30)
    assert not ahead._thread.is_alive()
    assert list(Prefetched(iter([1, 2, 3]), depth=1)) == [1, 2, 3]
    with pytest.raises(ValueError):
        Prefetched(iter([]), depth=0)
