"""Quality numbers for rendered pictures: the filter's response compared with natural photos
("x the strongest natural photo"), and the share of high-frequency energy (noise)."""
from __future__ import annotations

import functools
import threading
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from vizcore.atomic import atomic_path, cache_dir
from vizcore.models import LoadedModel
from vizcore.transforms import affine_matrices, warp

# Colour photos bundled in the scikit-image wheel (no download needed).
NATURAL_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
                  "retina", "stereo_motorcycle")
CROP_COUNT, CROP_SIZE, CROP_SEED = 200, 128, 0
REFERENCE_PERCENTILE = 99.0
REFERENCE_BATCH = 20
REFERENCE_VERSION = 1  # bump when the reference definition changes, so old cache files are ignored

QUALITY_SIZE = 128
TRANSFORM_COUNT = 16
TRANSFORM_SEED = (20241125, 16)
JITTER_PX, SCALE_RANGE, ROTATION_DEG = 8.0, (0.9, 1.1), 8.0
HALF_NYQUIST = 0.25  # cycles per pixel
GREY_WEIGHTS = np.array([0.2125, 0.7154, 0.0721])  # scikit-image's rgb2gray

_lock = threading.Lock()
_references: dict[str, dict[str, np.ndarray]] = {}
_channel_means: dict[tuple[str, str], Callable[[tf.Tensor], tf.Tensor]] = {}


@functools.cache
def natural_photo(name: str) -> np.ndarray:
    """One of scikit-image's bundled sample photos as uint8 RGB."""
    from skimage import data

    photo = getattr(data, name)()
    if isinstance(photo, tuple):  # stereo_motorcycle: (left, right, disparity)
        photo = photo[0]
    photo = np.asarray(photo)
    if photo.ndim == 2:
        photo = np.stack([photo] * 3, axis=-1)
    return np.ascontiguousarray(photo[..., :3].astype(np.uint8))


def natural_crops(count: int = CROP_COUNT, size: int = CROP_SIZE, seed: int = CROP_SEED) -> np.ndarray:
    """``count`` random ``size`` x ``size`` crops of the sample photos, uint8 ``[count, size, size, 3]``."""
    rng = np.random.default_rng(seed)
    crops = np.empty((count, size, size, 3), np.uint8)
    for i in range(count):
        photo = natural_photo(NATURAL_PHOTOS[rng.integers(len(NATURAL_PHOTOS))])
        top = rng.integers(photo.shape[0] - size + 1)
        left = rng.integers(photo.shape[1] - size + 1)
        crops[i] = photo[top:top + size, left:left + size]
    return crops


def reference_path(model: LoadedModel) -> Path:
    """Disk location of the natural-photo reference of this model's weights."""
    return cache_dir() / (f"natural-reference-{model.fingerprint}-v{REFERENCE_VERSION}-"
                          f"{CROP_COUNT}x{CROP_SIZE}-seed{CROP_SEED}.npz")


def model_sized(model: LoadedModel, images: tf.Tensor) -> tf.Tensor:
    """Pictures resized to the model's own input size if it takes only one size (else unchanged)."""
    if model.input_size is None:
        return images
    return tf.image.resize(images, [model.input_size, model.input_size], method="bilinear", antialias=True)


def compute_natural_reference(model: LoadedModel) -> dict[str, np.ndarray]:
    """Per conv layer, the 99th percentile over the crops of each filter's mean (post-ReLU) activation."""
    keras_model = model.keras_model
    names = [info.name for info in model.layers]
    features = keras.Model(keras_model.inputs, [keras_model.get_layer(name).output for name in names])

    @tf.function
    def spatial_means(crops: tf.Tensor) -> list[tf.Tensor]:
        outputs = features(model.preprocess(model_sized(model, crops)))
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [tf.reduce_mean(output, axis=[1, 2]) for output in outputs]

    crops = natural_crops().astype(np.float32)
    batches = [spatial_means(tf.constant(crops[i:i + REFERENCE_BATCH]))
               for i in range(0, len(crops), REFERENCE_BATCH)]
    return {name: np.percentile(np.concatenate([batch[k].numpy() for batch in batches]),
                                REFERENCE_PERCENTILE, axis=0).astype(np.float32)
            for k, name in enumerate(names)}


def _read_reference(path: Path, model: LoadedModel) -> dict[str, np.ndarray] | None:
    """The reference stored at ``path``, or None if it is missing, corrupt or does not fit the model."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            reference = {info.name: np.asarray(stored[info.name], np.float32) for info in model.layers}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    for info in model.layers:
        values = reference[info.name]
        if values.shape != (info.filters,) or not np.all(np.isfinite(values)) or np.any(values < 0):
            return None
    return reference


def _write_reference(path: Path, reference: dict[str, np.ndarray]) -> None:
    with atomic_path(path) as temporary:
        np.savez(temporary, **reference)


def natural_reference(model: LoadedModel) -> dict[str, np.ndarray]:
    """Each conv layer's per-filter 99th-percentile response to natural photo crops (cached on disk)."""
    path = reference_path(model)
    key = str(path)
    with _lock:
        if key not in _references:
            reference = _read_reference(path, model)
            if reference is None:  # missing or corrupt: (re)compute
                reference = compute_natural_reference(model)
                _write_reference(path, reference)
            _references[key] = reference
        return _references[key]


def forget_natural_references() -> None:
    """Drop the in-process copies, so the next call reads the disk cache again."""
    with _lock:
        _references.clear()


def dead_on_natural(model: LoadedModel, layer: str) -> np.ndarray:
    """True for each filter of ``layer`` whose 99th-percentile response to natural photos is zero."""
    return natural_reference(model)[layer] <= 0


def prepare_image(image: np.ndarray) -> tf.Tensor:
    """A picture as saved (uint8 HxWx3) as float 0-255 at QUALITY_SIZE x QUALITY_SIZE."""
    picture = tf.constant(np.asarray(image)[..., :3], tf.float32)
    if picture.shape[:2] != (QUALITY_SIZE, QUALITY_SIZE):
        picture = tf.image.resize(picture, [QUALITY_SIZE, QUALITY_SIZE], method="bilinear", antialias=True)
    return picture


def transform_matrices() -> tf.Tensor:
    """The TRANSFORM_COUNT fixed projective transforms (rows ``[a0 a1 a2 b0 b1 b2 0 0]``, output -> input)."""
    return affine_matrices(TRANSFORM_COUNT, QUALITY_SIZE, tf.constant(TRANSFORM_SEED, tf.int64), JITTER_PX,
                           SCALE_RANGE, ROTATION_DEG)


def transformed_copies(image: tf.Tensor) -> tf.Tensor:
    """One QUALITY_SIZE image jittered, scaled and rotated by each fixed transform (reflected borders)."""
    return warp(tf.repeat(image[None], TRANSFORM_COUNT, axis=0), transform_matrices(), QUALITY_SIZE)


def channel_means(model: LoadedModel, layer: str) -> Callable[[tf.Tensor], tf.Tensor]:
    """Compiled: image (float 0-255, QUALITY_SIZE) -> every filter's mean response over the transformed copies."""
    key = (model.fingerprint, layer)
    with _lock:
        if key not in _channel_means:
            model.layer(layer)
            keras_model = model.keras_model
            features = keras.Model(keras_model.inputs, keras_model.get_layer(layer).output)

            @tf.function(input_signature=[tf.TensorSpec([QUALITY_SIZE, QUALITY_SIZE, 3], tf.float32)])
            def means(image: tf.Tensor) -> tf.Tensor:
                copies = model_sized(model, transformed_copies(image))
                return tf.reduce_mean(features(model.preprocess(copies)), axis=[0, 1, 2])

            _channel_means[key] = means
        return _channel_means[key]


def quality_scores(model: LoadedModel, layer: str, filter_indices: Sequence[int],
                   images: Sequence[np.ndarray]) -> list[float | None]:
    """``quality_score`` for several (filter, picture) pairs."""
    reference = natural_reference(model)[layer]
    means = channel_means(model, layer)
    scores: list[float | None] = []
    for index, image in zip(filter_indices, images, strict=True):
        strongest_natural = float(reference[index])
        if strongest_natural <= 0:
            scores.append(None)
            continue
        scores.append(float(means(prepare_image(image))[index]) / strongest_natural)
    return scores


def quality_score(model: LoadedModel, layer: str, filter_index: int, image: np.ndarray) -> float | None:
    """The picture's mean response over 16 small transforms ÷ the filter's 99th percentile on natural photos.

    None when that percentile is 0 (the filter never fires on natural photos).
    """
    return quality_scores(model, layer, [filter_index], [image])[0]


def high_frequency_share(image: np.ndarray) -> float:
    """Share of the grey image's (mean-removed) power spectrum above half-Nyquist, in [0, 1]."""
    pixels = np.asarray(image, np.float64)
    grey = pixels[..., :3] @ GREY_WEIGHTS if pixels.ndim == 3 else pixels
    power = np.abs(np.fft.fft2(grey - grey.mean())) ** 2
    fy = np.fft.fftfreq(grey.shape[0])[:, None]
    fx = np.fft.fftfreq(grey.shape[1])[None, :]
    total = power.sum()
    if total <= 0:
        return 0.0
    return float(power[np.hypot(fx, fy) > HALF_NYQUIST].sum() / total)
