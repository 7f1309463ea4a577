"""The optimisation loop: compiled steps cached per (layer, method, size, objective, diversity), run as a
generator of frames so a UI can draw progress live and stop at any time."""
from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import tensorflow as tf

from vizcore import validate, wake
from vizcore.cache import CachedPicture, RenderCache
from vizcore.errors import InputError
from vizcore.methods import Method, Stage, get_method
from vizcore.models import LoadedModel
from vizcore.objectives import OBJECTIVES, WAKE_UP, channel_weights, gram_similarity
from vizcore.optim import per_image
from vizcore.param import Params

PREPARE_STEPS = 8  # enough for every stage of a coarse-to-fine render to run at least once


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
    blend_filter: int | None = None  # a second filter mixed into every picture's objective
    mixes: tuple[float, ...] = ()  # per picture, the second filter's weight (only with blend_filter)
    copies: int = 1  # more than 1: different pictures of one filter in one batch (diversity)
    diversity: float = 0.0  # how strongly the copies are pushed apart (only with copies)

    def mix(self, index: int = 0) -> float:
        """The second filter's weight in picture ``index`` (0 without a blend)."""
        return self.mixes[index] if self.mixes else 0.0

    def pictures(self, positions: Sequence[int]) -> Settings:
        """These settings for the pictures at ``positions`` only (a position may repeat), each rendered alone."""
        return replace(self, filters=tuple(self.filters[i] for i in positions), copies=1,
                       mixes=tuple(self.mixes[i] for i in positions) if self.mixes else ())

    @property
    def whole_filter(self) -> bool:
        """True when each picture maximises one filter's whole map: what the quality score compares."""
        return self.objective == "channel" and self.blend_filter is None


@dataclass
class RenderResult:
    """Finished pictures (uint8, one per filter/rate), loss history ``[steps, batch]`` and final activation."""

    settings: Settings
    images: np.ndarray
    loss_history: np.ndarray
    activation: np.ndarray
    notes: list[str] = field(default_factory=list)
    similarity: float | None = None  # mean pairwise style similarity of the copies (diversity renders only)

    def caption(self, index: int = 0) -> str:
        """One line naming what picture ``index`` shows and how it was made."""
        return picture_caption(self.settings, index, len(self.loss_history))


def picture_caption(settings: Settings, index: int, iterations: int) -> str:
    """One line naming what picture ``index`` of these settings shows and how it was made."""
    s = settings
    parts = [f"{s.layer} {target_words(s, index)}", get_method(s.method).title, f"{iterations} iterations",
             f"learning rate {s.learning_rates[index]:g}", f"{s.size} px", f"seed {s.seed}"]
    if s.copies > 1:
        parts[1:1] = [f"copy {index + 1} of {s.copies}", f"diversity {s.diversity:g}"]
    return " · ".join(parts)


def target_words(settings: Settings, index: int = 0) -> str:
    """What picture ``index`` maximises, e.g. 'filter 12 + filter 40 (50/50) · centre neuron'."""
    words = f"filter {settings.filters[index]}"
    if settings.blend_filter is not None:
        second = round(100 * settings.mix(index))
        words += f" + filter {settings.blend_filter} ({100 - second}/{second})"
    return words + (" · centre neuron" if settings.objective == "neuron" else "")


def goal_for(settings: Settings, channels: int) -> tf.Tensor:
    """What each picture maximises: its weights over the layer's ``channels``, ``[batch, channels]``.

    A tensor argument of the compiled step, so other filters or mixes never retrace it.
    """
    filters = list(settings.filters)
    second = filters if settings.blend_filter is None else [settings.blend_filter] * len(filters)
    return tf.constant(channel_weights(channels, filters, second, [settings.mix(i) for i in range(len(filters))]))


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
    """The graph-compiled functions for one (layer, method, size, objective, diversity)."""

    method: Method
    init: Callable[[int, np.random.Generator], Params]
    tile: Callable[[Params, int], Params] | None
    step: Callable
    to_image: Callable
    evaluate: Callable
    similarity: Callable


def compile_steps(model: LoadedModel, layer: str, method: Method, size: int, objective: str,
                  diverse: bool = False) -> CompiledSteps:
    """Build the ascent step once; the goal (filters, blend, mix), learning rates, step, seed and diversity
    weight are tensor arguments. ``diverse`` adds the term that pushes the batch's pictures apart."""
    maximise, wake_up = OBJECTIVES[objective], method.search_objective or WAKE_UP[objective]
    probe = model.probe(layer)
    activation = model.activation_fn(layer)
    parameterisation = method.parameterisation(size)
    transform = method.transform(size)

    def to_model_input(images: tf.Tensor) -> tf.Tensor:
        return model.preprocess(images * 255.0) if method.preprocess else images

    def score(images: tf.Tensor, goal: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        z = probe(to_model_input(images))
        activations = activation(z)
        return maximise(activations, goal), wake_up(z, goal), activations

    @tf.function
    def step(params, state, goal, learning_rate, t, seed, awake, diversity):
        with tf.GradientTape() as tape:
            tape.watch(params)
            images = parameterisation.to_image(params)
            # A silent filter is woken on the plain image: the pattern it needs is often too fine
            # to survive random resampling.
            images = tf.where(awake[:, None, None, None], transform(images, seed), images)
            value, pre_activation, activations = score(images, goal)
            if method.search_objective is not None:
                target = pre_activation
            elif method.pass_dead_gradients:
                # A filter silent on the whole image has zero gradient: follow its pre-activation instead.
                target = tf.where(value > 0, value, pre_activation)
            else:
                target = value
            total = tf.reduce_sum(target)
            if diverse:
                # In units of the objective's size, so one strength suits shallow and deep layers alike.
                scale = tf.stop_gradient(tf.reduce_sum(tf.abs(target)))
                total -= diversity * scale * gram_similarity(activations, keep_pushing(value))
        grads = tape.gradient(total, params)
        silent = tf.cast(value <= 0, tf.float32)
        grads = tuple(grad * per_image(silent, grad) if wake_only else grad
                      for grad, wake_only in zip(grads, parameterisation.wake_only))
        params, state = method.rule.update(params, grads, state, learning_rate, t)
        if parameterisation.project is not None:
            params = parameterisation.project(params)
        return params, state, value, value > 0

    @tf.function
    def evaluate(images, goal):
        return score(images, goal)[0]

    @tf.function
    def similarity(images):
        return gram_similarity(activation(probe(to_model_input(images))))

    return CompiledSteps(method, parameterisation.init, parameterisation.tile, step,
                         tf.function(parameterisation.to_image), evaluate, similarity)


def check_objective(objective: str) -> str:
    """The objective's name, or a plain message listing the choices."""
    if objective not in OBJECTIVES:
        raise InputError(f"Unknown objective '{objective}'. Choose one of: {', '.join(OBJECTIVES)}.")
    return objective


class Engine:
    """One loaded model plus its compiled steps; safe to share between threads (UI sessions)."""

    def __init__(self, model: LoadedModel, cache: RenderCache | None = None):
        self.model = model
        self.cache = cache
        self._compiled: dict[tuple, CompiledSteps] = {}
        self._prepared: set[tuple] = set()
        self._lock = threading.Lock()

    def compiled(self, layer: str, method: Method, size: int, objective: str = "channel",
                 diverse: bool = False) -> CompiledSteps:
        """The cached compiled steps for this combination (built on first use)."""
        key = (layer, method.name, size, check_objective(objective), diverse)
        with self._lock:
            if key not in self._compiled:
                self._compiled[key] = compile_steps(self.model, layer, method, size, objective, diverse)
            return self._compiled[key]

    def prepare(self, settings: Settings) -> None:
        """Trace the compiled steps these settings run on (a step's first call takes seconds), by a few
        throw-away steps through every stage, so that a render started later shows its first picture at once."""
        key = (settings.layer, settings.method, settings.size, settings.objective, settings.copies,
               len(settings.filters))
        with self._lock:
            if key in self._prepared:
                return
            self._prepared.add(key)
        trial = replace(settings, steps=PREPARE_STEPS)
        for _, compiled, params, _ in self._steps(trial, get_method(settings.method)):
            compiled.to_image(params)
        self.activation(settings, np.zeros((len(settings.filters), settings.size, settings.size, 3), np.uint8))

    def compiled_for(self, settings: Settings) -> CompiledSteps:
        """The compiled steps these settings run on."""
        return self.compiled(settings.layer, get_method(settings.method), settings.size, settings.objective,
                             settings.copies > 1)

    def settings(self, layer: str, filters: Sequence[int], method: str = "robust", steps: int | None = None,
                 size: int = 128, learning_rates: Sequence[float] | None = None, seed: int = 0,
                 objective: str = "channel", blend_filter: int | None = None, mix: float | Sequence[float] = 0.0,
                 copies: int = 1, diversity: float = 0.0) -> Settings:
        """Validate user settings (plain-words InputError on bad input) and fill in method defaults.

        ``blend_filter`` with ``mix`` (one weight, or one per picture: a blend strip) mixes a second filter in;
        ``copies`` above 1 renders that many different pictures of one filter, pushed apart by ``diversity``.
        """
        recipe = get_method(method)
        info = self.model.layer(layer)
        checked_filters = validate.check_filters(info, list(filters))
        rates = validate.check_learning_rates(list(learning_rates) if learning_rates else [recipe.default_lr])
        checked_filters, rates = validate.pair_up(checked_filters, rates)
        mixes = validate.check_blend(info, checked_filters, blend_filter,
                                     [mix] if isinstance(mix, (int, float)) else list(mix))
        checked_filters, rates, mixes = validate.spread(checked_filters, rates, mixes)
        copies = validate.check_copies(copies, len(checked_filters))
        if copies > 1:
            checked_filters, rates, mixes = checked_filters * copies, rates * copies, mixes * copies
        return Settings(layer, tuple(checked_filters), recipe.name,
                        validate.check_steps(recipe.default_steps if steps is None else steps),
                        validate.check_size(size, self.model.input_size), tuple(rates), validate.check_seed(seed),
                        check_objective(objective), blend_filter, tuple(mixes), copies,
                        validate.check_diversity(diversity) if copies > 1 else 0.0)

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
        for t, compiled, params, value in self._steps(settings, method):
            history.append(value.numpy())
            last = t == settings.steps
            preview = last or t % preview_every == 0 or t in preview_at
            images = full_size(method.display(compiled.to_image(params).numpy()), settings.size) if preview else None
            frame = Frame(t, settings.steps, np.array(history), images)
            if last:
                activation = self.activation(settings, images)
                found = (self._search_silent(settings, method.search, images, activation)
                         if method.search is not None and np.any(activation <= 0) else {})
                notes = dead_start_notes(method, settings, history[0], activation, found) + list(found.values())
                frame.result = RenderResult(settings, images, frame.losses, activation, notes,
                                            self.similarity(settings, images))
            yield frame

    def _search_silent(self, settings: Settings, search: Method, images: np.ndarray,
                       activation: np.ndarray) -> dict[int, str]:
        """Run ``search`` on small patches for the pictures whose filter is still silent (see wake.py); where
        the best patch, repeated, makes the filter fire, it replaces the picture (in place, in ``images`` and
        ``activation``). Returns a note per picture replaced."""
        silent = np.flatnonzero(activation <= 0)
        layer = self.model.layer(settings.layer)
        side = settings.size if self.model.input_size is not None else wake.patch_side(layer, settings.size)
        starts = wake.start_count(side, settings.size)
        searched = np.repeat(silent, starts)
        patches = replace(settings.pictures(searched), size=side, learning_rates=(search.default_lr,) * len(searched),
                          steps=search.default_steps, objective="neuron")
        *_, (_, compiled, params, _) = self._steps(patches, search)
        found = compiled.to_image(params)
        centre = compiled.evaluate(found, goal_for(patches, layer.filters)).numpy().reshape(len(silent), starts)
        best = found.numpy().reshape(len(silent), starts, side, side, 3)[np.arange(len(silent)), centre.argmax(1)]
        pictures = search.display(wake.repeat_patch(best, settings.size, layer.stride))
        found_activation = self.activation(settings.pictures(silent), pictures)
        notes = {}
        for k, i in enumerate(silent):
            if found_activation[k] > 0:
                images[i], activation[i] = pictures[k], found_activation[k]
                notes[int(i)] = (f"Filter {settings.filters[i]} stayed silent on smooth pictures; a search over "
                                 "small patches of full-contrast noise found one it responds to, repeated here, "
                                 "so this picture is grainier.")
        return notes

    def _steps(self, settings: Settings, method: Method) -> Iterator[tuple[int, CompiledSteps, Params, tf.Tensor]]:
        """Run the compiled steps stage by stage; yield the iteration, its stage's steps, parameters and values."""
        goal = goal_for(settings, self.model.layer(settings.layer).filters)
        learning_rate = tf.constant(settings.learning_rates, tf.float32)
        diversity = tf.constant(settings.diversity, tf.float32)
        awake = tf.ones([len(settings.filters)], tf.bool)
        params: Params | None = None
        size = t = 0
        receptive_field = self.model.layer(settings.layer).receptive_field
        stages = (method.stages(settings.size, settings.steps, settings.objective, receptive_field)
                  if self.model.input_size is None else [Stage(settings.size, settings.steps)])
        for stage in stages:
            compiled = self.compiled(settings.layer, method, stage.size, settings.objective, settings.copies > 1)
            # Each stage starts its optimiser afresh; a later stage starts from the earlier picture, tiled.
            start = (start_params(compiled, settings) if params is None else
                     compiled.tile(tuple(p.numpy() for p in params), stage.size // size))
            params, size = tuple(tf.constant(p) for p in start), stage.size
            state = method.rule.init(params)
            for local_t in range(1, stage.steps + 1):
                t += 1
                params, state, value, awake = compiled.step(
                    params, state, goal, learning_rate, tf.constant(float(local_t)),
                    tf.constant([settings.seed, t], tf.int64), awake, diversity)
                yield t, compiled, params, value

    def _cache_keys(self, settings: Settings) -> list[str]:
        common = dict(layer=settings.layer, method=settings.method, steps=settings.steps, size=settings.size,
                      seed=settings.seed, objective=settings.objective)
        # Only non-default extras enter the key, so plain renders keep the keys they always had.
        extras = [{} for _ in settings.filters]
        for i, extra in enumerate(extras):
            if settings.blend_filter is not None:
                extra.update(blend_filter=settings.blend_filter, mix=settings.mix(i))
            if settings.copies > 1:
                extra.update(copies=settings.copies, diversity=settings.diversity, copy=i)
        return [self.cache.key(self.model.fingerprint, filter=f, learning_rate=lr, **common, **extra)
                for f, lr, extra in zip(settings.filters, settings.learning_rates, extras)]

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
        """Mean filter response to the pictures as displayed (uint8), one value per picture."""
        scaled = tf.constant(images.astype(np.float32) / 255.0)
        goal = goal_for(settings, self.model.layer(settings.layer).filters)
        return self.compiled_for(settings).evaluate(scaled, goal).numpy()

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


def keep_pushing(values: tf.Tensor, low: float = 0.75, high: float = 0.9) -> tf.Tensor:
    """How hard each copy of a diversity render is pushed away from the others: fully while its response is
    at least ``high`` x the strongest copy's, not at all below ``low`` x, so no copy gives up its response
    to look different (without this, one copy of four often fell to a flat blob at a quarter of it)."""
    share = values / tf.maximum(tf.reduce_max(values), 1e-6)
    return tf.stop_gradient(tf.clip_by_value((share - low) / (high - low), 0.0, 1.0))


def start_params(compiled: CompiledSteps, settings: Settings) -> Params:
    """The starting parameters: one random image for the whole batch, so a picture does not depend on what
    else is rendered with it; copies of a diversity render each start from their own (seed + copy), and so
    does every patch of a wake-up search."""
    searching = compiled.method.search_objective is not None
    if not searching and settings.copies == 1:
        return tuple(np.repeat(p, len(settings.filters), axis=0)
                     for p in compiled.init(1, np.random.default_rng(settings.seed)))
    seeds = ([[settings.seed, f, settings.filters[:i].count(f)] for i, f in enumerate(settings.filters)]
             if searching else [settings.seed + i for i in range(settings.copies)])  # the k-th patch of f; copy i
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
