"""The sidebar's "Use your own model": upload a Keras .keras file, have it checked in a separate process,
then use it in every tab of this visit (and go back to VGG16 at any time)."""
from __future__ import annotations

import streamlit as st

import vizcore
from dashboard.engines import load_uploaded_engine
from dashboard.shared import RUN_RECORDS, UPLOAD_SOURCE, reported, ss
from vizcore import uploads
from vizcore.model_file import MAX_MODEL_BYTES
from vizcore.models import PREPROCESSING

PREPROCESSING_HELP = (
    "What numbers your model expects for a picture; use what it was trained with. "
    + " ".join(f"**{p.description.partition(':')[0]}**:{p.description.partition(':')[2]}."
               for p in PREPROCESSING.values()))


def own_model_panel(model: vizcore.LoadedModel) -> None:
    """Which model is in use, a "Back to VGG16" button, and the expander to upload and use a model file."""
    bar = st.sidebar
    notice = ss.pop("model_notice", None)
    if notice:
        bar.success(notice)
    if ss.get("model_source"):
        bar.button("Back to VGG16", on_click=back_to_vgg16, width="stretch",
                   help="Stop using your model and show the VGG16 network again.")
    with bar.expander("Use your own model"):
        file = st.file_uploader(
            "Keras model file", type=["keras"], key="model_upload",
            help=f"A Keras 3 model saved with model.save('name.keras'), at most "
                 f"{MAX_MODEL_BYTES // (1024 * 1024)} MB. It is checked in a separate process first. "
                 "Only Keras's built-in layers are accepted: no Lambda layers, no custom layers, no .h5 files.")
        st.selectbox("Preprocessing", list(PREPROCESSING), key="model_preprocessing", help=PREPROCESSING_HELP)
        st.button("Use this model", disabled=file is None, width="stretch", on_click=use_chosen_file,
                  help="Check the file, then show its conv layers in every tab instead of VGG16's.")


def use_chosen_file() -> None:
    """Before the page is drawn: store, inspect (in a child process) and load the chosen file, so the
    whole page is then drawn with it (a plain message instead if the file is refused, and its copy deleted)."""
    file = ss.get("model_upload")
    if file is None:
        return
    with reported("checking your model"):
        with st.spinner("Checking the model file in a separate process (this takes a few seconds)…"):
            path, report = uploads.accept_upload(file.getvalue(), file.name)
        preprocessing = ss.get("model_preprocessing", "none")
        load_uploaded_engine(path.stem, preprocessing, file.name)
        ss["model_source"] = f"{UPLOAD_SOURCE}:{path.stem}:{preprocessing}"
        ss["model_file_name"] = file.name
        ss["model_notice"] = f"Now showing {file.name}: {report.summary()}."
        forget_runs()


def back_to_vgg16() -> None:
    ss.pop("model_source", None)
    forget_runs()


def forget_runs() -> None:
    """Pictures of the previous model are not shown with the new one."""
    for key in RUN_RECORDS:
        ss.pop(key, None)
