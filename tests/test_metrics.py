"""Quality measure: high-frequency share, natural-photo reference and the "x strongest natural photo" score."""
import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import ndimage
from tiny_models import tiny_model

import vizcore
from vizcore import metrics
from vizcore.atomic import atomic_path
from vizcore.models import weights_fingerprint
from vizcore.objectives import channels


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """A fresh cache folder, so references computed here never leak into other tests."""
    monkeypatch.setenv("VIZCORE_CACHE", str(tmp_path))
    return tmp_path


def layer_means(model, layer: str, images: np.ndarray) -> np.ndarray:
    """Plain re-implementation: post-ReLU spatial mean of every filter, one row per image."""
    features = keras.Model(model.keras_model.inputs, model.keras_model.get_layer(layer).output)
    outputs = features(model.preprocess(tf.constant(images, tf.float32))).numpy()
    return outputs.mean(axis=(1, 2))


# --- high-frequency share -------------------------------------------------------------------------------

def test_hf_share_of_constant_and_smooth_images_is_about_zero():
    assert metrics.high_frequency_share(np.full((128, 128, 3), 77, np.uint8)) == 0.0
    y, x = np.mgrid[0:128, 0:128]
    smooth = 128 + 100 * np.sin(2 * np.pi * x / 64) * np.cos(2 * np.pi * y / 32)
    assert metrics.high_frequency_share(np.stack([smooth] * 3, -1).astype(np.uint8)) < 0.01


def test_hf_share_of_checkerboard_is_about_one_and_of_white_noise_is_the_outer_area(rng):
    y, x = np.mgrid[0:128, 0:128]
    checkerboard = ((x + y) % 2 * 255).astype(np.uint8)
    assert metrics.high_frequency_share(np.stack([checkerboard] * 3, -1)) > 0.99
    noise = rng.integers(0, 256, (256, 256, 3)).astype(np.uint8)
    # white noise spreads power evenly: the share outside radius 0.25 is 1 - pi/16 of the square
    assert metrics.high_frequency_share(noise) == pytest.approx(1 - np.pi / 16, abs=0.03)


def test_hf_share_uses_the_grey_image(rng):
    grey = rng.integers(0, 256, (64, 64)).astype(np.uint8)
    assert metrics.high_frequency_share(np.stack([grey] * 3, -1)) == pytest.approx(metrics.high_frequency_share(grey))


# --- natural crops ------------------------------------------------------------------------------------------

def test_natural_crops_are_deterministic_uint8_photo_crops():
    crops = metrics.natural_crops(12, 64, seed=3)
    assert crops.shape == (12, 64, 64, 3) and crops.dtype == np.uint8
    np.testing.assert_array_equal(crops, metrics.natural_crops(12, 64, seed=3))
    assert not np.array_equal(crops, metrics.natural_crops(12, 64, seed=4))
    assert crops.std(axis=(1, 2, 3)).min() > 0  # real picture content, not blank


def test_every_natural_photo_loads_offline_as_rgb():
    for name in metrics.NATURAL_PHOTOS:
        photo = metrics.natural_photo(name)
        assert photo.ndim == 3 and photo.shape[2] == 3 and min(photo.shape[:2]) >= metrics.CROP_SIZE, name


# --- score maths on a tiny model ------------------------------------------------------------------------------

def test_natural_reference_is_the_99th_percentile_of_natural_crop_means(tiny, private_cache):
    reference = metrics.natural_reference(tiny)
    assert set(reference) == {"conv1", "conv2"}
    crops = metrics.natural_crops().astype(np.float32)
    for layer in ("conv1", "conv2"):
        means = np.concatenate([layer_means(tiny, layer, crops[i:i + 50]) for i in range(0, len(crops), 50)])
        np.testing.assert_allclose(reference[layer], np.percentile(means, 99, axis=0), rtol=1e-4, atol=1e-5)


def test_the_reference_is_read_from_disk_and_a_corrupt_file_is_recomputed(tiny, private_cache):
    original = metrics.natural_reference(tiny)
    path = metrics.reference_path(tiny)
    # a valid file with different numbers is read as is: the reference is not recomputed
    doubled = {name: 2 * values for name, values in original.items()}
    with atomic_path(path) as temporary:
        np.savez(temporary, **doubled)
    metrics.forget_natural_references()
    np.testing.assert_array_equal(metrics.natural_reference(tiny)["conv2"], doubled["conv2"])
    # a corrupt file is detected and replaced by a fresh computation
    path.write_bytes(b"not a zip file")
    metrics.forget_natural_references()
    recomputed = metrics.natural_reference(tiny)
    for name in original:
        np.testing.assert_allclose(recomputed[name], original[name], rtol=1e-4, atol=1e-5)
    assert metrics._read_reference(path, tiny) is not None
    metrics.forget_natural_references()


def scipy_transformed_copies(image: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """The same resampling done independently: bilinear, reflected borders, output -> input rows."""
    copies = []
    for a0, a1, a2, b0, b1, b2 in matrices[:, :6]:
        copies.append(np.stack([ndimage.affine_transform(image[..., c], [[b1, b0], [a1, a0]], offset=[b2, a2],
                                                         order=1, mode="reflect") for c in range(3)], -1))
    return np.stack(copies)


def test_the_16_fixed_transforms_have_the_documented_ranges():
    matrices = metrics.transform_matrices().numpy()
    np.testing.assert_array_equal(matrices, metrics.transform_matrices().numpy())  # fixed seed
    a0, a1, a2, b0, b1, b2 = matrices[:, :6].T
    zoom, degrees = 1 / np.hypot(a0, a1), np.degrees(np.arctan2(a1, a0))
    centre = 127 / 2
    shift_x, shift_y = a2 - (centre - a0 * centre - a1 * centre), b2 - (centre - b0 * centre - b1 * centre)
    assert len(matrices) == 16 and len(np.unique(zoom)) == 16
    assert np.all((zoom >= 0.9) & (zoom <= 1.1)) and np.all(np.abs(degrees) <= 8)
    assert np.all(np.abs(shift_x) <= 8) and np.all(np.abs(shift_y) <= 8)
    assert np.ptp(degrees) > 8 and np.ptp(shift_x) > 8 and np.ptp(zoom) > 0.1  # the ranges are really used


def test_quality_score_equals_a_manual_computation(tiny, private_cache, rng):
    picture = rng.integers(0, 256, (96, 96, 3)).astype(np.uint8)  # not 128 px: exercises the resize
    resized = tf.image.resize(tf.constant(picture, tf.float32), [128, 128], antialias=True).numpy()
    copies = scipy_transformed_copies(resized, metrics.transform_matrices().numpy())
    means = layer_means(tiny, "conv2", copies)
    reference = metrics.natural_reference(tiny)["conv2"]
    scores = metrics.quality_scores(tiny, "conv2", range(6), [picture] * 6)
    np.testing.assert_allclose(scores, means.mean(axis=0) / reference, rtol=2e-3)
    # the transforms matter: scoring the untransformed picture gives other numbers
    plain = layer_means(tiny, "conv2", resized[None])[0] / reference
    assert np.abs(np.array(scores) / plain - 1).max() > 0.01


def test_quality_scores_match_single_scores_and_are_deterministic(tiny, private_cache, rng):
    pictures = [rng.integers(0, 256, (128, 128, 3)).astype(np.uint8) for _ in range(3)]
    batch = metrics.quality_scores(tiny, "conv1", [0, 3, 1], pictures)
    singles = [metrics.quality_score(tiny, "conv1", f, p) for f, p in zip([0, 3, 1], pictures)]
    assert batch == pytest.approx(singles, rel=1e-6)
    assert metrics.quality_scores(tiny, "conv1", [0, 3, 1], pictures) == batch


def test_filter_that_never_fires_on_natural_photos_scores_none(private_cache, rng):
    model = tiny_model().keras_model
    kernel, bias = model.get_layer("conv1").get_weights()
    bias[1] = -1e6
    model.get_layer("conv1").set_weights([kernel, bias])
    dead = dataclasses.replace(tiny_model(), keras_model=model, fingerprint=weights_fingerprint(model))
    picture = rng.integers(0, 256, (128, 128, 3)).astype(np.uint8)
    assert metrics.dead_on_natural(dead, "conv1").tolist() == [False, True, False, False]
    assert metrics.quality_score(dead, "conv1", 1, picture) is None
    assert metrics.quality_score(dead, "conv1", 0, picture) > 0


# --- the real VGG16 --------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_vgg16_natural_reference_has_one_value_per_filter_and_a_cache_file(vgg16):
    reference = metrics.natural_reference(vgg16)
    assert list(reference) == [info.name for info in vgg16.layers]
    for info in vgg16.layers:
        assert reference[info.name].shape == (info.filters,)
        assert np.all(reference[info.name] >= 0) and np.any(reference[info.name] > 0)
    assert metrics.reference_path(vgg16).is_file()
    assert metrics.natural_reference(vgg16) is reference  # in-process cache


@pytest.mark.slow
def test_vgg16_natural_crops_score_about_one_and_a_robust_render_clearly_more(vgg16):
    layer, filters = "block1_conv2", [1, 6]
    crops = list(metrics.natural_crops(8, seed=1))  # crops the reference did not use
    natural = {f: metrics.quality_scores(vgg16, layer, [f] * len(crops), crops) for f in filters}
    for scores in natural.values():
        assert np.median(scores) < 1.0 and max(scores) < 1.5
    engine = vizcore.Engine(vgg16)
    result = engine.render(engine.settings(channels(layer, filters), "robust", steps=60, size=64))
    for f, score in zip(filters, metrics.quality_scores(vgg16, layer, filters, list(result.images))):
        assert score > 1.5 and score > max(natural[f])
