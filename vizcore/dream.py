"""DeepDream on a photo: amplify what a layer (or one filter) sees, octave by octave.

The recipe of the TensorFlow DeepDream tutorial: gradient ascent on the photo itself, the gradient
divided by its standard deviation, a random roll of the picture each step so no tile seams form,
and octaves from a small copy of the photo up to its full size (the dreamed picture is enlarged
before each octave). The picture stays in 0-255 RGB and goes through ``model.preprocess`` inside the
graph: for a per-channel shift such as VGG16's caffe preprocessing this is exactly the ascent in
the model's input space (same gradient, same valid range), and the step size is in pixel levels
whatever the preprocessing.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from vizcore import options, validate
from vizcore.errors import InputError
from vizcore.metrics import natural_photo
from vizcore.models import LoadedModel
from vizcore.photos import read_photo_file, shrunk

# The limits the command line shows are defined in options.py (it answers without TensorFlow).
MIN_OCTAVES, DEFAULT_OCTAVES = options.DREAM_MIN_OCTAVES, options.DREAM_DEFAULT_OCTAVES
MAX_OCTAVES = options.DREAM_MAX_OCTAVES
MIN_STEPS, DEFAULT_STEPS, MAX_STEPS = options.DREAM_MIN_STEPS, options.DREAM_DEFAULT_STEPS, options.DREAM_MAX_STEPS
DEFAULT_STEP_SIZE, MAX_STEP_SIZE = options.DREAM_DEFAULT_STEP_SIZE, options.DREAM_MAX_STEP_SIZE
DEFAULT_OCTAVE_SCALE = 1.3
MIN_OCTAVE_SIDE = 32  # the smallest octave's shorter side, in pixels
MIN_SIDE, DEFAULT_SIDE, MAX_SIDE = options.DREAM_MIN_SIDE, options.DREAM_DEFAULT_SIDE, options.DREAM_MAX_SIDE
SAMPLE_PREFIX = options.DREAM_SAMPLE_PREFIX
SAMPLE_PHOTOS = {"chelsea": "Cat", "astronaut": "Astronaut", "coffee": "Coffee cup", "rocket": "Rocket launch",
                 "stereo_motorcycle": "Motorcycle"}  # bundled photos (a few of vizcore.metrics.NATURAL_PHOTOS)
WHOLE_LAYER = -1  # the filter index that means "every filter of the layer"

_IMAGE = tf.TensorSpec([None, None, 3], tf.float32)
_INDEX = tf.TensorSpec([], tf.int32)


@dataclass(frozen=True)
class DreamSettings:
    """Everything that determines a dream besides the photo and the model."""

    layer: str
    filter: int | None = None  # None: the whole layer
    octaves: int = DEFAULT_OCTAVES
    octave_scale: float = DEFAULT_OCTAVE_SCALE
    steps_per_octave: int = DEFAULT_STEPS
    step_size: float = DEFAULT_STEP_SIZE
    seed: int = 0

    @property
    def total_steps(self) -> int:
        return self.octaves * self.steps_per_octave

    def target(self) -> str:
        """What is amplified, in words: 'block4_conv3' or 'block4_conv3 filter 12'."""
        return self.layer if self.filter is None else f"{self.layer} filter {self.filter}"


@dataclass
class DreamFrame:
    """The picture (uint8, at this octave's size) and the objective after ``step`` of ``total`` steps."""

    octave: int
    octaves: int
    step: int
    total: int
    objective: float  # the objective just before this step's change
    picture: np.ndarray

    @property
    def final(self) -> bool:
        """True on the last frame, whose picture is the finished dream at the photo's size."""
        return self.step == self.total


@dataclass(frozen=True)
class DreamStep:
    """The compiled functions for one (model, layer); image sizes, filter and step size are tensor arguments."""

    model: LoadedModel
    layer: str
    step: Callable  # (image [h, w, 3] 0-255, filter index, step size, roll [2]) -> (new image, objective)
    objective: Callable  # (image [h, w, 3] 0-255, filter index) -> objective


def compile_dream_step(model: LoadedModel, layer: str) -> DreamStep:
    """Build the ascent step of ``layer`` once: any photo size, any filter (or the whole layer), any step size."""
    model.layer(layer)
    probe, activation = model.probe(layer), model.activation_fn(layer)

    def layer_objective(image: tf.Tensor, filter_index: tf.Tensor) -> tf.Tensor:
        response = activation(probe(model.preprocess(image[None])))
        whole = tf.reduce_mean(tf.square(response))  # DeepDream's objective: everything the layer sees
        one = tf.reduce_mean(tf.gather(response, tf.maximum(filter_index, 0), axis=-1))
        return tf.where(filter_index < 0, whole, one)

    @tf.function(input_signature=[_IMAGE, _INDEX, tf.TensorSpec([], tf.float32), tf.TensorSpec([2], tf.int32)])
    def step(image, filter_index, step_size, roll):
        rolled = tf.roll(image, roll, axis=[0, 1])
        with tf.GradientTape() as tape:
            tape.watch(rolled)
            value = layer_objective(rolled, filter_index)
        gradient = tf.roll(tape.gradient(value, rolled), -roll, axis=[0, 1])
        gradient /= tf.math.reduce_std(gradient) + 1e-8
        return tf.clip_by_value(image + step_size * gradient, 0.0, 255.0), value

    objective = tf.function(layer_objective, input_signature=[_IMAGE, _INDEX])
    return DreamStep(model, layer, step, objective)


def octave_shapes(height: int, width: int, octaves: int, octave_scale: float) -> list[tuple[int, int]]:
    """(height, width) of each octave, smallest first; the last is the photo's own size."""
    return [(round(height / octave_scale ** k), round(width / octave_scale ** k)) for k in reversed(range(octaves))]


def check_settings(model: LoadedModel, shape: tuple[int, ...], settings: DreamSettings) -> DreamSettings:
    """Plain-words InputError for settings that cannot work on this photo; the settings otherwise."""
    model.check_any_size("DeepDream")
    info = model.layer(settings.layer)
    if settings.filter is not None:
        validate.check_filters(info, [settings.filter])
    validate.whole_in_range(settings.octaves, MIN_OCTAVES, MAX_OCTAVES, f"Octaves must be a whole number from "
                            f"{MIN_OCTAVES} to {MAX_OCTAVES} (got {settings.octaves}).")
    validate.whole_in_range(settings.steps_per_octave, MIN_STEPS, MAX_STEPS, f"Steps per octave must be a whole "
                            f"number from {MIN_STEPS} to {MAX_STEPS} (got {settings.steps_per_octave}).")
    validate.number_in_range(settings.step_size, 0.0, MAX_STEP_SIZE, f"Strength must be a number above 0 and at "
                             f"most {MAX_STEP_SIZE:g} (got {settings.step_size}).", above_low=True)
    validate.number_in_range(settings.octave_scale, 1.0, 2.0, "The octave scale must be a number above 1 and at "
                             f"most 2 (got {settings.octave_scale}).", above_low=True)
    validate.check_seed(settings.seed)
    small_height, small_width = octave_shapes(shape[0], shape[1], settings.octaves, settings.octave_scale)[0]
    if min(small_height, small_width) < MIN_OCTAVE_SIDE:
        raise InputError(f"The photo ({shape[1]} x {shape[0]} pixels) is too small for {settings.octaves} octaves: "
                         f"the smallest would be {small_width} x {small_height} pixels, and each side needs at "
                         f"least {MIN_OCTAVE_SIDE}. Use fewer octaves or a larger photo.")
    return settings


def dream(model: LoadedModel, photo_uint8: np.ndarray, layer: str, filter: int | None = None,
          octaves: int = DEFAULT_OCTAVES, octave_scale: float = DEFAULT_OCTAVE_SCALE,
          steps_per_octave: int = DEFAULT_STEPS, step_size: float = DEFAULT_STEP_SIZE, seed: int = 0,
          compiled: DreamStep | None = None) -> Iterator[DreamFrame]:
    """Dream on ``photo_uint8`` ([h, w, 3] uint8 RGB); yield a DreamFrame after every step.

    ``filter=None`` amplifies the whole layer (mean of squared responses), else that filter's mean
    response. Settings are checked at once (InputError); pass ``compiled`` (from ``compile_dream_step``)
    to reuse a step across calls.
    """
    settings = check_settings(model, photo_uint8.shape,
                              DreamSettings(layer, filter, octaves, octave_scale, steps_per_octave, step_size, seed))
    if compiled is None:
        compiled = compile_dream_step(model, layer)
    elif compiled.model is not model or compiled.layer != layer:
        raise ValueError(f"the compiled step is for {compiled.layer} of another model")
    return _dream_frames(compiled, photo_uint8, settings)


def _dream_frames(compiled: DreamStep, photo: np.ndarray, settings: DreamSettings) -> Iterator[DreamFrame]:
    rng = np.random.default_rng(settings.seed)
    filter_index = tf.constant(WHOLE_LAYER if settings.filter is None else settings.filter, tf.int32)
    step_size = tf.constant(settings.step_size, tf.float32)
    image = tf.constant(photo, tf.float32)
    shapes = octave_shapes(photo.shape[0], photo.shape[1], settings.octaves, settings.octave_scale)
    done = 0
    for octave, shape in enumerate(shapes, start=1):
        if tuple(image.shape[:2]) != shape:  # the photo shrunk to the first octave, then the dream enlarged
            image = tf.clip_by_value(tf.image.resize(image, shape, method="bicubic"), 0.0, 255.0)
        for _ in range(settings.steps_per_octave):
            roll = tf.constant(rng.integers(0, shape, size=2), tf.int32)  # a random roll hides tile seams
            image, value = compiled.step(image, filter_index, step_size, roll)
            done += 1
            yield DreamFrame(octave, settings.octaves, done, settings.total_steps, float(value),
                             to_uint8(image.numpy()))


def nothing_to_amplify(filter: int | None, first_objective: float) -> str | None:
    """A plain note when the photo gives the objective nothing to work with (the picture cannot change)."""
    if first_objective > 0:
        return None
    what = "This layer does" if filter is None else f"Filter {filter} does"
    return (f"{what} not respond anywhere in this photo, so there is nothing to amplify and the photo stays as "
            "it was. Try another filter, another layer or another photo.")


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A 0-255 float picture rounded to uint8."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def dream_objective(compiled: DreamStep, picture: np.ndarray, filter: int | None = None) -> float:
    """The dream's objective (whole layer, or one filter) on a uint8 picture."""
    index = WHOLE_LAYER if filter is None else filter
    return float(compiled.objective(tf.constant(picture, tf.float32), tf.constant(index, tf.int32)))


def check_side(side: int) -> int:
    """The working size (the photo's longer side) must be from MIN_SIDE to MAX_SIDE pixels."""
    return validate.whole_in_range(side, MIN_SIDE, MAX_SIDE, f"The photo size must be a whole number of pixels "
                                   f"from {MIN_SIDE} to {MAX_SIDE} (got {side}).")


def sample_photo(name: str, max_side: int = DEFAULT_SIDE) -> np.ndarray:
    """A bundled sample photo (a key of SAMPLE_PHOTOS) as uint8 RGB, shrunk to ``max_side``."""
    if name not in SAMPLE_PHOTOS:
        raise InputError(f"There is no sample photo '{name}'. Samples: {', '.join(SAMPLE_PHOTOS)}.")
    return shrunk(natural_photo(name), check_side(max_side))


def load_photo(source: str | Path, max_side: int = DEFAULT_SIDE) -> np.ndarray:
    """A photo file (JPEG/PNG), or ``sample:NAME`` for a bundled one, shrunk to ``max_side`` pixels."""
    text = str(source)
    if text.startswith(SAMPLE_PREFIX):
        return sample_photo(text[len(SAMPLE_PREFIX):], max_side)
    return read_photo_file(source, check_side(max_side))
