"""The optimisation loop: compiled steps cached per (layer, method, size, objective), run as a
generator of frames so a UI can draw progress live and stop at any time."""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from vizcore import validate
from vizcore.cache import CachedPicture, RenderCache
from vizcore.errors import InputError
from vizcore.methods import Method, get_method
from vizcore.models import LoadedModel
from vizcore.objectives import OBJECTIVES, WAKE_UP


@dataclass(frozen=True)
class Settings:
    """Everything that determines a render (with the model's weights fingerprint)."""

    layer: str
    filters: tuple[int, ...]
    method: str
    steps: int
    size: int
    learning_rates: tuple[float, ...]
    seed: int = 0
    objective: str = "channel"


@dataclass
class RenderResult:
    """Finished pictures (uint8, one per filter/rate), loss history ``[steps, batch]`` and final activation."""

    settings: Settings
    images: np.ndarray
    loss_history: np.ndarray
    activation: np.ndarray
    notes: list[str] = field(default_factory=list)

    def caption(self, index: int = 0) -> str:
        """One line naming what picture ``index`` shows and how it was made."""
        s = self.settings
        return (f"{s.layer} filter {s.filters[index]} · {get_method(s.method).title} · {len(self.loss_history)} "
                f"iterations · learning rate {s.learning_rates[index]:g} · {s.size} px · seed {s.seed}")


@dataclass
class Frame:
    """Progress after ``step`` of ``total`` steps; ``images`` every few steps; ``result`` on the last frame."""

    step: int
    total: int
    losses: np.ndarray
    images: np.ndarray | None = None
    result: RenderResult | None = None


@dataclass
class CompiledSteps:
    """The graph-compiled functions for one (layer, method, size, objective)."""

    method: Method
    init: Callable[[int, np.random.Generator], np.ndarray]
    step: Callable
    to_image: Callable
    evaluate: Callable


def compile_steps(model: LoadedModel, layer: str, method: Method, size: int, objective: str) -> CompiledSteps:
    """Build the ascent step once; filter indices, learning rates, step and seed are tensor arguments."""
    maximise, wake_up = OBJECTIVES[objective], WAKE_UP[objective]
    probe = model.probe(layer)
    activation = model.activation_fn(layer)
    parameterisation = method.parameterisation(size)
    transform = method.transform(size)

    def to_model_input(images: tf.Tensor) -> tf.Tensor:
        return model.preprocess(images * 255.0) if method.preprocess else images

    def score(images: tf.Tensor, filter_index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        z = probe(to_model_input(images))
        return maximise(activation(z), filter_index), wake_up(z, filter_index)

    @tf.function
    def step(params, state, filter_index, learning_rate, t, seed, awake):
        with tf.GradientTape() as tape:
            tape.watch(params)
            images = parameterisation.to_image(params)
            # A silent filter is woken on the plain image: the pattern it needs is often too fine
            # to survive random resampling.
            images = tf.where(awake[:, None, None, None], transform(images, seed), images)
            value, pre_activation = score(images, filter_index)
            if method.pass_dead_gradients:
                # A filter silent on the whole image has zero gradient: follow its pre-activation instead.
                target = tf.where(value > 0, value, pre_activation)
            else:
                target = value
            total = tf.reduce_sum(target)
        grad = tape.gradient(total, params)
        if parameterisation.wake_only is not None:
            grad = tf.where((value > 0)[:, None], grad * (1.0 - parameterisation.wake_only), grad)
        params, state = method.rule.update(params, grad, state, learning_rate, t)
        return params, state, value, value > 0

    @tf.function
    def evaluate(images, filter_index):
        return score(images, filter_index)[0]

    return CompiledSteps(method, parameterisation.init, step, tf.function(parameterisation.to_image), evaluate)


class Engine:
    """One loaded model plus its compiled steps; safe to share between threads (UI sessions)."""

    def __init__(self, model: LoadedModel, cache: RenderCache | None = None):
        self.model = model
        self.cache = cache
        self._compiled: dict[tuple, CompiledSteps] = {}
        self._lock = threading.Lock()

    def compiled(self, layer: str, method: Method, size: int, objective: str = "channel") -> CompiledSteps:
        """The cached compiled steps for this combination (built on first use)."""
        if objective not in OBJECTIVES:
            raise InputError(f"Unknown objective '{objective}'. Choose one of: {', '.join(OBJECTIVES)}.")
        key = (layer, method.name, size, objective)
        with self._lock:
            if key not in self._compiled:
                self._compiled[key] = compile_steps(self.model, layer, method, size, objective)
            return self._compiled[key]

    def settings(self, layer: str, filters: Sequence[int], method: str = "robust", steps: int | None = None,
                 size: int = 128, learning_rates: Sequence[float] | None = None, seed: int = 0,
                 objective: str = "channel") -> Settings:
        """Validate user settings (plain-words InputError on bad input) and fill in method defaults."""
        recipe = get_method(method)
        info = self.model.layer(layer)
        checked_filters = validate.check_filters(info, list(filters))
        rates = validate.check_learning_rates(list(learning_rates) if learning_rates else [recipe.default_lr])
        checked_filters, rates = validate.pair_up(checked_filters, rates)
        return Settings(layer, tuple(checked_filters), recipe.name,
                        validate.check_steps(recipe.default_steps if steps is None else steps),
                        validate.check_size(size, self.model.input_size), tuple(rates), validate.check_seed(seed),
                        objective)

    def run(self, settings: Settings, preview_every: int = 10) -> Iterator[Frame]:
        """Optimise; yield a Frame after every step (with images every ``preview_every`` steps).

        If every picture is in the disk cache, yield one final frame at once instead.
        """
        cached = self.cached_result(settings)
        if cached is not None:
            yield Frame(settings.steps, settings.steps, cached.loss_history, cached.images, cached)
            return
        for frame in self._optimise(settings, preview_every):
            if frame.result is not None:
                self.store(frame.result)
            yield frame

    def _optimise(self, settings: Settings, preview_every: int) -> Iterator[Frame]:
        method = get_method(settings.method)
        compiled = self.compiled(settings.layer, method, settings.size, settings.objective)
        batch = len(settings.filters)
        # One start image and one transform per step for the whole batch: a picture does not
        # depend on what else is rendered with it.
        start = compiled.init(1, np.random.default_rng(settings.seed))
        params = tf.constant(np.repeat(start, batch, axis=0))
        state = method.rule.init(params)
        filter_index = tf.constant(settings.filters, tf.int32)
        learning_rate = tf.constant(settings.learning_rates, tf.float32)
        awake = tf.ones([batch], tf.bool)
        history: list[np.ndarray] = []
        notes: list[str] = []
        for t in range(1, settings.steps + 1):
            params, state, value, awake = compiled.step(params, state, filter_index, learning_rate,
                                                        tf.constant(float(t)),
                                                        tf.constant([settings.seed, t], tf.int64), awake)
            history.append(value.numpy())
            if t == 1:
                notes = dead_start_notes(method, settings, history[0])
            last = t == settings.steps
            images = method.display(compiled.to_image(params).numpy()) if last or t % preview_every == 0 else None
            frame = Frame(t, settings.steps, np.array(history), images)
            if last:
                frame.result = RenderResult(settings, images, frame.losses,
                                            self.activation(settings, images), notes)
            yield frame

    def _cache_keys(self, settings: Settings) -> list[str]:
        common = dict(layer=settings.layer, method=settings.method, steps=settings.steps, size=settings.size,
                      seed=settings.seed, objective=settings.objective)
        return [self.cache.key(self.model.fingerprint, filter=f, learning_rate=lr, **common)
                for f, lr in zip(settings.filters, settings.learning_rates)]

    def cached_result(self, settings: Settings) -> RenderResult | None:
        """The finished result from the disk cache, if every picture of it is there."""
        if self.cache is None:
            return None
        pictures = [self.cache.get(key) for key in self._cache_keys(settings)]
        if any(p is None for p in pictures):
            return None
        return RenderResult(settings, np.stack([p.image for p in pictures]),
                            np.stack([p.loss_history for p in pictures], axis=1),
                            np.array([p.activation for p in pictures], np.float32))

    def store(self, result: RenderResult) -> None:
        """Save each finished picture to the disk cache (if there is one)."""
        if self.cache is None:
            return
        for i, key in enumerate(self._cache_keys(result.settings)):
            self.cache.put(key, CachedPicture(result.images[i], result.loss_history[:, i],
                                              float(result.activation[i])))

    def activation(self, settings: Settings, images: np.ndarray) -> np.ndarray:
        """Mean filter response to the pictures as displayed (uint8), one value per picture."""
        compiled = self.compiled(settings.layer, get_method(settings.method), settings.size, settings.objective)
        scaled = tf.constant(images.astype(np.float32) / 255.0)
        return compiled.evaluate(scaled, tf.constant(settings.filters, tf.int32)).numpy()

    def render(self, settings: Settings) -> RenderResult:
        """Run to the end and return the result."""
        for frame in self.run(settings, preview_every=settings.steps):
            if frame.result is not None:
                return frame.result
        raise AssertionError("the loop always ends with a result")


def dead_start_notes(method: Method, settings: Settings, first_values: np.ndarray) -> list[str]:
    """Plain-words notes for filters that do not respond at all to the starting image."""
    notes = []
    for index, value in zip(settings.filters, first_values):
        if value <= 0:
            if method.pass_dead_gradients:
                notes.append(f"Filter {index} did not respond to the starting image; the method followed its "
                             "response before the ReLU until it woke up.")
            else:
                notes.append(f"Filter {index} does not respond at all to the starting noise, so this method "
                             "gets no gradient and the picture cannot change (loss stays 0). "
                             "Try the Robust method.")
    return list(dict.fromkeys(notes))
