"""Fuzzing the image loader: real small PNG, JPEG and TIFF files (made with Pillow) with mutated
headers and bytes. load_photo returns a Photo or raises ImageError, never another exception, and
no file changes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fuzz_support import fuzz_settings, mutated, snapshot
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from core.imageio import ImageError, Photo, load_photo

# Small enough that a header mutated into a large size is refused before decoding, so each example
# stays quick; the real limit is tested in test_imageio.py.
MAX_PIXELS = 1_000_000


def _pixels(mode: str) -> Image.Image:
    ramp = np.linspace(0, 1, 13 * 9).reshape(9, 13)
    if mode == "I;16":
        return Image.fromarray((ramp * 65535).astype(np.uint16))
    grey = (ramp * 255).astype(np.uint8)
    if mode == "L":
        return Image.fromarray(grey)
    return Image.fromarray(np.stack([grey, grey[::-1], 255 - grey], axis=-1))


def _encoded(fmt: str, mode: str, **options) -> bytes:
    stream = io.BytesIO()
    image = _pixels(mode)
    if fmt == "JPEG":
        exif = Image.Exif()
        exif[0x0112] = 6  # orientation: rotated, so the loader's EXIF path runs too
        options["exif"] = exif.tobytes()
    image.save(stream, format=fmt, **options)
    return stream.getvalue()


SAMPLES = {
    "grey.png": _encoded("PNG", "L"),
    "colour.png": _encoded("PNG", "RGB"),
    "deep.png": _encoded("PNG", "I;16"),
    "colour.jpg": _encoded("JPEG", "RGB", quality=90),
    "grey.jpg": _encoded("JPEG", "L", quality=90),
    "colour.tif": _encoded("TIFF", "RGB"),
    "packed.tif": _encoded("TIFF", "RGB", compression="tiff_deflate"),
    "deep.tif": _encoded("TIFF", "I;16"),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-images")


def load(folder: Path, name: str, data: bytes) -> Photo | None:
    path = folder / name
    path.write_bytes(data)
    before = snapshot(folder)
    try:
        photo = load_photo(path, max_pixels=MAX_PIXELS)
    except ImageError as error:
        assert str(error) and "\n" not in str(error)
        photo = None
    assert snapshot(folder) == before
    if photo is not None:
        assert photo.pixels.ndim in (2, 3) and photo.pixels.flags.c_contiguous
        assert photo.width * photo.height <= MAX_PIXELS
    return photo


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_samples_load(folder, name):
    photo = load(folder, name, SAMPLES[name])
    assert photo is not None and {photo.width, photo.height} == {13, 9}


@pytest.mark.parametrize("name", sorted(SAMPLES))
@fuzz_settings(250)
@given(data=st.data())
def test_mutated_files(folder, name, data):
    load(folder, name, data.draw(mutated(SAMPLES[name])))


@fuzz_settings(100)
@given(data=st.binary(max_size=64), name=st.sampled_from(sorted(SAMPLES)))
def test_arbitrary_bytes(folder, data, name):
    load(folder, name, data)
