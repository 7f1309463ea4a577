"""dashboard.query: the shareable view in the URL and the learning-rate choices, without Streamlit or a model."""
from __future__ import annotations

import pytest

from dashboard.query import MAX_ITERATIONS, View, compare_defaults, lr_choices, snap_lr, view_from_query
from vizcore.methods import CLASSIC, ROBUST
from vizcore.models import LayerInfo

LAYERS = [LayerInfo("conv1", 4, 1, 3), LayerInfo("conv2", 6, 2, 8)]


def test_no_query_gives_the_defaults() -> None:
    view, warnings = view_from_query({}, LAYERS)
    assert view == View("conv1", 0, "robust", ROBUST.default_steps, ROBUST.default_lr, 128)
    assert warnings == []


def test_query_round_trip() -> None:
    view = View("conv2", 5, "classic", 42, 2.5, 96)
    assert view_from_query(view.to_query(), LAYERS) == (view, [])


def test_method_brings_its_own_defaults_and_accepts_its_title() -> None:
    view, warnings = view_from_query({"method": "Classic"}, LAYERS)
    assert (view.method, view.steps, view.lr) == ("classic", CLASSIC.default_steps, CLASSIC.default_lr)
    assert warnings == []


@pytest.mark.parametrize(("params", "expected"), [
    ({"layer": "conv9"}, {"layer": "conv1"}),
    ({"filter": "99999"}, {"filter": 3}),
    ({"layer": "conv2", "filter": "-1"}, {"filter": 0}),
    ({"filter": "two"}, {"filter": 0}),
    ({"filter": "2.5"}, {"filter": 0}),
    ({"method": "magic"}, {"method": "robust"}),
    ({"steps": "0"}, {"steps": 1}),
    ({"steps": "1e9"}, {"steps": MAX_ITERATIONS}),
    ({"steps": "many"}, {"steps": ROBUST.default_steps}),
    ({"lr": "nan"}, {"lr": ROBUST.default_lr}),
    ({"lr": "inf"}, {"lr": ROBUST.default_lr}),
    ({"lr": "-1"}, {"lr": ROBUST.lr_range[0]}),
    ({"lr": "7"}, {"lr": ROBUST.lr_range[1]}),
    ({"size": "100"}, {"size": 96}),
    ({"size": "big"}, {"size": 128}),
])
def test_bad_values_are_replaced_and_reported(params: dict, expected: dict) -> None:
    view, warnings = view_from_query(params, LAYERS)
    assert {key: getattr(view, key) for key in expected} == expected
    assert len(warnings) == 1 and list(params.values())[-1] in warnings[0]


def test_repeated_keys_use_the_first_value() -> None:
    view, _ = view_from_query({"filter": ["2", "3"]}, LAYERS)
    assert view.filter == 2


def test_learning_rates_snap_to_the_slider_grid() -> None:
    assert snap_lr(ROBUST, 0.0512) == 0.05
    assert snap_lr(ROBUST, 0.0001) == 0.005
    assert snap_lr(CLASSIC, 3.14159) == 3.1
    assert snap_lr(CLASSIC, 99) == 20.0


def test_learning_rate_choices_stay_in_range_and_include_the_default() -> None:
    for method in (ROBUST, CLASSIC):
        choices = lr_choices(method)
        assert choices == sorted(choices)
        assert method.default_lr in choices
        assert all(method.lr_range[0] <= rate <= method.lr_range[1] for rate in choices)
        defaults = compare_defaults(method)
        assert 2 <= len(defaults) <= 3 and method.default_lr in defaults
        assert set(defaults) <= set(choices)
    assert lr_choices(ROBUST) == [0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.5]
