"""How long a render will take, without Streamlit: a first guess by depth and size, refined by measured step
times, and the live-preview pacing that follows from it."""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Sequence

import numpy as np

from vizcore.methods import Stage, get_method
from vizcore.render import Engine, Frame, Settings

PREVIEW_SECONDS = 0.3  # aim for about this much optimisation between two live pictures


def size_cost(size: int) -> float:
    """A step's cost on a ``size`` px picture relative to 128 px: about the area, but fixed costs make
    pictures under 64 px cost about as much as 64 px."""
    return max(0.25, (size / 128) ** 2)


def prior_step_seconds(layer_position: int, size: int, batch: int = 1) -> float:
    """A first guess of one full-size step's time before anything was measured (VGG16 on two CPU cores).

    Deeper layers cost more (about x1.2 per conv layer), larger pictures cost about their area.
    """
    return 0.018 * math.exp(0.18 * layer_position) * size_cost(size) * batch ** 0.85


def work_share(settings: Settings, stages: Sequence[Stage]) -> float:
    """A render's cost per iteration as a share of a full-size iteration (below 1 for coarse to fine)."""
    return sum(stage.steps * size_cost(stage.size) for stage in stages) / (settings.steps * size_cost(settings.size))


def preview_every(step_seconds: float, steps: int, target: float = PREVIEW_SECONDS) -> int:
    """Steps between two live pictures so that about ``target`` seconds pass between them."""
    return max(1, min(steps, round(target / max(step_seconds, 1e-6))))


def duration_words(seconds: float) -> str:
    """A duration in plain words: seconds under a minute and a half, else minutes."""
    if seconds < 90:
        count = max(1, round(seconds))
        return f"{count} second{'s' if count > 1 else ''}"
    return f"{round(seconds / 60)} minutes"


def seconds_left(durations: Sequence[float], step: int, total: int) -> float | None:
    """The time a run still needs at the pace of its steps so far (the median step; the first, which compiles,
    left out); None until a second step was measured."""
    pace = durations[1:]
    return float(np.median(pace)) * (total - step) if pace else None


class StepClock:
    """Measured seconds per step, by (layer, method, size, batch); shared by all sessions, thread-safe.

    A measurement is the mean over a render's steps (coarse and fine alike, so mean x iterations is the
    render's time), leaving out steps that compiled; what those took beyond a plain step is the compile time.
    Settings never measured get the depth/size guess, scaled by how this machine compared with the guess on
    the runs measured so far (a busy or slow machine makes every guess slower).
    """

    SPEED_SAMPLES = 20
    FIRST_COMPILE_SECONDS = 8.0  # compiling a layer's steps before any was measured (block1-5, 2 cores: 5-12 s)

    def __init__(self) -> None:
        self._seconds: dict[tuple, float] = {}
        self._ratios: list[float] = []  # measured / guessed, most recent last
        self._compiles: list[float] = []  # seconds a render spent compiling, most recent last
        self._lock = threading.Lock()

    @staticmethod
    def key(settings: Settings) -> tuple:
        """What a step's time depends on."""
        return settings.layer, settings.method, settings.size, len(settings.filters)

    @staticmethod
    def guess(settings: Settings, engine: Engine) -> float:
        """The depth/size guess for these settings (on the engine's model, in the stages it will run)."""
        position = next((i for i, info in enumerate(engine.model.layers) if info.name == settings.layer), 0)
        stages = engine.stages(settings, get_method(settings.method))
        return prior_step_seconds(position, settings.size, len(settings.filters)) * work_share(settings, stages)

    def estimate(self, settings: Settings, engine: Engine) -> float:
        """The last measurement for these settings, else the guess scaled to this machine's speed."""
        with self._lock:
            measured = self._seconds.get(self.key(settings))
            speed = float(np.median(self._ratios)) if self._ratios else 1.0
        return measured if measured is not None else self.guess(settings, engine) * speed

    def render_seconds(self, settings: Settings, engine: Engine) -> float:
        """A whole render's time: its iterations, plus compiling when its steps are not compiled yet."""
        with self._lock:
            compiling = float(np.median(self._compiles)) if self._compiles else self.FIRST_COMPILE_SECONDS
        compiled = engine.compiled_already(settings)
        return self.estimate(settings, engine) * settings.steps + (0.0 if compiled else compiling)

    def record(self, settings: Settings, engine: Engine, durations: Sequence[float]) -> None:
        """Remember the mean measured step duration; steps over 10 x the median compiled and are left out (their
        time beyond a plain step is remembered as compile time). ``durations``: every step, the first included."""
        if durations:
            typical = float(np.median(durations[1:] or durations))  # the first step always compiles
            seconds = float(np.mean([d for d in durations if d <= 10 * typical]))
            compiling = sum(d - seconds for d in durations if d > 10 * typical)
            with self._lock:
                self._seconds[self.key(settings)] = seconds
                self._ratios = [*self._ratios, seconds / self.guess(settings, engine)][-self.SPEED_SAMPLES:]
                if compiling:
                    self._compiles = [*self._compiles, compiling][-self.SPEED_SAMPLES:]


def timed(frames: Iterator[Frame]) -> Iterator[tuple[Frame, float]]:
    """Each frame with the seconds the engine took to produce it (the caller's drawing time excluded)."""
    while True:
        start = time.perf_counter()
        try:
            frame = next(frames)
        except StopIteration:
            return
        yield frame, time.perf_counter() - start
