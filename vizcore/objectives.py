"""Objectives: what to maximise, given a layer's activations ``[batch, h, w, channels]`` and one
filter index per image. Each returns one value per image."""
from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

Objective = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def channel(activations: tf.Tensor, filter_index: tf.Tensor) -> tf.Tensor:
    """Mean of the filter's whole feature map (the notebook's ``reduce_mean``)."""
    maps = tf.gather(activations, filter_index, axis=3, batch_dims=1)
    return tf.reduce_mean(maps, axis=[1, 2])


def neuron(activations: tf.Tensor, filter_index: tf.Tensor) -> tf.Tensor:
    """The filter's response at the centre of the feature map."""
    maps = tf.gather(activations, filter_index, axis=3, batch_dims=1)
    h, w = tf.shape(maps)[1], tf.shape(maps)[2]
    return maps[:, h // 2, w // 2]


def soft_channel(pre_activations: tf.Tensor, filter_index: tf.Tensor) -> tf.Tensor:
    """Mean of a softened ReLU of the filter's pre-activation, temperature = its spread over the map.

    On a silent filter the gradient concentrates on the places closest to firing (a soft maximum)
    instead of vanishing (ReLU) or spreading over the whole map (plain mean).
    """
    maps = tf.gather(pre_activations, filter_index, axis=3, batch_dims=1)
    temperature = tf.stop_gradient(tf.math.reduce_std(maps, axis=[1, 2], keepdims=True)) + 1e-3
    return tf.reduce_mean(temperature * tf.nn.softplus(maps / temperature), axis=[1, 2])


OBJECTIVES: dict[str, Objective] = {"channel": channel, "neuron": neuron}

# What a silent filter follows instead, on its pre-activation: a single neuron's pre-activation
# already has a gradient; a whole channel's is softened so the places closest to firing lead.
WAKE_UP: dict[str, Objective] = {"channel": soft_channel, "neuron": neuron}


def blend(objective: Objective, activations: tf.Tensor, filter_index: tf.Tensor, blend_index: tf.Tensor,
          mix: tf.Tensor) -> tf.Tensor:
    """``(1 - mix) * objective(filter A) + mix * objective(filter B)`` per image (Lucid's neuron addition).

    With ``mix`` 0 this is exactly ``objective(filter A)``: 1 * a + 0 * b adds an exact zero.
    """
    return (1.0 - mix) * objective(activations, filter_index) + mix * objective(activations, blend_index)


def gram_similarity(activations: tf.Tensor) -> tf.Tensor:
    """Mean pairwise cosine similarity of the batch members' Gram (style) matrices, self-pairs left out
    (Lucid/Lucent's ``diversity``); 0 for a batch of one."""
    batch, channels = tf.shape(activations)[0], tf.shape(activations)[3]
    features = tf.reshape(activations, [batch, -1, channels])
    grams = tf.matmul(features, features, transpose_a=True)
    grams = tf.math.l2_normalize(tf.reshape(grams, [batch, -1]), axis=1, epsilon=1e-10)
    similarity = tf.matmul(grams, grams, transpose_b=True)
    pairs = tf.cast(tf.maximum(batch * (batch - 1), 1), tf.float32)
    return tf.reduce_sum(similarity * (1.0 - tf.eye(batch))) / pairs
