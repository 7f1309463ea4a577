"""A run as a page shows it, without Streamlit: live progress while running, then the result.

One record type for every tab that optimises: a render (``vizcore.render``) or a dream on a photo
(``vizcore.dream``, whose frames ``dream_frames`` turns into render frames).
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from vizcore import animation
from vizcore.dream import DreamFrame, DreamSettings
from vizcore.render import Frame, RenderResult, Settings

DREAM_PICTURE_SECONDS = 0.3  # a dream offers its picture about three times a second


@dataclass
class RunRecord:
    """One run as a page shows it: live progress while running, then the result (or where it stopped)."""

    settings: Settings | DreamSettings
    status: str = "running"   # running, stopped or done
    step: int = 0
    images: np.ndarray | None = None
    losses: np.ndarray | None = None  # [steps so far, pictures]: the render's loss curve, or the dream's objective
    result: RenderResult | None = None  # a finished render's result (a dream has its pictures only)
    qualities: list[float | None] | None = None
    stop_reason: str = ""
    from_cache: bool = False
    timeline: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (iteration, pictures) for the animation
    animation: list[bytes] | None = None  # GIF per picture, made once at the end
    photo_name: str = ""  # a dream's photo: its name and uint8 RGB pixels
    photo: np.ndarray | None = None

    @property
    def dream(self) -> bool:
        """True for a dream on a photo, False for a render."""
        return isinstance(self.settings, DreamSettings)

    @property
    def total(self) -> int:
        """How many steps the whole run takes."""
        return self.settings.total_steps if self.dream else self.settings.steps

    def stage(self, step: int) -> str:
        """Where the run is, in words: 'iteration 5 of 30', or for a dream 'step 5 of 60 (octave 1 of 3)'."""
        if not self.dream:
            return f"iteration {step} of {self.total}"
        octave = max(step - 1, 0) // self.settings.steps_per_octave + 1
        return f"step {step} of {self.total} (octave {octave} of {self.settings.octaves})"

    def update(self, frame: Frame) -> bool:
        """Take in a frame; True if it brought new pictures."""
        self.step, self.losses, self.result = frame.step, frame.losses, frame.result
        if frame.step == frame.total:
            self.status = "done"
        if frame.images is None:
            return False
        self.images = frame.images
        self.timeline.append((frame.step, frame.images))
        if len(self.timeline) > 2 * animation.FRAMES:  # bounded memory on long, fast-drawn runs
            self.timeline = animation.thin(self.timeline)
        return True

    def interrupted(self, reason: str) -> None:
        """Mark a run that ended before its last step (Stop, or a setting changed mid-run)."""
        if self.status == "running":
            self.status, self.stop_reason = "stopped", reason

    def made_with(self, settings: Settings | DreamSettings | None, photo_name: str = "",
                  photo: np.ndarray | None = None) -> bool:
        """True if this run was made from these settings (and, for a dream, this photo)."""
        # array_equal(None, None) is True: two renders, neither with a photo
        return self.settings == settings and self.photo_name == photo_name and np.array_equal(self.photo, photo)

    @classmethod
    def finished(cls, result: RenderResult, from_cache: bool = False) -> RunRecord:
        """A record for an already finished render (e.g. from the disk cache)."""
        return cls(result.settings, "done", result.settings.steps, result.images, result.loss_history, result,
                   from_cache=from_cache)


def dream_frames(frames: Iterator[DreamFrame]) -> Iterator[Frame]:
    """A dream's frames as a render's: the objective so far as the loss curve (one curve), the picture about
    three times a second and on the last step."""
    history: np.ndarray | None = None
    offered = -np.inf
    for frame in frames:
        if history is None:
            history = np.zeros((frame.total, 1), np.float32)
        history[frame.step - 1] = frame.objective
        now = time.perf_counter()
        fresh = frame.final or now - offered >= DREAM_PICTURE_SECONDS
        if fresh:
            offered = now
        yield Frame(frame.step, frame.total, history[:frame.step], frame.picture[None] if fresh else None)
