"""Checks on user settings, shared by the CLI and the dashboard; each failure says what is allowed."""
from __future__ import annotations

import numbers
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


def whole_in_range(value: object, low: float, high: float, message: str) -> int:
    """``value`` as an int if it is a whole number from ``low`` to ``high``; otherwise InputError(message)."""
    whole = isinstance(value, numbers.Integral) or (_is_number(value) and float(value).is_integer())
    if isinstance(value, bool) or not whole or not low <= value <= high:
        raise InputError(message)
    return int(value)


def number_in_range(value: object, low: float, high: float, message: str, *, above_low: bool = False) -> float:
    """``value`` as a float if it is a number from ``low`` (above it if ``above_low``) to ``high``; otherwise
    InputError(message)."""
    if not _is_number(value) or not low <= value <= high or (above_low and value == low):
        raise InputError(message)
    return float(value)


def _is_number(value: object) -> bool:
    """A real number, not a bool (NaN fails every range check)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_filters(layer: LayerInfo, filters: Sequence[int]) -> list[int]:
    """Every filter index must exist in the layer."""
    if not filters:
        raise InputError("Choose at least one filter.")
    if len(filters) > MAX_BATCH:
        raise InputError(f"At most {MAX_BATCH} pictures can be rendered at once (got {len(filters)}).")
    return [whole_in_range(index, 0, layer.filters - 1, f"Filter {index} does not exist in {layer.name}: "
                           f"choose a filter from 0 to {layer.filters - 1}.") for index in filters]


def check_steps(steps: int) -> int:
    """Iterations between 1 and MAX_STEPS."""
    return whole_in_range(steps, 1, MAX_STEPS, f"Iterations must be a whole number from 1 to {MAX_STEPS} "
                                               f"(got {steps}).")


def check_size(size: int, fixed: int | None = None) -> int:
    """Picture size in pixels between MIN_SIZE and MAX_SIZE; exactly ``fixed`` if the model takes only that size."""
    size = whole_in_range(size, MIN_SIZE, MAX_SIZE, f"Image size must be from {MIN_SIZE} to {MAX_SIZE} pixels "
                                                    f"(got {size}).")
    if fixed is not None and size != fixed:
        raise InputError(f"This model only takes pictures of {fixed} x {fixed} pixels: choose image size {fixed} "
                         f"(got {size}).")
    return size


def check_learning_rates(rates: Sequence[float]) -> list[float]:
    """Learning rates must be finite numbers above zero and at most MAX_LEARNING_RATE."""
    if not rates:
        raise InputError("Choose at least one learning rate.")
    return [number_in_range(rate, 0, MAX_LEARNING_RATE, f"Learning rate must be a number above 0 and at most "
                            f"{MAX_LEARNING_RATE:g} (got {rate}).", above_low=True) for rate in rates]


def check_seed(seed: int) -> int:
    """Random seed: a whole number from 0 to 2**31 - 1."""
    return whole_in_range(seed, 0, 2**31 - 1, f"Seed must be a whole number from 0 to {2**31 - 1} (got {seed}).")


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
    copies = whole_in_range(copies, 1, MAX_COPIES, f"Copies must be a whole number from 1 to {MAX_COPIES} "
                                                   f"(got {copies}).")
    if copies > 1 and len(objectives) > 1:
        raise InputError("Different copies are made of one picture: choose one filter, one learning rate "
                         "and one mix.")
    if (copies > 1) != objectives[0].couples_pictures:
        raise InputError("Copies need an objective that pushes them apart, e.g. 'block1_conv1:0 - "
                         "diversity(block1_conv1)', and such an objective needs at least two copies.")
    return copies


def check_diversity(strength: float) -> float:
    """Diversity strength: a number from 0 to MAX_DIVERSITY."""
    return number_in_range(strength, 0, MAX_DIVERSITY, f"Diversity strength must be a number from 0 to "
                                                       f"{MAX_DIVERSITY:g} (got {strength}).")
