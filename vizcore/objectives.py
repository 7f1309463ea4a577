"""Objectives: what to maximise, given a layer's activations ``[batch, h, w, channels]`` and one weight
vector over the channels per image (one-hot for a single filter, two weights for a blend). Each returns
one value per image.

Channels are picked by a batched matrix product rather than a gather: on the CPU a gather along the
channel axis, and even more its gradient, transposes the whole activation tensor every step.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

Objective = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def channel_weights(channels: int, filters: list[int], second: list[int], mixes: list[float]) -> np.ndarray:
    """Per image ``(1 - mix) * one_hot(filter) + mix * one_hot(second)``: ``[batch, channels]`` float32."""
    weights = np.zeros((len(filters), channels), np.float32)
    rows = np.arange(len(filters))
    weights[rows, filters] += 1.0 - np.asarray(mixes, np.float32)
    weights[rows, second] += np.asarray(mixes, np.float32)
    return weights


def weighted_maps(activations: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Each image's weighted sum of channel maps, ``[batch, h, w]`` (Lucid's neuron addition)."""
    shape = tf.shape(activations)
    flat = tf.reshape(activations, [shape[0], shape[1] * shape[2], shape[3]])
    return tf.reshape(tf.matmul(flat, weights[:, :, None]), shape[:3])


def channel(activations: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Mean of the filter's whole feature map (the notebook's ``reduce_mean``)."""
    return tf.reduce_mean(weighted_maps(activations, weights), axis=[1, 2])


def neuron(activations: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """The filter's response at the centre of the feature map."""
    maps = weighted_maps(activations, weights)
    h, w = tf.shape(maps)[1], tf.shape(maps)[2]
    return maps[:, h // 2, w // 2]


def soft_channel(pre_activations: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Mean of a softened ReLU of the filter's pre-activation, temperature = its spread over the map.

    On a silent filter the gradient concentrates on the places closest to firing (a soft maximum)
    instead of vanishing (ReLU) or spreading over the whole map (plain mean).
    """
    maps = weighted_maps(pre_activations, weights)
    temperature = tf.stop_gradient(tf.math.reduce_std(maps, axis=[1, 2], keepdims=True)) + 1e-3
    return tf.reduce_mean(temperature * tf.nn.softplus(maps / temperature), axis=[1, 2])


OBJECTIVES: dict[str, Objective] = {"channel": channel, "neuron": neuron}

# What a silent filter follows instead, on its pre-activation: a single neuron's pre-activation
# already has a gradient; a whole channel's is softened so the places closest to firing lead.
WAKE_UP: dict[str, Objective] = {"channel": soft_channel, "neuron": neuron}

# Objectives whose best picture is a texture filling the whole image: they may be optimised on a small
# periodic tile first (coarse to fine). A centre neuron's picture is one object at one place: it may not.
TEXTURE_OBJECTIVES = frozenset({"channel"})


def gram_similarity(activations: tf.Tensor, weights: tf.Tensor | None = None) -> tf.Tensor:
    """Mean pairwise cosine similarity of the batch members' Gram (style) matrices, self-pairs left out
    (Lucid/Lucent's ``diversity``); 0 for a batch of one. With ``weights`` (one per member), each member's
    similarity to the others counts that much (all 1: the plain mean)."""
    batch, channels = tf.shape(activations)[0], tf.shape(activations)[3]
    features = tf.reshape(activations, [batch, -1, channels])
    grams = tf.matmul(features, features, transpose_a=True)
    grams = tf.math.l2_normalize(tf.reshape(grams, [batch, -1]), axis=1, epsilon=1e-10)
    similarity = tf.matmul(grams, grams, transpose_b=True) * (1.0 - tf.eye(batch))
    per_member = tf.reduce_sum(similarity, axis=1) / tf.cast(tf.maximum(batch - 1, 1), tf.float32)
    if weights is not None:
        per_member *= weights
    return tf.reduce_mean(per_member)
