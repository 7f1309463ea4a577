"""The one live-run path of every tab that optimises: a run (a render, or a dream on a photo) drawn as it forms
(pictures, loss curve, progress, Stop), its record kept in session_state so a Stop or a rerun keeps the picture
as far as it got."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

import vizcore
from dashboard.charts import loss_chart_spec, loss_columns
from dashboard.engines import step_clock
from dashboard.estimates import duration_words, preview_every, seconds_left, timed
from dashboard.records import RunRecord
from dashboard.shared import LOG, RUN_RECORDS, ss
from vizcore.dream import DreamSettings
from vizcore.render import Frame, Settings

REDRAW_SECONDS = 0.3   # the live view (progress, curve) is redrawn at least this often...
MIN_REDRAW_SECONDS = 0.1  # ...and new pictures are shown at once, but never more often than this
CHART_HEIGHT = 280
RESPONSE_AXIS = "Filter response"


@dataclass
class Panel:
    """Where one render is drawn: Stop button, progress bar, pictures and (optionally) the loss curve."""

    stop: st.delta_generator.DeltaGenerator
    progress: st.delta_generator.DeltaGenerator
    pictures: st.delta_generator.DeltaGenerator
    chart: st.delta_generator.DeltaGenerator | None
    per_row: int = 1
    title: str = ""

    def draw_pictures(self, images: Sequence, captions: Sequence[str]) -> None:
        if len(images) == 1 and self.per_row == 1:
            self.pictures.image(images[0], caption=captions[0], width="stretch")
            return
        with self.pictures.container():
            for start in range(0, len(images), self.per_row):
                columns = st.columns(self.per_row)
                for column, image, caption in zip(columns, images[start:], captions[start:]):
                    column.image(image, caption=caption, width="stretch")

    def draw_chart(self, losses, labels: Sequence[str], steps: int) -> None:
        if self.chart is None or losses is None or len(losses) == 0:
            return
        self.chart.vega_lite_chart(pd.DataFrame(loss_columns(losses, labels)),
                                   loss_chart_spec(labels, RESPONSE_AXIS, self.title, steps), height=CHART_HEIGHT)

    def clear_controls(self) -> None:
        self.stop.empty()
        self.progress.empty()


def mark_interrupted_runs() -> None:
    """A run still marked running at the start of a script run was cut short by a rerun (a widget change)."""
    for key in RUN_RECORDS:
        request_stop(key, "It stopped because a setting was changed (or another tab was opened) while it was "
                          "running.")


def request_stop(record_key: str, reason: str = "You pressed Stop.") -> None:
    """Mark the session's run under ``record_key`` as stopped (if it is still running)."""
    record = ss.get(record_key)
    if isinstance(record, RunRecord):
        record.interrupted(reason)


def live_render(engine: vizcore.Engine, settings: Settings, panel: Panel, record_key: str,
                labels: Sequence[str]) -> RunRecord:
    """Optimise ``settings`` live in ``panel`` (see ``live_run``), with live pictures about three times a second
    at any depth; the measured speed paces the next render."""
    clock = step_clock()
    every = preview_every(clock.estimate(settings, engine), settings.steps)
    return live_run(engine.run(settings, preview_every=every), RunRecord(settings), panel, record_key, labels,
                    measured=partial(clock.record, settings, engine))


def live_run(frames: Iterator[Frame], record: RunRecord, panel: Panel, record_key: str, labels: Sequence[str],
             measured: Callable[[Sequence[float]], None] | None = None) -> RunRecord:
    """Follow a run's frames, redrawing its pictures, loss curve and progress every few steps, with a Stop
    button; the record lives in session_state so a Stop or rerun keeps the picture as far as it got.
    ``measured`` gets the engine's seconds for every step (the first, which also compiles, included)."""
    ss[record_key] = record
    panel.stop.button("Stop", key=f"stop_{record_key}", on_click=request_stop, args=(record_key,),
                      help="Stop now and keep the picture as it is.")
    bar = panel.progress.progress(0.0, text="Preparing the network for this layer…")
    durations: list[float] = []
    started = last_draw = time.perf_counter()
    pending_pictures = False
    count = 0
    try:
        # Every draw below is a Streamlit call, which is where a Stop or a widget change takes effect.
        for frame, seconds in timed(frames):
            pending_pictures |= record.update(frame)
            count += 1
            durations.append(seconds)
            if record.status == "done":
                record.from_cache = count == 1 and record.total > 1  # the engine's disk cache had it
                break
            now = time.perf_counter()
            since = now - last_draw
            if frame.step == 1 or since >= REDRAW_SECONDS or (pending_pictures and since >= MIN_REDRAW_SECONDS):
                stage = record.stage(frame.step)
                left = seconds_left(durations, frame.step, record.total)
                bar.progress(frame.step / frame.total, text=f"{stage.capitalize()} · {now - started:.1f} s" +
                             ("" if left is None else f" · about {duration_words(left)} left"))
                panel.draw_chart(record.losses, labels, record.total)
                if pending_pictures:
                    panel.draw_pictures(record.images, picture_labels(labels, stage, len(record.images)))
                    pending_pictures = False
                last_draw = now
    except Exception:
        record.interrupted("It stopped because of an error.")
        raise
    finally:  # no Streamlit calls here: this also runs while a rerun unwinds the loop
        if measured is not None:
            measured(durations)
        LOG.info("%s %s %s: %s at %s after %.1f s (median step %.0f ms)", record_key, record.settings.layer,
                 ", ".join(labels), record.status, record.stage(record.step), time.perf_counter() - started,
                 1000 * float(np.median(durations)) if durations else 0.0)
    panel.clear_controls()
    return record


def picture_labels(labels: Sequence[str], stage: str, count: int) -> list[str]:
    """Captions of a run's live pictures: each one's label and how far the run is ('filter 12 · iteration 40 of
    256'), or the stage alone when the pictures have no labels of their own."""
    return [f"{label} · {stage}" for label in labels] if len(labels) == count else [stage.capitalize()] * count


def show_stopped(panel: Panel, record: RunRecord, labels: Sequence[str] = ()) -> None:
    """Where a run that did not finish got to: its last pictures (if any; captioned with ``labels``, or with
    the step for a single picture) and why it stopped."""
    if record.images is not None:
        captions = [f"{label} · stopped" for label in labels] or [f"Stopped at {record.stage(record.step)}"]
        panel.draw_pictures(record.images, captions)
    stopped_message(record)


def stopped_message(record: RunRecord) -> None:
    st.warning(f"{record.stop_reason} The picture shows how far it got: {record.stage(record.step)}. "
               "Press the button again to start over.")


def settings_changed_note(record: RunRecord, settings: Settings | DreamSettings | None,
                          photo_name: str = "", photo: np.ndarray | None = None) -> None:
    """A note under pictures made with other settings (or another photo) than the ones chosen now."""
    if settings is not None and not record.made_with(settings, photo_name, photo):
        st.caption(f"These pictures were made with other settings{' or another photo' if record.dream else ''} "
                   "than the ones chosen now; press the button to make them with the current ones.")
