"""The optimisation loop on tiny models: the classic method is the notebook's, robust wakes dead filters,
compiled steps do not retrace, results are deterministic and cached."""
from dataclasses import replace

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny_models import tiny_model

from dashboard.captions import result_caption
from vizcore import Engine, InputError, LoadedModel, get_method
from vizcore.cache import RenderCache
from vizcore.methods import CLASSIC, METHODS, min_max_uint8
from vizcore.models import conv_catalog
from vizcore.objectives import channel, channels


def seed_notebook_loop(model: keras.Model, layer: str, filter_index: int, start: np.ndarray,
                       iterations: int, learning_rate: float) -> tuple[list[float], np.ndarray]:
    """The original notebook, written out plainly (eager, one image)."""
    submodel = keras.Model(model.inputs, model.get_layer(layer).output)
    image = tf.constant(start)
    losses = []
    for _ in range(iterations):
        with tf.GradientTape() as tape:
            tape.watch(image)
            loss = tf.reduce_mean(submodel(image)[..., filter_index])
        grads = tf.math.l2_normalize(tape.gradient(loss, image))
        image = image + grads * learning_rate
        losses.append(float(loss))
    return losses, image.numpy()


def test_classic_matches_the_notebook_step_by_step(tiny):
    engine = Engine(tiny)
    settings = engine.settings("conv2:3", method="classic", steps=12, size=32, seed=5)
    result = engine.render(settings)
    (start,) = CLASSIC.parameterisation(32).init(1, np.random.default_rng(5))
    losses, image = seed_notebook_loop(tiny.keras_model, "conv2", 3, start, 12, 4.0)
    np.testing.assert_allclose(result.loss_history[:, 0], losses, rtol=1e-4, atol=1e-6)
    assert np.abs(result.images.astype(int) - min_max_uint8(image).astype(int)).max() <= 1
    assert losses[-1] > losses[0]  # the comparison is not vacuous


def test_robust_raises_the_activation(tiny):
    engine = Engine(tiny)
    result = engine.render(engine.settings(channels("conv2", [0, 1]), steps=40, size=32, seed=1))
    assert result.images.shape == (2, 32, 32, 3) and result.images.dtype == np.uint8
    assert np.all(result.loss_history[-5:].mean(axis=0) > result.loss_history[:5].mean(axis=0))
    assert np.all(result.activation > 0)


def dead_filter_model() -> LoadedModel:
    """A tiny model whose conv2 filter 0 is silent on every ordinary image (large negative bias)."""
    model = tiny_model(seed=3)
    kernel, bias = model.keras_model.get_layer("conv2").get_weights()
    bias[0] = -40.0 * np.abs(kernel[..., 0]).sum() / kernel[..., 0].size
    model.keras_model.get_layer("conv2").set_weights([kernel, bias])
    return model


def test_robust_wakes_a_dead_filter_and_classic_explains_it():
    engine = Engine(dead_filter_model())
    robust = engine.render(engine.settings("conv2:0", steps=150, size=32, seed=0))
    assert robust.loss_history[0, 0] == 0.0
    assert robust.activation[0] > 0
    assert "did not respond" in robust.notes[0] and "until it woke up" in robust.notes[0]

    hopeless = dead_filter_model()  # filter 0 with no weights and a negative bias can never respond
    kernel, bias = hopeless.keras_model.get_layer("conv2").get_weights()
    kernel[..., 0], bias[0] = 0.0, -1.0
    hopeless.keras_model.get_layer("conv2").set_weights([kernel, bias])
    never = Engine(hopeless).render(engine.settings("conv2:0", steps=5, size=32, seed=0))
    assert never.activation[0] == 0
    assert "still does not after 5 iterations" in never.notes[0]

    classic = engine.render(engine.settings("conv2:0", method="classic", steps=20, size=32, seed=0))
    assert np.all(classic.loss_history == 0.0)
    assert "no gradient" in classic.notes[0] and "Robust" in classic.notes[0]


def test_a_filter_still_silent_at_the_end_gets_a_wake_up_search(monkeypatch):
    # A recipe that cannot wake a filter by itself (no gradient through the silent ReLU), with robust's search.
    blind = replace(get_method("robust"), name="blind", pass_dead_gradients=False)
    monkeypatch.setitem(METHODS, "blind", blind)
    engine = Engine(dead_filter_model())
    result = engine.render(engine.settings(channels("conv2", [0, 1]), "blind", steps=6, size=32, seed=0))
    assert np.all(result.loss_history[:, 0] == 0)  # the recipe itself never woke filter 0
    assert result.activation[0] > 0 and result.activation[1] > 0
    assert any("small patches of full-contrast noise" in note and "Filter 0" in note for note in result.notes)
    assert not any("Filter 1" in note for note in result.notes)  # filter 1 was never silent: untouched


def test_filter_and_learning_rate_do_not_retrace(tiny):
    engine = Engine(tiny)
    for spec, rates in (("conv2:0", [0.05]), ("conv2:5", [0.2]), ("conv2:2", [0.01])):
        engine.render(engine.settings(spec, steps=2, size=32, learning_rates=rates))
    step = engine.compiled(channel("conv2", 0), get_method("robust"), 32).step
    assert step.experimental_get_tracing_count() == 1


def test_coarse_to_fine_shows_the_tile_repeated_then_refines_the_whole_picture(tiny):
    engine = Engine(tiny)
    settings = engine.settings("conv2:1", steps=16, size=64, seed=2)  # 14 steps on a 32 px tile, 2 at 64
    frames = list(engine.run(settings, preview_every=1))
    coarse, final = frames[12].images[0], frames[-1].images[0]
    assert coarse.shape == final.shape == (64, 64, 3)
    np.testing.assert_array_equal(coarse[:32, :32], coarse[32:, 32:])  # the tile, shown 2 x 2
    assert not np.array_equal(final[:32, :32], final[32:, 32:])  # the full-size steps refine each part
    assert frames[-1].result.activation[0] > 0


def test_prepared_steps_are_not_traced_again_and_give_the_same_picture(tiny):
    settings = Engine(tiny).settings("conv2:1", steps=16, size=64, seed=2)
    prepared = Engine(tiny)
    assert not prepared.compiled_already(settings)
    prepared.prepare(settings)
    assert prepared.compiled_already(settings) and not prepared.compiled_already(replace(settings, size=96))
    steps = [prepared.compiled(channel("conv2", 1), get_method("robust"), size).step for size in (32, 64)]
    assert [step.experimental_get_tracing_count() for step in steps] == [1, 1]
    picture = prepared.render(settings).images
    assert [step.experimental_get_tracing_count() for step in steps] == [1, 1]
    np.testing.assert_array_equal(picture, Engine(tiny).render(settings).images)


def test_same_seed_same_picture_other_seed_other_picture(tiny):
    engine = Engine(tiny)
    first = engine.render(engine.settings("conv1:1", steps=10, size=32, seed=7))
    again = engine.render(engine.settings("conv1:1", steps=10, size=32, seed=7))
    other = engine.render(engine.settings("conv1:1", steps=10, size=32, seed=8))
    np.testing.assert_array_equal(first.images, again.images)
    assert np.abs(first.images.astype(int) - other.images.astype(int)).mean() > 1


def test_a_picture_does_not_depend_on_its_batch(tiny):
    engine = Engine(tiny)
    batch = engine.render(engine.settings(channels("conv2", [1, 4]), steps=15, size=32, seed=2))
    alone = engine.render(engine.settings("conv2:4", steps=15, size=32, seed=2))
    assert np.abs(batch.images[1].astype(int) - alone.images[0].astype(int)).max() <= 2


def test_learning_rates_render_side_by_side(tiny):
    engine = Engine(tiny)
    settings = engine.settings("conv2:2", steps=10, size=32, learning_rates=[0.01, 0.2])
    result = engine.render(settings)
    assert settings.filters == (2, 2) and result.loss_history.shape == (10, 2)
    assert not np.array_equal(result.images[0], result.images[1])
    assert "learning rate 0.2" in result_caption(result, 1)


def test_frames_stream_progress_with_pictures_every_k_steps(tiny):
    engine = Engine(tiny)
    frames = list(engine.run(engine.settings("conv1:0", steps=9, size=32), preview_every=4))
    assert [f.step for f in frames] == list(range(1, 10))
    assert [f.step for f in frames if f.images is not None] == [4, 8, 9]
    assert frames[-1].result is not None and all(f.result is None for f in frames[:-1])
    assert frames[4].losses.shape == (5, 1)


def test_finished_renders_come_back_from_the_disk_cache(tiny, tmp_path):
    engine = Engine(tiny, RenderCache(tmp_path))
    settings = engine.settings(channels("conv2", [1, 2]), steps=6, size=32)
    first = list(engine.run(settings))
    cached = list(engine.run(settings))
    assert len(first) == 6 and len(cached) == 1
    np.testing.assert_array_equal(cached[0].result.images, first[-1].result.images)
    np.testing.assert_allclose(cached[0].result.loss_history, first[-1].result.loss_history)

    entry = next(tmp_path.rglob("*.npz"))
    entry.write_bytes(b"not a zip file")
    recomputed = list(engine.run(settings))
    assert len(recomputed) == 6  # the corrupt entry was detected and the render redone
    np.testing.assert_array_equal(recomputed[-1].result.images, first[-1].result.images)


def test_other_settings_are_not_served_from_the_cache(tiny, tmp_path):
    engine = Engine(tiny, RenderCache(tmp_path))
    list(engine.run(engine.settings("conv2:1", steps=6, size=32)))
    assert len(list(engine.run(engine.settings("conv2:1", steps=6, size=32, seed=1)))) == 6
    assert len(list(engine.run(engine.settings("conv2:1", steps=6, size=32, learning_rates=[0.07])))) == 6
    assert len(list(engine.run(engine.settings("conv2:1", "lucid", steps=6, size=32)))) == 6


@pytest.mark.parametrize("kwargs, words", [
    (dict(objective="conv9:0"), "Valid layers: conv1, conv2"),
    (dict(objective="conv2:6"), "from 0 to 5"),
    (dict(objective=channel("conv2", -1)), "from 0 to 5"),
    (dict(objective="conv2:0", steps=0), "from 1 to"),
    (dict(objective="conv2:0", steps=10**9), "from 1 to"),
    (dict(objective="conv2:0", learning_rates=[float("nan")]), "above 0"),
    (dict(objective="conv2:0", learning_rates=[-1.0]), "above 0"),
    (dict(objective="conv2:0", learning_rates=[0.0]), "above 0"),
    (dict(objective="conv2:0", learning_rates=[1e9]), "at most"),
    (dict(objective="conv2:0", size=8), "pixels"),
    (dict(objective="conv2:0", size=100000), "pixels"),
    (dict(objective="conv2:0", method="magic"), "Unknown method"),
    (dict(objective=["conv2:0", "conv2:1"], learning_rates=[0.1, 0.2, 0.3]), "one per filter"),
    (dict(objective="fun(conv2)"), "not a kind of objective"),
    (dict(objective=["conv2:0", "neuron(conv2:1)"]), "objectives of one kind"),
    (dict(objective=[]), "at least one"),
])
def test_bad_settings_get_plain_messages(tiny, kwargs, words):
    engine = Engine(tiny)
    with pytest.raises(InputError, match=words):
        settings = engine.settings(**kwargs)
        engine.render(settings)


def test_robust_wakes_a_dead_centre_neuron():
    engine = Engine(dead_filter_model())
    result = engine.render(engine.settings("neuron(conv2:0)", steps=150, size=32))
    assert result.loss_history[0, 0] == 0.0
    assert result.activation[0] > 0


def test_a_model_of_one_fixed_size_is_only_shown_pictures_of_that_size():
    # Coarse to fine and the wake-up search's patches would feed it smaller pictures.
    fixed = keras_model_of_size(64)
    engine = Engine(LoadedModel(fixed, "fixed", "random", "fixed 64", "fixed64", lambda x: x,
                                layers=conv_catalog(fixed), input_size=64))
    result = engine.render(engine.settings(channels("conv2", [0, 1]), steps=16, size=64, seed=0))
    assert result.images.shape == (2, 64, 64, 3)
    assert {key[2] for key in engine._compiled} == {64}


def keras_model_of_size(size: int) -> keras.Model:
    """Two conv layers, then a Dense layer that only takes ``size`` px pictures."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv2")(x)
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
