"""Parameterisations and transforms: ranges, shapes, and that the affine maths moves pixels as intended."""
import numpy as np
import tensorflow as tf

from vizcore import param, transforms
from vizcore.methods import ROBUST, Stage


def test_fourier_image_starts_near_grey_in_range(rng):
    fourier = param.fourier_decorrelated(64)
    image = fourier.to_image(fourier.init(2, rng)).numpy()
    assert image.shape == (2, 64, 64, 3)
    assert 0.0 < image.min() and image.max() < 1.0
    assert abs(image.mean() - 0.5) < 0.05 and image.std() > 1e-3


def test_fourier_image_is_smooth_compared_with_pixel_noise(rng):
    fourier = param.fourier_decorrelated(64)
    spectrum, pixels = fourier.init(1, rng)
    smooth = fourier.to_image((spectrum * 100, pixels)).numpy()[0].mean(-1)
    noise = param.uniform_pixels(64).init(1, rng)[0][0].mean(-1)

    def roughness(img):
        return np.abs(np.diff(img, axis=0)).mean() / img.std()

    assert roughness(smooth) < 0.75 * roughness(noise)  # 1/f amplitude: measured about 0.54


def test_uniform_pixels_match_the_notebook_start(rng):
    pixels = param.uniform_pixels(32)
    (start,) = pixels.init(1, rng)
    assert start.shape == (1, 32, 32, 3) and 0 <= start.min() and start.max() <= 1
    np.testing.assert_array_equal(pixels.to_image((tf.constant(start),)).numpy(), start)


def test_tiled_fourier_parameters_give_the_picture_tiled_exactly(rng):
    small, large = param.fourier_decorrelated(16), param.fourier_decorrelated(32)
    spectrum, _ = small.init(2, rng)
    pixels = rng.normal(size=(2, 16, 16, 3)).astype(np.float32)
    start = (spectrum * 100, pixels)  # a picture far from grey, with the wake-up pixel layer in use
    tiled = large.to_image(param.tile_fourier(start, 2)).numpy()
    np.testing.assert_allclose(tiled, np.tile(small.to_image(start).numpy(), (1, 2, 2, 1)), atol=1e-5)
    assert small.to_image(start).numpy().std() > 0.1  # not vacuous


def test_affine_without_randomness_is_identity(rng):
    images = tf.constant(rng.uniform(size=(2, 16, 16, 3)).astype(np.float32))
    out = transforms.random_affine(16, jitter=0.0, scale=(1.0, 1.0), degrees=0.0)(images, tf.constant([1, 2]))
    np.testing.assert_allclose(out.numpy(), images.numpy(), atol=1e-5)


def test_affine_matrix_shifts_pixels_by_the_jitter():
    matrix = transforms.affine_matrices(1, 16, tf.constant([0, 0]), jitter=3.0, scale=(1.0, 1.0), degrees=0.0)
    shift_x, shift_y = matrix.numpy()[0, 2], matrix.numpy()[0, 5]
    image = np.zeros((1, 16, 16, 1), np.float32)
    image[0, 8, 8, 0] = 1.0
    moved = tf.raw_ops.ImageProjectiveTransformV3(
        images=image, transforms=matrix, output_shape=[16, 16], fill_value=0.0,
        interpolation="NEAREST", fill_mode="CONSTANT").numpy()[0, ..., 0]
    y, x = np.unravel_index(moved.argmax(), moved.shape)
    assert (x, y) == (round(8 - shift_x), round(8 - shift_y))


def test_warp_reads_each_pixel_through_the_matrix_and_reflects_at_the_border(rng):
    images = rng.uniform(size=(2, 16, 16, 3)).astype(np.float32)
    shift = tf.constant([[1, 0, 2, 0, 1, 0, 0, 0]] * 2, tf.float32)  # output (x, y) reads input (x + 2, y)
    out = transforms.warp(tf.constant(images), shift, 16).numpy()
    expected = np.pad(images, [(0, 0), (0, 0), (0, 2), (0, 0)], mode="symmetric")[:, :, 2:]
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_random_affine_is_deterministic_per_seed_and_shared_by_the_batch(rng):
    images = tf.constant(np.repeat(rng.uniform(size=(1, 32, 32, 3)).astype(np.float32), 3, axis=0))
    transform = transforms.random_affine(32)
    a = transform(images, tf.constant([4, 1])).numpy()
    b = transform(images, tf.constant([4, 1])).numpy()
    c = transform(images, tf.constant([4, 2])).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a[0], a[2])
    assert np.abs(a - c).mean() > 1e-3


def test_coarse_stages_use_a_smaller_tile_where_the_layer_sees_little():
    assert ROBUST.stages(128, 256, True, receptive_field=5) == [Stage(32, 224), Stage(128, 32)]
    assert ROBUST.stages(128, 256, True, receptive_field=196) == [Stage(64, 224), Stage(128, 32)]
    assert ROBUST.stages(128, 256, False, receptive_field=5) == [Stage(128, 256)]  # one object, not a texture
    assert ROBUST.stages(40, 256, True, receptive_field=5) == [Stage(40, 256)]  # the tile would be too small
