"""DeepDream on a photo: the objective climbs, octaves go from small to the photo's size, one compiled step
serves every photo size and filter, bad settings get plain messages; and on the real VGG16 a block3 dream
raises the layer's response."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from vizcore.dream import (
    MAX_OCTAVES,
    MAX_STEPS,
    SAMPLE_PHOTOS,
    compile_dream_step,
    dream,
    dream_objective,
    load_photo,
    nothing_to_amplify,
    octave_shapes,
    sample_photo,
)
from vizcore.errors import InputError


def photo(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth random colour picture (uint8 RGB)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC))


def last(frames) -> np.ndarray:
    """The finished picture (the last frame's)."""
    *_, final = frames
    assert final.final
    return final.picture


def test_the_whole_layer_objective_rises_step_by_step(tiny):
    frames = list(dream(tiny, photo(), "conv2", octaves=1, steps_per_octave=8, step_size=3.0))
    values = [frame.objective for frame in frames]
    assert values[-1] > values[0] * 1.2
    compiled = compile_dream_step(tiny, "conv2")
    assert dream_objective(compiled, frames[-1].picture) > dream_objective(compiled, photo())


def test_one_filter_objective_rises_more_for_that_filter_than_the_whole_layer_dream(tiny):
    compiled = compile_dream_step(tiny, "conv1")
    original = photo(seed=3)
    for_filter = last(dream(tiny, original, "conv1", filter=2, octaves=1, steps_per_octave=6, compiled=compiled))
    before = dream_objective(compiled, original, filter=2)
    assert dream_objective(compiled, for_filter, filter=2) > before
    for_other = last(dream(tiny, original, "conv1", filter=0, octaves=1, steps_per_octave=6, compiled=compiled))
    assert dream_objective(compiled, for_filter, filter=2) > dream_objective(compiled, for_other, filter=2)


def test_octaves_go_from_small_to_the_photo_size(tiny):
    assert octave_shapes(100, 130, 3, 1.25) == [(64, 83), (80, 104), (100, 130)]
    frames = list(dream(tiny, photo(90, 120), "conv1", octaves=3, octave_scale=1.4, steps_per_octave=2))
    shapes = [frame.picture.shape for frame in frames]
    assert shapes == [(46, 61, 3)] * 2 + [(64, 86, 3)] * 2 + [(90, 120, 3)] * 2
    assert [frame.octave for frame in frames] == [1, 1, 2, 2, 3, 3]
    assert [frame.step for frame in frames] == list(range(1, 7)) and frames[0].total == 6
    assert [frame.final for frame in frames] == [False] * 5 + [True]


def test_the_result_has_the_photo_shape_and_type(tiny):
    original = photo(57, 41)
    result = last(dream(tiny, original, "conv2", octaves=2, steps_per_octave=2))
    assert result.shape == original.shape and result.dtype == np.uint8
    assert not np.array_equal(result, original)


def test_one_compiled_step_serves_every_photo_size_filter_and_strength(tiny):
    compiled = compile_dream_step(tiny, "conv2")
    for shape, index, strength in (((48, 64), 1, 1.0), ((70, 50), 4, 2.5), ((44, 44), None, 0.5)):
        last(dream(tiny, photo(*shape), "conv2", filter=index, octaves=2, steps_per_octave=2, step_size=strength,
                   compiled=compiled))
        dream_objective(compiled, photo(*shape), index)
    assert compiled.step.experimental_get_tracing_count() == 1
    assert compiled.objective.experimental_get_tracing_count() == 1


def test_the_same_seed_gives_the_same_dream_and_another_seed_another(tiny):
    def run(seed: int) -> np.ndarray:
        return last(dream(tiny, photo(), "conv2", octaves=2, steps_per_octave=4, step_size=4.0, seed=seed))

    first, again, other = run(5), run(5), run(6)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first.astype(int) - other.astype(int)).mean() > 0.5


def test_a_filter_silent_on_the_photo_leaves_it_unchanged_and_says_so(tiny):
    black = np.zeros((40, 40, 3), np.uint8)
    silent = list(dream(tiny, black, "conv1", filter=3, octaves=1, steps_per_octave=3))
    assert silent[0].objective == 0
    np.testing.assert_array_equal(silent[-1].picture, black)
    assert "Filter 3 does not respond anywhere in this photo" in nothing_to_amplify(3, silent[0].objective)
    awake = list(dream(tiny, black, "conv1", filter=1, octaves=1, steps_per_octave=3))
    assert awake[0].objective > 0 and nothing_to_amplify(1, awake[0].objective) is None
    assert not np.array_equal(awake[-1].picture, black)


@pytest.mark.parametrize("kwargs, words", [
    (dict(layer="conv9"), "Unknown layer 'conv9'"),
    (dict(filter=6), "choose a filter from 0 to 5"),
    (dict(filter=-1), "choose a filter from 0 to 5"),
    (dict(octaves=0), f"Octaves must be a whole number from 1 to {MAX_OCTAVES}"),
    (dict(octaves=7), f"Octaves must be a whole number from 1 to {MAX_OCTAVES}"),
    (dict(octaves=2.5), "Octaves must be a whole number"),
    (dict(steps_per_octave=0), f"Steps per octave must be a whole number from 1 to {MAX_STEPS}"),
    (dict(steps_per_octave=201), f"from 1 to {MAX_STEPS}"),
    (dict(step_size=0.0), "Strength must be a number above 0"),
    (dict(step_size=-1.0), "Strength must be a number above 0"),
    (dict(step_size=float("nan")), "Strength must be a number above 0"),
    (dict(step_size=float("inf")), "Strength must be a number above 0"),
    (dict(octave_scale=1.0), "octave scale must be a number above 1"),
    (dict(octaves=4, octave_scale=1.5), "too small for 4 octaves: the smallest would be 19 x 14 pixels"),
    (dict(seed=-3), "Seed must be a whole number"),
])
def test_bad_settings_are_refused_at_once_in_plain_words(tiny, kwargs, words):
    arguments = dict(layer="conv2", octaves=1, steps_per_octave=2) | kwargs
    with pytest.raises(InputError, match=words):
        dream(tiny, photo(48, 64), **arguments)  # raised by the call itself, before any frame


def test_samples_and_photo_files_load_at_the_working_size(tmp_path):
    cat = sample_photo("chelsea", 200)
    assert cat.dtype == np.uint8 and max(cat.shape[:2]) == 200 and cat.shape[2] == 3
    assert load_photo("sample:chelsea", 200).shape == cat.shape
    assert set(SAMPLE_PHOTOS) >= {"chelsea", "astronaut"}
    path = tmp_path / "picture.png"
    Image.fromarray(photo(300, 400)).save(path)
    assert load_photo(path, 256).shape == (192, 256, 3)


@pytest.mark.parametrize("source, size, words", [
    ("sample:dog", 384, "no sample photo 'dog'"),
    ("sample:chelsea", 64, "photo size must be a whole number of pixels from 128 to 768"),
    ("missing.png", 384, r"There is no file \S*missing.png"),
])
def test_bad_photo_choices_are_refused_in_plain_words(tmp_path, source, size, words):
    with pytest.raises(InputError, match=words):
        load_photo(tmp_path / source if not source.startswith("sample:") else source, size)


def test_a_file_that_is_not_a_photo_gets_the_photo_readers_message(tmp_path):
    path = tmp_path / "notes.png"
    path.write_bytes(b"just some text, not a picture")
    with pytest.raises(InputError, match="notes.png is not a JPEG or PNG photo"):
        load_photo(path)
    buffer = io.BytesIO()
    Image.fromarray(photo()).save(buffer, format="PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[:200])
    with pytest.raises(InputError, match="damaged or cut short"):
        load_photo(tmp_path / "cut.png")


@pytest.mark.slow
def test_a_block3_dream_on_the_real_vgg16_raises_the_layer_response(vgg16):
    original = sample_photo("chelsea", 128)
    compiled = compile_dream_step(vgg16, "block3_conv1")
    result = last(dream(vgg16, original, "block3_conv1", octaves=1, steps_per_octave=4, compiled=compiled))
    assert result.shape == original.shape
    assert dream_objective(compiled, result) > 1.2 * dream_objective(compiled, original)
