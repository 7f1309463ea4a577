"""Reading uploaded photos: real JPEG/PNG bytes made by Pillow, plus damaged and hostile files."""
from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest
from PIL import Image

from vizcore.errors import InputError
from vizcore.photos import MAX_PHOTO_BYTES, read_photo, read_photo_file, shrunk


def encoded(size: tuple[int, int], fmt: str, mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_photo_is_read_as_rgb_and_shrunk_to_the_working_size(fmt: str) -> None:
    photo = read_photo(encoded((800, 400), fmt), max_side=256)
    assert photo.dtype == np.uint8 and photo.shape == (128, 256, 3)


@pytest.mark.parametrize(("shape", "max_side", "expected"), [
    ((300, 600, 3), 200, (100, 200, 3)),   # the longer side is brought down to max_side
    ((600, 300, 3), 200, (200, 100, 3)),
    ((50, 80, 3), 200, (50, 80, 3)),       # never enlarged
])
def test_shrunk_keeps_the_shape_of_the_photo(shape: tuple[int, int, int], max_side: int,
                                             expected: tuple[int, int, int]) -> None:
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    small = shrunk(pixels, max_side)
    assert small.dtype == np.uint8 and small.shape == expected
    assert small.flags.writeable and not np.shares_memory(small, pixels)


def test_a_read_photo_is_the_decoded_photo_shrunk() -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (300, 500, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    assert np.array_equal(read_photo(buffer.getvalue(), max_side=128), shrunk(pixels, 128))


def test_a_small_greyscale_png_stays_its_size_and_becomes_rgb() -> None:
    photo = read_photo(encoded((40, 30), "PNG", mode="L"))
    assert photo.shape == (30, 40, 3)
    assert np.array_equal(photo[..., 0], photo[..., 2])


@pytest.mark.parametrize(("data", "words"), [
    (b"", "empty"),
    (b"hello, this is text", "not a JPEG or PNG"),
    (pickle.dumps({"a": 1}), "not a JPEG or PNG"),
    (encoded((64, 64), "GIF"), "GIF image"),
    (encoded((64, 64), "PNG")[:300], "damaged or cut short"),
    (encoded((64, 64), "JPEG")[:30], "damaged or cut short"),
    (encoded((8, 64), "PNG"), "at least 16 pixels"),
])
def test_bad_files_get_a_plain_message(data: bytes, words: str) -> None:
    with pytest.raises(InputError, match=words):
        read_photo(data, "upload.png")


def test_a_zip_named_like_a_photo_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", "{}")
    with pytest.raises(InputError, match="not a JPEG or PNG"):
        read_photo(buffer.getvalue(), "photo.jpg")


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    # A 1-bit 20000 x 20000 PNG: tiny on disk, 400 million pixels when decoded.
    buffer = io.BytesIO()
    Image.new("1", (20000, 20000)).save(buffer, "PNG")
    assert len(buffer.getvalue()) < 200_000
    with pytest.raises(InputError, match="million pixels|too large"):
        read_photo(buffer.getvalue(), "bomb.png")


def test_too_many_bytes_are_refused_without_decoding() -> None:
    with pytest.raises(InputError, match="at most 20 MB"):
        read_photo(b"\x89PNG" + bytes(MAX_PHOTO_BYTES), "huge.png")


def test_files_on_disk(tmp_path) -> None:
    path = tmp_path / "cat.jpg"
    path.write_bytes(encoded((100, 50), "JPEG"))
    assert read_photo_file(path).shape == (50, 100, 3)
    with pytest.raises(InputError, match="There is no file"):
        read_photo_file(tmp_path / "missing.png")
    with pytest.raises(InputError, match="is a folder"):
        read_photo_file(tmp_path)
