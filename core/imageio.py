"""Opening and saving photos: every file format question lives here, and nothing here needs Qt.

``load_photo`` turns whatever a family archive holds (JPEG, PNG, TIFF, WebP or BMP; grey, palette,
CMYK, with or without transparency, 8 or 16 bits per sample, rotated by an EXIF tag) into a
:class:`Photo`: upright pixels as ``uint8`` or ``uint16``, plus the EXIF and ICC data worth carrying
into the result. ``save_image`` writes a result at full resolution, keeps 16-bit precision where the
format allows, never writes over an original, and never leaves a half-written file behind.

Problems a user can cause (a missing or damaged file, a huge scan, an unsupported name) raise an
:class:`ImageError` whose text is one sentence naming the file and saying what to do.
"""

from __future__ import annotations

import math
import os
import re
import struct
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

import numpy as np
import tifffile
from PIL import ExifTags, Image, UnidentifiedImageError

from core.color import gray_lut, lightness_of_rgb
from core.files import atomic_output

DEFAULT_MAX_PIXELS = 120_000_000
SUPPORTED_SAVE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")

_OPEN_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp")
_HEIF_SUFFIXES = (".heic", ".heif")
_OPEN_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP", "BMP")
_ORIENTATION = ExifTags.Base.Orientation

# A pixel counts as coloured when its channels differ by more than this fraction of full scale,
# and a photo has colour when more than this fraction of its pixels do. Grey saved as RGB (even
# through JPEG) and scanner noise stay below; sepia, hand tinting and colour prints do not.
_CHROMA_TOLERANCE = 0.03
_COLOURED_FRACTION = 0.005

# In a TIFF, Pillow's "EXIF" is the whole first directory, strip layout included. Only these
# descriptive tags (and the EXIF and GPS sub-directories) describe the photo rather than the file.
_DESCRIPTIVE_TIFF_TAGS = frozenset(
    {
        ExifTags.Base.ImageDescription,
        ExifTags.Base.Make,
        ExifTags.Base.Model,
        ExifTags.Base.Orientation,
        ExifTags.Base.XResolution,
        ExifTags.Base.YResolution,
        ExifTags.Base.ResolutionUnit,
        ExifTags.Base.Software,
        ExifTags.Base.DateTime,
        ExifTags.Base.Artist,
        ExifTags.Base.HostComputer,
        ExifTags.Base.Copyright,
        ExifTags.Base.ExifOffset,
        ExifTags.Base.GPSInfo,
    }
)
# The text tags a 16-bit TIFF can carry (tifffile writes no EXIF sub-directory).
_TIFF_TEXT_TAGS = (
    ExifTags.Base.ImageDescription,
    ExifTags.Base.Make,
    ExifTags.Base.Model,
    ExifTags.Base.Software,
    ExifTags.Base.DateTime,
    ExifTags.Base.Artist,
    ExifTags.Base.Copyright,
)
_EXIF_HEADER = b"Exif\x00\x00"
_JPEG_MAX_EXIF = 65_000  # one APP1 segment holds at most 64 KiB


# --------------------------------------------------------------------------------------------
# Errors


class ImageError(Exception):
    """A problem with an image file that the user can fix; ``str(error)`` is one sentence."""

    def __init__(self, message: str, path: os.PathLike | str | None = None):
        super().__init__(message)
        self.path = Path(path) if path is not None else None


class UnreadableImageError(ImageError):
    """The file is missing, empty, damaged, or not an image format Heirloom opens."""


class ImageTooLargeError(ImageError):
    """The image has more pixels than Heirloom is willing to decode."""


class OverwriteError(ImageError):
    """Saving would replace one of the photos the result was made from."""


class ImageExistsError(ImageError):
    """Saving with ``overwrite=False`` found the name taken (before writing, or by another program
    while writing): nothing was replaced."""


# --------------------------------------------------------------------------------------------
# Photo


@dataclass(frozen=True, eq=False, repr=False)
class Photo:
    """An upright photo ready for colorization, with the metadata worth carrying into the result.

    ``pixels`` is ``(H, W)`` grey or ``(H, W, 3)`` RGB, ``uint8`` (``bit_depth`` 8) or ``uint16``
    (``bit_depth`` 16), C-contiguous, with any EXIF rotation already applied. ``exif`` is raw EXIF
    (orientation reset to 1) and ``icc_profile`` describes ``pixels``; either may be ``None``.
    """

    pixels: np.ndarray
    bit_depth: int
    path: Path | None = None
    format: str = ""
    exif: bytes | None = None
    icc_profile: bytes | None = None

    def __post_init__(self) -> None:
        expected = {8: np.uint8, 16: np.uint16}.get(self.bit_depth)
        if expected is None or self.pixels.dtype != expected:
            raise ValueError(f"{self.bit_depth}-bit photo cannot hold {self.pixels.dtype} pixels")
        if not (self.pixels.ndim == 2 or (self.pixels.ndim == 3 and self.pixels.shape[2] == 3)):
            raise ValueError(f"pixels must be (H, W) or (H, W, 3), got {self.pixels.shape}")
        if not self.pixels.flags.c_contiguous:
            raise ValueError("pixels must be C-contiguous")

    def __repr__(self) -> str:
        name = self.path.name if self.path else "<array>"
        kind = "grey" if self.is_grayscale else "RGB"
        return f"Photo({name!r}, {self.width}x{self.height}, {kind}, {self.bit_depth}-bit)"

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height), as Pillow and Qt report sizes."""
        return self.width, self.height

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6

    @property
    def max_value(self) -> int:
        """The sample value of full white: 255 or 65535."""
        return (1 << self.bit_depth) - 1

    @property
    def is_grayscale(self) -> bool:
        return self.pixels.ndim == 2

    @cached_property
    def has_colour(self) -> bool:
        """True for a colour photo; False for grey, including grey stored as RGB."""
        if self.is_grayscale:
            return False
        step = max(1, math.ceil(math.sqrt(self.width * self.height / 1_000_000)))
        sample = self.pixels[::step, ::step]
        spread = sample.max(axis=2).astype(np.int32) - sample.min(axis=2)
        coloured = np.count_nonzero(spread > _CHROMA_TOLERANCE * self.max_value)
        return coloured > _COLOURED_FRACTION * spread.size

    def lightness(self) -> np.ndarray:
        """Lab lightness L in [0, 100] as float32 (H, W)."""
        if self.is_grayscale:
            return gray_lut(self.bit_depth)[self.pixels]
        return lightness_of_rgb(self.pixels, self.bit_depth)

    def rgb_float(self) -> np.ndarray:
        """sRGB in [0, 1] as float32 (H, W, 3); grey is replicated into the three channels."""
        rgb = self.pixels.astype(np.float32)
        rgb *= np.float32(1.0 / self.max_value)
        if self.is_grayscale:
            rgb = np.repeat(rgb[:, :, None], 3, axis=2)
        return rgb


def photo_from_array(array: np.ndarray, *, bit_depth: int | None = None) -> Photo:
    """Wrap an in-memory image (``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``) as a :class:`Photo`.

    ``uint8`` and ``uint16`` arrays keep their values (``bit_depth``, if given, must agree). Floats
    are read as [0, 1] and stored with ``bit_depth`` bits (8 unless told). Other integer arrays
    need values that fit ``bit_depth`` (8 unless told). The array is always copied.
    """
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if bit_depth not in (None, 8, 16):
        raise ValueError(f"bit depth must be 8 or 16, got {bit_depth}")
    if array.dtype == np.uint8 or array.dtype == np.uint16:
        natural = 8 if array.dtype == np.uint8 else 16
        if bit_depth not in (None, natural):
            raise ValueError(f"{array.dtype} pixels are {natural}-bit, not {bit_depth}-bit")
        pixels = np.array(array, order="C")
        bit_depth = natural
    elif np.issubdtype(array.dtype, np.floating):
        bit_depth = bit_depth or 8
        unit = np.clip(np.nan_to_num(array.astype(np.float64)), 0.0, 1.0)
        pixels = np.rint(unit * ((1 << bit_depth) - 1)).astype(_dtype_for(bit_depth))
    elif np.issubdtype(array.dtype, np.integer):
        bit_depth = bit_depth or 8
        if array.size and (array.min() < 0 or array.max() > (1 << bit_depth) - 1):
            raise ValueError(f"values do not fit in {bit_depth} bits")
        pixels = array.astype(_dtype_for(bit_depth), order="C")
    else:
        raise ValueError(f"cannot make a photo from {array.dtype} values")
    return Photo(pixels=pixels, bit_depth=bit_depth)


def _dtype_for(bit_depth: int) -> type:
    return np.uint8 if bit_depth == 8 else np.uint16


# --------------------------------------------------------------------------------------------
# Loading


def is_supported_image(path: os.PathLike | str) -> bool:
    """Whether Heirloom offers to open ``path``, judged by its suffix alone (no disk access)."""
    suffix = Path(path).suffix.lower()
    if suffix in _OPEN_SUFFIXES:
        return True
    return suffix in _HEIF_SUFFIXES and suffix in Image.registered_extensions()


def load_photo(path: os.PathLike | str, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Open a photo file, upright, with alpha flattened onto white.

    Raises :class:`UnreadableImageError` for missing, empty, damaged or unsupported files and
    :class:`ImageTooLargeError` when the header declares more than ``max_pixels`` pixels (checked
    before any pixel is decoded).
    """
    path = Path(path)
    _check_readable_file(path)
    try:
        with _open_with_pillow(path, max_pixels) as image:
            _check_pixel_count(path, image.width * image.height, max_pixels)
            pixels, bit_depth, colour_converted = _decode(image, path)
            exif, orientation = _exif_to_carry(image)
            icc_profile = None if colour_converted else image.info.get("icc_profile") or None
            file_format = image.format or ""
    except ImageError:
        raise
    except MemoryError as error:
        raise ImageTooLargeError(
            f"There is not enough memory to open '{path.name}'; close other programs or reduce "
            "the photo in an image editor first.",
            path,
        ) from error
    except Exception as error:
        # Pillow and tifffile report damaged files through many exception types (OSError,
        # SyntaxError, ValueError, struct.error, ...); all of them mean the same to the user.
        raise UnreadableImageError(_unreadable_message(path, error), path) from error

    pixels = _flatten_alpha(pixels, bit_depth)
    pixels = np.ascontiguousarray(_apply_orientation(pixels, orientation))
    return Photo(pixels, bit_depth, path, file_format, exif, icc_profile)


def _check_readable_file(path: Path) -> None:
    if path.is_dir():
        raise UnreadableImageError(
            f"'{path.name}' is a folder, not a photo; choose an image file inside it.", path
        )
    try:
        size = path.stat().st_size
    except OSError as error:
        raise UnreadableImageError(_unreadable_message(path, error), path) from error
    if size == 0:
        raise UnreadableImageError(
            f"'{path.name}' is empty (0 bytes); it was probably not copied completely, so try "
            "another copy of the photo.",
            path,
        )


def _unreadable_message(path: Path, error: BaseException) -> str:
    name = path.name
    if isinstance(error, FileNotFoundError):
        return f"'{name}' could not be found; check that it has not been moved, renamed or deleted."
    if isinstance(error, PermissionError):
        return f"Heirloom is not allowed to read '{name}'; check the file's permissions."
    if isinstance(error, UnidentifiedImageError):
        return (
            f"'{name}' is not a photo Heirloom can open; choose a JPEG, PNG, TIFF, WebP or BMP "
            "file."
        )
    return (
        f"'{name}' could not be read because the file is damaged or incomplete; try another copy "
        "of the photo, or open and re-save it in an image editor."
    )


def _open_formats() -> tuple[str, ...]:
    heif = ("HEIF",) if "HEIF" in Image.OPEN else ()
    return _OPEN_FORMATS + heif


@contextmanager
def _open_with_pillow(path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> Iterator[Image.Image]:
    """Open ``path`` with Pillow (header only), limited to the photo formats Heirloom supports.

    Pillow's own decompression-bomb guard (twice ``Image.MAX_IMAGE_PIXELS``) becomes an
    :class:`ImageTooLargeError`; its warning for merely large images is silenced because
    :func:`_check_pixel_count` applies Heirloom's limit.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        # A damaged file's "Corrupt EXIF data" and the like: the photo either loads (the damaged
        # part is dropped) or fails with one ImageError; Pillow's own warnings would only add noise.
        warnings.simplefilter("ignore", UserWarning)
        try:
            image = Image.open(path, formats=_open_formats())
        except Image.DecompressionBombError as error:
            found = re.search(r"\d+", str(error))
            pixels = int(found.group()) if found else None
            if Image.MAX_IMAGE_PIXELS:
                max_pixels = min(max_pixels, 2 * Image.MAX_IMAGE_PIXELS)
            raise ImageTooLargeError(_too_large_message(path, pixels, max_pixels), path) from error
        with image:
            yield image


def _check_pixel_count(path: Path, pixels: int, max_pixels: int) -> None:
    if pixels > max_pixels:
        raise ImageTooLargeError(_too_large_message(path, pixels, max_pixels), path)


def _too_large_message(path: Path, pixels: int | None, max_pixels: int) -> str:
    limit = _megapixels_text(max_pixels, round_up=False)
    size = f"is {_megapixels_text(pixels, round_up=True)} megapixels" if pixels else "is too large"
    return (
        f"'{path.name}' {size}; Heirloom opens photos up to {limit} megapixels — reduce it in an "
        "image editor first."
    )


def _megapixels_text(pixels: int, *, round_up: bool) -> str:
    tenths = pixels / 100_000
    tenths = math.ceil(tenths) if round_up else math.floor(tenths)
    return f"{tenths / 10:,.1f}".removesuffix(".0")


def _decode(image: Image.Image, path: Path) -> tuple[np.ndarray, int, bool]:
    """Decode all pixels: ``(array, bit_depth, colour_converted)``.

    The array is (H, W) or (H, W, C) with C in 1-4 (alpha last); ``colour_converted`` tells that
    the colour space changed (CMYK, YCbCr, ...), so the file's ICC profile no longer applies.
    """
    wide = _decode_wide_colour(image, path)
    if wide is not None:
        return wide, 16, False
    image.load()
    return _pixels_from_pillow(image)


def _pixels_from_pillow(image: Image.Image) -> tuple[np.ndarray, int, bool]:
    mode = image.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        if "transparency" in image.info and mode in ("L", "RGB"):
            return np.asarray(image.convert({"L": "LA", "RGB": "RGBA"}[mode])), 8, False
        return np.asarray(image), 8, False
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(image).astype(np.uint16), 16, False
    if mode in ("I", "F") or mode.startswith("I;"):
        values = np.asarray(image if mode in ("I", "F") else image.convert("I"))
        return _rescale_to_uint16(values), 16, False
    if mode == "1":
        return np.asarray(image.convert("L")), 8, False
    if mode in ("P", "PA", "La", "RGBa", "RGBX"):
        keeps_alpha = mode != "RGBX" and (mode != "P" or "transparency" in image.info)
        target = ("LA" if mode == "La" else "RGBA") if keeps_alpha else "RGB"
        return np.asarray(image.convert(target)), 8, False
    # CMYK, YCbCr, HSV, ...: Pillow converts the numbers, the embedded profile stops applying.
    return np.asarray(image.convert("RGB")), 8, True


def _rescale_to_uint16(values: np.ndarray) -> np.ndarray:
    """32-bit integer or float grey to uint16: kept if already in range, else stretched to fit."""
    values = np.nan_to_num(values)
    low, high = float(values.min()), float(values.max())
    if np.issubdtype(values.dtype, np.floating) and low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    elif low >= 0 and high <= 65535:
        return values.astype(np.uint16)
    scaled = (values.astype(np.float64) - low) * (65535.0 / max(high - low, 1e-12))
    return np.rint(scaled).astype(np.uint16)


# 16-bit colour. Pillow has no 16-bit RGB mode: it decodes such files keeping the high byte of
# each sample. TIFFs go through tifffile; when tifffile lacks the codec (LZW and JPEG need the
# optional imagecodecs package) and for PNG, Pillow decodes the file a second time with the
# sample byte order flipped in its raw mode, which keeps the low bytes instead.


def _decode_wide_colour(image: Image.Image, path: Path) -> np.ndarray | None:
    """Full-precision (H, W, 3 or 4) uint16 pixels of a 16-bit colour PNG or TIFF, else None."""
    if not _has_wide_colour_samples(image):
        return None
    if image.format == "TIFF":
        pixels = _read_tiff_with_tifffile(path, image.size)
        if pixels is not None:
            return pixels
    image.load()  # a damaged file fails here, as it would for any other photo
    high = np.asarray(image)
    try:
        low = _low_bytes_with_pillow(path)
    except (ValueError, OSError, KeyError):
        return None  # keep Pillow's 8-bit reading
    if low.shape != high.shape:
        return None
    return (high.astype(np.uint16) << 8) | low


def _has_wide_colour_samples(image: Image.Image) -> bool:
    if image.mode not in ("RGB", "RGBA"):
        return False
    if image.format == "TIFF":
        bits = image.tag_v2.get(258, 8)  # BitsPerSample, one value per sample
        return max(bits if isinstance(bits, tuple) else (bits,), default=8) > 8
    return image.format == "PNG" and any(";16" in _tile_rawmode(tile) for tile in image.tile)


def _read_tiff_with_tifffile(path: Path, size: tuple[int, int]) -> np.ndarray | None:
    try:
        with tifffile.TiffFile(path) as tiff:
            page = tiff.pages[0]
            pixels = page.asarray()
            axes = page.axes
    except Exception:  # noqa: BLE001 - any failure here falls back to Pillow
        return None
    if axes.startswith("S"):
        pixels = np.moveaxis(pixels, 0, -1)
    width, height = size
    if pixels.dtype != np.uint16 or pixels.shape[:2] != (height, width) or pixels.ndim != 3:
        return None
    if pixels.shape[2] not in (3, 4):
        return None
    return pixels


def _low_bytes_with_pillow(path: Path) -> np.ndarray:
    with _open_with_pillow(path) as image:
        image.tile = [_with_flipped_byte_order(tile) for tile in image.tile]
        image.load()
        return np.asarray(image)


def _tile_rawmode(tile) -> str:
    """The raw mode of a Pillow tile: its arguments are the raw mode or start with it."""
    args = tile[3]
    if isinstance(args, tuple) and args:
        args = args[0]
    return args if isinstance(args, str) else ""


def _with_flipped_byte_order(tile):
    """The same tile with its 16-bit raw mode read in the other byte order ("RGB;16B" -> ";16L")."""
    match = re.fullmatch(r"(.+;16)([LBN])", _tile_rawmode(tile))
    if not match:
        raise ValueError(f"unexpected raw mode in {tile!r}")
    opposite = {"L": "B", "B": "L", "N": "B" if np.little_endian else "L"}[match.group(2)]
    flipped = match.group(1) + opposite
    args = tile[3]
    args = flipped if isinstance(args, str) else (flipped, *args[1:])
    return tile._replace(args=args) if hasattr(tile, "_replace") else (*tile[:3], args)


def _flatten_alpha(pixels: np.ndarray, bit_depth: int) -> np.ndarray:
    """Drop a trailing alpha channel by compositing onto white; (H, W, 1) becomes (H, W)."""
    if pixels.ndim == 2:
        return pixels
    channels = pixels.shape[2]
    if channels in (1, 3):
        return pixels[:, :, 0] if channels == 1 else pixels
    colour = pixels[:, :, : channels - 1].astype(np.uint32)
    alpha = pixels[:, :, channels - 1 :].astype(np.uint32)
    full = (1 << bit_depth) - 1
    # Exact integer blend, rounded: (c * a + white * (full - a)) / full, with white == full.
    blended = (colour * alpha + full * (full - alpha) + full // 2) // full
    blended = blended.astype(pixels.dtype)
    return blended[:, :, 0] if channels == 2 else blended


# EXIF orientation -> how to turn the stored pixels upright (1, "as stored", needs nothing).
_UPRIGHT: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: np.fliplr,  # mirrored
    3: lambda a: np.rot90(a, 2),  # upside down
    4: np.flipud,  # mirrored and upside down
    5: lambda a: np.swapaxes(a, 0, 1),  # transposed
    6: lambda a: np.rot90(a, -1),  # needs a quarter turn clockwise
    7: lambda a: np.rot90(np.swapaxes(a, 0, 1), 2),  # transversed
    8: lambda a: np.rot90(a, 1),  # needs a quarter turn anticlockwise
}


def _apply_orientation(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright for an EXIF orientation (1-8), as viewers display them."""
    transform = _UPRIGHT.get(orientation)
    return transform(pixels) if transform else pixels


def _exif_to_carry(image: Image.Image) -> tuple[bytes | None, int]:
    """(EXIF bytes for the output with orientation reset to 1, the original orientation)."""
    try:
        exif = image.getexif()
        orientation = exif.get(_ORIENTATION, 1)
        orientation = orientation if isinstance(orientation, int) else 1
        if image.format == "TIFF":
            for tag in [tag for tag in exif if tag not in _DESCRIPTIVE_TIFF_TAGS]:
                del exif[tag]
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        return (exif.tobytes() if len(exif) else None), orientation
    except Exception:  # noqa: BLE001 - broken metadata must not stop the photo from opening
        return None, 1


# --------------------------------------------------------------------------------------------
# Saving


def save_image(
    path: os.PathLike | str,
    rgb: np.ndarray,
    *,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    sources: Iterable[os.PathLike | str] = (),
    quality: int = 95,
    overwrite: bool = True,
) -> Path:
    """Write ``rgb`` ((H, W, 3) or (H, W) grey; uint8, uint16, or float in [0, 1]) to ``path``.

    The format follows the suffix (.png, .jpg/.jpeg, .tif/.tiff). uint16 stays 16-bit in PNG and
    TIFF; JPEG is always 8-bit. EXIF is kept (orientation reset to 1, since the pixels are written
    upright) and the ICC profile too when it matches the pixels (an RGB profile for RGB, a grey one
    for grey). The file is written to a temporary name beside the target and moved into place, so
    a failed save leaves no partial file. Returns the path written.

    With ``overwrite=False`` the name is claimed exclusively (:func:`core.files.atomic_output`):
    a file that exists, or that another program creates meanwhile, is never replaced.

    Raises :class:`OverwriteError` when ``path`` is one of ``sources`` (the originals),
    :class:`ImageExistsError` for an existing target with ``overwrite=False``, and
    :class:`ImageError` for an unsupported suffix or a failure to write.
    """
    path = Path(path)
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        raise ImageError(
            f"Heirloom cannot save '{path.name}' in that format; choose a name ending in .png, "
            ".jpg or .tif.",
            path,
        )
    pixels = _savable_pixels(rgb)
    for source in sources:
        if _same_file(path, Path(source)):
            raise OverwriteError(
                f"Heirloom will not save over the original photo '{path.name}'; choose a "
                "different name or folder.",
                path,
            )
    if not overwrite and os.path.lexists(path):
        raise ImageExistsError(f"'{path.name}' already exists; choose a different name.", path)
    exif = _exif_for_saving(exif)
    icc_profile = icc_profile if _icc_fits(icc_profile, pixels) else None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path, exclusive=not overwrite) as stream:
            writer(stream, pixels, exif=exif, icc_profile=icc_profile, quality=quality)
    except FileExistsError:  # another program took the name while the result was being written
        raise ImageExistsError(f"'{path.name}' already exists; choose a different name.", path) from None
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        raise ImageError(
            f"Heirloom could not save '{path.name}' ({reason}); check that the folder is "
            "writable and the disk has free space.",
            path,
        ) from error
    return path


def _savable_pixels(rgb: np.ndarray) -> np.ndarray:
    pixels = np.asarray(rgb)
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        raise ValueError(f"expected an (H, W, 3) or (H, W) image, got shape {pixels.shape}")
    if pixels.dtype == np.uint8 or pixels.dtype == np.uint16:
        return np.ascontiguousarray(pixels)
    if np.issubdtype(pixels.dtype, np.floating):
        return photo_from_array(pixels).pixels
    raise ValueError(f"expected uint8, uint16 or float pixels, got {pixels.dtype}")


def _same_file(target: Path, source: Path) -> bool:
    with suppress(OSError):
        return os.path.samefile(target, source)
    # One of them does not exist (yet): compare where the names lead.
    return os.path.normcase(target.resolve()) == os.path.normcase(source.resolve())


def _exif_for_saving(exif: bytes | None) -> bytes | None:
    """Normalise EXIF to Pillow's form (``Exif\\0\\0`` + TIFF data), orientation reset to 1."""
    if not exif:
        return None
    try:
        parsed = Image.Exif()
        parsed.load(exif if exif.startswith(_EXIF_HEADER) else _EXIF_HEADER + exif)
        if _ORIENTATION in parsed:
            parsed[_ORIENTATION] = 1
        return parsed.tobytes() if len(parsed) else None
    except Exception:  # noqa: BLE001 - unreadable EXIF is dropped rather than failing the save
        return None


def _icc_fits(profile: bytes | None, pixels: np.ndarray) -> bool:
    """Whether an ICC profile's colour space (header bytes 16-19) matches the pixels."""
    if not profile or len(profile) < 128:
        return False
    return profile[16:20] == (b"GRAY" if pixels.ndim == 2 else b"RGB ")


def _to_8bit(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    return ((pixels.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _pillow_metadata(exif: bytes | None, icc_profile: bytes | None) -> dict:
    metadata = {}
    if exif:
        metadata["exif"] = exif
    if icc_profile:
        metadata["icc_profile"] = icc_profile
    return metadata


def _write_jpeg(stream, pixels, *, exif, icc_profile, quality) -> None:
    if exif and len(exif) > _JPEG_MAX_EXIF:
        exif = None
    image = Image.fromarray(_to_8bit(pixels))
    image.save(stream, format="JPEG", quality=quality, **_pillow_metadata(exif, icc_profile))


def _write_png(stream, pixels, *, exif, icc_profile, quality) -> None:
    if pixels.dtype == np.uint16:
        _write_png16(stream, pixels, exif=exif, icc_profile=icc_profile)
        return
    Image.fromarray(pixels).save(stream, format="PNG", **_pillow_metadata(exif, icc_profile))


def _write_tiff(stream, pixels, *, exif, icc_profile, quality) -> None:
    if pixels.dtype == np.uint16:
        _write_tiff16(stream, pixels, exif=exif, icc_profile=icc_profile)
        return
    # Uncompressed: Pillow's libtiff encoder (needed for Deflate) cannot write the EXIF
    # sub-directory, where the date a photo was taken lives.
    image = Image.fromarray(pixels)
    image.save(stream, format="TIFF", **_pillow_metadata(exif, icc_profile))


_WRITERS = {
    ".png": _write_png,
    ".jpg": _write_jpeg,
    ".jpeg": _write_jpeg,
    ".tif": _write_tiff,
    ".tiff": _write_tiff,
}


def _write_tiff16(stream: BinaryIO, pixels: np.ndarray, *, exif, icc_profile) -> None:
    """16-bit TIFF through tifffile (uncompressed, like the 8-bit ones).

    tifffile writes no EXIF sub-directory, so EXIF survives as its descriptive text tags only.
    """
    tifffile.imwrite(
        stream,
        pixels,
        photometric="minisblack" if pixels.ndim == 2 else "rgb",
        iccprofile=icc_profile,
        metadata=None,
        software=False,
        extratags=_tiff_text_tags(exif),
    )


def _tiff_text_tags(exif: bytes | None) -> list[tuple]:
    if not exif:
        return []
    parsed = Image.Exif()
    parsed.load(exif)
    tags = []
    for tag in _TIFF_TEXT_TAGS:
        value = parsed.get(tag)
        if isinstance(value, str) and value and value.isascii():
            tags.append((int(tag), "s", 0, value, True))
    return tags


def _write_png16(stream: BinaryIO, pixels: np.ndarray, *, exif, icc_profile) -> None:
    """A 16-bit grey or RGB PNG, which Pillow cannot write for RGB.

    Rows use the "Sub" filter (each byte minus the same byte of the pixel to its left) and are
    compressed in strips, so a large scan never needs a second full-size copy in memory.
    """
    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else 3
    colour_type = 0 if channels == 1 else 2
    stream.write(b"\x89PNG\r\n\x1a\n")
    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    _write_png_chunk(stream, b"IHDR", header)
    if icc_profile:
        _write_png_chunk(stream, b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc_profile))
    if exif:
        _write_png_chunk(stream, b"eXIf", exif.removeprefix(_EXIF_HEADER))
    bytes_per_pixel = 2 * channels
    rows_per_strip = max(1, 1_000_000 // (width * bytes_per_pixel))
    compressor = zlib.compressobj(6)
    for top in range(0, height, rows_per_strip):
        strip = pixels[top : top + rows_per_strip].astype(">u2")
        rows = strip.view(np.uint8).reshape(strip.shape[0], width * bytes_per_pixel)
        filtered = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
        filtered[:, 0] = 1  # filter type: Sub
        filtered[:, 1 : 1 + bytes_per_pixel] = rows[:, :bytes_per_pixel]
        left, right = rows[:, :-bytes_per_pixel], rows[:, bytes_per_pixel:]
        np.subtract(right, left, out=filtered[:, 1 + bytes_per_pixel :])  # wraps modulo 256
        compressed = compressor.compress(filtered.tobytes())
        if compressed:
            _write_png_chunk(stream, b"IDAT", compressed)
    _write_png_chunk(stream, b"IDAT", compressor.flush())
    _write_png_chunk(stream, b"IEND", b"")


def _write_png_chunk(stream: BinaryIO, kind: bytes, data: bytes) -> None:
    stream.write(struct.pack(">I", len(data)) + kind + data)
    stream.write(struct.pack(">I", zlib.crc32(kind + data)))
