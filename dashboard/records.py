"""A render as a page shows it, without Streamlit: live progress while running, then the result."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vizcore import animation
from vizcore.render import Frame, RenderResult, Settings


@dataclass
class RunRecord:
    """One render as a page shows it: live progress while running, then the result (or where it stopped)."""

    settings: Settings
    status: str = "running"   # running, stopped or done
    step: int = 0
    images: np.ndarray | None = None
    losses: np.ndarray | None = None
    result: RenderResult | None = None
    qualities: list[float | None] | None = None
    stop_reason: str = ""
    from_cache: bool = False
    timeline: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (iteration, pictures) for the animation
    animation: list[bytes] | None = None  # GIF per picture, made once at the end

    @property
    def total(self) -> int:
        return self.settings.steps

    def update(self, frame: Frame) -> bool:
        """Take in a frame; True if it brought new pictures."""
        self.step, self.losses = frame.step, frame.losses
        if frame.result is not None:
            self.result, self.status = frame.result, "done"
            self.images, self.losses = frame.result.images, frame.result.loss_history
            self.timeline.append((frame.step, frame.result.images))
            return True
        if frame.images is not None:
            self.images = frame.images
            self.timeline.append((frame.step, frame.images))
            if len(self.timeline) > 2 * animation.FRAMES:  # bounded memory on long, fast-drawn runs
                self.timeline = animation.thin(self.timeline)
            return True
        return False

    def interrupted(self, reason: str) -> None:
        """Mark a run that ended before its last step (Stop, or a setting changed mid-run)."""
        if self.status == "running":
            self.status, self.stop_reason = "stopped", reason

    @classmethod
    def finished(cls, result: RenderResult, from_cache: bool = False) -> RunRecord:
        """A record for an already finished result (e.g. from the disk cache)."""
        return cls(result.settings, "done", result.settings.steps, result.images, result.loss_history, result,
                   from_cache=from_cache)
