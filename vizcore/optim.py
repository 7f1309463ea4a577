"""Update rules written as pure tensor functions so the whole step compiles into one graph.

Each rule has ``init(params) -> state`` and ``update(params, grads, state, lr, t) -> (params, state)``;
``params`` and ``grads`` are tuples of tensors with the batch first (see ``param.py``), and ``lr`` holds
one learning rate per image, so several rates run as one batch.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import tensorflow as tf

Params = tuple[tf.Tensor, ...]
State = tuple


@dataclass(frozen=True)
class UpdateRule:
    """A named optimiser: state initialiser and one ascent step."""

    name: str
    init: Callable[[Params], State]
    update: Callable[[Params, Params, State, tf.Tensor, tf.Tensor], tuple[Params, State]]


def per_image(values: tf.Tensor, tensor: tf.Tensor) -> tf.Tensor:
    """Reshape ``[batch]`` values (learning rates, masks) to broadcast over one ``[batch, ...]`` tensor."""
    return tf.reshape(values, [-1] + [1] * (len(tensor.shape) - 1))


def _normalized_ascent_update(params, grads, state, lr, t):
    """Each image moves ``lr`` along its gradient normalised to unit L2 norm over all its parameters."""
    squares = tf.add_n([tf.reduce_sum(tf.square(g), axis=list(range(1, len(g.shape)))) for g in grads])
    inverse_norm = tf.math.rsqrt(tf.maximum(squares, 1e-12))  # as tf.math.l2_normalize
    return tuple(p + per_image(lr * inverse_norm, p) * g for p, g in zip(params, grads)), state


NORMALIZED_ASCENT = UpdateRule("normalized gradient ascent", lambda params: (), _normalized_ascent_update)


def adam(beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8) -> UpdateRule:
    """Adam (Kingma & Ba) maximising the objective."""

    def init(params: Params) -> State:
        return tuple((tf.zeros_like(p), tf.zeros_like(p)) for p in params)

    def update_one(p, grad, m, v, lr, t):
        m = beta1 * m + (1 - beta1) * grad
        v = beta2 * v + (1 - beta2) * tf.square(grad)
        m_hat = m / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        return p + per_image(lr, p) * m_hat / (tf.sqrt(v_hat) + epsilon), (m, v)

    def update(params, grads, state, lr, t):
        updated = [update_one(p, g, m, v, lr, t) for p, g, (m, v) in zip(params, grads, state)]
        return tuple(p for p, _ in updated), tuple(s for _, s in updated)

    return UpdateRule("Adam", init, update)
