"""The DeepDream tab: a sample photo or the visitor's own, dreamed live with the sidebar's layer or filter.

Streamlit-only; the maths is in ``vizcore.dream``.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

import vizcore
from dashboard.downloads import png_bytes
from dashboard.engines import engine_for
from dashboard.live import Panel, live_run, settings_changed_note, show_stopped
from dashboard.query import View
from dashboard.records import RunRecord, dream_frames
from dashboard.shared import PHOTO_UPLOAD_MB, model_source, reported, ss
from vizcore import dream as dreams
from vizcore.photos import read_photo

SIDES = (192, 256, 384, 512, 768)
SAMPLE, UPLOAD = "A sample photo", "My own photo"
WHOLE, ONE_FILTER = "layer", "filter"


@st.cache_resource(show_spinner=False)
def dream_step(source: str, layer: str) -> dreams.DreamStep:
    """The compiled dream step of one layer of the shared model, built once for all visitors."""
    return dreams.compile_dream_step(engine_for(source).model, layer)


def chosen_photo(side: int) -> tuple[str, np.ndarray] | None:
    """The photo to dream on (name, uint8 RGB) from the photo controls, or None (with a message) if there is none."""
    where = st.radio("Photo", (SAMPLE, UPLOAD), key="dream_source", horizontal=True,
                     help="Dream on one of the bundled photos, or upload your own JPEG or PNG photo.")
    if where == SAMPLE:
        name = st.selectbox("Sample photo", list(dreams.SAMPLE_PHOTOS), key="dream_sample",
                            format_func=dreams.SAMPLE_PHOTOS.get,
                            help="A few well-known photos that come with the program.")
        return dreams.SAMPLE_PHOTOS[name], dreams.sample_photo(name, side)
    upload = st.file_uploader("Your photo", type=["jpg", "jpeg", "png"], key="dream_upload",
                              max_upload_size=PHOTO_UPLOAD_MB,
                              help=f"A JPEG or PNG photo of at most {PHOTO_UPLOAD_MB} MB. It is only used on "
                                   "this page and shrunk to the photo size chosen below.")
    if upload is None:
        st.info("Upload a JPEG or PNG photo to dream on.")
        return None
    key = (upload.file_id, side)
    kept = ss.get("dream_photo")  # decoded once, not again on every rerun (a big JPEG takes a while)
    if kept is None or kept[0] != key:
        photo = None
        with reported("reading the photo"):
            photo = read_photo(upload.getvalue(), upload.name, side)
        if photo is None:
            return None
        kept = ss["dream_photo"] = (key, photo)
    return upload.name, kept[1]


def dream_controls(view: View) -> tuple[dreams.DreamSettings, int]:
    """What to amplify and how strongly; returns the dream settings and the photo size."""
    what = st.radio("What to amplify", (WHOLE, ONE_FILTER), key="dream_what",
                    format_func={WHOLE: f"The whole layer {view.layer}",
                                 ONE_FILTER: f"Filter {view.filter} of {view.layer}"}.get,
                    help="Change the photo so that everything this layer sees grows stronger (the classic "
                         "DeepDream look), or only the one filter chosen in the sidebar. Choose the layer and "
                         "filter in the sidebar.")
    side = st.selectbox("Photo size", SIDES, index=SIDES.index(dreams.DEFAULT_SIDE), key="dream_side",
                        format_func=lambda pixels: f"{pixels} px",
                        help="The photo's longer side is shrunk to this many pixels before dreaming. "
                             "Smaller is faster; a photo is never enlarged.")
    left, middle, right = st.columns(3)
    octaves = left.slider("Octaves", dreams.MIN_OCTAVES, dreams.MAX_OCTAVES, dreams.DEFAULT_OCTAVES,
                          key="dream_octaves",
                          help="How many sizes to dream at, from a small copy of the photo up to its full size. "
                               "More octaves give larger patterns.")
    steps = middle.slider("Steps per octave", dreams.MIN_STEPS, dreams.MAX_STEPS, dreams.DEFAULT_STEPS,
                          key="dream_steps",
                          help="How many small changes to make at each size. More steps give stronger "
                               "patterns but take longer.")
    strength = right.slider("Strength", 0.1, 10.0, dreams.DEFAULT_STEP_SIZE, step=0.1, key="dream_strength",
                            help="How much each step may change the photo (in brightness levels out of 255). "
                                 "Higher is bolder but noisier.")
    settings = dreams.DreamSettings(view.layer, None if what == WHOLE else view.filter, octaves,
                                    steps_per_octave=steps, step_size=round(float(strength), 1))
    return settings, int(side)


def live_dream(engine: vizcore.Engine, settings: dreams.DreamSettings, name: str, photo: np.ndarray,
               panel: Panel) -> None:
    """Dream live in ``panel``: the picture and progress about three times a second (see ``live_run``)."""
    frames = dreams.dream(engine.model, photo, settings.layer, settings.filter, settings.octaves,
                          settings.octave_scale, settings.steps_per_octave, settings.step_size, settings.seed,
                          compiled=dream_step(model_source(), settings.layer))
    live_run(dream_frames(frames), RunRecord(settings, photo_name=name, photo=photo), panel, "dream",
             [settings.target()])


def show_dream(record: RunRecord, panel: Panel) -> None:
    """The finished dream with its download, or the picture where it stopped, and the note when the photo gives
    the layer (or filter) nothing to amplify."""
    s = record.settings
    if record.status == "done":
        panel.draw_pictures(record.images, [f"{s.target()} · {s.octaves} octaves × {s.steps_per_octave} steps · "
                                            f"strength {s.step_size:g}"])
        target = s.layer if s.filter is None else f"{s.layer}-filter{s.filter}"
        st.download_button("Download PNG", png_bytes(record.images[0]), file_name=f"dream-{target}.png",
                           mime="image/png", on_click="ignore", icon=":material/download:",
                           help="Save the dreamed photo as a PNG file.")
    else:
        show_stopped(panel, record)
    note = None if record.losses is None else dreams.nothing_to_amplify(s.filter, float(record.losses[0, 0]))
    if note:
        st.info(note)


def dream_tab(engine: vizcore.Engine, view: View) -> None:
    """The DeepDream tab."""
    st.markdown("**DeepDream** changes a photo, step by step, so that the chosen layer of the network sees more "
                "of what it looks for: its patterns grow out of the photo. Pick the layer (and filter) in the "
                "sidebar.")
    photo_column, settings_column = st.columns(2, gap="large")
    with settings_column:
        settings, side = dream_controls(view)
    with photo_column:
        chosen = chosen_photo(side)
    clicked = st.button("Dream", type="primary", disabled=chosen is None,
                        help="Start dreaming on the photo with these settings. You can watch it and stop at "
                             "any time.")
    stop, progress = st.empty(), st.empty()
    left, right = st.columns(2, gap="large")
    if chosen is not None:
        left.image(chosen[1], caption=f"Original: {chosen[0]}", width="stretch")
    panel = Panel(stop, progress, right.empty(), None)
    if clicked and chosen is not None:
        with reported("dreaming"):
            live_dream(engine, settings, *chosen, panel)
    record = ss.get("dream")
    if record is None:
        panel.pictures.info("Press **Dream** to watch the photo change.")
        return
    with right:
        show_dream(record, panel)
        settings_changed_note(record, settings, *(chosen or ("", None)))
