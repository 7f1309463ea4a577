"""Objectives: what a picture maximises, as small objects that combine (Lucent's ``objectives.py``, for Keras).

An objective reads the responses of named layers and gives one number per picture. Objectives add, subtract
and scale by a number (see ``algebra.py``)::

    channel("block4_conv1", 7) - 0.5 * channel("block3_conv3", 12)
    channel("block1_conv1", 0) - diversity("block1_conv1")       # different copies of one filter

Each has a short text spec, ``str(objective)`` (``block4_conv1:7 - 0.5*block3_conv3:12``), that
``spec.parse`` turns back into an equal objective: it is the cache key, the URL value and the CLI argument.

A new objective is one class here with ``key``, ``numbers``, ``parts`` and ``__str__``, plus its rule in
``spec.py`` and its test.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import tensorflow as tf

from vizcore.algebra import Objective, Parts, Responses, no_penalty, number_text, weighted_terms
from vizcore.errors import InputError


def weighted_maps(activations: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Each picture's weighted sum of channel maps, ``[batch, h, w]`` (Lucid's neuron addition).

    A batched matrix product rather than a gather: on the CPU a gather along the channel axis, and even more
    its gradient, transposes the whole activation tensor every step.
    """
    shape = tf.shape(activations)
    flat = tf.reshape(activations, [shape[0], shape[1] * shape[2], shape[3]])
    return tf.reshape(tf.matmul(flat, weights[:, :, None]), shape[:3])


def soft_mean(pre_maps: tf.Tensor) -> tf.Tensor:
    """Mean of a softened ReLU of pre-activation maps, temperature = their spread over the map: on a silent
    filter the gradient leads from the places closest to firing, instead of vanishing (ReLU) or spreading
    over the whole map (plain mean)."""
    temperature = tf.stop_gradient(tf.math.reduce_std(pre_maps, axis=[1, 2], keepdims=True)) + 1e-3
    return tf.reduce_mean(temperature * tf.nn.softplus(pre_maps / temperature), axis=[1, 2])


@dataclass(frozen=True)
class OneLayer(Objective):
    """An objective on one layer; in the text spec ``kind(layer)`` unless it says more."""

    name: str
    kind: ClassVar[str] = ""

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.name,)

    def key(self) -> tuple:
        return (self.kind, self.name)

    def numbers(self, channels: Mapping[str, int]) -> list[np.ndarray]:
        return []

    def __str__(self) -> str:
        return f"{self.kind}({self.name})"


@dataclass(frozen=True)
class Direction(OneLayer):
    """The mean over the map of a direction in the layer's channel space (weights per channel, e.g. a
    concept vector); ``channel`` is the direction of one filter."""

    weights: tuple[tuple[int, float], ...] = ()  # (channel, weight) pairs, the others 0
    kind: ClassVar[str] = "direction"

    def numbers(self, channels: Mapping[str, int]) -> list[np.ndarray]:
        vector = np.zeros(channels[self.name], np.float32)
        for index, weight in self.weights:
            vector[index] += weight
        return [vector]

    def parts(self, responses: Responses, numbers: Iterator[tf.Tensor]) -> Parts:
        weights = next(numbers)
        response = tf.reduce_mean(weighted_maps(responses.post[self.name], weights), axis=[1, 2])
        return Parts(response, soft_mean(weighted_maps(responses.pre[self.name], weights)), no_penalty)

    def check(self, channels: Mapping[str, int]) -> None:
        super().check(channels)
        for index, _ in self.weights:
            _check_channel(self.name, index, channels)

    def __str__(self) -> str:
        pairs = ", ".join(f"{index}={number_text(weight)}" for index, weight in self.weights)
        return f"direction({self.name}: {pairs})"


def _check_channel(layer: str, index: int, channels: Mapping[str, int]) -> None:
    if not 0 <= index < channels[layer]:
        raise InputError(f"Filter {index} does not exist in {layer}: choose a filter from 0 to {channels[layer] - 1}.")


@dataclass(frozen=True)
class Channel(Direction):
    """The mean of one filter's whole map (the notebook's ``reduce_mean``): ``layer:filter``."""

    @property
    def filter(self) -> int | None:
        return self.weights[0][0]

    def search_form(self) -> Objective | None:
        return Neuron(self.name, self.filter)

    def __str__(self) -> str:
        return f"{self.name}:{self.filter}"


MAX_PLACE = 4096  # a neuron's map position: larger than any map; past the edge means the edge


@dataclass(frozen=True)
class Neuron(OneLayer):
    """One filter's response at one place of its map: the centre, or ``(x, y)`` counted on the map."""

    index: int = 0
    x: int | None = None
    y: int | None = None
    kind: ClassVar[str] = "neuron"
    texture = False  # one object at one place: never shaped on a periodic tile

    @property
    def filter(self) -> int | None:
        return self.index

    def key(self) -> tuple:
        return (self.kind, self.name, self.x is None)

    def numbers(self, channels: Mapping[str, int]) -> list[np.ndarray]:
        one_hot = np.zeros(channels[self.name], np.float32)
        one_hot[self.index] = 1.0
        return [one_hot] if self.x is None else [one_hot, np.array([self.y, self.x], np.int32)]

    def parts(self, responses: Responses, numbers: Iterator[tf.Tensor]) -> Parts:
        weights = next(numbers)
        place = None if self.x is None else next(numbers)
        response, wake = (at_place(weighted_maps(responses_at[self.name], weights), place)
                          for responses_at in (responses.post, responses.pre))
        return Parts(response, wake, no_penalty)

    def check(self, channels: Mapping[str, int]) -> None:
        super().check(channels)
        _check_channel(self.name, self.index, channels)
        for place in (self.x, self.y):
            if place is not None and not 0 <= place <= MAX_PLACE:
                raise InputError(f"A neuron's place on the map must be from 0 to {MAX_PLACE} (got {place}); "
                                 "places past the map's edge mean its edge.")

    def __str__(self) -> str:
        where = "" if self.x is None else f" @ {self.x},{self.y}"
        return f"neuron({self.name}:{self.index}{where})"


def at_place(maps: tf.Tensor, place: tf.Tensor | None) -> tf.Tensor:
    """Each map's value at its centre (``place`` None) or at ``place`` = (row, column) per picture,
    clipped to the map."""
    h, w = tf.shape(maps)[1], tf.shape(maps)[2]
    if place is None:
        return maps[:, h // 2, w // 2]
    rows = tf.clip_by_value(place[:, 0], 0, h - 1)
    columns = tf.clip_by_value(place[:, 1], 0, w - 1)
    return tf.gather_nd(maps, tf.stack([tf.range(tf.shape(maps)[0]), rows, columns], axis=1))


@dataclass(frozen=True)
class DeepDream(OneLayer):
    """DeepDream: the mean square of a whole layer's response (Lucid's ``deepdream``), every filter at once."""

    kind: ClassVar[str] = "dream"

    def parts(self, responses: Responses, numbers: Iterator[tf.Tensor]) -> Parts:
        response = tf.reduce_mean(tf.square(responses.post[self.name]), axis=[1, 2, 3])
        return Parts(response, tf.reduce_mean(tf.nn.softplus(responses.pre[self.name]), axis=[1, 2, 3]), no_penalty)


@dataclass(frozen=True)
class Diversity(OneLayer):
    """How alike the batch's pictures are in style at a layer (Lucid's ``diversity``): subtract it to make
    copies of one objective different, ``channel(L, f) - diversity(L)``.

    In units of what the batch pursues, so one weight suits shallow and deep layers alike; a picture whose
    response falls below 85-95 % of the strongest is pushed less, so no copy gives up its response to look
    different (without this, one copy of four often fell to a flat blob at a quarter of it; at 75-90 % the
    weakest of block3_conv1 7's copies kept 65 % of a single render's response, at 85-95 % 82 %).
    """

    kind: ClassVar[str] = "diversity"
    couples_pictures = True

    def parts(self, responses: Responses, numbers: Iterator[tf.Tensor]) -> Parts:
        activations = responses.post[self.name]

        def penalty(pursued: tf.Tensor) -> tf.Tensor:
            size = tf.stop_gradient(tf.reduce_mean(tf.abs(pursued)))
            return size * keep_pushing(pursued) * gram_similarity(activations)

        zeros = tf.zeros(tf.shape(activations)[:1])
        return Parts(zeros, zeros, penalty)


def keep_pushing(values: tf.Tensor, low: float = 0.85, high: float = 0.95) -> tf.Tensor:
    """Per picture, how hard it is pushed from the others: fully at ``high`` x the strongest response or
    more, not at all below ``low`` x."""
    share = values / tf.maximum(tf.reduce_max(values), 1e-6)
    return tf.stop_gradient(tf.clip_by_value((share - low) / (high - low), 0.0, 1.0))


def gram_similarity(activations: tf.Tensor) -> tf.Tensor:
    """Per picture, the mean cosine similarity of its Gram (style) matrix to the other pictures'; 0 for a
    batch of one."""
    batch, channels = tf.shape(activations)[0], tf.shape(activations)[3]
    features = tf.reshape(activations, [batch, -1, channels])
    grams = tf.matmul(features, features, transpose_a=True)
    grams = tf.math.l2_normalize(tf.reshape(grams, [batch, -1]), axis=1, epsilon=1e-10)
    similarity = tf.matmul(grams, grams, transpose_b=True) * (1.0 - tf.eye(batch))
    return tf.reduce_sum(similarity, axis=1) / tf.cast(tf.maximum(batch - 1, 1), tf.float32)


# The building blocks, named as in Lucent.
def channel(layer: str, index: int) -> Objective:
    """One filter's whole map: what the filter responds to everywhere."""
    return Channel(layer, ((int(index), 1.0),))


def neuron(layer: str, index: int, x: int | None = None, y: int | None = None) -> Objective:
    """One filter at the centre of its map (or at map position ``x``, ``y``): one object at one place."""
    return Neuron(layer, int(index), x, y)


def blend(layer: str, first: int, second: int, mix: float) -> Objective:
    """Two filters of a layer mixed: ``(1 - mix)`` of the first plus ``mix`` of the second."""
    return (1.0 - mix) * channel(layer, first) + mix * channel(layer, second)


def direction(layer: str, vector: Sequence[float] | Mapping[int, float]) -> Objective:
    """A direction over the layer's channels: a full vector, or {channel: weight} for the non-zero ones."""
    pairs = vector.items() if isinstance(vector, Mapping) else enumerate(vector)
    return Direction(layer, tuple((int(i), float(w)) for i, w in pairs if w != 0))


def deepdream(layer: str) -> Objective:
    """Every filter of the layer at once (the mean square response): DeepDream from noise."""
    return DeepDream(layer)


def diversity(layer: str) -> Objective:
    """The style similarity of the batch's pictures at ``layer``: subtract it to make copies differ."""
    return Diversity(layer)


# The objectives the dashboard and the CLI offer for one filter of a layer, by name.
PER_FILTER: dict[str, Callable[[str, int], Objective]] = {"channel": channel, "neuron": neuron}


def channels(layer: str, filters: Sequence[int]) -> list[Objective]:
    """One channel objective per filter: a row of pictures, a grid page, a whole layer."""
    return [channel(layer, index) for index in filters]


def with_diversity(objective: Objective, strength: float) -> Objective:
    """Copies of ``objective`` pushed apart in style at its layer with ``strength`` (1: as strongly as the
    objective itself pulls)."""
    return objective - strength * diversity(objective.layer)


def diversity_strength(objective: Objective) -> float:
    """How strongly copies of ``objective`` are pushed apart (0 if they are not)."""
    return 0.0 - sum(weight for weight, term in weighted_terms(objective) if isinstance(term, Diversity))
