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
