"""What every part of the dashboard shares: the session state, the model source, the background worker and
plain error messages.

Streamlit-only glue without TensorFlow, so the sidebar is drawn before the engine starts; the engine and the
other shared resources that need it are in ``engines.py``. Tabs live in their own modules beside this one.
"""
from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import streamlit as st

import vizcore
from vizcore.models import VGG16_CATALOG
from vizcore.photos import MAX_PHOTO_BYTES

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


# ---------------------------------------------------------------- shared by all visitors

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
