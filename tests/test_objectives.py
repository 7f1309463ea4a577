"""Objectives on tiny models: the centre neuron, blending two filters (exact maths, mix 0 is the plain render,
one compiled step for every blend, dead filters still wake) and diversity (Gram similarity, copies, cache)."""
from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf
from tiny_models import tiny_model

from vizcore import Engine, InputError, LoadedModel, get_method
from vizcore.cache import RenderCache
from vizcore.models import LayerInfo
from vizcore.objectives import channel, channel_weights, gram_similarity
from vizcore.render import keep_pushing
from vizcore.view import DEFAULT_MIX, View, view_from_query


def fixed_images(count: int = 1, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3)).astype(np.uint8)


def test_blend_is_the_weighted_sum_of_the_two_single_objectives(tiny):
    engine = Engine(tiny)
    images = fixed_images(16)  # several, so that the centre neurons too respond to some of them
    for objective in ("channel", "neuron"):
        first, second, blended = (
            engine.activation(engine.settings("conv2", [index] * 16, size=32, objective=objective, **blend), images)
            for index, blend in ((0, {}), (4, {}), (0, dict(blend_filter=4, mix=0.3))))
        assert np.any(first > 0) and np.any(second > 0) and not np.allclose(first, second)  # not vacuous
        np.testing.assert_allclose(blended, 0.7 * first + 0.3 * second, rtol=1e-5, atol=1e-6)


def test_neuron_objective_reads_the_centre_of_the_map(tiny):
    engine = Engine(tiny)
    image = fixed_images()
    maps = tiny.keras_model(tiny.preprocess(image.astype(np.float32))).numpy()  # [1, 16, 16, 6]
    centre = engine.activation(engine.settings("conv2", [2], size=32, objective="neuron"), image)[0]
    whole = engine.activation(engine.settings("conv2", [2], size=32), image)[0]
    assert centre == pytest.approx(maps[0, 8, 8, 2], rel=1e-5)
    assert whole == pytest.approx(maps[0, :, :, 2].mean(), rel=1e-5)


@pytest.mark.parametrize("method", ["robust", "classic"])
def test_mix_zero_gives_exactly_the_plain_picture(tiny, method):
    engine = Engine(tiny)
    plain = engine.render(engine.settings("conv2", [3], method=method, steps=12, size=32, seed=4))
    blended = engine.render(engine.settings("conv2", [3], method=method, steps=12, size=32, seed=4,
                                            blend_filter=5, mix=0.0))
    np.testing.assert_array_equal(blended.images, plain.images)
    np.testing.assert_array_equal(blended.loss_history, plain.loss_history)
    half = engine.render(engine.settings("conv2", [3], method=method, steps=12, size=32, seed=4,
                                         blend_filter=5, mix=0.5))
    assert np.abs(half.images.astype(int) - plain.images.astype(int)).mean() > 1  # the blend does change it


def test_one_compiled_step_serves_every_blend(tiny):
    engine = Engine(tiny)
    for blend_filter, mix in ((None, 0.0), (4, 0.5), (0, 0.25), (5, 1.0), (1, 0.9)):
        engine.render(engine.settings("conv2", [2], steps=2, size=32, blend_filter=blend_filter, mix=mix))
    assert engine.compiled("conv2", get_method("robust"), 32).step.experimental_get_tracing_count() == 1


def test_blend_strip_runs_as_one_batch_from_one_filter_to_the_other(tiny):
    engine = Engine(tiny)
    strip = engine.settings("conv2", [1], steps=15, size=32, seed=2, blend_filter=4, mix=[0, 0.25, 0.5, 0.75, 1])
    assert strip.filters == (1,) * 5 and strip.mixes == (0.0, 0.25, 0.5, 0.75, 1.0)
    result = engine.render(strip)
    first = engine.render(engine.settings("conv2", [1], steps=15, size=32, seed=2))
    second = engine.render(engine.settings("conv2", [4], steps=15, size=32, seed=2))
    assert np.abs(result.images[0].astype(int) - first.images[0].astype(int)).max() <= 2
    assert np.abs(result.images[4].astype(int) - second.images[0].astype(int)).max() <= 2
    assert result.caption(1).startswith("conv2 filter 1 + filter 4 (75/25) · Robust")


def two_dead_filters_model() -> LoadedModel:
    """A tiny model whose conv2 filters 0 and 1 are silent on every ordinary image (large negative biases)."""
    model = tiny_model(seed=3)
    layer = model.keras_model.get_layer("conv2")
    kernel, bias = layer.get_weights()
    for index in (0, 1):
        bias[index] = -40.0 * np.abs(kernel[..., index]).mean()
    layer.set_weights([kernel, bias])
    return model


def test_a_blend_of_two_silent_filters_still_wakes_up():
    engine = Engine(two_dead_filters_model())
    result = engine.render(engine.settings("conv2", [0], steps=150, size=32, blend_filter=1, mix=0.5))
    assert result.loss_history[0, 0] == 0.0
    assert result.activation[0] > 0
    assert "did not respond" in result.notes[0]


def test_gram_similarity_of_one_image_is_zero_without_gradient():
    activations = tf.constant(np.random.default_rng(0).random((1, 5, 5, 4)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(activations)
        similarity = gram_similarity(activations)
    assert float(similarity) == 0.0
    assert not np.any(tape.gradient(similarity, activations).numpy())


def test_gram_similarity_is_one_for_equal_styles_and_lower_for_others():
    rng = np.random.default_rng(1)
    same = rng.random((1, 6, 6, 4)).astype(np.float32)
    assert float(gram_similarity(tf.constant(np.concatenate([same, same[:, ::-1]])))) == pytest.approx(1.0)
    striped = np.zeros((1, 6, 6, 4), np.float32)
    striped[..., 0] = 1.0
    assert float(gram_similarity(tf.constant(np.concatenate([same, striped])))) < 0.9


def test_diversity_makes_the_copies_less_alike(tiny):
    engine = Engine(tiny)
    apart = engine.render(engine.settings("conv2", [2], steps=60, size=32, copies=3, diversity=5.0))
    alike = engine.render(engine.settings("conv2", [2], steps=60, size=32, copies=3, diversity=0.0))
    assert apart.images.shape == (3, 32, 32, 3) and apart.activation.shape == (3,)
    assert apart.similarity < alike.similarity
    assert np.all(apart.activation > 0)
    assert engine.compiled("conv2", get_method("robust"), 32, diverse=True).step.experimental_get_tracing_count() == 1


def test_copies_start_from_their_own_images_and_copy_one_is_the_plain_picture(tiny):
    engine = Engine(tiny)
    copies = engine.render(engine.settings("conv2", [2], steps=15, size=32, seed=6, copies=3))
    plain = engine.render(engine.settings("conv2", [2], steps=15, size=32, seed=6))
    assert np.abs(copies.images[0].astype(int) - plain.images[0].astype(int)).max() <= 2
    assert np.abs(copies.images[1].astype(int) - copies.images[2].astype(int)).mean() > 1
    assert copies.caption(2).startswith("conv2 filter 2 · copy 3 of 3 · diversity 0 · Robust")


def test_diversity_renders_are_cached_apart_from_plain_renders(tiny, tmp_path):
    engine = Engine(tiny, RenderCache(tmp_path))
    list(engine.run(engine.settings("conv2", [2], steps=5, size=32)))
    settings = engine.settings("conv2", [2], steps=5, size=32, copies=2, diversity=1.0)
    first = list(engine.run(settings))
    again = list(engine.run(settings))
    stronger = list(engine.run(engine.settings("conv2", [2], steps=5, size=32, copies=2, diversity=2.0)))
    assert (len(first), len(again), len(stronger)) == (5, 1, 5)
    np.testing.assert_array_equal(again[0].result.images, first[-1].result.images)
    assert again[0].result.similarity == pytest.approx(first[-1].result.similarity)


def test_a_blend_is_cached_apart_from_the_plain_render(tiny, tmp_path):
    engine = Engine(tiny, RenderCache(tmp_path))
    list(engine.run(engine.settings("conv2", [2], steps=5, size=32)))
    assert len(list(engine.run(engine.settings("conv2", [2], steps=5, size=32, blend_filter=3, mix=0.5)))) == 5
    assert len(list(engine.run(engine.settings("conv2", [2], steps=5, size=32, blend_filter=3, mix=0.6)))) == 5
    assert len(list(engine.run(engine.settings("conv2", [2], steps=5, size=32, objective="neuron")))) == 5


def test_the_plain_channel_objective_is_unchanged(tiny):
    activations = tf.constant(np.random.default_rng(2).random((2, 4, 4, 3)), tf.float32)
    weights = tf.constant(channel_weights(3, [0, 2], [0, 2], [0.0, 0.0]))
    np.testing.assert_allclose(channel(activations, weights).numpy(),
                               activations.numpy().mean(axis=(1, 2))[[0, 1], [0, 2]], rtol=1e-6)


def test_blend_weights_mix_two_channels_linearly():
    activations = tf.constant(np.random.default_rng(3).random((2, 4, 4, 3)), tf.float32)
    weights = tf.constant(channel_weights(3, [0, 1], [2, 2], [0.25, 1.0]))
    means = activations.numpy().mean(axis=(1, 2))
    np.testing.assert_allclose(channel(activations, weights).numpy(),
                               [0.75 * means[0, 0] + 0.25 * means[0, 2], means[1, 2]], rtol=1e-5)


@pytest.mark.parametrize("kwargs, words", [
    (dict(blend_filter=6), "second filter 6 does not exist in conv2: choose a filter from 0 to 5"),
    (dict(blend_filter=-1), "from 0 to 5"),
    (dict(blend_filter=2), "must differ from the first"),
    (dict(blend_filter=3, mix=1.5), "from 0 .* to 1"),
    (dict(blend_filter=3, mix=-0.1), "from 0 .* to 1"),
    (dict(blend_filter=3, mix=float("nan")), "from 0 .* to 1"),
    (dict(mix=0.5), "needs a second filter"),
    (dict(blend_filter=3, mix=[0.1, 0.2], learning_rates=[0.01, 0.1, 0.2]), "one mix, or one per picture"),
    (dict(copies=9), "Copies must be a whole number from 1 to 8"),
    (dict(copies=0), "from 1 to 8"),
    (dict(copies=2, learning_rates=[0.01, 0.1]), "one filter, one learning rate"),
    (dict(copies=2, diversity=-1.0), "Diversity strength must be a number from 0"),
    (dict(copies=2, diversity=float("inf")), "Diversity strength"),
])
def test_bad_blend_and_diversity_settings_get_plain_messages(tiny, kwargs, words):
    with pytest.raises(InputError, match=words):
        Engine(tiny).settings("conv2", [2], **kwargs)


def test_the_view_link_round_trips_the_objective_and_the_blend():
    layers = [LayerInfo("block1_conv1", 64, 1, 3)]
    view = View("block1_conv1", 3, "robust", 10, 0.05, 64, "neuron", 40, 25)
    assert view_from_query(view.to_query(), layers) == (view, [])
    plain = replace(view, objective="channel", blend=None, mix=DEFAULT_MIX)
    assert view_from_query(plain.to_query(), layers) == (plain, [])
    assert set(plain.to_query()) == {"layer", "filter", "method", "steps", "lr", "size"}  # old links unchanged


def test_weighted_similarity_counts_each_copy_by_its_weight():
    activations = tf.constant(np.random.default_rng(4).random((3, 4, 4, 5)), tf.float32)
    plain = float(gram_similarity(activations))
    assert float(gram_similarity(activations, tf.ones([3]))) == pytest.approx(plain, rel=1e-6)
    assert float(gram_similarity(activations, tf.zeros([3]))) == 0.0
    assert 0 < float(gram_similarity(activations, tf.constant([1.0, 1.0, 0.0]))) < plain


def test_a_copy_losing_its_response_is_no_longer_pushed_apart():
    weights = keep_pushing(tf.constant([200.0, 190.0, 160.0, 100.0])).numpy()
    np.testing.assert_allclose(weights, [1.0, 1.0, (0.8 - 0.75) / 0.15, 0.0], atol=1e-6)
