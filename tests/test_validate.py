"""The range checks shared by the CLI and the dashboard: a value in range comes back as its type, anything else
is an InputError with the caller's plain sentence (never a TypeError or ValueError)."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from vizcore import validate
from vizcore.errors import InputError
from vizcore.models import LayerInfo

MESSAGE = "Iterations must be a whole number from 1 to 10 (got {})."


@pytest.mark.parametrize(("value", "expected"), [(1, 1), (10, 10), (4.0, 4), (np.int64(7), 7), (np.float32(3), 3)])
def test_a_whole_number_in_range_comes_back_as_an_int(value: object, expected: int) -> None:
    result = validate.whole_in_range(value, 1, 10, MESSAGE)
    assert result == expected and type(result) is int


@pytest.mark.parametrize("value", [0, 11, 2.5, True, None, "3", math.nan, math.inf, -math.inf, 10**400, [3]])
def test_anything_else_is_refused_with_the_callers_sentence(value: object) -> None:
    with pytest.raises(InputError) as refused:
        validate.whole_in_range(value, 1, 10, MESSAGE.format(value))
    assert str(refused.value) == MESSAGE.format(value)


def test_a_range_without_upper_end() -> None:
    assert validate.whole_in_range(10**6, 1, math.inf, "at least 1") == 10**6
    with pytest.raises(InputError, match="at least 1"):
        validate.whole_in_range(0, 1, math.inf, "at least 1")


@pytest.mark.parametrize(("value", "expected"), [(0.5, 0.5), (100, 100.0), (np.float32(0.25), 0.25),
                                                 (Fraction(1, 4), 0.25)])
def test_a_number_in_range_comes_back_as_a_float(value: object, expected: float) -> None:
    result = validate.number_in_range(value, 0, 100, "no")
    assert result == expected and type(result) is float


@pytest.mark.parametrize("value", [-0.1, 100.5, math.nan, math.inf, True, "1", None])
def test_a_number_out_of_range_or_not_a_number_is_refused(value: object) -> None:
    with pytest.raises(InputError, match="^Strength must"):
        validate.number_in_range(value, 0, 100, "Strength must be a number from 0 to 100.")


def test_above_low_leaves_out_the_lower_end_only() -> None:
    assert validate.number_in_range(0, 0, 1, "no") == 0.0
    assert validate.number_in_range(1, 0, 1, "no", above_low=True) == 1.0
    with pytest.raises(InputError, match="above 0"):
        validate.number_in_range(0, 0, 1, "above 0", above_low=True)


@pytest.mark.parametrize(("check", "value", "words"), [
    (validate.check_steps, validate.MAX_STEPS + 1, f"Iterations must be a whole number from 1 to {validate.MAX_STEPS}"),
    (validate.check_steps, "many", "(got many)"),
    (validate.check_size, 16, f"Image size must be from {validate.MIN_SIZE} to {validate.MAX_SIZE} pixels (got 16)"),
    (validate.check_seed, -1, f"Seed must be a whole number from 0 to {2**31 - 1} (got -1)"),
    (validate.check_diversity, math.nan, "Diversity strength must be a number from 0 to 100 (got nan)"),
    (lambda rate: validate.check_learning_rates([rate]), 0, "Learning rate must be a number above 0 and at most 1000"),
    (lambda index: validate.check_filters(LayerInfo("conv1", 8, 1, 3), [index]), 8,
     "Filter 8 does not exist in conv1: choose a filter from 0 to 7."),
])
def test_the_checks_keep_their_sentences(check, value: object, words: str) -> None:
    with pytest.raises(InputError) as refused:
        check(value)
    assert words in str(refused.value)


def test_the_checks_return_plain_python_numbers() -> None:
    assert validate.check_filters(LayerInfo("conv1", 8, 1, 3), [np.int64(3), 7.0]) == [3, 7]
    assert validate.check_learning_rates([1, np.float32(0.5)]) == [1.0, 0.5]
    assert type(validate.check_size(64.0)) is int
