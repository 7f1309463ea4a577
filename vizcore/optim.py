"""Update rules written as pure tensor functions so the whole step compiles into one graph.

Each rule has ``init(params) -> state`` and ``update(params, grad, state, lr, t) -> (params, state)``;
``lr`` holds one learning rate per image, so several rates run as one batch.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import tensorflow as tf

State = tuple[tf.Tensor, ...]


@dataclass(frozen=True)
class UpdateRule:
    """A named optimiser: state initialiser and one ascent step."""

    name: str
    init: Callable[[tf.Tensor], State]
    update: Callable[[tf.Tensor, tf.Tensor, State, tf.Tensor, tf.Tensor], tuple[tf.Tensor, State]]


def _per_image(lr: tf.Tensor, params: tf.Tensor) -> tf.Tensor:
    """Reshape ``[batch]`` learning rates to broadcast over the parameter tensor."""
    return tf.reshape(lr, [-1] + [1] * (len(params.shape) - 1))


def _normalized_ascent_update(params, grad, state, lr, t):
    axes = list(range(1, len(params.shape)))
    return params + _per_image(lr, params) * tf.math.l2_normalize(grad, axis=axes), state


NORMALIZED_ASCENT = UpdateRule("normalized gradient ascent", lambda params: (), _normalized_ascent_update)


def adam(beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8) -> UpdateRule:
    """Adam (Kingma & Ba) maximising the objective."""

    def init(params: tf.Tensor) -> State:
        return tf.zeros_like(params), tf.zeros_like(params)

    def update(params, grad, state, lr, t):
        m, v = state
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * tf.square(grad)
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        return params + _per_image(lr, params) * m_hat / (tf.sqrt(v_hat) + epsilon), (m, v)

    return UpdateRule("Adam", init, update)
