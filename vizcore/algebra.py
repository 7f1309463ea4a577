"""The objective algebra: what every objective tells the compiled step, and sums and multiples of objectives.

``Objective`` is the base of the objectives in ``objectives.py``: they add, subtract and scale by a number
(``+``, ``-``, ``*``); ``str()`` gives the text spec that ``spec.parse`` reads back. An objective is compiled
once per ``key`` (its kinds and layers); the numbers that change between pictures (which channel, a weight, a
position) come from ``numbers`` and reach the compiled step as tensors, stacked over the batch, so another
filter or weight never retraces it. Inside the step ``parts`` gives the response, its wake-up companion for
silent starts (followed before the ReLU, where a silent filter still has a gradient) and any penalty that
couples the batch's pictures (diversity).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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
        return Sum(terms_of(self) + terms_of(other))

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


def terms_of(objective: Objective) -> tuple[Objective, ...]:
    """The terms of a sum, or the objective itself."""
    return objective.terms if isinstance(objective, Sum) else (objective,)


def weighted_terms(objective: Objective) -> list[tuple[float, Objective]]:
    """Each term with its weight: ``0.5*a - b`` gives (0.5, a) and (-1, b)."""
    return [(term.weight, term.term) if isinstance(term, Scaled) else (1.0, term) for term in terms_of(objective)]


def number_text(value: float) -> str:
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
        return f"-{inner}" if self.weight == -1 else f"{number_text(self.weight)}*{inner}"
