"""Opening and saving photos: a small corpus of awkward files, generated in tmp_path."""

from __future__ import annotations

import os
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import skimage.color
import skimage.data
import tifffile
from PIL import ExifTags, Image, ImageFile, ImageOps

from core import imageio
from core.imageio import (
    DEFAULT_MAX_PIXELS,
    ImageError,
    ImageTooLargeError,
    OverwriteError,
    Photo,
    UnreadableImageError,
    is_supported_image,
    load_photo,
    photo_from_array,
    save_image,
)

DATE_TAKEN = "1962:07:14 10:30:00"


# --------------------------------------------------------------------------------------------
# Helpers


def gradient_rgb(height: int = 24, width: int = 32) -> np.ndarray:
    """A small uint8 image whose every pixel differs, so misplaced pixels are noticed."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 7 % 256, y * 11 % 256, (x + y) * 5 % 256], axis=2).astype(np.uint8)


def random_uint16(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 65536, shape, dtype=np.uint16)


def fake_icc(space: bytes = b"RGB ") -> bytes:
    """Bytes with a valid ICC header layout (the colour space at offset 16) and a marker."""
    header = bytearray(128)
    header[16:20] = space
    header[36:40] = b"acsp"
    return bytes(header) + b"heirloom-test-profile"


def family_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Kodak"
    exif[ExifTags.Base.Model] = "Brownie"
    exif[ExifTags.Base.Orientation] = orientation
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = DATE_TAKEN
    return exif.tobytes()


def parse_exif(data: bytes) -> Image.Exif:
    exif = Image.Exif()
    exif.load(data)
    return exif


def assert_one_sentence_naming(error: pytest.ExceptionInfo, name: str) -> None:
    message = str(error.value)
    assert f"'{name}'" in message
    assert message.endswith(".")
    assert ". " not in message[:-1], message  # one sentence
    assert "Traceback" not in message and "Errno" not in message


def listing(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


# --------------------------------------------------------------------------------------------
# Files that cannot be opened


def test_missing_file_is_unreadable(tmp_path):
    with pytest.raises(UnreadableImageError) as error:
        load_photo(tmp_path / "grandma.jpg")
    assert_one_sentence_naming(error, "grandma.jpg")
    assert error.value.path == tmp_path / "grandma.jpg"


def test_folder_is_unreadable(tmp_path):
    (tmp_path / "album.jpg").mkdir()
    with pytest.raises(UnreadableImageError) as error:
        load_photo(tmp_path / "album.jpg")
    assert_one_sentence_naming(error, "album.jpg")


def test_zero_byte_file_is_unreadable(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(UnreadableImageError) as error:
        load_photo(path)
    assert_one_sentence_naming(error, "empty.jpg")
    assert "empty" in str(error.value)


def test_text_file_renamed_jpg_is_unreadable(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("Aunt Mary, Brighton, summer 1958\n" * 20)
    with pytest.raises(UnreadableImageError) as error:
        load_photo(path)
    assert_one_sentence_naming(error, "notes.jpg")


def test_truncated_jpeg_is_rejected_not_half_loaded(tmp_path):
    full = tmp_path / "full.jpg"
    Image.fromarray(gradient_rgb(200, 200)).save(full, quality=90)
    data = full.read_bytes()
    path = tmp_path / "truncated.jpg"
    path.write_bytes(data[: len(data) // 2])
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    with pytest.raises(UnreadableImageError) as error:
        load_photo(path)
    assert_one_sentence_naming(error, "truncated.jpg")
    assert isinstance(error.value.__cause__, Exception)  # the cause is kept for logs


def test_truncated_png_is_rejected(tmp_path):
    full = tmp_path / "full.png"
    Image.fromarray(gradient_rgb(120, 120)).save(full)
    path = tmp_path / "cut.png"
    path.write_bytes(full.read_bytes()[:-400])
    with pytest.raises(UnreadableImageError):
        load_photo(path)


def test_unsupported_format_is_unreadable(tmp_path):
    path = tmp_path / "animation.gif"
    Image.fromarray(gradient_rgb()).save(path)
    with pytest.raises(UnreadableImageError) as error:
        load_photo(path)
    assert_one_sentence_naming(error, "animation.gif")
    assert "JPEG" in str(error.value)


def test_unreadable_errors_are_image_errors():
    assert issubclass(UnreadableImageError, ImageError)
    assert issubclass(ImageTooLargeError, ImageError)
    assert issubclass(OverwriteError, ImageError)


# --------------------------------------------------------------------------------------------
# Images that are too large


def write_png(path: Path, header: bytes, data: bytes) -> None:
    """A PNG built by hand: IHDR fields, then ``data`` as the (compressed) image data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(data))
        + chunk(b"IEND", b"")
    )


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose IHDR declares width x height but whose data is a few bytes."""
    write_png(path, struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0), b"\x00" * 64)


def test_decompression_bomb_is_refused_from_the_header(tmp_path, monkeypatch):
    path = tmp_path / "scan.png"
    png_header_only(path, 60_000, 60_000)

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    started = time.perf_counter()
    with pytest.raises(ImageTooLargeError) as error:
        load_photo(path)
    assert time.perf_counter() - started < 2.0
    assert_one_sentence_naming(error, "scan.png")
    assert "3,600 megapixels" in str(error.value)
    assert "120 megapixels" in str(error.value)


def test_heirloom_limit_applies_below_pillows(tmp_path, monkeypatch):
    # 12,000 x 10,001 is below Pillow's own bomb limit but above Heirloom's 120 megapixels.
    path = tmp_path / "big-scan.png"
    png_header_only(path, 12_000, 10_001)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
    with pytest.raises(ImageTooLargeError) as error:
        load_photo(path)
    assert str(error.value) == (
        "'big-scan.png' is 120.1 megapixels; Heirloom opens photos up to 120 megapixels — "
        "reduce it in an image editor first."
    )


def test_max_pixels_is_checked_on_a_real_file(tmp_path):
    path = tmp_path / "wide.png"
    Image.fromarray(np.zeros((500, 1000, 3), np.uint8)).save(path)
    with pytest.raises(ImageTooLargeError) as error:
        load_photo(path, max_pixels=400_000)
    assert "0.5 megapixels" in str(error.value)
    assert load_photo(path, max_pixels=500_000).size == (1000, 500)
    assert DEFAULT_MAX_PIXELS == 120_000_000


# --------------------------------------------------------------------------------------------
# Loading the many kinds of image files


def test_rgb_png_loads_exactly(tmp_path):
    pixels = gradient_rgb()
    Image.fromarray(pixels).save(tmp_path / "photo.png")
    photo = load_photo(tmp_path / "photo.png")
    assert photo.format == "PNG"
    assert photo.bit_depth == 8
    assert photo.pixels.dtype == np.uint8
    assert photo.pixels.flags.c_contiguous
    assert np.array_equal(photo.pixels, pixels)
    assert photo.size == (32, 24) and photo.width == 32 and photo.height == 24
    assert photo.megapixels == pytest.approx(32 * 24 / 1e6)
    assert photo.path == tmp_path / "photo.png"


def test_grey_png_stays_grey(tmp_path):
    grey = gradient_rgb()[:, :, 0]
    Image.fromarray(grey).save(tmp_path / "grey.png")
    photo = load_photo(tmp_path / "grey.png")
    assert photo.is_grayscale and not photo.has_colour
    assert np.array_equal(photo.pixels, grey)


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    path = tmp_path / "print-shop.jpg"
    image = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # red ink: no cyan, full M and Y
    image.paste((255, 0, 0, 0), (0, 8, 16, 16))  # cyan
    image.save(path, quality=95)
    photo = load_photo(path)
    assert photo.pixels.shape == (16, 16, 3)
    red, cyan = photo.pixels[2, 2].astype(int), photo.pixels[12, 2].astype(int)
    assert red[0] > 240 and red[1] < 20 and red[2] < 20
    assert cyan[0] < 20 and cyan[1] > 235 and cyan[2] > 235
    assert photo.has_colour


def test_palette_png_with_transparency_is_composited_on_white(tmp_path):
    image = Image.new("P", (6, 4), 0)
    image.putpalette([0, 0, 0, 200, 100, 50, 10, 20, 30] + [0] * (256 * 3 - 9))
    image.putpixel((1, 1), 1)
    image.putpixel((2, 1), 2)
    image.save(tmp_path / "logo.png", transparency=0)
    photo = load_photo(tmp_path / "logo.png")
    assert photo.pixels.shape == (4, 6, 3)
    assert photo.pixels[0, 0].tolist() == [255, 255, 255]  # transparent index
    assert photo.pixels[1, 1].tolist() == [200, 100, 50]
    assert photo.pixels[1, 2].tolist() == [10, 20, 30]


def test_palette_png_without_transparency(tmp_path):
    pixels = gradient_rgb()
    Image.fromarray(pixels).quantize(16).save(tmp_path / "few-colours.png")
    expected = np.asarray(Image.open(tmp_path / "few-colours.png").convert("RGB"))
    assert np.array_equal(load_photo(tmp_path / "few-colours.png").pixels, expected)


def test_la_png_is_grey_on_white(tmp_path):
    grey = np.full((2, 3), 100, np.uint8)
    alpha = np.array([[0, 255, 128], [255, 255, 0]], np.uint8)
    Image.merge("LA", [Image.fromarray(grey), Image.fromarray(alpha)]).save(tmp_path / "la.png")
    photo = load_photo(tmp_path / "la.png")
    assert photo.is_grayscale
    opacity = alpha / 255.0
    expected = np.rint(100 * opacity + 255 * (1 - opacity)).astype(np.uint8)
    assert np.array_equal(photo.pixels, expected)


def test_rgba_png_is_composited_on_white(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[..., :3] = (200, 40, 0)
    rgba[..., 3] = [[255, 0], [51, 204]]
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    photo = load_photo(tmp_path / "rgba.png")
    alpha = rgba[..., 3:] / 255
    expected = np.rint(rgba[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    assert np.array_equal(photo.pixels, expected)
    assert photo.pixels[0, 1].tolist() == [255, 255, 255]


def test_one_bit_image_is_black_and_white(tmp_path):
    image = Image.new("1", (4, 4), 0)
    image.putpixel((1, 2), 1)
    image.save(tmp_path / "line-art.png")
    photo = load_photo(tmp_path / "line-art.png")
    assert photo.pixels.dtype == np.uint8 and photo.is_grayscale
    assert photo.pixels[2, 1] == 255 and photo.pixels.sum() == 255


def test_16_bit_grey_png_keeps_its_depth(tmp_path):
    grey = random_uint16((20, 30))
    Image.fromarray(grey).save(tmp_path / "scan16.png")
    photo = load_photo(tmp_path / "scan16.png")
    assert photo.bit_depth == 16 and photo.pixels.dtype == np.uint16
    assert photo.pixels.dtype.isnative
    assert np.array_equal(photo.pixels, grey)


def test_16_bit_rgb_tiff_keeps_its_depth(tmp_path):
    pixels = random_uint16((20, 30, 3))
    tifffile.imwrite(tmp_path / "scan48.tif", pixels, photometric="rgb")
    photo = load_photo(tmp_path / "scan48.tif")
    assert photo.format == "TIFF"
    assert photo.bit_depth == 16 and photo.pixels.dtype == np.uint16
    assert np.array_equal(photo.pixels, pixels)


@pytest.mark.parametrize(
    "options",
    [{}, {"compression": "zlib"}, {"byteorder": ">"}],
    ids=["raw", "deflate", "big-endian"],
)
def test_16_bit_rgb_tiff_without_tifffile_codec_is_still_exact(tmp_path, monkeypatch, options):
    # When tifffile cannot decode a file (LZW needs an optional package), Pillow reads it.
    pixels = random_uint16((20, 30, 3), seed=1)
    tifffile.imwrite(tmp_path / "scan48.tif", pixels, photometric="rgb", **options)
    monkeypatch.setattr(imageio, "_read_tiff_with_tifffile", lambda path, size: None)
    photo = load_photo(tmp_path / "scan48.tif")
    assert photo.bit_depth == 16
    assert np.array_equal(photo.pixels, pixels)


def test_16_bit_rgba_tiff_is_composited_at_16_bits(tmp_path):
    rgba = np.zeros((2, 2, 4), np.uint16)
    rgba[..., :3] = 40_000
    rgba[..., 3] = [[65535, 0], [32768, 65535]]
    tifffile.imwrite(tmp_path / "alpha48.tif", rgba, photometric="rgb", extrasamples=[2])
    photo = load_photo(tmp_path / "alpha48.tif")
    assert photo.bit_depth == 16
    assert photo.pixels[0, 0].tolist() == [40_000] * 3
    assert photo.pixels[0, 1].tolist() == [65535] * 3
    assert photo.pixels[1, 0, 0] == round(40_000 * 32768 / 65535 + 65535 * 32767 / 65535)


def test_16_bit_grey_alpha_png_still_loads(tmp_path):
    # Pillow reads 16-bit grey+alpha PNGs only at 8 bits; the photo must open all the same.
    samples = np.array([[1000, 65535, 50000, 0]], dtype=">u2")  # two pixels: (grey, alpha)
    path = tmp_path / "grey-alpha48.png"
    write_png(path, struct.pack(">IIBBBBB", 2, 1, 16, 4, 0, 0, 0), b"\x00" + samples.tobytes())
    photo = load_photo(path)
    assert photo.bit_depth == 8 and not photo.has_colour
    assert photo.pixels.reshape(2, -1)[:, 0].tolist() == [1000 >> 8, 255]


def test_exif_rotated_jpeg_is_upright(tmp_path):
    # Stored 40 wide and 20 tall, with a red block in the stored top-left corner. Orientation 6
    # means "rotate 90 degrees clockwise to display": the block ends up top-right.
    stored = np.full((20, 40, 3), 30, np.uint8)
    stored[:8, :8] = (230, 20, 20)
    path = tmp_path / "sideways.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=family_exif(orientation=6))

    photo = load_photo(path)
    assert photo.size == (20, 40)
    assert photo.pixels.flags.c_contiguous
    assert photo.pixels[3, 16, 0] > 200 and photo.pixels[3, 16, 1] < 60  # top-right: red
    assert photo.pixels[3, 3, 0] < 60  # top-left: dark
    assert photo.pixels[36, 16, 0] < 60  # bottom-right: dark
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    assert np.array_equal(photo.pixels, expected)
    exif = parse_exif(photo.exif)
    assert exif[ExifTags.Base.Orientation] == 1
    assert exif[ExifTags.Base.Make] == "Kodak"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(tmp_path, orientation):
    stored = gradient_rgb(6, 10)
    path = tmp_path / "oriented.png"
    Image.fromarray(stored).save(path, exif=family_exif(orientation))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(path)))
    assert np.array_equal(load_photo(path).pixels, expected)


def test_bmp_loads_exactly(tmp_path):
    pixels = gradient_rgb()
    Image.fromarray(pixels).save(tmp_path / "old.bmp")
    photo = load_photo(tmp_path / "old.bmp")
    assert photo.format == "BMP"
    assert np.array_equal(photo.pixels, pixels)


def test_lossless_webp_loads_exactly(tmp_path):
    pixels = gradient_rgb()
    Image.fromarray(pixels).save(tmp_path / "shared.webp", lossless=True)
    photo = load_photo(tmp_path / "shared.webp")
    assert photo.format == "WEBP"
    assert np.array_equal(photo.pixels, pixels)


def test_icc_profile_is_read(tmp_path):
    path = tmp_path / "profiled.jpg"
    Image.fromarray(gradient_rgb()).save(path, icc_profile=fake_icc())
    assert load_photo(path).icc_profile == fake_icc()


def test_tiff_exif_keeps_description_but_not_file_layout(tmp_path):
    path = tmp_path / "described.tif"
    Image.fromarray(gradient_rgb()).save(path, exif=family_exif())
    exif = parse_exif(load_photo(path).exif)
    assert exif[ExifTags.Base.Make] == "Kodak"
    assert exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == DATE_TAKEN
    assert ExifTags.Base.StripOffsets not in exif
    assert ExifTags.Base.ImageWidth not in exif


def test_real_photo_round_trip(tmp_path):
    astronaut = skimage.data.astronaut()
    save_image(tmp_path / "astronaut.png", astronaut)
    photo = load_photo(tmp_path / "astronaut.png")
    assert photo.size == (512, 512)
    assert np.array_equal(photo.pixels, astronaut)
    assert photo.has_colour


# --------------------------------------------------------------------------------------------
# Photo


def test_grey_lightness_matches_skimage_exactly():
    levels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    photo = photo_from_array(levels)
    rgb = np.repeat(levels[:, :, None], 3, axis=2) / 255.0
    expected = skimage.color.rgb2lab(rgb)[:, :, 0]
    lightness = photo.lightness()
    assert lightness.dtype == np.float32 and lightness.shape == (16, 16)
    np.testing.assert_allclose(lightness, expected, atol=1e-3)


def test_16_bit_grey_lightness_matches_skimage():
    levels = np.linspace(0, 65535, 1024).astype(np.uint16).reshape(32, 32)
    photo = photo_from_array(levels)
    expected = skimage.color.rgb2lab(np.repeat(levels[:, :, None], 3, axis=2) / 65535.0)[..., 0]
    np.testing.assert_allclose(photo.lightness(), expected, atol=1e-3)


def test_rgb_lightness_matches_skimage():
    astronaut = skimage.data.astronaut()[::4, ::4]
    photo = photo_from_array(astronaut)
    expected = skimage.color.rgb2lab(astronaut)[:, :, 0]
    np.testing.assert_allclose(photo.lightness(), expected, atol=2e-3)


def test_rgb_float_replicates_grey():
    photo = photo_from_array(np.array([[0, 51], [204, 255]], np.uint8))
    rgb = photo.rgb_float()
    assert rgb.dtype == np.float32 and rgb.shape == (2, 2, 3)
    np.testing.assert_allclose(rgb[:, :, 1], [[0, 0.2], [0.8, 1.0]], atol=1e-7)
    assert np.array_equal(rgb[:, :, 0], rgb[:, :, 2])
    wide = photo_from_array(np.array([[65535]], np.uint16)).rgb_float()
    assert wide.tolist() == [[[1.0, 1.0, 1.0]]]


def test_has_colour_tells_grey_stored_as_rgb_from_colour(tmp_path):
    grey = skimage.data.camera()
    path = tmp_path / "grey-as-rgb.jpg"
    Image.fromarray(grey).convert("RGB").save(path, quality=85)
    as_rgb = load_photo(path)
    assert not as_rgb.is_grayscale and not as_rgb.has_colour
    sepia = np.stack([grey, grey * 0.85, grey * 0.65], axis=2).astype(np.uint8)
    assert photo_from_array(sepia).has_colour
    assert not photo_from_array(grey).has_colour


def test_photo_from_array_accepts_the_usual_arrays():
    as_float = photo_from_array(np.array([[0.0, 0.5, 1.0]]))
    assert as_float.bit_depth == 8 and as_float.pixels.tolist() == [[0, 128, 255]]
    wide = photo_from_array(np.array([[0.0, 1.0]]), bit_depth=16)
    assert wide.pixels.dtype == np.uint16 and wide.pixels.tolist() == [[0, 65535]]
    assert photo_from_array(np.zeros((2, 2, 1), np.uint8)).is_grayscale
    assert photo_from_array(np.zeros((2, 2, 3), np.uint16)).bit_depth == 16
    assert photo_from_array(np.array([[3, 250]])).pixels.dtype == np.uint8
    source = np.zeros((2, 2), np.uint8)
    photo = photo_from_array(source)
    source[0, 0] = 9
    assert photo.pixels[0, 0] == 0  # copied
    assert photo.path is None and photo.exif is None and photo.icc_profile is None


@pytest.mark.parametrize(
    ("array", "bit_depth"),
    [
        (np.zeros((2, 2, 4), np.uint8), None),
        (np.zeros((2,), np.uint8), None),
        (np.zeros((2, 2), np.uint8), 16),
        (np.array([[300]]), None),
        (np.zeros((2, 2), np.uint8), 12),
    ],
)
def test_photo_from_array_rejects_bad_input(array, bit_depth):
    with pytest.raises(ValueError):
        photo_from_array(array, bit_depth=bit_depth)


def test_photo_is_frozen():
    photo = photo_from_array(np.zeros((2, 2), np.uint8))
    with pytest.raises(AttributeError):
        photo.bit_depth = 16
    assert "2x2" in repr(photo)
    with pytest.raises(ValueError):
        Photo(np.zeros((2, 2), np.uint16), 8, None, "", None, None)


# --------------------------------------------------------------------------------------------
# Saving


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff"])
def test_8_bit_lossless_round_trip(tmp_path, suffix):
    pixels = gradient_rgb()
    written = save_image(tmp_path / f"result{suffix}", pixels)
    assert written == tmp_path / f"result{suffix}"
    photo = load_photo(written)
    assert photo.bit_depth == 8
    assert np.array_equal(photo.pixels, pixels)


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg"])
def test_jpeg_round_trip_is_close(tmp_path, suffix):
    pixels = skimage.data.astronaut()[::4, ::4]
    photo = load_photo(save_image(tmp_path / f"result{suffix}", pixels))
    assert photo.format == "JPEG"
    error = np.abs(photo.pixels.astype(int) - pixels).mean()
    assert error < 4


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("shape", [(21, 34, 3), (21, 34)], ids=["rgb", "grey"])
def test_16_bit_round_trip_is_exact(tmp_path, suffix, shape):
    pixels = random_uint16(shape, seed=2)
    photo = load_photo(save_image(tmp_path / f"result{suffix}", pixels))
    assert photo.bit_depth == 16 and photo.pixels.dtype == np.uint16
    assert np.array_equal(photo.pixels, pixels)


def test_own_16_bit_png_is_standard(tmp_path):
    # Pillow decodes our 16-bit PNGs on its own: grey at full depth, RGB by the high byte.
    grey, rgb = random_uint16((9, 13), seed=3), random_uint16((9, 13, 3), seed=4)
    save_image(tmp_path / "grey.png", grey)
    save_image(tmp_path / "rgb.png", rgb)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "grey.png")), grey)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "rgb.png")), (rgb >> 8).astype(np.uint8))


def test_16_bit_to_jpeg_is_scaled_to_8_bit(tmp_path):
    levels = np.array([[0, 257 * 100, 65535]], np.uint16).repeat(16, axis=0).repeat(16, axis=1)
    photo = load_photo(save_image(tmp_path / "small.jpg", levels))
    assert photo.bit_depth == 8
    assert abs(int(photo.pixels[8, 24]) - 100) <= 2
    assert photo.pixels[8, 40] >= 253 and photo.pixels[8, 8] <= 2


def test_float_pixels_are_saved_as_8_bit(tmp_path):
    photo = load_photo(save_image(tmp_path / "float.png", np.full((2, 2, 3), 0.2)))
    assert photo.bit_depth == 8 and np.all(photo.pixels == 51)


def source_with_metadata(tmp_path: Path) -> Photo:
    path = tmp_path / "original.jpg"
    Image.fromarray(gradient_rgb()).save(path, exif=family_exif(), icc_profile=fake_icc())
    return load_photo(path)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif"])
def test_exif_and_icc_survive_load_and_save(tmp_path, suffix):
    source = source_with_metadata(tmp_path)
    target = save_image(
        tmp_path / f"colour{suffix}",
        source.pixels,
        exif=source.exif,
        icc_profile=source.icc_profile,
        sources=[source.path],
    )
    with Image.open(target) as written:
        assert written.info.get("icc_profile") == fake_icc()
        exif = written.getexif()
        assert exif[ExifTags.Base.Make] == "Kodak"
        assert exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == DATE_TAKEN
    again = load_photo(target)
    assert again.icc_profile == fake_icc()
    assert parse_exif(again.exif)[ExifTags.Base.Model] == "Brownie"


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16_bit_output_keeps_metadata(tmp_path, suffix):
    target = save_image(
        tmp_path / f"wide{suffix}",
        random_uint16((8, 8, 3)),
        exif=family_exif(),
        icc_profile=fake_icc(),
    )
    photo = load_photo(target)
    assert photo.bit_depth == 16
    assert photo.icc_profile == fake_icc()
    exif = parse_exif(photo.exif)
    assert exif[ExifTags.Base.Make] == "Kodak" and exif[ExifTags.Base.Model] == "Brownie"
    if suffix == ".png":  # a 16-bit TIFF keeps only the text tags, not the EXIF sub-directory
        assert exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] == DATE_TAKEN


def test_saved_exif_orientation_is_reset(tmp_path):
    target = save_image(tmp_path / "upright.jpg", gradient_rgb(), exif=family_exif(orientation=6))
    with Image.open(target) as written:
        assert written.getexif()[ExifTags.Base.Orientation] == 1
    assert load_photo(target).size == (32, 24)


def test_exif_without_header_is_accepted(tmp_path):
    bare = family_exif().removeprefix(b"Exif\x00\x00")
    target = save_image(tmp_path / "bare.jpg", gradient_rgb(), exif=bare)
    with Image.open(target) as written:
        assert written.getexif()[ExifTags.Base.Make] == "Kodak"


def test_grey_icc_profile_is_not_put_on_a_colour_result(tmp_path):
    target = save_image(tmp_path / "colourised.png", gradient_rgb(), icc_profile=fake_icc(b"GRAY"))
    assert load_photo(target).icc_profile is None
    grey = save_image(tmp_path / "grey.png", gradient_rgb()[..., 0], icc_profile=fake_icc(b"GRAY"))
    assert load_photo(grey).icc_profile == fake_icc(b"GRAY")


def test_refuses_to_overwrite_the_source(tmp_path):
    source = tmp_path / "original.jpg"
    Image.fromarray(gradient_rgb()).save(source)
    before = source.read_bytes()
    roundabout = tmp_path / "sub" / ".." / "original.jpg"
    (tmp_path / "sub").mkdir()
    with pytest.raises(OverwriteError) as error:
        save_image(roundabout, gradient_rgb(), sources=[str(source)])
    assert_one_sentence_naming(error, "original.jpg")
    assert source.read_bytes() == before
    assert listing(tmp_path) == ["original.jpg", "sub"]


def test_refuses_to_overwrite_the_source_through_a_link(tmp_path):
    source = tmp_path / "original.png"
    Image.fromarray(gradient_rgb()).save(source)
    link = tmp_path / "link.png"
    try:
        link.symlink_to(source)
    except (OSError, NotImplementedError):
        pytest.skip("symbolic links are not available here")
    with pytest.raises(OverwriteError):
        save_image(link, gradient_rgb(), sources=[source])


def test_overwrite_false_keeps_an_existing_file(tmp_path):
    target = tmp_path / "result.png"
    target.write_bytes(b"keep me")
    with pytest.raises(ImageError) as error:
        save_image(target, gradient_rgb(), overwrite=False)
    assert not isinstance(error.value, OverwriteError)
    assert_one_sentence_naming(error, "result.png")
    assert target.read_bytes() == b"keep me"
    save_image(target, gradient_rgb())  # overwrite=True (the default) replaces it
    assert np.array_equal(load_photo(target).pixels, gradient_rgb())


@pytest.mark.parametrize("name", ["result.gif", "result.webp", "result", "result.png.bak"])
def test_refuses_unknown_suffix(tmp_path, name):
    with pytest.raises(ImageError) as error:
        save_image(tmp_path / name, gradient_rgb())
    assert_one_sentence_naming(error, name)
    assert listing(tmp_path) == []


def test_failed_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "result.png"
    target.write_bytes(b"previous result")

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(ImageError) as error:
        save_image(target, gradient_rgb())
    assert_one_sentence_naming(error, "result.png")
    assert "No space left on device" in str(error.value)
    assert listing(tmp_path) == ["result.png"]
    assert target.read_bytes() == b"previous result"


def test_failed_16_bit_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("encoder bug")

    monkeypatch.setattr(imageio, "_write_png16", broken)
    with pytest.raises(RuntimeError):
        save_image(tmp_path / "result.png", random_uint16((4, 4, 3)))
    assert listing(tmp_path) == []


def test_save_creates_missing_folders(tmp_path):
    target = tmp_path / "Colourised" / "1950s" / "beach.jpg"
    assert save_image(target, gradient_rgb()) == target
    assert load_photo(target).size == (32, 24)
    assert listing(target.parent) == ["beach.jpg"]


def test_saved_file_has_ordinary_permissions(tmp_path):
    if os.name != "posix":
        pytest.skip("POSIX permissions only")
    target = save_image(tmp_path / "result.png", gradient_rgb())
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_save_rejects_bad_arrays(tmp_path):
    with pytest.raises(ValueError):
        save_image(tmp_path / "bad.png", np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError):
        save_image(tmp_path / "bad.png", np.zeros((4, 4), np.int64))


# --------------------------------------------------------------------------------------------
# Small helpers


@pytest.mark.parametrize(
    ("name", "supported"),
    [
        ("a.jpg", True),
        ("B.JPEG", True),
        ("c.png", True),
        ("d.tif", True),
        ("e.TIFF", True),
        ("f.webp", True),
        ("g.bmp", True),
        ("h.gif", False),
        ("i.txt", False),
        ("jpg", False),
        ("k.psd", False),
    ],
)
def test_is_supported_image(name, supported):
    assert is_supported_image(name) is supported
    assert is_supported_image(Path("folder") / name) is supported


def test_heic_is_supported_only_when_pillow_can_open_it():
    registered = ".heic" in Image.registered_extensions()
    assert is_supported_image("phone.heic") is registered
