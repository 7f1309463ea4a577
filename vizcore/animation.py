"""Animations of an optimisation: the picture at a series of iterations, as an animated GIF.

The early iterations change the picture most, so a recorded animation samples them more densely
(quadratic spacing) than the late ones.
"""
from __future__ import annotations

import io
from collections.abc import Iterator, Sequence

import numpy as np
from PIL import Image, ImageDraw

from vizcore.render import Engine, Frame, RenderResult, Settings

FRAMES = 40           # frames of a recorded animation
PLAY_SECONDS = 4.0    # the optimisation plays in this time...
HOLD_SECONDS = 1.5    # ...then the final picture stays this long before the loop restarts
MIN_SIDE = 192        # small pictures are enlarged (nearest neighbour) so the animation is watchable
CAPTION_HEIGHT = 16

Timeline = list[tuple[int, np.ndarray]]  # (iteration, uint8 picture [h, w, 3]) in increasing iterations


def capture_steps(total: int, frames: int = FRAMES) -> list[int]:
    """Up to ``frames`` iterations from 1 to ``total``, denser at the start (quadratic spacing)."""
    if total < 1 or frames < 1:
        return []
    if frames == 1:
        return [total]
    positions = np.linspace(0.0, 1.0, frames) ** 2
    return sorted({int(round(1 + p * (total - 1))) for p in positions})


def thin(timeline: Timeline, frames: int = FRAMES) -> Timeline:
    """At most ``frames`` entries, evenly chosen, always keeping the first and the last."""
    if len(timeline) <= frames:
        return list(timeline)
    picks = np.unique(np.round(np.linspace(0, len(timeline) - 1, frames)).astype(int))
    return [timeline[i] for i in picks]


class Recorder:
    """Keeps the pictures of a run at ``capture_steps``; feed it every frame of ``run``."""

    def __init__(self, total: int, frames: int = FRAMES):
        self.wanted = capture_steps(total, frames)
        self.frames: list[tuple[int, np.ndarray]] = []

    def run(self, engine: Engine, settings: Settings) -> Iterator[Frame]:
        """A fresh optimisation (never served from the cache) with pictures at the wanted steps."""
        return engine.run(settings, preview_every=settings.steps, use_cache=False, preview_at=set(self.wanted))

    def take(self, frame: Frame) -> None:
        """Keep the frame's pictures if it is one of the wanted iterations."""
        if frame.step in self.wanted and frame.images is not None:
            self.frames.append((frame.step, frame.images))

    def timelines(self) -> list[Timeline]:
        """One timeline per picture of the batch."""
        return timelines_of(self.frames)


def record_animation(engine: Engine, settings: Settings, frames: int = FRAMES) -> tuple[RenderResult, list[Timeline]]:
    """Optimise afresh and keep the pictures at ``capture_steps``; the result and one timeline per picture."""
    recorder = Recorder(settings.steps, frames)
    for frame in recorder.run(engine, settings):
        recorder.take(frame)
        if frame.result is not None:
            return frame.result, recorder.timelines()
    raise AssertionError("the loop always ends with a result")


def _frame_picture(image: np.ndarray, caption: str, scale: int) -> Image.Image:
    picture = Image.fromarray(np.asarray(image, np.uint8))
    if scale > 1:
        picture = picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)
    canvas = Image.new("RGB", (picture.width, picture.height + CAPTION_HEIGHT), "white")
    canvas.paste(picture, (0, 0))
    ImageDraw.Draw(canvas).text((4, picture.height + 2), caption, fill="black")
    return canvas


def gif_bytes(timeline: Timeline, total: int, play_seconds: float = PLAY_SECONDS,
              hold_seconds: float = HOLD_SECONDS) -> bytes:
    """An endlessly looping GIF of the timeline, each frame captioned with its iteration."""
    if not timeline:
        raise ValueError("an animation needs at least one picture")
    side = min(timeline[0][1].shape[:2])
    scale = max(1, -(-MIN_SIDE // side))  # ceiling division
    pictures = [_frame_picture(image, f"iteration {step} of {total}", scale) for step, image in timeline]
    frame_ms = max(20, round(1000 * play_seconds / len(pictures)))  # browsers treat < 20 ms as 100 ms
    durations = [frame_ms] * (len(pictures) - 1) + [round(1000 * hold_seconds)]
    buffer = io.BytesIO()
    pictures[0].save(buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=durations, loop=0)
    return buffer.getvalue()


def timelines_of(frames: Sequence[tuple[int, np.ndarray]]) -> list[Timeline]:
    """Split (iteration, pictures ``[batch, h, w, 3]``) pairs into one timeline per batch member."""
    if not frames:
        return []
    return [[(step, images[i]) for step, images in frames] for i in range(len(frames[0][1]))]
