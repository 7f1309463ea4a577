"""Objectives as text: ``parse`` reads the spec that ``str(objective)`` writes (the CLI's ``--objective``, the
dashboard's links, the cache key), and ``describe`` says in plain words what a picture maximises."""
from __future__ import annotations

import math
import re

from vizcore.algebra import Objective, number_text, weighted_terms
from vizcore.errors import InputError
from vizcore.objectives import (
    Channel,
    DeepDream,
    Direction,
    Diversity,
    Neuron,
    channel,
    deepdream,
    direction,
    diversity,
    neuron,
)

# The text spec: ``term (+|- term)*``, a term ``[number *] atom``, an atom ``layer:filter``,
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
            weight = self.number()
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
        return sign * self.number()

    def number(self) -> float:
        text = self.take("number")
        if not math.isfinite(float(text)):
            raise self.error(f"'{text}' is too large a number")
        return float(text)


def as_objective(value: str | Objective) -> Objective:
    """An objective from itself or its spec."""
    return value if isinstance(value, Objective) else parse(value)


def describe(objective: Objective, layer: str | None = None) -> str:
    """Plain words for what a picture maximises, e.g. 'filter 12 + filter 40 (75/25)' or 'filter 7 -
    block3_conv3 filter 12'; layers other than ``layer`` are named. Diversity terms are left out."""
    layer = objective.layer if layer is None else layer
    kept = [(weight, term) for weight, term in weighted_terms(objective) if not isinstance(term, Diversity)]
    weights, bare = [weight for weight, _ in kept], [term for _, term in kept]
    if len(bare) == 2 and all(isinstance(b, Channel) and b.name == layer for b in bare) and min(weights) >= 0 \
            and abs(sum(weights) - 1) < 1e-6:  # a blend
        second = round(100 * weights[1])
        return f"filter {bare[0].filter} + filter {bare[1].filter} ({100 - second}/{second})"
    words = ""
    for weight, term in zip(weights, bare):
        named = _words(term, layer)
        size = "" if abs(weight) == 1 else f"{number_text(abs(weight))} × "
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
