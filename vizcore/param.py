"""Image parameterisations: starting parameters and a map from parameters to RGB images.

As in Lucid/Lucent, a parameterisation is a pair of functions: ``init(batch, rng)`` gives
the starting parameters (a tuple of numpy arrays, each with the batch first) and ``to_image(params)``
turns them into images of shape ``[batch, size, size, 3]`` inside the compiled step. Separate arrays,
not one flat vector, because slicing a flat vector and its gradient cost a copy each step.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

# Square root of the ImageNet colour correlation (Lucid's ``color_correlation_svd_sqrt``).
_COLOR_CORRELATION_SVD_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
COLOR_MATRIX = _COLOR_CORRELATION_SVD_SQRT / np.max(np.linalg.norm(_COLOR_CORRELATION_SVD_SQRT, axis=0))


Params = tuple  # of np.ndarray (start) or tf.Tensor (in the step), each [batch, ...]


@dataclass(frozen=True)
class Parameterisation:
    """How an image is represented while it is optimised."""

    name: str
    init: Callable[[int, np.random.Generator], Params]
    to_image: Callable[[Params], tf.Tensor]
    wake_only: tuple[bool, ...] = ()  # per array: True if it may only change while the filter is silent
    tile: Callable[[Params, int], Params] | None = None  # the same picture repeated n x n at n times the size
    project: Callable[[Params], Params] | None = None  # back into the allowed range after each step


def uniform_pixels(size: int) -> Parameterisation:
    """Raw pixels started from uniform noise in [0, 1], as in the original notebook."""

    def init(batch: int, rng: np.random.Generator) -> Params:
        return (rng.uniform(0.0, 1.0, (batch, size, size, 3)).astype(np.float32),)

    return Parameterisation("pixels", init, lambda params: params[0], (False,))


def clipped_pixels(size: int, contrast: float = 0.94) -> Parameterisation:
    """Raw pixels in [0, 1], started from noise over ``contrast`` of the range and clipped back into it after
    each step (a search for a pattern a silent filter responds to: every pixel free, and one pushed to black
    or white can come back, which a sigmoid's vanishing slope makes slow)."""
    low, high = (1 - contrast) / 2, (1 + contrast) / 2

    def init(batch: int, rng: np.random.Generator) -> Params:
        return (rng.uniform(low, high, (batch, size, size, 3)).astype(np.float32),)

    return Parameterisation("pixels", init, lambda params: params[0], (False,),
                            project=lambda params: (tf.clip_by_value(params[0], 0.0, 1.0),))


def rfft2d_frequencies(height: int, width: int) -> np.ndarray:
    """Spatial frequency magnitude of each coefficient of a real 2-D FFT."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    return np.sqrt(fx * fx + fy * fy)


def fourier_decorrelated(size: int, sd: float = 0.01, decay_power: float = 1.0) -> Parameterisation:
    """Lucid's image: 1/f-scaled Fourier coefficients, decorrelated colour, sigmoid to [0, 1].

    Plus a pixel layer, zero at the start, that may only change while the filter is silent: a
    silent filter often needs a fine pattern the 1/f spectrum would take thousands of steps to
    build. Once the filter fires, that layer is frozen and the smooth Fourier image does the rest.
    """
    freqs = rfft2d_frequencies(size, size)
    scale = (1.0 / np.maximum(freqs, 1.0 / size) ** decay_power) * size  # size = sqrt(w * h)
    scale = tf.constant(scale.astype(np.float32))
    color_matrix_t = tf.constant(COLOR_MATRIX.T)

    def init(batch: int, rng: np.random.Generator) -> Params:
        real_imaginary = (sd * rng.standard_normal((batch, 2, 3) + freqs.shape)).astype(np.float32)
        return real_imaginary, np.zeros((batch, size, size, 3), np.float32)

    def to_image(params: Params) -> tf.Tensor:
        real_imaginary, pixels = params
        spectrum = tf.complex(real_imaginary[:, 0] * scale, real_imaginary[:, 1] * scale)
        channels_first = tf.signal.irfft2d(spectrum, fft_length=[size, size])
        image = tf.transpose(channels_first, [0, 2, 3, 1]) / 4.0  # Lucid's magic constant
        return tf.sigmoid(tf.tensordot(image, color_matrix_t, axes=1) + pixels)

    return Parameterisation("fourier", init, to_image, (False, True), tile_fourier)


def tile_fourier(params: Params, factor: int) -> Params:
    """Fourier parameters of the same (periodic) picture repeated ``factor`` x ``factor`` times.

    Frequency k of the small picture becomes frequency ``factor * k`` of the large one; with the 1/f
    scaling above, a coefficient keeps its effect on the picture when multiplied by
    ``max(factor |k|, 1) / max(|k|, 1)``. Exact: the large picture is ``np.tile`` of the small one.
    """
    real_imaginary, pixels = (np.asarray(p) for p in params)
    size = pixels.shape[1]
    large = factor * size
    ky = np.rint(np.fft.fftfreq(size) * size).astype(int)[:, None]
    kx = np.arange(size // 2 + 1)[None, :]
    cycles = rfft2d_frequencies(size, size) * size  # |k|, in cycles per picture
    gain = np.maximum(factor * cycles, 1.0) / np.maximum(cycles, 1.0)
    tiled = np.zeros(real_imaginary.shape[:3] + (large, large // 2 + 1), np.float32)
    tiled[..., (factor * ky) % large, factor * kx] = real_imaginary * gain.astype(np.float32)
    return tiled, np.tile(pixels, (1, factor, factor, 1))
