"""Geometry of the wake-up search for filters still silent after a render.

The search optimises many small patches at once, each from its own noise, for the filter's response at the
patch's centre (before the ReLU), then repeats the best patch over the picture. A patch holds the centre
neuron's whole receptive field, so its response is the same wherever the patch is repeated; many independent
starts find a firing pattern where one picture, whose places share pixels, did not (block2_conv1 51 of the
HED weights: best response -2.2 from one picture, +0.3 from 32 patches).
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from vizcore.models import LayerInfo

if TYPE_CHECKING:
    from vizcore.methods import Method
    from vizcore.render import Engine, Settings

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


def search_silent(engine: Engine, settings: Settings, search: Method, images: np.ndarray,
                  activation: np.ndarray) -> dict[int, str]:
    """Run ``search`` on small patches for the silent pictures whose objective has a search form; where the
    best patch, repeated, makes the objective fire, it replaces the picture (in place, in ``images`` and
    ``activation``). Returns a note per picture replaced."""
    silent = [i for i in np.flatnonzero(activation <= 0) if settings.objectives[i].search_form() is not None]
    if not silent:
        return {}
    layer = engine.model.layer(settings.layer)
    side = settings.size if engine.model.input_size is not None else patch_side(layer, settings.size)
    starts = start_count(side, settings.size)
    searched = settings.pictures(np.repeat(silent, starts))
    patches = replace(searched, objectives=tuple(o.search_form() for o in searched.objectives), size=side,
                      learning_rates=(search.default_lr,) * len(searched.objectives), steps=search.default_steps)
    *_, (_, compiled, params, _) = engine.steps(patches, search)
    found = compiled.to_image(params)
    centre = compiled.evaluate(found, engine.numbers(patches)).numpy().reshape(len(silent), starts)
    best = found.numpy().reshape(len(silent), starts, side, side, 3)[np.arange(len(silent)), centre.argmax(1)]
    pictures = search.display(repeat_patch(best, settings.size, layer.stride))
    found_activation = engine.activation(settings.pictures(silent), pictures)
    notes = {}
    for k, i in enumerate(silent):
        if found_activation[k] > 0:
            images[i], activation[i] = pictures[k], found_activation[k]
            notes[int(i)] = (f"Filter {settings.filters[i]} stayed silent on smooth pictures; a search over "
                             "small patches of full-contrast noise found one it responds to, repeated here, "
                             "so this picture is grainier.")
    return notes
