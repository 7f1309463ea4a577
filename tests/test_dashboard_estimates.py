"""dashboard.estimates: live-preview pacing and the step clock, without Streamlit, on a tiny model's engine."""
from __future__ import annotations

import pytest

from dashboard.estimates import StepClock, duration_words, preview_every, seconds_left
from vizcore.objectives import channel, channels
from vizcore.render import Engine, Settings


@pytest.fixture
def engine(tiny) -> Engine:
    return Engine(tiny, cache=None)


def settings(filters=(1,), rates=(0.05,), steps=3) -> Settings:
    return Settings(tuple(channels("conv2", filters)), "robust", steps, 64, tuple(rates))


def test_preview_pacing() -> None:
    assert preview_every(0.02, 256) == 15     # shallow layer: a new picture about 3 times a second
    assert preview_every(0.5, 256) == 1       # slow steps: a picture after every step
    assert preview_every(0.001, 10) == 10     # never more than the run's length


def test_step_clock_prefers_measurements_and_learns_the_machine_speed(engine: Engine) -> None:
    clock = StepClock()
    guess = clock.estimate(settings(), engine)
    assert guess > 0
    batch = Settings(tuple(channels("conv2", [0] * 16)), "robust", 3, 64, (0.05,) * 16)
    assert clock.estimate(batch, engine) > guess
    clock.record(settings(), engine, [3 * guess, 2 * guess, 4 * guess, 200 * guess])  # the last one compiled
    assert clock.estimate(settings(), engine) == pytest.approx(3 * guess)
    assert clock.estimate(batch, engine) == pytest.approx(3 * StepClock.guess(batch, engine))  # 3x slower machine
    clock.record(settings(), engine, [])
    assert clock.estimate(settings(), engine) == pytest.approx(3 * guess)


def test_a_first_render_adds_the_compile_time_measured_so_far(engine: Engine) -> None:
    clock = StepClock()
    steps = settings().steps
    per_step = clock.estimate(settings(), engine)
    assert clock.render_seconds(settings(), engine) == pytest.approx(per_step * steps + StepClock.FIRST_COMPILE_SECONDS)
    clock.record(settings(), engine, [5.1, 0.1, 0.1, 3.1, 0.1])  # two steps compiled: 5 + 3 s more than a step
    assert clock.render_seconds(settings(), engine) == pytest.approx(0.1 * steps + 8.0)
    engine.prepare(settings())  # compiled now: no compile time left to wait for
    assert clock.render_seconds(settings(), engine) == pytest.approx(0.1 * steps)


def test_a_coarse_to_fine_render_is_guessed_cheaper_per_iteration(engine: Engine) -> None:
    robust, lucid = (Settings((channel("conv2", 0),), method, 256, 128, (0.05,)) for method in ("robust", "lucid"))
    assert StepClock.guess(robust, engine) == pytest.approx(StepClock.guess(lucid, engine) * (0.875 / 4 + 0.125))


def test_time_left_follows_the_pace_measured_so_far_and_durations_read_plainly() -> None:
    assert seconds_left([4.0], 1, 100) is None  # only the first step, which compiles
    assert seconds_left([4.0, 0.1, 0.3, 0.1], 4, 104) == pytest.approx(10.0)  # the median step, 100 to go
    assert [duration_words(s) for s in (0.2, 42.4, 89, 150)] == ["1 second", "42 seconds", "89 seconds",
                                                                 "2 minutes"]


def test_live_pictures_keep_their_labels() -> None:
    from dashboard.live import picture_labels

    assert picture_labels(["filter 3", "filter 4"], "iteration 5 of 9", 2) == ["filter 3 · iteration 5 of 9",
                                                                              "filter 4 · iteration 5 of 9"]
    assert picture_labels([], "iteration 5 of 9", 1) == ["Iteration 5 of 9"]
