"""Random transforms applied to the image at each step, so the picture must work under small
shifts, zooms and rotations (transformation robustness, Distill 2017)."""
from __future__ import annotations

import math
from collections.abc import Callable

import tensorflow as tf

Transform = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def identity() -> Transform:
    """No transform (the classic method)."""
    return lambda images, seed: images


def affine_matrices(batch: tf.Tensor, size: int, seed: tf.Tensor, jitter: float,
                    scale: tuple[float, float], degrees: float) -> tf.Tensor:
    """Random projective-transform rows ``[a0 a1 a2 b0 b1 b2 0 0]`` (output -> input), one per image."""
    u = tf.random.stateless_uniform([batch, 4], seed=seed, minval=-1.0, maxval=1.0)
    lo, hi = scale
    zoom = (lo + hi) / 2 + u[:, 0] * (hi - lo) / 2
    angle = u[:, 1] * degrees * math.pi / 180.0
    shift_x, shift_y = u[:, 2] * jitter, u[:, 3] * jitter
    cos, sin = tf.cos(angle) / zoom, tf.sin(angle) / zoom
    centre = (size - 1) / 2.0
    zeros = tf.zeros_like(cos)
    return tf.stack([cos, sin, centre - cos * centre - sin * centre + shift_x,
                     -sin, cos, centre + sin * centre - cos * centre + shift_y,
                     zeros, zeros], axis=1)


def warp(images: tf.Tensor, matrices: tf.Tensor, size: int) -> tf.Tensor:
    """Each image resampled (bilinear, reflected borders) through its row of ``matrices`` to ``size`` x ``size``."""
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=matrices, output_shape=[size, size], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")


def random_affine(size: int, jitter: float = 8.0, scale: tuple[float, float] = (0.9, 1.1),
                  degrees: float = 8.0) -> Transform:
    """Jitter, zoom and rotate at random in one bilinear resampling with reflected borders.

    The whole batch gets the same draw, so a picture does not depend on what is rendered beside it.
    """

    def inner(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        matrix = affine_matrices(1, size, seed, jitter, scale, degrees)
        return warp(images, tf.tile(matrix, [tf.shape(images)[0], 1]), size)

    return inner
