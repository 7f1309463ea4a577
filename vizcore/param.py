"""Image parameterisations: starting parameters and a map from parameters to RGB images.

As in Lucid/Lucent, a parameterisation is a pair of functions: ``init(batch, rng)`` gives
the starting parameters (numpy) and ``to_image(params)`` turns them into images of shape
``[batch, size, size, 3]`` inside the compiled step.
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


@dataclass(frozen=True)
class Parameterisation:
    """How an image is represented while it is optimised."""

    name: str
    init: Callable[[int, np.random.Generator], np.ndarray]
    to_image: Callable[[tf.Tensor], tf.Tensor]
    wake_only: np.ndarray | None = None  # 1 where a parameter may only change while the filter is silent


def uniform_pixels(size: int) -> Parameterisation:
    """Raw pixels started from uniform noise in [0, 1], as in the original notebook."""

    def init(batch: int, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(0.0, 1.0, (batch, size, size, 3)).astype(np.float32)

    return Parameterisation("pixels", init, tf.identity)


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
    spectrum_shape = (2, 3) + freqs.shape
    n_spectrum, n_pixels = int(np.prod(spectrum_shape)), size * size * 3

    def init(batch: int, rng: np.random.Generator) -> np.ndarray:
        spectrum = sd * rng.standard_normal((batch, n_spectrum))
        return np.concatenate([spectrum, np.zeros((batch, n_pixels))], axis=1).astype(np.float32)

    def to_image(params: tf.Tensor) -> tf.Tensor:
        coefficients = tf.reshape(params[:, :n_spectrum], (-1,) + spectrum_shape)
        spectrum = tf.complex(coefficients[:, 0] * scale, coefficients[:, 1] * scale)
        channels_first = tf.signal.irfft2d(spectrum, fft_length=[size, size])
        image = tf.transpose(channels_first, [0, 2, 3, 1]) / 4.0  # Lucid's magic constant
        pixels = tf.reshape(params[:, n_spectrum:], (-1, size, size, 3))
        return tf.sigmoid(tf.tensordot(image, color_matrix_t, axes=1) + pixels)

    wake_only = np.concatenate([np.zeros(n_spectrum), np.ones(n_pixels)]).astype(np.float32)
    return Parameterisation("fourier", init, to_image, wake_only)
