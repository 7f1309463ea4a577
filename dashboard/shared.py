"""What every part of the dashboard shares: the cached engine, the session state and plain error messages.

Streamlit-only glue; the maths is in ``vizcore``. Tabs live in their own modules beside this one.
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import vizcore
from dashboard.estimates import StepClock
from dashboard.records import RunRecord
from dashboard.reference import NaturalReference
from vizcore import uploads
from vizcore.cache import RenderCache
from vizcore.models import VGG16_CATALOG
from vizcore.photos import MAX_PHOTO_BYTES
from vizcore.render import Settings

LOG = logging.getLogger("filter_explorer")
if not LOG.handlers:  # the script re-runs on every interaction; configure the logger once per process
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    LOG.addHandler(_handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False

ss = st.session_state
RUN_RECORDS = ("single", "compare", "grid", "diversity", "dream", "tour")  # session keys of each tab's last run
PHOTO_UPLOAD_MB = MAX_PHOTO_BYTES // (1024 * 1024)  # photo uploaders refuse bigger files in the browser already
UPLOAD_SOURCE = "upload"
SINGLE_TAB = "Single filter"  # the tab that Generate and "Open filter" switch to


# ---------------------------------------------------------------- shared resources (all visitors)

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

    threading.Thread(target=prepare, name="prepare-steps", daemon=True).start()


@st.cache_resource
def background_worker() -> ThreadPoolExecutor:
    """One thread, shared by all visitors, for work the page waits for without blocking the script run (photo
    examples), so a click is taken at once; one job at a time, so it never crowds the renders."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="background")


def remembered(key: str, default: object) -> dict[str, object]:
    """Give a widget back its value (Streamlit drops it while another tab is open); returns its key arguments."""
    ss[key] = ss.get(f"saved_{key}", default)
    return dict(key=key, on_change=remember, args=(key,))


def remember(key: str) -> None:
    """Keep a copy of the widget's value under ``saved_<key>``, where Streamlit leaves it alone."""
    ss[f"saved_{key}"] = ss[key]


def model_source() -> str:
    """The model this session uses: its uploaded model if it chose one, else the server's VGG16 weights."""
    return ss.get("model_source") or os.environ.get("VIZCORE_MODEL", "auto")


def known_layers() -> list[vizcore.LayerInfo] | None:
    """The conv layers of the session's model when they are known before it loads (the built-in VGG16, whatever
    its weights), so the page's controls come at once; None for an uploaded model."""
    return None if ss.get("model_source") else list(VGG16_CATALOG)


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


@contextlib.contextmanager
def reported(doing: str) -> Iterator[None]:
    """Show errors inside the block as a short message instead of a traceback.

    Only ``Exception`` is caught: Streamlit's rerun and stop signals derive from BaseException
    and must pass through.
    """
    try:
        yield
    except vizcore.VizError as error:
        st.error(str(error))
    except Exception:
        LOG.exception("Failed while %s", doing)
        st.error(f"Something went wrong while {doing}. Please try again; if it keeps happening, "
                 "reload the page (the details are in the server's log).")
