"""Reading a user's photo safely: JPEG or PNG only, limited in bytes and pixels, returned as uint8 RGB.

An uploaded file is untrusted: it is checked by its content (not its name), decoded with Pillow's
decompression-bomb guard, and shrunk to a working size, so a hostile or huge file gives a plain
message instead of exhausting memory.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vizcore.errors import InputError

MAX_PHOTO_BYTES = 20 * 1024 * 1024   # 20 MB, enough for any phone photo
MAX_PHOTO_PIXELS = 50_000_000        # decoded size limit (a 7000 x 7000 photo); bigger is refused
MIN_PHOTO_SIDE = 16
FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "MPO": "JPEG"}  # MPO: a JPEG from some cameras


def read_photo(data: bytes, name: str = "the file", max_side: int = 512) -> np.ndarray:
    """Decode a JPEG/PNG photo to uint8 RGB ``[h, w, 3]`` whose longer side is at most ``max_side``.

    Raises InputError, in plain words, for anything else: empty, too big, not an image, another
    format, truncated, or too small.
    """
    if not data:
        raise InputError(f"{name} is empty.")
    if len(data) > MAX_PHOTO_BYTES:
        raise InputError(f"{name} is {len(data) / 1e6:.1f} MB; photos can be at most "
                         f"{MAX_PHOTO_BYTES // (1024 * 1024)} MB.")
    kind = "image"  # the format, once Pillow has recognised it
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            kind = FORMATS.get(image.format or "")
            if kind is None:
                raise InputError(f"{name} is a {image.format or 'unknown'} image; please use a JPEG or PNG photo.")
            if image.width * image.height > MAX_PHOTO_PIXELS:
                raise InputError(f"{name} is {image.width} x {image.height} pixels; photos can have at most "
                                 f"{MAX_PHOTO_PIXELS // 1_000_000} million pixels.")
            image.load()
    except InputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{name} is not a JPEG or PNG photo (or it is too large to open).") from None
    except (OSError, SyntaxError, ValueError):
        raise InputError(f"{name} could not be read: the {kind} data is damaged or cut short.") from None
    if min(image.size) < MIN_PHOTO_SIDE:
        raise InputError(f"{name} is only {image.width} x {image.height} pixels; photos need at least "
                         f"{MIN_PHOTO_SIDE} pixels on each side.")
    return shrunk(np.asarray(image.convert("RGB")), max_side)


def shrunk(pixels: np.ndarray, max_side: int) -> np.ndarray:
    """A uint8 RGB photo shrunk (Lanczos) so its longer side is at most ``max_side``; never enlarged."""
    image = Image.fromarray(np.asarray(pixels, np.uint8))
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(image, dtype=np.uint8).copy()


def read_photo_file(path: str | Path, max_side: int = 512) -> np.ndarray:
    """``read_photo`` for a file on disk (InputError if it cannot be opened)."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_PHOTO_BYTES:
            raise InputError(f"{path.name} is {size / 1e6:.1f} MB; photos can be at most "
                             f"{MAX_PHOTO_BYTES // (1024 * 1024)} MB.")
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"There is no file {path}.") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder, not a photo.") from None
    except PermissionError:
        raise InputError(f"{path} cannot be read (permission denied).") from None
    return read_photo(data, path.name, max_side)
