"""Checks on user settings, shared by the CLI and the dashboard; each failure says what is allowed."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

from vizcore.errors import InputError
from vizcore.models import LayerInfo

if TYPE_CHECKING:
    from vizcore.algebra import Objective  # importing it needs TensorFlow; the CLI checks input before that

MAX_STEPS = 5000
MIN_SIZE, MAX_SIZE = 32, 512
MAX_LEARNING_RATE = 1000.0
MAX_BATCH = 64
MIN_COPIES, DEFAULT_COPIES, MAX_COPIES = 2, 4, 8  # pictures of a diversity render
DEFAULT_DIVERSITY, MAX_DIVERSITY = 1.0, 100.0


def check_filters(layer: LayerInfo, filters: Sequence[int]) -> list[int]:
    """Every filter index must exist in the layer."""
    if not filters:
        raise InputError("Choose at least one filter.")
    if len(filters) > MAX_BATCH:
        raise InputError(f"At most {MAX_BATCH} pictures can be rendered at once (got {len(filters)}).")
    for index in filters:
        if isinstance(index, bool) or int(index) != index or not 0 <= index < layer.filters:
            raise InputError(f"Filter {index} does not exist in {layer.name}: "
                             f"choose a filter from 0 to {layer.filters - 1}.")
    return [int(i) for i in filters]


def check_steps(steps: int) -> int:
    """Iterations between 1 and MAX_STEPS."""
    if isinstance(steps, bool) or int(steps) != steps or not 1 <= steps <= MAX_STEPS:
        raise InputError(f"Iterations must be a whole number from 1 to {MAX_STEPS} (got {steps}).")
    return int(steps)


def check_size(size: int, fixed: int | None = None) -> int:
    """Picture size in pixels between MIN_SIZE and MAX_SIZE; exactly ``fixed`` if the model takes only that size."""
    if isinstance(size, bool) or int(size) != size or not MIN_SIZE <= size <= MAX_SIZE:
        raise InputError(f"Image size must be from {MIN_SIZE} to {MAX_SIZE} pixels (got {size}).")
    if fixed is not None and size != fixed:
        raise InputError(f"This model only takes pictures of {fixed} x {fixed} pixels: choose image size {fixed} "
                         f"(got {size}).")
    return int(size)


def check_learning_rates(rates: Sequence[float]) -> list[float]:
    """Learning rates must be finite numbers above zero and at most MAX_LEARNING_RATE."""
    if not rates:
        raise InputError("Choose at least one learning rate.")
    for rate in rates:
        if not isinstance(rate, (int, float)) or not math.isfinite(rate) or not 0 < rate <= MAX_LEARNING_RATE:
            raise InputError(f"Learning rate must be a number above 0 and at most {MAX_LEARNING_RATE:g} "
                             f"(got {rate}).")
    return [float(r) for r in rates]


def check_seed(seed: int) -> int:
    """Random seed: a whole number from 0 to 2**31 - 1."""
    if isinstance(seed, bool) or int(seed) != seed or not 0 <= seed < 2**31:
        raise InputError(f"Seed must be a whole number from 0 to {2**31 - 1} (got {seed}).")
    return int(seed)


Picture = TypeVar("Picture")


def pair_up(filters: list[Picture], rates: list[float]) -> tuple[list[Picture], list[float]]:
    """Pair filters with learning rates: one of either is repeated to match the other."""
    if len(filters) == 1:
        filters = filters * len(rates)
    if len(rates) == 1:
        rates = rates * len(filters)
    if len(filters) != len(rates):
        raise InputError(f"Give one learning rate, or one per filter ({len(filters)} filters, "
                         f"{len(rates)} learning rates).")
    return filters, rates


def check_objectives(objectives: Sequence[Objective], channels: Mapping[str, int]) -> list[Objective]:
    """At least one and at most MAX_BATCH objectives, each naming layers and filters the model has, all of
    one kind (they are rendered together by one compiled step)."""
    if not objectives:
        raise InputError("Choose at least one filter.")
    if len(objectives) > MAX_BATCH:
        raise InputError(f"At most {MAX_BATCH} pictures can be rendered at once (got {len(objectives)}).")
    for objective in objectives:
        objective.check(channels)
        if objective.key() != objectives[0].key():
            raise InputError(f"Pictures rendered together need objectives of one kind: '{objective}' differs "
                             f"from '{objectives[0]}' in more than its numbers; render them one at a time.")
    return list(objectives)


def check_copies(copies: int, objectives: Sequence[Objective]) -> int:
    """Copies from 1 to MAX_COPIES, of one objective that pushes its pictures apart (and only of one)."""
    if isinstance(copies, bool) or int(copies) != copies or not 1 <= copies <= MAX_COPIES:
        raise InputError(f"Copies must be a whole number from 1 to {MAX_COPIES} (got {copies}).")
    if copies > 1 and len(objectives) > 1:
        raise InputError("Different copies are made of one picture: choose one filter, one learning rate "
                         "and one mix.")
    if (copies > 1) != objectives[0].couples_pictures:
        raise InputError("Copies need an objective that pushes them apart, e.g. 'block1_conv1:0 - "
                         "diversity(block1_conv1)', and such an objective needs at least two copies.")
    return int(copies)


def check_diversity(strength: float) -> float:
    """Diversity strength: a number from 0 to MAX_DIVERSITY."""
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 <= strength <= MAX_DIVERSITY:
        raise InputError(f"Diversity strength must be a number from 0 to {MAX_DIVERSITY:g} (got {strength}).")
    return float(strength)
