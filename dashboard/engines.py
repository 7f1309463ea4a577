"""The dashboard's shared resources that need the engine (and so TensorFlow): the cached engine of each model,
the measured step times, the natural-photo reference, and compiling ahead of a click. Importing it also keeps
Keras's state between script runs (see keep_keras_state_between_runs)."""
from __future__ import annotations

import threading

import keras
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import vizcore
from dashboard.estimates import StepClock
from dashboard.records import RunRecord
from dashboard.reference import NaturalReference
from dashboard.shared import LOG, UPLOAD_SOURCE, model_source, ss
from vizcore import uploads
from vizcore.cache import RenderCache
from vizcore.render import Settings


def keep_keras_state_between_runs() -> None:
    """Stop Streamlit from calling ``keras.backend.clear_session()`` after every script run and fragment run.

    Streamlit does it for apps that build a model per run. This one keeps its models and compiled steps for the
    server's life, and each call is a full garbage collection holding the GIL (0.2 s with VGG16 loaded, more
    with many sessions) that also empties TensorFlow's kernel cache: with 8 sessions open and their quality
    numbers polling, the server took 9-15 s to answer /_stcore/health. (``keras.utils.clear_session`` stays.)
    """
    keras.backend.clear_session = lambda free_memory=True: None


keep_keras_state_between_runs()  # once per server process: the module is imported once


@st.cache_resource(show_spinner="Loading the VGG16 network (only on the first visit after a start)…")
def load_engine(source: str) -> vizcore.Engine:
    """The model, its compiled steps and the disk cache of finished pictures; thread-safe, shared."""
    return vizcore.Engine(vizcore.load_model(source), RenderCache())


@st.cache_resource(show_spinner="Loading your model…", max_entries=4)
def load_uploaded_engine(sha256: str, preprocessing: str, _file_name: str = "") -> vizcore.Engine:
    """An uploaded model file (checked in a separate process first), by its SHA-256 and preprocessing; shared."""
    path = uploads.uploads_dir() / f"{sha256}.keras"
    return vizcore.Engine(uploads.load_model_file(path, preprocessing, _file_name or None), RenderCache())


def engine_for(source: str) -> vizcore.Engine:
    """The engine of a model source: the server's VGG16 weights, or an upload ("upload:<sha256>:<preprocessing>")."""
    kind, _, upload = source.partition(":")
    if kind == UPLOAD_SOURCE:
        sha256, _, preprocessing = upload.partition(":")
        return load_uploaded_engine(sha256, preprocessing, ss.get("model_file_name", ""))
    return load_engine(source)


@st.cache_resource
def step_clock() -> StepClock:
    """Measured seconds per step, so live pictures arrive about three times a second at any depth."""
    return StepClock()


@st.cache_resource
def natural_reference(source: str) -> NaturalReference:
    """The "x strongest natural photo" scorer, prepared in the background on first use."""
    return NaturalReference(engine_for(source).model)


def qualities(record: RunRecord) -> list[float | None] | None:
    """The record's "x strongest natural photo" scores, computed once; None while they cannot be computed."""
    if record.qualities is None and record.result is not None:
        record.qualities = natural_reference(model_source()).scores(record.result)
    return record.qualities


def prepare_in_background(engine: vizcore.Engine, settings: Settings) -> None:
    """Trace the steps of these settings in a background thread while the visitor looks at the page, so that
    Generate's first live picture comes at once even for a layer not rendered before (the engine does
    each combination once; a render that starts meanwhile waits for the same compiled steps)."""
    def prepare() -> None:
        try:
            engine.prepare(settings)
        except Exception:  # a failure here only costs speed: the render itself reports any real problem
            LOG.exception("Preparing the steps for %s failed", settings.layer)

    # Not a daemon: the process waits for it at exit (a few seconds) instead of killing TensorFlow mid-call,
    # which aborts the whole process ("terminate called ...", exit status 134).
    threading.Thread(target=prepare, name="prepare-steps", daemon=False).start()


def engine_or_stop(controls: DeltaGenerator | None = None) -> vizcore.Engine:
    """The session's engine, or a plain error with what to do (and the page stops there, without the
    ``controls`` already drawn)."""
    try:
        if ss.get("model_source"):
            try:
                return engine_for(model_source())
            except vizcore.VizError as error:  # e.g. the stored upload was removed: back to VGG16
                del ss["model_source"]
                st.error(f"Your model could not be loaded, so VGG16 is in use again. {error}")
            except Exception:  # whatever else loading it raised: never leave the visit stuck on it
                LOG.exception("Loading the session's own model failed")
                del ss["model_source"]
                st.error("Your model could not be loaded, so VGG16 is in use again (the details are in the "
                         "server's log).")
        return load_engine(model_source())
    except vizcore.VizError as error:
        st.error(f"The model could not be loaded. {error}\n\n**What to do:** start the page with the offline "
                 "weights, `VIZCORE_MODEL=hed-vgg16 streamlit run app.py`, then reload this page.")
    except Exception:
        LOG.exception("Loading the model failed")
        st.error("Something went wrong while loading the model. Reload the page in a minute; if it keeps "
                 "happening, the details are in the server's log.")
    if controls is not None:
        controls.empty()
    st.stop()
