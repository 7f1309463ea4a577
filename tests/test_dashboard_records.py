"""dashboard.records: a run record follows the engine's frames and stops, without Streamlit or a model."""
from __future__ import annotations

import numpy as np

from dashboard.records import RunRecord
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
