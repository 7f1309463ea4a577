"""Named recipes: each method is its card (method_cards.py) plus a parameterisation, transforms, an update rule and
display rules."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np

from vizcore import method_cards, param, transforms
from vizcore.errors import InputError
from vizcore.method_cards import MethodCard
from vizcore.optim import NORMALIZED_ASCENT, UpdateRule, adam


@dataclass(frozen=True)
class Stage:
    """Part of a render: ``steps`` iterations on a picture of ``size`` px."""

    size: int
    steps: int


@dataclass(frozen=True)
class CoarseToFine:
    """Optimise a small tile for ``share`` of the iterations, then the picture tiled at full size.

    The tile is a half or, where the layer sees at most a quarter of it (block1-2 of VGG16 at 128 px), a
    quarter of the picture's side: a step there costs about a third (a sixth). Only for texture objectives.
    """

    share: float
    min_size: int = 32  # the tile's smallest side

    def stages(self, size: int, steps: int, receptive_field: int) -> list[Stage]:
        coarse = round(steps * self.share)
        factor = 4 if size % 4 == 0 and size // 4 >= max(self.min_size, 2 * receptive_field) else 2
        if size % factor or size // factor < self.min_size or not 0 < coarse < steps:
            return [Stage(size, steps)]
        return [Stage(size // factor, coarse), Stage(size, steps - coarse)]


@dataclass(frozen=True, kw_only=True)
class Method(MethodCard):
    """One way to render a filter: its card (name, title, learning rates, iterations) and its recipe."""

    parameterisation: Callable[[int], param.Parameterisation]
    transform: Callable[[int], transforms.Transform]
    rule: UpdateRule
    preprocess: bool            # feed the model 0-255 pixels through its own preprocessing
    pass_dead_gradients: bool   # leak gradient through the target ReLU so dead filters can wake up
    display: Callable[[np.ndarray], np.ndarray]
    coarse_to_fine: CoarseToFine | None = None
    follows_wake: bool = False  # a search for silent filters: follow the objective's wake-up companion only
    search: Method | None = None  # run for filters still silent at the end; its picture is kept if they fire

    def stages(self, size: int, steps: int, texture: bool, receptive_field: int) -> list[Stage]:
        """The render's stages: one at full size, or, for a texture objective, coarse then fine (CoarseToFine)."""
        if self.coarse_to_fine is None or not texture:
            return [Stage(size, steps)]
        return self.coarse_to_fine.stages(size, steps, receptive_field)


def min_max_uint8(images: np.ndarray) -> np.ndarray:
    """Stretch each image to the full 0-255 range (the notebook's display)."""
    lo = images.min(axis=(1, 2, 3), keepdims=True)
    hi = images.max(axis=(1, 2, 3), keepdims=True)
    return np.round(255 * (images - lo) / np.maximum(hi - lo, 1e-12)).astype(np.uint8)


def clip_uint8(images: np.ndarray) -> np.ndarray:
    """Images already in [0, 1]: scale to 0-255."""
    return np.round(255 * np.clip(images, 0.0, 1.0)).astype(np.uint8)


CLASSIC = Method(
    **asdict(method_cards.CLASSIC),
    parameterisation=param.uniform_pixels,
    transform=lambda size: transforms.identity(),
    rule=NORMALIZED_ASCENT,
    preprocess=False,
    pass_dead_gradients=False,
    display=min_max_uint8,
)

# For a filter that a smooth picture never wakes (the HED weights' block2_conv1 11, 33 and 51): many small
# patches from full-contrast noise, each pushing the response at its centre before the ReLU (see wake.py).
WAKE_SEARCH = Method(
    **asdict(method_cards.WAKE_SEARCH),
    parameterisation=param.clipped_pixels,
    transform=lambda size: transforms.identity(),
    rule=adam(),
    preprocess=True,
    pass_dead_gradients=True,
    display=clip_uint8,
    follows_wake=True,
)

LUCID = Method(
    **asdict(method_cards.LUCID),
    parameterisation=param.fourier_decorrelated,
    transform=transforms.random_affine,
    rule=adam(),
    preprocess=True,
    pass_dead_gradients=True,
    display=clip_uint8,
)

# Lucid's look in about half the time: the same picture model, transforms and optimiser.
ROBUST = replace(
    LUCID,
    **asdict(method_cards.ROBUST),
    transform=lambda size: transforms.random_affine(size, jitter=size / 16),
    coarse_to_fine=CoarseToFine(share=0.875),
    search=WAKE_SEARCH,
)

METHODS: dict[str, Method] = {m.name: m for m in (ROBUST, LUCID, CLASSIC)}


def get_method(name: str) -> Method:
    """Look a method up by name, with a plain message if it does not exist."""
    try:
        return METHODS[name.lower()]
    except KeyError:
        raise InputError(f"Unknown method '{name}'. Choose one of: {', '.join(METHODS)}.") from None
