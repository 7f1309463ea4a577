"""Objectives: what a picture maximises, as small objects that combine (Lucent's ``objectives.py``, for Keras).

An objective reads the responses of named layers and gives one number per picture. Objectives add, subtract
and scale by a number::

    channel("block4_conv1", 7) - 0.5 * channel("block3_conv3", 12)
    channel("block1_conv1", 0) - diversity("block1_conv1")       # different copies of one filter

Each has a short text spec, ``str(objective)`` (``block4_conv1:7 - 0.5*block3_conv3:12``), that ``parse``
turns back into an equal objective: it is the cache key, the URL value and the CLI argument.

An objective is compiled once per ``key`` (its kinds and layers). The numbers that change between pictures
(which channel, a weight, a position) come from ``numbers`` and reach the compiled step as tensors, stacked
over the batch, so another filter or weight never retraces it. Inside the step ``parts`` gives the response,
its wake-up companion for silent starts (followed before the ReLU, where a silent filter still has a
gradient) and any penalty that couples the batch's pictures (diversity).

A new objective is one class here with ``key``, ``numbers``, ``parts``, ``__str__`` and a rule in ``parse``.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from vizcore.errors import InputError

Penalty = Callable[[tf.Tensor], tf.Tensor]


@dataclass(frozen=True)
class Responses:
    """A batch's responses at the layers an objective reads: after the layer's activation function (``post``)
    and before it (``pre``), each ``[batch, h, w, channels]``."""

    post: Mapping[str, tf.Tensor]
    pre: Mapping[str, tf.Tensor]


@dataclass(frozen=True)
class Parts:
    """What the compiled step needs from an objective, per picture: the response it maximises, what a silent
    picture follows instead, and a penalty given what the batch pursues (0 unless pictures are coupled)."""

    response: tf.Tensor
    wake: tf.Tensor
    penalty: Penalty

    def __add__(self, other: Parts) -> Parts:
        return Parts(self.response + other.response, self.wake + other.wake,
                     lambda pursued: self.penalty(pursued) + other.penalty(pursued))

    def scaled(self, weight: tf.Tensor) -> Parts:
        return Parts(weight * self.response, weight * self.wake, lambda pursued: weight * self.penalty(pursued))


def no_penalty(pursued: tf.Tensor) -> tf.Tensor:
    """The penalty of an objective that does not couple pictures."""
    return tf.zeros_like(pursued)


class Objective:
    """Base of all objectives: the algebra (``+``, ``-``, ``* number``) and what every objective tells."""

    texture = True  # its best picture fills the image, so it may be shaped on a small tile first (coarse to fine)
    couples_pictures = False  # its value for one picture depends on the others (diversity)

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers it reads, in order of first mention."""
        raise NotImplementedError

    def key(self) -> tuple:
        """What a compiled step depends on: equal keys share one compiled step."""
        raise NotImplementedError

    def numbers(self, channels: Mapping[str, int]) -> list[np.ndarray]:
        """This picture's numbers for the compiled step (``channels``: channel count per layer), in the order
        ``parts`` takes them."""
        raise NotImplementedError

    def parts(self, responses: Responses, numbers: Iterator[tf.Tensor]) -> Parts:
        """The response, wake-up companion and penalty, ``[batch]`` each, from the batch's stacked numbers."""
        raise NotImplementedError

    def check(self, channels: Mapping[str, int]) -> None:
        """InputError, in plain words, if it names a layer or channel the model does not have."""
        for layer in self.layers:
            if layer not in channels:
                raise InputError(f"Unknown layer '{layer}'. Valid layers: {', '.join(channels)}.")

    def search_form(self) -> Objective | None:
        """What a wake-up search on small patches follows when the picture stays silent, if it has one."""
        return None

    @property
    def layer(self) -> str:
        """The layer the picture is of: the first one it reads."""
        return self.layers[0]

    @property
    def filter(self) -> int | None:
        """The filter the picture is of: its first term's channel (None for a whole layer or a direction)."""
        return None

    def __add__(self, other: Objective) -> Objective:
        return Sum(_terms(self) + _terms(other))

    def __sub__(self, other: Objective) -> Objective:
        return self + -1.0 * other

    def __neg__(self) -> Objective:
        return -1.0 * self

    def __mul__(self, weight: float) -> Objective:
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            return NotImplemented
        return self.scaled(float(weight))

    __rmul__ = __mul__

    def scaled(self, weight: float) -> Objective:
        """This objective times ``weight``."""
        return Scaled(weight, self)


def _terms(objective: Objective) -> tuple[Objective, ...]:
    return objective.terms if isinstance(objective, Sum) else (objective,)


def _number(value: float) -> str:
    """The shortest text that reads back as the same float ('0.5', '2', '-1e-05')."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


@dataclass(frozen=True)
class Sum(Objective):
    """The sum of its terms' responses (and penalties)."""

    terms: tuple[Objective, ...]

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(layer for term in self.terms for layer in term.layers))

    @property
    def texture(self) -> bool:  # type: ignore[override]
        return all(term.texture for term in self.terms)

    @property
    def couples_pictures(self) -> bool:  # type: ignore[override]
        return any(term.couples_pictures for term in self.terms)

    @property
    def filter(self) -> int | None:
        return self.terms[0].filter

    def key(self) -> tuple:
        return ("sum", *(term.key() for term in self.terms))

    def numbers(self, channels: Mapping[str, int]) -> list[np.ndarray]:
        return [number for term in self.terms for number in term.numbers(channels)]

    def parts(self, responses: Responses, numbers: Iterator[tf.Tensor]) -> Parts:
        total = self.terms[0].parts(responses, numbers)
        for term in self.terms[1:]:
            total = total + term.parts(responses, numbers)
        return total

    def check(self, channels: Mapping[str, int]) -> None:
        for term in self.terms:
            term.check(channels)

    def __str__(self) -> str:
        text = str(self.terms[0])
        for term in self.terms[1:]:
            spec = str(term)
            text += f" - {spec[1:]}" if spec.startswith("-") else f" + {spec}"
        return text


@dataclass(frozen=True)
class Scaled(Objective):
    """A number times an objective; the number is a tensor argument of the step (a blend strip's weights)."""

    weight: float
    term: Objective

    @property
    def layers(self) -> tuple[str, ...]:
        return self.term.layers

    @property
    def texture(self) -> bool:  # type: ignore[override]
        return self.term.texture

    @property
    def couples_pictures(self) -> bool:  # type: ignore[override]
        return self.term.couples_pictures

    @property
    def filter(self) -> int | None:
        return self.term.filter

    def key(self) -> tuple:
        return ("scaled", self.term.key())

    def scaled(self, weight: float) -> Objective:
        return Scaled(self.weight * weight, self.term)

    def numbers(self, channels: Mapping[str, int]) -> list[np.ndarray]:
        return [np.float32(self.weight), *self.term.numbers(channels)]

    def parts(self, responses: Responses, numbers: Iterator[tf.Tensor]) -> Parts:
        weight = next(numbers)
        return self.term.parts(responses, numbers).scaled(weight)

    def check(self, channels: Mapping[str, int]) -> None:
        self.term.check(channels)

    def __str__(self) -> str:
        inner = f"({self.term})" if isinstance(self.term, Sum) else str(self.term)
        return f"-{inner}" if self.weight == -1 else f"{_number(self.weight)}*{inner}"


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
class Direction(Objective):
    """The mean over the map of a direction in the layer's channel space (weights per channel, e.g. a
    concept vector); ``channel`` is the direction of one filter."""

    name: str
    weights: tuple[tuple[int, float], ...]  # (channel, weight) pairs, the others 0

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.name,)

    def key(self) -> tuple:
        return ("direction", self.name)

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
        pairs = ", ".join(f"{index}={_number(weight)}" for index, weight in self.weights)
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


@dataclass(frozen=True)
class Neuron(Objective):
    """One filter's response at one place of its map: the centre, or ``(x, y)`` counted on the map."""

    name: str
    index: int
    x: int | None = None
    y: int | None = None
    texture = False  # one object at one place: never shaped on a periodic tile

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.name,)

    @property
    def filter(self) -> int | None:
        return self.index

    def key(self) -> tuple:
        return ("neuron", self.name, self.x is None)

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
class DeepDream(Objective):
    """DeepDream: the mean square of a whole layer's response (Lucid's ``deepdream``), every filter at once."""

    name: str

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.name,)

    def key(self) -> tuple:
        return ("dream", self.name)

    def numbers(self, channels: Mapping[str, int]) -> list[np.ndarray]:
        return []

    def parts(self, responses: Responses, numbers: Iterator[tf.Tensor]) -> Parts:
        response = tf.reduce_mean(tf.square(responses.post[self.name]), axis=[1, 2, 3])
        return Parts(response, tf.reduce_mean(tf.nn.softplus(responses.pre[self.name]), axis=[1, 2, 3]), no_penalty)

    def __str__(self) -> str:
        return f"dream({self.name})"


@dataclass(frozen=True)
class Diversity(Objective):
    """How alike the batch's pictures are in style at a layer (Lucid's ``diversity``): subtract it to make
    copies of one objective different, ``channel(L, f) - diversity(L)``.

    In units of what the batch pursues, so one weight suits shallow and deep layers alike; a picture whose
    response falls below 85-95 % of the strongest is pushed less, so no copy gives up its response to look
    different (without this, one copy of four often fell to a flat blob at a quarter of it; at 75-90 % the
    weakest of block3_conv1 7's copies kept 65 % of a single render's response, at 85-95 % 82 %).
    """

    name: str
    couples_pictures = True

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.name,)

    def key(self) -> tuple:
        return ("diversity", self.name)

    def numbers(self, channels: Mapping[str, int]) -> list[np.ndarray]:
        return []

    def parts(self, responses: Responses, numbers: Iterator[tf.Tensor]) -> Parts:
        activations = responses.post[self.name]

        def penalty(pursued: tf.Tensor) -> tf.Tensor:
            size = tf.stop_gradient(tf.reduce_mean(tf.abs(pursued)))
            return size * keep_pushing(pursued) * gram_similarity(activations)

        zeros = tf.zeros(tf.shape(activations)[:1])
        return Parts(zeros, zeros, penalty)

    def __str__(self) -> str:
        return f"diversity({self.name})"


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


# --- The text spec: ``term (+|- term)*``, a term ``[number *] atom``, an atom ``layer:filter``,
# ``neuron(layer:filter [@ x,y])``, ``dream(layer)``, ``diversity(layer)``, ``direction(layer: i=w, ...)``
# or ``( spec )``.
_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?)|(?P<name>[A-Za-z_][\w.]*)"
                    r"|(?P<symbol>[-+*:()@,=]))", re.IGNORECASE)
MAX_SPEC = 2000


def parse(spec: str) -> Objective:
    """The objective a spec describes, or an InputError saying where the spec goes wrong."""
    if not isinstance(spec, str) or not spec.strip():
        raise InputError("The objective is empty: write e.g. 'block3_conv1:12' or "
                         "'block3_conv1:12 + 0.5*block3_conv1:40'.")
    if len(spec) > MAX_SPEC:
        raise InputError(f"The objective is too long ({len(spec)} characters; at most {MAX_SPEC}).")
    reader = _Reader(spec)
    objective = reader.expression()
    reader.end()
    return objective


class _Reader:
    """A recursive-descent reader over the spec's tokens."""

    def __init__(self, spec: str):
        self.spec = spec
        self.tokens: list[tuple[str, str]] = []
        position, text = 0, spec.rstrip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                raise self.error(f"'{text[position:].strip()[:20]}' is not understood")
            self.tokens.append((match.lastgroup or "", match.group(match.lastgroup or 0)))
            position = match.end()
        self.position = 0

    def error(self, problem: str) -> InputError:
        return InputError(f"The objective '{self.spec}' cannot be read: {problem}. Write e.g. 'block3_conv1:12', "
                          "'0.5*block3_conv1:12 + 0.5*block3_conv1:40', 'neuron(block4_conv1:7)', "
                          "'dream(block4_conv2)' or 'block4_conv1:7 - diversity(block4_conv1)'.")

    def peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def take(self, kind: str | None = None, text: str | None = None) -> str:
        if self.position >= len(self.tokens):
            raise self.error("it ends too early")
        token_kind, token = self.tokens[self.position]
        if (kind is not None and token_kind != kind) or (text is not None and token != text):
            raise self.error(f"'{text or kind}' was expected where it says '{token}'")
        self.position += 1
        return token

    def end(self) -> None:
        if self.peek() is not None:
            raise self.error(f"'{self.peek()}' is left over")

    def expression(self) -> Objective:
        negative = self.peek() == "-"
        if negative:
            self.take()
        total = self.term(negative)
        while self.peek() in ("+", "-"):
            total = total + self.term(negative=self.take() == "-")
        return total

    def term(self, negative: bool) -> Objective:
        weight = None
        if self.position < len(self.tokens) and self.tokens[self.position][0] == "number":
            weight = float(self.take("number"))
            self.take("symbol", "*")
        atom = self.atom()
        if weight is None:
            return -atom if negative else atom
        return (-weight if negative else weight) * atom

    def atom(self) -> Objective:
        if self.peek() == "(":
            self.take()
            inner = self.expression()
            self.take("symbol", ")")
            return inner
        name = self.take("name")
        if self.peek() == ":":
            self.take()
            return channel(name, self.whole())
        self.take("symbol", "(")
        if name == "neuron":
            layer = self.take("name")
            self.take("symbol", ":")
            index = self.whole()
            x = y = None
            if self.peek() == "@":
                self.take()
                x = self.whole()
                self.take("symbol", ",")
                y = self.whole()
            objective = neuron(layer, index, x, y)
        elif name in ("dream", "diversity"):
            objective = (deepdream if name == "dream" else diversity)(self.take("name"))
        elif name == "direction":
            layer = self.take("name")
            self.take("symbol", ":")
            pairs = {}
            while True:
                index = self.whole()
                self.take("symbol", "=")
                pairs[index] = self.signed()
                if self.peek() != ",":
                    break
                self.take()
            objective = direction(layer, pairs)
        else:
            raise self.error(f"'{name}(' is not a kind of objective (neuron, dream, diversity, direction)")
        self.take("symbol", ")")
        return objective

    def whole(self) -> int:
        text = self.take("number")
        if not text.isdigit():
            raise self.error(f"'{text}' should be a whole number")
        return int(text)

    def signed(self) -> float:
        sign = -1.0 if self.peek() == "-" and self.take() else 1.0
        return sign * float(self.take("number"))


def as_objective(value: str | Objective) -> Objective:
    """An objective from itself or its spec."""
    return value if isinstance(value, Objective) else parse(value)


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
    return 0.0 - sum(term.weight for term in _terms(objective)
                     if isinstance(term, Scaled) and isinstance(term.term, Diversity))


def describe(objective: Objective, layer: str | None = None) -> str:
    """Plain words for what a picture maximises, e.g. 'filter 12 + filter 40 (75/25)' or 'filter 7 -
    block3_conv3 filter 12'; layers other than ``layer`` are named. Diversity terms are left out."""
    layer = objective.layer if layer is None else layer
    terms = [term for term in _terms(objective)
             if not (isinstance(term, Scaled) and isinstance(term.term, Diversity)) and not isinstance(term, Diversity)]
    weights = [term.weight if isinstance(term, Scaled) else 1.0 for term in terms]
    bare = [term.term if isinstance(term, Scaled) else term for term in terms]
    if len(bare) == 2 and all(isinstance(b, Channel) and b.name == layer for b in bare) and min(weights) >= 0 \
            and abs(sum(weights) - 1) < 1e-6:  # a blend
        second = round(100 * weights[1])
        return f"filter {bare[0].filter} + filter {bare[1].filter} ({100 - second}/{second})"
    words = ""
    for weight, term in zip(weights, bare):
        named = _words(term, layer)
        size = "" if abs(weight) == 1 else f"{_number(abs(weight))} × "
        sign = ("-" if weight < 0 else "") if not words else (" - " if weight < 0 else " + ")
        words += f"{sign}{size}{named}"
    return words


def _words(objective: Objective, layer: str) -> str:
    where = "" if objective.layer == layer else f"{objective.layer} "
    if isinstance(objective, Channel):
        return f"{where}filter {objective.filter}"
    if isinstance(objective, Neuron):
        place = "centre neuron" if objective.x is None else f"neuron at {objective.x},{objective.y}"
        return f"{where}filter {objective.filter} · {place}"
    if isinstance(objective, DeepDream):
        return f"{where}every filter (DeepDream)"
    if isinstance(objective, Direction):
        return f"{where}a direction over {len(objective.weights)} filters"
    return f"({describe(objective, layer)})"
