"""dashboard.records: a run record follows the engine's frames (a render's or a dream's) and stops, without
Streamlit or a model."""
from __future__ import annotations

import numpy as np

from dashboard.records import RunRecord, dream_frames
from vizcore.dream import DreamFrame, DreamSettings
from vizcore.objectives import channels
from vizcore.render import Frame, RenderResult, Settings


def settings(filters=(1,), rates=(0.05,), steps=3) -> Settings:
    return Settings(tuple(channels("conv2", filters)), "robust", steps, 64, tuple(rates))


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


def test_a_dream_is_a_run_record_with_its_photo_curve_and_stages() -> None:
    dream = DreamSettings("conv2", None, octaves=2, steps_per_octave=2)
    photo = np.full((8, 12, 3), 100, np.uint8)
    shapes = [(6, 9), (6, 9), (8, 12), (8, 12)]
    frames = [DreamFrame(1 + step // 2, 2, step + 1, 4, 0.5 * step, np.full((*shape, 3), step, np.uint8))
              for step, shape in enumerate(shapes)]
    record = RunRecord(dream, photo_name="cat.png", photo=photo)
    assert (record.total, record.stage(3)) == (4, "step 3 of 4 (octave 2 of 2)")
    brought = [record.update(frame) for frame in dream_frames(iter(frames))]
    assert brought == [True, False, False, True]  # a picture at once, then a few a second, and the last one
    assert record.status == "done" and record.step == 4 and record.result is None
    np.testing.assert_array_equal(record.losses, [[0.0], [0.5], [1.0], [1.5]])
    assert record.images.shape == (1, 8, 12, 3) and record.images[0, 0, 0, 0] == 3
    assert record.made_with(dream, "cat.png", photo.copy())
    assert not record.made_with(dream, "cat.png", photo[:4])
    assert not record.made_with(DreamSettings("conv2", 1, octaves=2, steps_per_octave=2), "cat.png", photo)
    assert not record.made_with(settings(), "cat.png", photo)


def test_a_stopped_dream_keeps_its_objective_so_far() -> None:
    record = RunRecord(DreamSettings("conv2", 3, octaves=1, steps_per_octave=5))
    frames = dream_frames(DreamFrame(1, 1, step, 5, -1.0, np.zeros((4, 4, 3), np.uint8)) for step in (1, 2))
    for frame in frames:
        record.update(frame)
    record.interrupted("You pressed Stop.")
    assert (record.status, record.step, record.stage(record.step)) == ("stopped", 2, "step 2 of 5 (octave 1 of 1)")
    np.testing.assert_array_equal(record.losses, [[-1.0], [-1.0]])
