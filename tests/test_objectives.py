"""The objective algebra on tiny models: each objective's maths, sums and differences (two layers too), the text
spec's round trip, one compiled step per kind (no retrace when only numbers change), blends (mix 0 is the plain
render, a strip in one batch, silent filters still wake), diversity (Gram similarity, copies, cache)."""
import numpy as np
import pytest
import tensorflow as tf
from tiny_models import tiny_model

from dashboard.captions import result_caption
from vizcore import Engine, InputError, LoadedModel, get_method
from vizcore.algebra import Responses
from vizcore.cache import RenderCache
from vizcore.objectives import (
    blend,
    channel,
    channels,
    deepdream,
    direction,
    diversity,
    gram_similarity,
    keep_pushing,
    neuron,
    with_diversity,
)
from vizcore.spec import describe, parse


def fixed_images(count: int = 1, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, size, size, 3)).astype(np.uint8)


def layer_maps(model: LoadedModel, images: np.ndarray, layer: str) -> np.ndarray:
    """The layer's responses to the images, straight from Keras."""
    import keras

    sub = keras.Model(model.keras_model.inputs, model.keras_model.get_layer(layer).output)
    return sub(model.preprocess(images.astype(np.float32))).numpy()


def test_each_objective_reads_what_it_says(tiny):
    engine = Engine(tiny)
    image = fixed_images()
    conv1, conv2 = layer_maps(tiny, image, "conv1"), layer_maps(tiny, image, "conv2")  # [1, 32|16, .., 4|6]

    def value(objective):
        return engine.activation(engine.settings(objective, size=32), image)[0]

    assert value("conv2:2") == pytest.approx(conv2[0, :, :, 2].mean(), rel=1e-5)
    assert value("neuron(conv2:2)") == pytest.approx(conv2[0, 8, 8, 2], rel=1e-5)
    assert value("neuron(conv2:2 @ 3,5)") == pytest.approx(conv2[0, 5, 3, 2], rel=1e-5)
    assert value(deepdream("conv1")) == pytest.approx(np.mean(conv1**2), rel=1e-5)
    assert value(direction("conv2", {1: 0.5, 4: -2.0})) == pytest.approx(
        0.5 * conv2[0, :, :, 1].mean() - 2.0 * conv2[0, :, :, 4].mean(), rel=1e-5)
    assert value("conv2:1 - 0.5*conv1:3") == pytest.approx(conv2[0, :, :, 1].mean() - 0.5 * conv1[0, :, :, 3].mean(),
                                                            rel=1e-5)


def test_sums_and_weights_are_linear_over_a_batch(tiny):
    engine = Engine(tiny)
    images = fixed_images(16)  # several, so that the centre neurons too respond to some of them
    for kind in (channel, neuron):
        first, second, blended = (engine.activation(engine.settings([objective] * 16, size=32), images)
                                  for objective in (kind("conv2", 0), kind("conv2", 4),
                                                    0.7 * kind("conv2", 0) + 0.3 * kind("conv2", 4)))
        assert np.any(first > 0) and np.any(second > 0) and not np.allclose(first, second)  # not vacuous
        np.testing.assert_allclose(blended, 0.7 * first + 0.3 * second, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("spec", [
    "block3_conv1:12", "block3_conv1:12 + 0.5*block3_conv1:40", "0.75*block1_conv1:3 + 0.25*block1_conv1:9",
    "block4_conv1:7 - block3_conv3:12", "neuron(block4_conv1:7)", "neuron(block4_conv1:7 @ 2,9)",
    "dream(block4_conv2)", "block1_conv1:0 - diversity(block1_conv1)", "direction(block5_conv3: 3=0.5, 17=-0.25)",
    "-(block1_conv1:1 + block1_conv1:2)", "0.1*block1_conv1:3 - 1e-05*block2_conv1:2",
])
def test_a_spec_reads_back_as_the_same_objective(spec):
    objective = parse(spec)
    assert str(objective) == spec
    assert parse(str(objective)) == objective


def test_the_algebra_builds_what_the_spec_says():
    a, b, c = channel("L", 1), channel("L", 2), channel("M", 3)
    assert (a + b) - c == parse("L:1 + L:2 - M:3") == a + (b - c)
    assert 2 * (3 * a) == parse("6*L:1") and -a == parse("-L:1")
    assert blend("L", 1, 2, 0.25) == parse("0.75*L:1 + 0.25*L:2")
    assert with_diversity(a, 2.0) == parse("L:1 - 2*diversity(L)")
    assert parse("  L:1+0.5 * L:2 ") == parse("L:1 + 0.5*L:2")
    assert describe(blend("L", 1, 2, 0.25)) == "filter 1 + filter 2 (75/25)"
    assert describe(parse("L:1 - 0.5*M:3")) == "filter 1 - 0.5 × M filter 3"


@pytest.mark.parametrize("spec, words", [
    ("", "empty"), ("block3_conv1", "ends too early"), ("block3_conv1:", "ends too early"),
    ("block3_conv1:1.5", "whole number"), ("fun(block3_conv1)", "not a kind of objective"),
    ("block3_conv1:1 block3_conv1:2", "left over"), ("block3_conv1:1 # 2", "not understood"),
    ("neuron(block3_conv1)", "':' was expected"), ("3*", "ends too early"), ("x:1" * 1000, "too long"),
    ("1e999*block3_conv1:1", "too large a number"), ("direction(block3_conv1: 2=1e400)", "too large a number"),
])
def test_a_bad_spec_gets_a_plain_message(spec, words):
    with pytest.raises(InputError, match=words):
        parse(spec)


def test_cache_keys_follow_the_objective_not_how_it_was_written(tiny, tmp_path):
    engine = Engine(tiny, RenderCache(tmp_path))

    def key(objective):
        return engine._cache_keys(engine.settings(objective, steps=5, size=32))[0]

    assert key("conv2:1 + 0.5*conv2:4") == key(channel("conv2", 1) + 0.5 * channel("conv2", 4))
    assert key("conv2:1") == key(channel("conv2", 1)) == key(["conv2:1"])
    keys = [key(o) for o in ("conv2:1", "conv2:1 + 0.5*conv2:4", "conv2:1 + 0.6*conv2:4", "neuron(conv2:1)",
                             "conv2:1 - conv1:2", "dream(conv2)")]
    assert len(set(keys)) == len(keys)


def test_only_numbers_changing_never_retrace(tiny):
    engine = Engine(tiny)
    for first, second, weight in ((1, 2, 0.5), (5, 0, 2.0), (3, 3, -1.0)):
        engine.render(engine.settings(channel("conv2", first) - weight * channel("conv1", second), steps=2, size=32))
        engine.render(engine.settings(neuron("conv2", first, second, 3), steps=2, size=32))
    robust = get_method("robust")
    assert engine.compiled(parse("conv2:0 - conv1:0"), robust, 32).step.experimental_get_tracing_count() == 1
    assert engine.compiled(parse("neuron(conv2:0 @ 1,1)"), robust, 32).step.experimental_get_tracing_count() == 1


def test_a_two_layer_difference_raises_one_and_lowers_the_other(tiny):
    engine = Engine(tiny)
    images = engine.render(engine.settings("conv2:1 - conv1:2", steps=40, size=32, seed=1)).images
    plain = engine.render(engine.settings("conv2:1", steps=40, size=32, seed=1)).images
    lower = [engine.activation(engine.settings("conv1:2", size=32), picture)[0] for picture in (images, plain)]
    assert lower[0] < lower[1]
    assert engine.activation(engine.settings("conv2:1", size=32), images)[0] > 0


@pytest.mark.parametrize("method", ["robust", "classic"])
def test_mix_zero_gives_exactly_the_plain_picture(tiny, method):
    engine = Engine(tiny)
    plain = engine.render(engine.settings("conv2:3", method=method, steps=12, size=32, seed=4))
    blended = engine.render(engine.settings(blend("conv2", 3, 5, 0.0), method=method, steps=12, size=32, seed=4))
    np.testing.assert_array_equal(blended.images, plain.images)
    np.testing.assert_array_equal(blended.loss_history, plain.loss_history)
    half = engine.render(engine.settings(blend("conv2", 3, 5, 0.5), method=method, steps=12, size=32, seed=4))
    assert np.abs(half.images.astype(int) - plain.images.astype(int)).mean() > 1  # the blend does change it


def test_blend_strip_runs_as_one_batch_from_one_filter_to_the_other(tiny):
    engine = Engine(tiny)
    strip = engine.settings([blend("conv2", 1, 4, mix) for mix in (0, 0.25, 0.5, 0.75, 1)], steps=15, size=32, seed=2)
    assert strip.filters == (1,) * 5
    result = engine.render(strip)
    first = engine.render(engine.settings("conv2:1", steps=15, size=32, seed=2))
    second = engine.render(engine.settings("conv2:4", steps=15, size=32, seed=2))
    assert np.abs(result.images[0].astype(int) - first.images[0].astype(int)).max() <= 2
    assert np.abs(result.images[4].astype(int) - second.images[0].astype(int)).max() <= 2
    assert result_caption(result, 1).startswith("conv2 filter 1 + filter 4 (75/25) · Robust")


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
    result = engine.render(engine.settings(blend("conv2", 0, 1, 0.5), steps=150, size=32))
    assert result.loss_history[0, 0] == 0.0
    assert result.activation[0] > 0
    assert "did not respond" in result.notes[0]


def test_gram_similarity_of_one_image_is_zero_without_gradient():
    activations = tf.constant(np.random.default_rng(0).random((1, 5, 5, 4)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(activations)
        similarity = gram_similarity(activations)
    assert similarity.numpy().tolist() == [0.0]
    assert not np.any(tape.gradient(similarity, activations).numpy())


def test_gram_similarity_is_one_for_equal_styles_and_lower_for_others():
    rng = np.random.default_rng(1)
    same = rng.random((1, 6, 6, 4)).astype(np.float32)
    np.testing.assert_allclose(gram_similarity(tf.constant(np.concatenate([same, same[:, ::-1]]))), 1.0, rtol=1e-6)
    striped = np.zeros((1, 6, 6, 4), np.float32)
    striped[..., 0] = 1.0
    assert np.all(gram_similarity(tf.constant(np.concatenate([same, striped]))).numpy() < 0.9)


def test_the_diversity_penalty_is_the_similarity_in_units_of_what_the_batch_pursues():
    activations = tf.constant(np.random.default_rng(4).random((3, 4, 4, 5)), tf.float32)
    parts = (-2.0 * diversity("L")).parts(Responses({"L": activations}, {"L": activations}),
                                           iter([tf.constant([-2.0] * 3)]))
    pursued = tf.constant([10.0, 9.5, 4.0])
    expected = -2.0 * np.mean(np.abs(pursued)) * keep_pushing(pursued) * gram_similarity(activations)
    np.testing.assert_allclose(parts.penalty(pursued), expected, rtol=1e-6)
    assert parts.penalty(pursued).numpy()[2] == 0.0  # the weak copy is not pushed
    assert not np.any(parts.response.numpy())


def test_diversity_makes_the_copies_less_alike(tiny):
    engine = Engine(tiny)
    apart = engine.render(engine.settings(with_diversity(channel("conv2", 2), 5.0), steps=60, size=32, copies=3))
    alike = engine.render(engine.settings(with_diversity(channel("conv2", 2), 0.0), steps=60, size=32, copies=3))
    assert apart.images.shape == (3, 32, 32, 3) and apart.activation.shape == (3,)
    assert apart.similarity < alike.similarity
    assert np.all(apart.activation > 0)
    compiled = engine.compiled(parse("conv2:0 - diversity(conv2)"), get_method("robust"), 32)
    assert compiled.step.experimental_get_tracing_count() == 1


def test_copies_start_from_their_own_images_and_copy_one_is_the_plain_picture(tiny):
    engine = Engine(tiny)
    copies = engine.render(engine.settings(with_diversity(channel("conv2", 2), 0.0), steps=15, size=32, seed=6,
                                           copies=3))
    plain = engine.render(engine.settings("conv2:2", steps=15, size=32, seed=6))
    assert np.abs(copies.images[0].astype(int) - plain.images[0].astype(int)).max() <= 2
    assert np.abs(copies.images[1].astype(int) - copies.images[2].astype(int)).mean() > 1
    assert result_caption(copies, 2).startswith("conv2 filter 2 · copy 3 of 3 · diversity 0 · Robust")


def test_diversity_and_blends_are_cached_apart_from_plain_renders(tiny, tmp_path):
    engine = Engine(tiny, RenderCache(tmp_path))
    list(engine.run(engine.settings("conv2:2", steps=5, size=32)))
    settings = engine.settings("conv2:2 - diversity(conv2)", steps=5, size=32, copies=2)
    first = list(engine.run(settings))
    again = list(engine.run(settings))
    stronger = list(engine.run(engine.settings("conv2:2 - 2*diversity(conv2)", steps=5, size=32, copies=2)))
    assert (len(first), len(again), len(stronger)) == (5, 1, 5)
    np.testing.assert_array_equal(again[0].result.images, first[-1].result.images)
    assert again[0].result.similarity == pytest.approx(first[-1].result.similarity)
    for other in (blend("conv2", 2, 3, 0.5), blend("conv2", 2, 3, 0.6), "neuron(conv2:2)"):
        assert len(list(engine.run(engine.settings(other, steps=5, size=32)))) == 5


@pytest.mark.parametrize("objective, kwargs, words", [
    ("conv2:6", {}, "Filter 6 does not exist in conv2: choose a filter from 0 to 5"),
    (blend("conv2", 2, 9, 0.5), {}, "Filter 9 does not exist in conv2"),
    ("neuron(conv2:7)", {}, "from 0 to 5"),
    ("direction(conv2: 8=1)", {}, "from 0 to 5"),
    ("neuron(conv2:1 @ 3,99999999999)", {}, "place on the map must be from 0 to 4096"),
    ("conv2:1 - conv7:1", {}, "Unknown layer 'conv7'"),
    ("conv2:2 - diversity(conv2)", dict(copies=9), "Copies must be a whole number from 1 to 8"),
    ("conv2:2 - diversity(conv2)", dict(copies=0), "from 1 to 8"),
    ("conv2:2 - diversity(conv2)", dict(copies=2, learning_rates=[0.01, 0.1]), "one filter, one learning rate"),
    ("conv2:2", dict(copies=2), "pushes them apart"),
    ("conv2:2 - diversity(conv2)", {}, "at least two copies"),
    (channels("conv2", range(65)), {}, "At most 64 pictures"),
])
def test_bad_objectives_and_copies_get_plain_messages(tiny, objective, kwargs, words):
    with pytest.raises(InputError, match=words):
        Engine(tiny).settings(objective, **kwargs)


def test_a_copy_losing_its_response_is_no_longer_pushed_apart():
    weights = keep_pushing(tf.constant([200.0, 190.0, 180.0, 100.0])).numpy()
    np.testing.assert_allclose(weights, [1.0, 1.0, (0.9 - 0.85) / 0.1, 0.0], atol=1e-6)
