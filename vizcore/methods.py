"""Named recipes: each method is a parameterisation, transforms, an update rule and display rules."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vizcore import param, transforms
from vizcore.errors import InputError
from vizcore.objectives import TEXTURE_OBJECTIVES
from vizcore.optim import NORMALIZED_ASCENT, UpdateRule, adam


@dataclass(frozen=True)
class Stage:
    """Part of a render: ``steps`` iterations on a picture of ``size`` px."""

    size: int
    steps: int


@dataclass(frozen=True)
class CoarseToFine:
    """Optimise a tile of half the size for ``share`` of the iterations (a step there costs about a quarter),
    then the picture tiled 2 x 2 at full size. Only for texture objectives (see objectives.py)."""

    share: float
    min_size: int = 32  # the tile's smallest size

    def stages(self, size: int, steps: int) -> list[Stage]:
        coarse = round(steps * self.share)
        if size % 2 or size // 2 < self.min_size or coarse == 0 or coarse == steps:
            return [Stage(size, steps)]
        return [Stage(size // 2, coarse), Stage(size, steps - coarse)]


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
    coarse_to_fine: CoarseToFine | None = None

    def stages(self, size: int, steps: int, objective: str) -> list[Stage]:
        """The render's stages: one at full size, or coarse then fine (see CoarseToFine)."""
        if self.coarse_to_fine is None or objective not in TEXTURE_OBJECTIVES:
            return [Stage(size, steps)]
        return self.coarse_to_fine.stages(size, steps)


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

LUCID = Method(
    name="lucid",
    title="Lucid (full size)",
    description=("Lucid's recipe at full size for every iteration (the default before coarse to fine): "
                 "the same look as Robust, about twice the time."),
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

ROBUST = Method(
    name="robust",
    title="Robust",
    description=("Lucid-style: a smooth Fourier image with natural colours, correct VGG16 input, "
                 "random shifts, zooms and rotations each step, Adam. Most iterations shape a small tile "
                 "of the pattern, which then fills the picture and is refined at full size: "
                 "clean, recognisable pictures, fast."),
    parameterisation=param.fourier_decorrelated,
    transform=lambda size: transforms.random_affine(size, jitter=size / 16),
    rule=adam(),
    preprocess=True,
    pass_dead_gradients=True,
    display=clip_uint8,
    default_lr=0.1,
    lr_range=(0.005, 0.5),
    default_steps=256,
    coarse_to_fine=CoarseToFine(share=0.75),
)

METHODS: dict[str, Method] = {m.name: m for m in (ROBUST, LUCID, CLASSIC)}


def get_method(name: str) -> Method:
    """Look a method up by name, with a plain message if it does not exist."""
    try:
        return METHODS[name.lower()]
    except KeyError:
        raise InputError(f"Unknown method '{name}'. Choose one of: {', '.join(METHODS)}.") from None
