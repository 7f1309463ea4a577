"""Geometry of the wake-up search for filters still silent after a render.

The search optimises many small patches at once, each from its own noise, for the filter's response at the
patch's centre (before the ReLU), then repeats the best patch over the picture. A patch holds the centre
neuron's whole receptive field, so its response is the same wherever the patch is repeated; many independent
starts find a firing pattern where one picture, whose places share pixels, did not (block2_conv1 51 of the
HED weights: best response -2.2 from one picture, +0.3 from 32 patches).
"""
from __future__ import annotations

import numpy as np

from vizcore.models import LayerInfo

SEARCH_AREA = 2  # the patches of one filter cover about two pictures
MAX_STARTS = 32


def patch_side(layer: LayerInfo, size: int) -> int:
    """The smallest patch, a multiple of twice the layer's stride, whose centre neuron sees only the patch;
    the whole picture where no smaller patch is possible (deep layers)."""
    step = 2 * layer.stride
    side = -(-(layer.receptive_field + 2 * layer.stride) // step) * step
    return side if side <= size // 2 else size


def start_count(side: int, size: int) -> int:
    """How many patches are searched per filter."""
    return int(np.clip(SEARCH_AREA * size * size // (side * side), 1, MAX_STARTS))


def repeat_patch(patches: np.ndarray, size: int, stride: int) -> np.ndarray:
    """Patches ``[n, side, side, 3]`` repeated over ``size`` px pictures, placed so that a patch's centre
    neuron is at the picture's centre neuron and every repeat lines up with the layer's stride."""
    side = patches.shape[1]
    centre = (-(-size // stride) // 2) * stride  # where the picture's centre neuron looks
    rows = (np.arange(size) - (centre - side // 2)) % side
    return patches[:, rows][:, :, rows]
