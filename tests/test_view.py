"""vizcore.view: the dashboard's shareable view, pacing and records, without Streamlit or a model."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from vizcore.methods import CLASSIC, ROBUST
from vizcore.models import LayerInfo
from vizcore.render import Frame, RenderResult, Settings
from vizcore.view import (
    MAX_ITERATIONS,
    QUALITY_CAP,
    RunRecord,
    StepClock,
    View,
    compare_defaults,
    loss_columns,
    lr_choices,
    png_bytes,
    png_name,
    preview_every,
    quality_sentence,
    snap_lr,
    view_from_query,
)

LAYERS = [LayerInfo("conv1", 4, 1, 3), LayerInfo("conv2", 6, 2, 8)]


def settings(filters=(1,), rates=(0.05,), steps=3) -> Settings:
    return Settings("conv2", tuple(filters), "robust", steps, 64, tuple(rates))


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


def test_preview_pacing() -> None:
    assert preview_every(0.02, 256) == 15     # shallow layer: a new picture about 3 times a second
    assert preview_every(0.5, 256) == 1       # slow steps: a picture after every step
    assert preview_every(0.001, 10) == 10     # never more than the run's length


def test_step_clock_prefers_measurements_and_learns_the_machine_speed() -> None:
    clock = StepClock()
    guess = clock.estimate(settings(), LAYERS)
    assert guess > 0
    batch = Settings("conv2", (0,) * 16, "robust", 3, 64, (0.05,) * 16)
    assert clock.estimate(batch, LAYERS) > guess
    clock.record(settings(), LAYERS, [3 * guess, 2 * guess, 4 * guess, 200 * guess])  # the last one compiled
    assert clock.estimate(settings(), LAYERS) == pytest.approx(3 * guess)
    assert clock.estimate(batch, LAYERS) == pytest.approx(3 * StepClock.guess(batch, LAYERS))  # 3x slower machine
    clock.record(settings(), LAYERS, [])
    assert clock.estimate(settings(), LAYERS) == pytest.approx(3 * guess)


def test_a_coarse_to_fine_render_is_guessed_cheaper_per_iteration() -> None:
    robust, lucid = (Settings("conv2", (0,), method, 256, 128, (0.05,)) for method in ("robust", "lucid"))
    assert StepClock.guess(robust, LAYERS) == pytest.approx(StepClock.guess(lucid, LAYERS) * (0.875 / 4 + 0.125))


def test_run_record_follows_frames_and_stops() -> None:
    record = RunRecord(settings(steps=3))
    losses = np.zeros((1, 1), np.float32)
    assert record.update(Frame(1, 3, losses)) is False
    assert record.update(Frame(2, 3, losses, images=np.zeros((1, 8, 8, 3), np.uint8))) is True
    record.interrupted("You pressed Stop.")
    assert (record.status, record.step, record.stop_reason) == ("stopped", 2, "You pressed Stop.")

    result = RenderResult(settings(steps=3), np.ones((1, 8, 8, 3), np.uint8), np.ones((3, 1)), np.ones(1))
    done = RunRecord(settings(steps=3))
    done.update(Frame(3, 3, result.loss_history, result.images, result))
    done.interrupted("too late")
    assert done.status == "done" and done.result is result
    assert RunRecord.finished(result, from_cache=True).from_cache


def test_png_and_its_name() -> None:
    image = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    decoded = np.asarray(Image.open(io.BytesIO(png_bytes(image))))
    assert np.array_equal(decoded, image)
    assert png_name(settings(filters=(1, 2), rates=(0.05, 0.1)), 1) == "conv2_filter2_robust_3it_lr0.1_64px.png"


def test_loss_columns() -> None:
    columns = loss_columns(np.array([[1.0, 2.0], [3.0, 4.0]]), ["a", "b"])
    assert columns == {"Iteration": [1, 2, 1, 2], "curve": ["a", "a", "b", "b"], "value": [1.0, 3.0, 2.0, 4.0]}


def test_quality_sentence_in_plain_words_and_capped_when_photos_barely_excite_the_filter():
    assert "16.9× the strongest natural photo" in quality_sentence([16.85])
    capped = quality_sentence([13672.4])
    assert capped.startswith(f"**More than {QUALITY_CAP}×") and "13,672 times" in capped
    assert "never responds" in quality_sentence([None])
    assert "being prepared" in quality_sentence(None)
