"""dashboard.query: the shareable view in the URL and the learning-rate choices, without Streamlit or a model."""
from __future__ import annotations

import pytest

from dashboard.query import MAX_ITERATIONS, View, clamp, compare_defaults, lr_choices, snap_lr, view_from_query
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


@pytest.mark.parametrize("fields", [
    dict(objective="neuron", blend=4, mix=25), dict(objective="dream"),
    dict(objective="minus", minus="conv1:3"), dict(objective="own", own="conv2:1 - 0.5*conv1:2"),
])
def test_the_link_round_trips_the_objective(fields: dict) -> None:
    view = View("conv2", 3, "robust", 10, 0.05, 64, **fields)
    assert view_from_query(view.to_query(), LAYERS) == (view, [])
    plain = View("conv2", 3, "robust", 10, 0.05, 64)
    assert set(plain.to_query()) == {"layer", "filter", "method", "steps", "lr", "size"}  # old links unchanged


@pytest.mark.parametrize("fields, expected", [
    (dict(objective="channel"), "conv2:3"), (dict(objective="neuron", blend=4, mix=25),
                                               "0.75*neuron(conv2:3) + 0.25*neuron(conv2:4)"),
    (dict(objective="dream", blend=4), "dream(conv2)"), (dict(objective="minus", minus="conv1:3"), "conv2:3 - conv1:3"),
    (dict(objective="own", own="conv2:1 - 0.5*conv1:2"), "conv2:1 - 0.5*conv1:2"),
])
def test_the_view_says_what_its_picture_maximises(fields: dict, expected: str) -> None:
    assert str(View("conv2", 3, "robust", 10, 0.05, 64, **fields).objective_for()) == expected


@pytest.mark.parametrize("params, words", [
    ({"objective": "own", "own": "conv2:1 +"}, "ends too early"), ({"objective": "own"}, "empty"),
    ({"objective": "minus", "minus": "dream(conv1)"}, "not one filter"),
])
def test_a_link_with_an_objective_that_cannot_be_read_shows_the_whole_filter(params: dict, words: str) -> None:
    view, warnings = view_from_query(params, LAYERS)
    assert view.objective == "channel" and len(warnings) == 1 and words in warnings[0]


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


@pytest.mark.parametrize(("value", "expected"), [(-3, 0), (0, 0), (7, 7), (63, 63), (99, 63), (2.5, 2.5)])
def test_clamp_brings_a_value_to_the_nearest_end_of_the_range(value: float, expected: float) -> None:
    assert clamp(value, 0, 63) == expected


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
