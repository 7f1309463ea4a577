"""Animations: which iterations are kept, the recorded pictures, and the GIF file itself."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageSequence

from dashboard.downloads import gif_name
from dashboard.records import RunRecord
from vizcore import Engine, animation
from vizcore.cache import RenderCache
from vizcore.objectives import channels


def test_capture_steps_start_at_one_end_at_the_last_and_are_denser_early():
    steps = animation.capture_steps(256, 40)
    assert steps[0] == 1 and steps[-1] == 256
    assert steps == sorted(set(steps)) and len(steps) <= 40
    gaps = np.diff(steps)
    assert gaps[:5].mean() < gaps[-5:].mean()
    assert animation.capture_steps(5, 40) == [1, 2, 3, 4, 5]
    assert animation.capture_steps(7, 1) == [7]
    assert animation.capture_steps(0, 40) == []


def test_thin_keeps_first_and_last_and_at_most_the_limit():
    timeline = [(step, np.full((4, 4, 3), step % 256, np.uint8)) for step in range(1, 301)]
    thinned = animation.thin(timeline, 40)
    assert len(thinned) == 40
    assert thinned[0][0] == 1 and thinned[-1][0] == 300
    assert animation.thin(timeline[:10], 40) == timeline[:10]


def test_recorded_animation_ends_on_the_final_picture_and_changes_along_the_way(tiny):
    engine = Engine(tiny)
    settings = engine.settings(channels("conv2", [1, 4]), steps=30, size=32, seed=2)
    result, timelines = animation.record_animation(engine, settings, frames=10)
    assert len(timelines) == 2
    for index, timeline in enumerate(timelines):
        steps = [step for step, _ in timeline]
        assert steps == animation.capture_steps(30, 10)
        assert np.array_equal(timeline[-1][1], result.images[index])
        assert not np.array_equal(timeline[0][1], timeline[-1][1])
    # the recording is the same optimisation as a plain render
    assert np.array_equal(result.images, engine.render(settings).images)


def test_recording_ignores_the_cache_but_gives_the_cached_picture(tiny, tmp_path):
    engine = Engine(tiny, RenderCache(tmp_path))
    settings = engine.settings("conv1:0", steps=12, size=32)
    first = engine.render(settings)
    result, [timeline] = animation.record_animation(engine, settings, frames=6)
    assert len(timeline) == len(animation.capture_steps(12, 6)) > 1  # optimised again, not one cached frame
    assert np.array_equal(result.images, first.images)


def gif_frames(data: bytes) -> list[Image.Image]:
    picture = Image.open(io.BytesIO(data))
    assert picture.format == "GIF"
    return [frame.copy().convert("RGB") for frame in ImageSequence.Iterator(picture)]


def test_gif_has_one_frame_per_picture_enlarged_captioned_and_holds_the_last():
    timeline = [(step, np.full((32, 32, 3), (step * 20, 0, 255 - step * 20), np.uint8)) for step in range(1, 11)]
    data = animation.gif_bytes(timeline, total=10, play_seconds=2.0, hold_seconds=1.5)
    frames = gif_frames(data)
    assert len(frames) == 10
    assert frames[0].size == (192, 192 + animation.CAPTION_HEIGHT)  # 32 px enlarged 6x, plus the caption strip
    picture = Image.open(io.BytesIO(data))
    assert picture.info.get("loop") == 0
    durations = []
    for frame in ImageSequence.Iterator(picture):
        durations.append(frame.info["duration"])
    assert durations[:-1] == [200] * 9 and durations[-1] == 1500
    top = np.asarray(frames[-1])[:192]
    assert np.abs(top.astype(int) - [200, 0, 55]).max() <= 8  # the picture survives the GIF palette
    caption = np.asarray(frames[0])[192:]
    assert (caption < 128).any() and (caption > 200).any()  # dark text on white


def test_empty_timeline_is_refused():
    with pytest.raises(ValueError, match="at least one picture"):
        animation.gif_bytes([], total=5)


def test_a_live_run_record_keeps_a_bounded_timeline(tiny):
    engine = Engine(tiny)
    settings = engine.settings("conv1:2", steps=300, size=32)
    record = RunRecord(settings)
    for frame in engine.run(settings, preview_every=1):
        record.update(frame)
    assert record.status == "done"
    assert len(record.timeline) <= 2 * animation.FRAMES
    assert record.timeline[-1][0] == 300 and np.array_equal(record.timeline[-1][1], record.result.images)
    assert gif_name(settings) == gif_name(settings).removesuffix(".gif") + ".gif"
    assert gif_name(settings).startswith("conv1_filter2_robust_300it")
