"""Dataset examples: the places in natural photos that excite a filter most, as crops (small places also in
context, outlined in a larger window of the photo) and heat maps, with their response relative to the filter's mean.

Each photo goes through the network once per layer, and the maps of every filter of that layer are
kept in memory (a cache bounded in bytes, shared by all users, per photo so a visitor's own photos
add only their own work), so another filter of the same layer is found at once. (About 370 lines: the search,
its geometry and the pictures it makes belong together.)
"""
from __future__ import annotations

import functools
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from matplotlib import colormaps
from PIL import Image, ImageDraw

from vizcore import options, validate
from vizcore.errors import InputError
from vizcore.metrics import NATURAL_PHOTOS, natural_photo
from vizcore.models import LoadedModel
from vizcore.photos import read_photo, read_photo_file, shrunk

WORK_SIDE = 384          # photos are searched with their longer side at this many pixels
DEFAULT_COUNT, MAX_COUNT = options.EXAMPLES_DEFAULT_COUNT, options.EXAMPLES_MAX_COUNT
PER_PHOTO = options.EXAMPLES_PER_PHOTO  # at most this many places of one photo
DISPLAY_PX = 96          # smaller crops are enlarged (pixel for pixel) to at least this size
CONTEXT_BELOW_PX = 32    # places whose receptive field is smaller are also shown in context:
CONTEXT_PX = 64          # a window of this many photo pixels around the place,
CONTEXT_DISPLAY_PX = 256  # enlarged (pixel for pixel) to at least this size, the place outlined
MIN_APART_PX = 16        # two places of one photo are at least this far apart (and half a receptive field)
MAX_OWN_PHOTOS = options.EXAMPLES_MAX_OWN_PHOTOS  # photos a visitor may add
CACHE_BYTES = 640 * 2**20  # maps kept in memory: a block1 layer of the bundled photos is about 250 MB, of
                           # the bundled and MAX_OWN_PHOTOS own photos at most 600 MB
COLORMAP = "inferno"
HEAT_ALPHA = 0.6         # opacity of the heat-map colours over the photo
BOX_COLOUR = (0, 255, 255)
BOX_WIDTH = 2
FEATURE = "Finding the photos that excite a filter"  # how messages name this feature
SILENT_NOTE = "This filter does not respond to any of these photos."

CacheKey = tuple[str, str, str]  # model fingerprint, layer, photo identity


@dataclass(frozen=True, eq=False)
class Photo:
    """A named photo, uint8 RGB ``[h, w, 3]``; ``identity`` (a hash of name and pixels) keys the map cache."""

    name: str
    pixels: np.ndarray
    identity: str = field(init=False)

    def __post_init__(self) -> None:
        pixels = np.array(self.pixels, np.uint8)  # a read-only copy, so the identity stays true
        pixels.flags.writeable = False
        digest = hashlib.sha256(f"{self.name}\0{pixels.shape}\0".encode())
        digest.update(pixels.tobytes())
        object.__setattr__(self, "pixels", pixels)
        object.__setattr__(self, "identity", digest.hexdigest()[:16])


class PhotoSet:
    """The photos searched for examples, with an identity made of theirs."""

    def __init__(self, photos: Sequence[Photo]):
        if not photos:
            raise InputError("There are no photos to search.")
        self.photos = tuple(photos)
        self.identity = hashlib.sha256(" ".join(photo.identity for photo in self.photos).encode()).hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.photos)

    def plus(self, extra: Sequence[Photo]) -> PhotoSet:
        """This set with more photos added at the end."""
        return PhotoSet(self.photos + tuple(extra)) if extra else self


@functools.cache
def bundled_photos() -> PhotoSet:
    """scikit-image's sample photos (the natural-photo reference's), at the working size."""
    return PhotoSet([Photo(name, shrunk(natural_photo(name), WORK_SIDE)) for name in NATURAL_PHOTOS])


def with_own_photos(own: Sequence[Photo]) -> PhotoSet:
    """The bundled photos plus the user's own (at most MAX_OWN_PHOTOS)."""
    if len(own) > MAX_OWN_PHOTOS:
        raise InputError(f"At most {MAX_OWN_PHOTOS} photos of your own can be added (got {len(own)}).")
    return bundled_photos().plus(own)


def uploaded_photo(data: bytes, name: str) -> Photo:
    """An uploaded JPEG/PNG, checked by ``read_photo`` (InputError in plain words if it is not usable)."""
    return Photo(name, read_photo(data, name, max_side=WORK_SIDE))


def photo_file(path: str | Path) -> Photo:
    """A JPEG/PNG file on disk, checked by ``read_photo_file``."""
    return Photo(Path(path).name, read_photo_file(path, max_side=WORK_SIDE))


# ---------------------------------------------------------------- coordinates


@dataclass(frozen=True)
class Box:
    """A rectangle of photo pixels: rows ``top`` to ``bottom - 1``, columns ``left`` to ``right - 1``."""

    top: int
    left: int
    bottom: int
    right: int

    def contains(self, row: float, col: float) -> bool:
        """True if the pixel (row, col) lies inside."""
        return self.top <= row < self.bottom and self.left <= col < self.right

    def as_tuple(self) -> tuple[int, int, int, int]:
        """(top, left, bottom, right)."""
        return self.top, self.left, self.bottom, self.right


def centre_offset(model: keras.Model, name: str) -> float:
    """Where output cell 0 of layer ``name`` is centred in the input (cell i: i * stride + offset).

    Each conv or pooling layer moves it by (kernel - 1) / 2 - (padding before) input steps of the layer;
    "same" padding of a stride-1 conv does not move it, a 2x2 pool moves it by half a step.
    """
    jump, offset = 1, 0.0
    for layer in model.layers:
        kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
        if kernel is not None:
            stride = layer.strides[0] if isinstance(layer.strides, (tuple, list)) else layer.strides
            before = max(kernel[0] - stride, 0) // 2 if layer.padding == "same" else 0
            offset += ((kernel[0] - 1) / 2 - before) * jump
            jump *= stride
        if layer.name == name:
            return offset
    raise InputError(f"Unknown layer '{name}'.")


def receptive_box(cell: tuple[int, int], stride: int, offset: float, field_px: int,
                  shape: tuple[int, int]) -> Box:
    """The receptive field of map cell (row, col) in photo pixels, clipped to a photo of ``shape`` (h, w)."""
    half = (field_px - 1) / 2
    top, left = (math.floor(index * stride + offset - half + 0.5) for index in cell)
    return Box(max(top, 0), max(left, 0), min(top + field_px, shape[0]), min(left + field_px, shape[1]))


def strongest_cells(response: np.ndarray, count: int, radius: int) -> list[tuple[float, tuple[int, int]]]:
    """Up to ``count`` positive peaks of a 2-D map, strongest first; each hides the cells within ``radius``."""
    remaining = np.array(response, dtype=np.float32)
    peaks = []
    for _ in range(count if remaining.size else 0):  # a photo smaller than the layer's stride has no cells
        row, col = np.unravel_index(int(np.argmax(remaining)), remaining.shape)
        value = float(remaining[row, col])
        if not value > 0:
            break
        peaks.append((value, (int(row), int(col))))
        remaining[max(row - radius, 0):row + radius + 1, max(col - radius, 0):col + radius + 1] = -np.inf
    return peaks


def suppression_radius(field_px: int, stride: int) -> int:
    """Map cells hidden around a peak, so two kept centres are at least half a receptive field and
    MIN_APART_PX apart (tiny fields would otherwise give neighbouring, near-identical crops)."""
    return max(1, math.ceil(max(field_px / 2, MIN_APART_PX) / stride))


# ---------------------------------------------------------------- pictures


def enlargement(shape: tuple[int, ...], size: int) -> int:
    """The whole factor that enlarges a picture of ``shape`` to at least ``size`` pixels (1 if it is that large)."""
    return max(math.ceil(size / max(shape[:2])), 1)


def enlarged(crop: np.ndarray, size: int = DISPLAY_PX) -> np.ndarray:
    """A crop smaller than ``size`` enlarged by a whole factor, pixel for pixel, so it can be seen."""
    factor = enlargement(crop.shape, size)
    if factor == 1:
        return crop
    return np.repeat(np.repeat(crop, factor, axis=0), factor, axis=1)


def context_window(box: Box, shape: tuple[int, int], side: int = CONTEXT_PX) -> Box:
    """A window of ``side`` photo pixels (less in a smaller photo) centred on ``box``, moved inside the photo."""
    height, width = min(side, shape[0]), min(side, shape[1])
    top = int(np.clip((box.top + box.bottom - height) // 2, 0, shape[0] - height))
    left = int(np.clip((box.left + box.right - width) // 2, 0, shape[1] - width))
    return Box(top, left, top + height, left + width)


def in_context(pixels: np.ndarray, box: Box, window: Box, size: int = CONTEXT_DISPLAY_PX) -> np.ndarray:
    """The ``window`` of a photo enlarged pixel for pixel, with ``box`` outlined just outside its edges
    (so the outline hides none of the place itself)."""
    shown = pixels[window.top:window.bottom, window.left:window.right]
    factor = enlargement(shown.shape, size)
    picture = Image.fromarray(enlarged(shown, size))
    top, left = (box.top - window.top) * factor - BOX_WIDTH, (box.left - window.left) * factor - BOX_WIDTH
    bottom = (box.bottom - window.top) * factor + BOX_WIDTH - 1
    right = (box.right - window.left) * factor + BOX_WIDTH - 1
    ImageDraw.Draw(picture).rectangle([left, top, right, bottom], outline=BOX_COLOUR, width=BOX_WIDTH)
    return np.asarray(picture)


def heat_map(response: np.ndarray, shape: tuple[int, int], stride: int, offset: float) -> np.ndarray:
    """A filter's map stretched to photo pixels (float ``[h, w]``), each cell over the pixels it is centred on."""
    rows, cols = response.shape
    stretched = Image.fromarray(np.asarray(response, np.float32)).resize(
        (cols * stride, rows * stride), Image.Resampling.BILINEAR)
    stretched = np.asarray(stretched)
    # bilinear stretching centres cell i on pixel i*stride + (stride-1)/2; the layer's own centre may differ
    shift = round(offset - (stride - 1) / 2)
    canvas = np.zeros(shape, np.float32)
    top, left = max(shift, 0), max(shift, 0)
    source = stretched[max(-shift, 0):, max(-shift, 0):][:shape[0] - top, :shape[1] - left]
    canvas[top:top + source.shape[0], left:left + source.shape[1]] = source
    return canvas


def overlay(pixels: np.ndarray, heat: np.ndarray, peak: float, box: Box) -> np.ndarray:
    """The photo under the heat map (dark: no response, bright yellow: ``peak``) with the box drawn.

    The colour follows the square root of the response, so weaker places still show.
    """
    level = np.sqrt(np.clip(heat / peak, 0.0, 1.0)) if peak > 0 else np.zeros_like(heat)
    colour = colormaps[COLORMAP](level)[..., :3] * 255.0
    blended = (pixels.astype(np.float32) * (1 - HEAT_ALPHA) + colour * HEAT_ALPHA).round().astype(np.uint8)
    picture = Image.fromarray(blended)
    ImageDraw.Draw(picture).rectangle([box.left, box.top, box.right - 1, box.bottom - 1], outline=BOX_COLOUR,
                                      width=BOX_WIDTH)
    return np.asarray(picture)


# ---------------------------------------------------------------- the search


@dataclass(frozen=True)
class Example:
    """One place in a photo where a filter responds strongly."""

    photo: str
    activation: float               # the filter's (post-ReLU) response at the peak
    relative: float                 # activation over the filter's mean response at every place of every photo
    cell: tuple[int, int]           # the peak in map cells (row, col)
    centre: tuple[float, float]     # the receptive field's centre in photo pixels (row, col)
    box: Box                        # the receptive field in photo pixels, clipped at the borders
    crop: np.ndarray                # the box's pixels (enlarged if tiny), uint8
    overlay: np.ndarray             # the whole photo with the heat map and the box, uint8
    window: Box | None = None       # for a receptive field under CONTEXT_BELOW_PX: the window shown around it
    context: np.ndarray | None = None  # that window enlarged with the box outlined, uint8

    @property
    def picture(self) -> np.ndarray:
        """What shows the place best: the place in context if its field is small, else the crop."""
        return self.crop if self.context is None else self.context


class ExampleFinder:
    """Finds examples; keeps every filter's maps of recently used (layer, photo) pairs in memory, least
    recently used forgotten first. Thread-safe: one finder serves every visitor."""

    def __init__(self, max_bytes: int = CACHE_BYTES):
        self.max_bytes = max_bytes
        self.computations = 0  # (layer, photo) pairs whose maps were computed, not found in memory
        self._maps: OrderedDict[CacheKey, np.ndarray] = OrderedDict()
        self._pending: dict[CacheKey, threading.Lock] = {}
        self._features: dict[tuple[str, str], Callable[[tf.Tensor], tf.Tensor]] = {}
        self._lock = threading.Lock()

    def layer_maps(self, model: LoadedModel, layer: str, photos: PhotoSet) -> list[np.ndarray]:
        """Per photo, the maps of every filter of ``layer``, float32 ``[filters, h, w]`` (each computed once)."""
        return [self.photo_maps(model, layer, photo) for photo in photos.photos]

    def photo_maps(self, model: LoadedModel, layer: str, photo: Photo) -> np.ndarray:
        """The maps of every filter of ``layer`` for one photo, from memory or computed (then kept)."""
        key = (model.fingerprint, layer, photo.identity)
        with self._lock:
            if key in self._maps:
                self._maps.move_to_end(key)
                return self._maps[key]
            pending = self._pending.setdefault(key, threading.Lock())
        with pending:  # another thread computing the same maps: wait for it instead of computing twice
            with self._lock:
                if key in self._maps:
                    return self._maps[key]
            output = self._feature_maps(model, layer)(tf.constant(photo.pixels[None], tf.float32)).numpy()
            maps = np.ascontiguousarray(np.transpose(output, (2, 0, 1)))
            with self._lock:
                self.computations += 1
                self._maps[key] = maps
                self._pending.pop(key, None)
                while len(self._maps) > 1 and sum(kept.nbytes for kept in self._maps.values()) > self.max_bytes:
                    self._maps.popitem(last=False)
            return maps

    def _feature_maps(self, model: LoadedModel, layer: str) -> Callable[[tf.Tensor], tf.Tensor]:
        """Compiled once per layer: one photo (0-255 RGB, any size) -> the layer's output ``[h, w, filters]``."""
        key = (model.fingerprint, layer)
        with self._lock:
            if key not in self._features:
                probe, activation = model.probe(layer), model.activation_fn(layer)  # the model's own sub-model

                @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
                def maps(photo: tf.Tensor) -> tf.Tensor:
                    return activation(probe(model.preprocess(photo)))[0]

                self._features[key] = maps
            return self._features[key]

    def top_examples(self, model: LoadedModel, layer: str, filter_index: int, photos: PhotoSet,
                     count: int = DEFAULT_COUNT) -> list[Example]:
        """The ``count`` places (at most PER_PHOTO per photo) where the filter responds most, strongest first.

        Each place's ``relative`` response compares it with the filter's mean (not median: a filter silent on
        most places has a median of 0) over every place of every photo searched. Empty if the filter responds
        to none of the photos (see SILENT_NOTE).
        """
        model.check_any_size(FEATURE)
        info = model.layer(layer)
        validate.check_filters(info, [filter_index])
        check_count(count)
        offset = centre_offset(model.keras_model, layer)
        maps = self.layer_maps(model, layer, photos)
        radius = suppression_radius(info.receptive_field, info.stride)
        found = sorted(((value, index, cell) for index, photo_maps in enumerate(maps)
                        for value, cell in strongest_cells(photo_maps[filter_index], PER_PHOTO, radius)),
                       key=lambda candidate: -candidate[0])[:count]
        if not found:
            return []
        peak, mean = found[0][0], mean_response([photo_maps[filter_index] for photo_maps in maps])
        examples = []
        for value, index, cell in found:
            photo = photos.photos[index]
            shape = photo.pixels.shape[:2]
            box = receptive_box(cell, info.stride, offset, info.receptive_field, shape)
            heat = heat_map(maps[index][filter_index], shape, info.stride, offset)
            window = context_window(box, shape) if info.receptive_field < CONTEXT_BELOW_PX else None
            examples.append(Example(
                photo.name, value, value / mean, cell, (cell[0] * info.stride + offset, cell[1] * info.stride + offset),
                box, enlarged(photo.pixels[box.top:box.bottom, box.left:box.right]),
                overlay(photo.pixels, heat, peak, box), window,
                None if window is None else in_context(photo.pixels, box, window)))
        return examples


def mean_response(responses: Sequence[np.ndarray]) -> float:
    """A filter's mean response over every place (map cell) of every photo."""
    return float(sum(float(response.sum(dtype=np.float64)) for response in responses)
                 / sum(response.size for response in responses))


def check_count(count: int) -> int:
    """How many examples: a whole number from 1 to MAX_COUNT."""
    return validate.whole_in_range(count, 1, MAX_COUNT, f"The number of examples must be a whole number from 1 to "
                                                        f"{MAX_COUNT} (got {count}).")


SHARED_FINDER = ExampleFinder()


def top_examples(model: LoadedModel, layer: str, filter_index: int, photos: PhotoSet | None = None,
                 count: int = DEFAULT_COUNT) -> list[Example]:
    """``ExampleFinder.top_examples`` with the process-wide map cache; the bundled photos by default."""
    return SHARED_FINDER.top_examples(model, layer, filter_index, photos or bundled_photos(), count)
