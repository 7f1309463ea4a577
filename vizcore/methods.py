"""Named recipes: each method is a parameterisation, transforms, an update rule and display rules."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vizcore import param, transforms
from vizcore.errors import InputError
from vizcore.optim import NORMALIZED_ASCENT, UpdateRule, adam


@dataclass(frozen=True)
class Method:
    """One way to render a filter. ``lr_range`` bounds what the UI offers."""

    name: str
    title: str
    description: str
    parameterisation: Callable[[int], param.Parameterisation]
    transform: Callable[[int], transforms.Transform]
    rule: UpdateRule
    preprocess: bool            # feed the model 0-255 pixels through its own preprocessing
    pass_dead_gradients: bool   # leak gradient through the target ReLU so dead filters can wake up
    display: Callable[[np.ndarray], np.ndarray]
    default_lr: float
    lr_range: tuple[float, float]
    default_steps: int


def min_max_uint8(images: np.ndarray) -> np.ndarray:
    """Stretch each image to the full 0-255 range (the notebook's display)."""
    lo = images.min(axis=(1, 2, 3), keepdims=True)
    hi = images.max(axis=(1, 2, 3), keepdims=True)
    return np.round(255 * (images - lo) / np.maximum(hi - lo, 1e-12)).astype(np.uint8)


def clip_uint8(images: np.ndarray) -> np.ndarray:
    """Images already in [0, 1]: scale to 0-255."""
    return np.round(255 * np.clip(images, 0.0, 1.0)).astype(np.uint8)


CLASSIC = Method(
    name="classic",
    title="Classic",
    description=("The original notebook: raw pixels from uniform noise, no preprocessing, "
                 "normalised gradient steps. Noisy, kept for teaching and comparison."),
    parameterisation=param.uniform_pixels,
    transform=lambda size: transforms.identity(),
    rule=NORMALIZED_ASCENT,
    preprocess=False,
    pass_dead_gradients=False,
    display=min_max_uint8,
    default_lr=4.0,
    lr_range=(0.1, 20.0),
    default_steps=100,
)

ROBUST = Method(
    name="robust",
    title="Robust",
    description=("Lucid-style: a smooth Fourier image with natural colours, correct VGG16 input, "
                 "random shifts, zooms and rotations each step, Adam. Clean, recognisable pictures."),
    parameterisation=param.fourier_decorrelated,
    transform=transforms.random_affine,
    rule=adam(),
    preprocess=True,
    pass_dead_gradients=True,
    display=clip_uint8,
    default_lr=0.05,
    lr_range=(0.005, 0.5),
    default_steps=256,
)

METHODS: dict[str, Method] = {m.name: m for m in (ROBUST, CLASSIC)}


def get_method(name: str) -> Method:
    """Look a method up by name, with a plain message if it does not exist."""
    try:
        return METHODS[name.lower()]
    except KeyError:
        raise InputError(f"Unknown method '{name}'. Choose one of: {', '.join(METHODS)}.") from None
