"""The optimisation loop: compiled steps cached per (objective kind, method, size), run as a
generator of frames so a UI can draw progress live and stop at any time. (About 380 lines: the settings, the
compiled step and the engine that caches it; objectives, recipes and the wake-up search have their own modules.)"""
from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import tensorflow as tf

from vizcore import validate, wake
from vizcore.algebra import Objective, Parts, Responses
from vizcore.cache import CachedPicture, RenderCache
from vizcore.methods import Method, Stage, get_method
from vizcore.models import LoadedModel
from vizcore.objectives import Channel, gram_similarity
from vizcore.optim import per_image
from vizcore.param import Params
from vizcore.spec import as_objective

PREPARE_STEPS = 8  # enough for every stage of a coarse-to-fine render to run at least once


@dataclass(frozen=True)
class Settings:
    """Everything that determines a render (with the model's weights fingerprint): one objective per picture,
    all of one kind (equal ``key``), so they share one compiled step."""

    objectives: tuple[Objective, ...]
    method: str
    steps: int
    size: int
    learning_rates: tuple[float, ...]
    seed: int = 0

    @property
    def layer(self) -> str:
        """The layer the pictures are of (their objectives' first)."""
        return self.objectives[0].layer

    @property
    def filters(self) -> tuple[int | None, ...]:
        """Each picture's filter (None for a whole layer or a direction)."""
        return tuple(objective.filter for objective in self.objectives)

    @property
    def copies(self) -> int:
        """How many different copies of one objective are rendered together (1 unless they are pushed apart)."""
        return len(self.objectives) if self.objectives[0].couples_pictures else 1

    def pictures(self, positions: Sequence[int]) -> Settings:
        """These settings for the pictures at ``positions`` only (a position may repeat)."""
        return replace(self, objectives=tuple(self.objectives[i] for i in positions),
                       learning_rates=tuple(self.learning_rates[i] for i in positions))

    @property
    def whole_filter(self) -> bool:
        """True when each picture maximises one filter's whole map: what the quality score compares."""
        return all(isinstance(objective, Channel) for objective in self.objectives)


@dataclass
class RenderResult:
    """Finished pictures (uint8, one per filter/rate), loss history ``[steps, batch]`` and final activation."""

    settings: Settings
    images: np.ndarray
    loss_history: np.ndarray
    activation: np.ndarray
    notes: list[str] = field(default_factory=list)
    similarity: float | None = None  # mean pairwise style similarity of the copies (diversity renders only)


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
    """The graph-compiled functions for one (objective kind, method, size)."""

    method: Method
    init: Callable[[int, np.random.Generator], Params]
    tile: Callable[[Params, int], Params] | None
    step: Callable
    to_image: Callable
    evaluate: Callable
    similarity: Callable


def compile_steps(model: LoadedModel, objective: Objective, method: Method, size: int) -> CompiledSteps:
    """Build the ascent step once for objectives of ``objective.key()``; their numbers (filters, weights,
    places), the learning rates, step and seed are tensor arguments."""
    layers = objective.layers
    probe = model.probes(layers)
    activations = [model.activation_fn(layer) for layer in layers]
    parameterisation = method.parameterisation(size)
    transform = method.transform(size)

    def responses(images: tf.Tensor) -> Responses:
        pre = dict(zip(layers, probe(model.preprocess(images * 255.0) if method.preprocess else images)))
        return Responses({layer: act(pre[layer]) for layer, act in zip(layers, activations)}, pre)

    def parts(images: tf.Tensor, numbers: tuple[tf.Tensor, ...]) -> Parts:
        return objective.parts(responses(images), iter(numbers))

    @tf.function
    def step(params, state, numbers, learning_rate, t, seed, awake):
        with tf.GradientTape() as tape:
            tape.watch(params)
            images = parameterisation.to_image(params)
            # A silent filter is woken on the plain image: the pattern it needs is often too fine
            # to survive random resampling.
            images = tf.where(awake[:, None, None, None], transform(images, seed), images)
            found = parts(images, numbers)
            value = found.response
            if method.follows_wake:
                target = found.wake
            elif method.pass_dead_gradients:
                # A filter silent on the whole image has zero gradient: follow its pre-activation instead.
                target = tf.where(value > 0, value, found.wake)
            else:
                target = value
            total = tf.reduce_sum(target + found.penalty(target))
        grads = tape.gradient(total, params)
        silent = tf.cast(value <= 0, tf.float32)
        grads = tuple(grad * per_image(silent, grad) if wake_only else grad
                      for grad, wake_only in zip(grads, parameterisation.wake_only))
        params, state = method.rule.update(params, grads, state, learning_rate, t)
        if parameterisation.project is not None:
            params = parameterisation.project(params)
        return params, state, value, value > 0

    @tf.function(reduce_retracing=True)
    def evaluate(images, numbers):
        return parts(images, numbers).response

    @tf.function(reduce_retracing=True)
    def similarity(images):
        return tf.reduce_mean(gram_similarity(responses(images).post[objective.layer]))

    return CompiledSteps(method, parameterisation.init, parameterisation.tile, step,
                         tf.function(parameterisation.to_image), evaluate, similarity)


class Engine:
    """One loaded model plus its compiled steps; safe to share between threads (UI sessions)."""

    def __init__(self, model: LoadedModel, cache: RenderCache | None = None):
        self.model = model
        self.cache = cache
        self._compiled: dict[tuple, CompiledSteps] = {}
        self._prepared: set[tuple] = set()
        self._lock = threading.Lock()

    def compiled(self, objective: Objective, method: Method, size: int) -> CompiledSteps:
        """The cached compiled steps for objectives of this kind, method and size (built on first use)."""
        key = (objective.key(), method.name, size)
        with self._lock:
            if key not in self._compiled:
                self._compiled[key] = compile_steps(self.model, objective, method, size)
            return self._compiled[key]

    def prepare(self, settings: Settings) -> None:
        """Trace the compiled steps these settings run on (a step's first call takes seconds), by a few
        throw-away steps through every stage, so that a render started later shows its first picture at once."""
        key = (settings.objectives[0].key(), settings.method, settings.size, len(settings.objectives))
        with self._lock:
            if key in self._prepared:
                return
            self._prepared.add(key)
        trial = replace(settings, steps=PREPARE_STEPS)
        for _, compiled, params, _ in self.steps(trial, get_method(settings.method)):
            compiled.to_image(params)
        self.activation(settings, np.zeros((len(settings.objectives), settings.size, settings.size, 3), np.uint8))

    def compiled_for(self, settings: Settings) -> CompiledSteps:
        """The compiled steps these settings' finished pictures are measured with."""
        return self.compiled(settings.objectives[0], get_method(settings.method), settings.size)

    def numbers(self, settings: Settings) -> tuple[tf.Tensor, ...]:
        """The pictures' objective numbers stacked over the batch: tensor arguments of the compiled step, so
        other filters, weights or places never retrace it."""
        channels = self.channels
        rows = [objective.numbers(channels) for objective in settings.objectives]
        return tuple(tf.constant(np.stack(column)) for column in zip(*rows))

    @property
    def channels(self) -> dict[str, int]:
        """How many channels (filters) each layer has: what objectives are checked against."""
        return {info.name: info.filters for info in self.model.layers}

    def settings(self, objective: str | Objective | Sequence[str | Objective], method: str = "robust",
                 steps: int | None = None, size: int = 128, learning_rates: Sequence[float] | None = None,
                 seed: int = 0, copies: int = 1) -> Settings:
        """Validate user settings (plain-words InputError on bad input) and fill in method defaults.

        ``objective``: one objective or spec (``"block3_conv1:12"``), or one per picture (all of one kind);
        one learning rate, or one per picture (one objective with several rates: a comparison). ``copies``
        renders that many different pictures of one objective that pushes pictures apart (``diversity``).
        """
        recipe = get_method(method)
        objectives = validate.check_objectives(
            [as_objective(o) for o in ([objective] if isinstance(objective, (str, Objective)) else objective)],
            self.channels)
        rates = validate.check_learning_rates(list(learning_rates) if learning_rates else [recipe.default_lr])
        objectives, rates = validate.pair_up(objectives, rates)
        copies = validate.check_copies(copies, objectives)
        return Settings(tuple(objectives * copies), recipe.name,
                        validate.check_steps(recipe.default_steps if steps is None else steps),
                        validate.check_size(size, self.model.input_size), tuple(rates * copies),
                        validate.check_seed(seed))

    def run(self, settings: Settings, preview_every: int = 10, use_cache: bool = True,
            preview_at: Collection[int] = ()) -> Iterator[Frame]:
        """Optimise; yield a Frame after every step, with images every ``preview_every`` steps and at the
        steps in ``preview_at``.

        If every picture is in the disk cache (and ``use_cache``), yield one final frame at once instead.
        """
        cached = self.cached_result(settings) if use_cache else None
        if cached is not None:
            yield Frame(settings.steps, settings.steps, cached.loss_history, cached.images, cached)
            return
        for frame in self._optimise(settings, preview_every, preview_at):
            if frame.result is not None:
                self.store(frame.result)
            yield frame

    def _optimise(self, settings: Settings, preview_every: int, preview_at: Collection[int]) -> Iterator[Frame]:
        method = get_method(settings.method)
        history: list[np.ndarray] = []
        for t, compiled, params, value in self.steps(settings, method):
            history.append(value.numpy())
            last = t == settings.steps
            preview = last or t % preview_every == 0 or t in preview_at
            images = full_size(method.display(compiled.to_image(params).numpy()), settings.size) if preview else None
            frame = Frame(t, settings.steps, np.array(history), images)
            if last:
                activation = self.activation(settings, images)
                found = (wake.search_silent(self, settings, method.search, images, activation)
                         if method.search is not None and np.any(activation <= 0) else {})
                notes = dead_start_notes(method, settings, history[0], activation, found) + list(found.values())
                frame.result = RenderResult(settings, images, frame.losses, activation, notes,
                                            self.similarity(settings, images))
            yield frame

    def stages(self, settings: Settings, method: Method) -> list[Stage]:
        """The render's stages: coarse to fine for a texture objective on a model of any size, else one."""
        objective = settings.objectives[0]
        receptive_field = max(self.model.layer(layer).receptive_field for layer in objective.layers)
        return method.stages(settings.size, settings.steps, objective.texture and self.model.input_size is None,
                             receptive_field)

    def compiled_already(self, settings: Settings) -> bool:
        """True when every step these settings run on is compiled (a render then starts at once)."""
        method = get_method(settings.method)
        keys = {(settings.objectives[0].key(), method.name, stage.size) for stage in self.stages(settings, method)}
        with self._lock:
            return keys <= self._compiled.keys()

    def steps(self, settings: Settings, method: Method) -> Iterator[tuple[int, CompiledSteps, Params, tf.Tensor]]:
        """Run the compiled steps stage by stage; yield the iteration, its stage's steps, parameters and values."""
        numbers = self.numbers(settings)
        learning_rate = tf.constant(settings.learning_rates, tf.float32)
        awake = tf.ones([len(settings.objectives)], tf.bool)
        params: Params | None = None
        size = t = 0
        objective = settings.objectives[0]
        for stage in self.stages(settings, method):
            compiled = self.compiled(objective, method, stage.size)
            # Each stage starts its optimiser afresh; a later stage starts from the earlier picture, tiled.
            start = (start_params(compiled, settings) if params is None else
                     compiled.tile(tuple(p.numpy() for p in params), stage.size // size))
            params, size = tuple(tf.constant(p) for p in start), stage.size
            state = method.rule.init(params)
            for local_t in range(1, stage.steps + 1):
                t += 1
                params, state, value, awake = compiled.step(
                    params, state, numbers, learning_rate, tf.constant(float(local_t)),
                    tf.constant([settings.seed, t], tf.int64), awake)
                yield t, compiled, params, value

    def _cache_keys(self, settings: Settings) -> list[str]:
        common = dict(method=settings.method, steps=settings.steps, size=settings.size, seed=settings.seed)
        # Copies pushed apart depend on how many there are and which one this is.
        copies = [dict(copies=settings.copies, copy=i) if settings.copies > 1 else {}
                  for i in range(len(settings.objectives))]
        return [self.cache.key(self.model.fingerprint, objective=str(objective), learning_rate=lr, **common, **copy)
                for objective, lr, copy in zip(settings.objectives, settings.learning_rates, copies)]

    def cached_result(self, settings: Settings) -> RenderResult | None:
        """The finished result from the disk cache, if every picture of it is there."""
        if self.cache is None:
            return None
        pictures = [self.cache.get(key, settings.size, settings.steps) for key in self._cache_keys(settings)]
        if any(p is None for p in pictures):
            return None
        images = np.stack([p.image for p in pictures])
        return RenderResult(settings, images, np.stack([p.loss_history for p in pictures], axis=1),
                            np.array([p.activation for p in pictures], np.float32),
                            similarity=self.similarity(settings, images))

    def store(self, result: RenderResult) -> None:
        """Save each finished picture to the disk cache (if there is one); a note on the result if it cannot."""
        if self.cache is None:
            return
        problems = [self.cache.put(key, CachedPicture(result.images[i], result.loss_history[:, i],
                                                      float(result.activation[i])))
                    for i, key in enumerate(self._cache_keys(result.settings))]
        result.notes.extend(dict.fromkeys(problem for problem in problems if problem))

    def activation(self, settings: Settings, images: np.ndarray) -> np.ndarray:
        """Each picture's objective response to the pictures as displayed (uint8), one value per picture."""
        scaled = tf.constant(images.astype(np.float32) / 255.0)
        return self.compiled_for(settings).evaluate(scaled, self.numbers(settings)).numpy()

    def similarity(self, settings: Settings, images: np.ndarray) -> float | None:
        """Mean pairwise style similarity of a diversity render's pictures (1 = same style); None otherwise."""
        if settings.copies == 1:
            return None
        scaled = tf.constant(images.astype(np.float32) / 255.0)
        return float(self.compiled_for(settings).similarity(scaled))

    def render(self, settings: Settings) -> RenderResult:
        """Run to the end and return the result."""
        for frame in self.run(settings, preview_every=settings.steps):
            if frame.result is not None:
                return frame.result
        raise AssertionError("the loop always ends with a result")


def start_params(compiled: CompiledSteps, settings: Settings) -> Params:
    """The starting parameters: one random image for the whole batch, so a picture does not depend on what
    else is rendered with it; copies pushed apart each start from their own (seed + copy), and so does every
    patch of a wake-up search."""
    searching = compiled.method.follows_wake
    objectives = settings.objectives
    if not searching and settings.copies == 1:
        return tuple(np.repeat(p, len(objectives), axis=0)
                     for p in compiled.init(1, np.random.default_rng(settings.seed)))
    # the k-th patch of a filter; copy i
    seeds = ([[settings.seed, o.filter, objectives[:i].count(o)] for i, o in enumerate(objectives)]
             if searching else [settings.seed + i for i in range(settings.copies)])
    starts = [compiled.init(1, np.random.default_rng(seed)) for seed in seeds]
    return tuple(np.concatenate(arrays) for arrays in zip(*starts))


def full_size(images: np.ndarray, size: int) -> np.ndarray:
    """Pictures of a coarse stage tiled to the render's size, so every frame shows the whole picture."""
    factor = size // images.shape[1]
    return images if factor == 1 else np.tile(images, (1, factor, factor, 1))


def dead_start_notes(method: Method, settings: Settings, first_values: np.ndarray,
                     final_activation: np.ndarray, searched: Collection[int] = ()) -> list[str]:
    """Plain-words notes for filters that did not respond at all to the starting image (and whether they woke);
    the pictures at positions ``searched`` came from a wake-up search, which has its own note."""
    notes = []
    for position, (index, first, last) in enumerate(zip(settings.filters, first_values, final_activation)):
        if first > 0 or position in searched:
            continue
        if not method.pass_dead_gradients:
            notes.append(f"Filter {index} does not respond at all to the starting noise, so this method "
                         "gets no gradient and the picture cannot change (loss stays 0). "
                         "Try the Robust method.")
        elif last > 0:
            notes.append(f"Filter {index} did not respond to the starting image; the method followed its "
                         "response before the ReLU until it woke up.")
        else:
            notes.append(f"Filter {index} did not respond to the starting image and still does not after "
                         f"{settings.steps} iterations, although the method followed its response before the "
                         "ReLU: try more iterations or another image size.")
    return list(dict.fromkeys(notes))
