"""The Single filter tab's section "Photos that excite this filter": the top places (small ones in context)
with their response in words, heat maps of where the filter fires, and an uploader for the visitor's own photos.

Streamlit-only glue; the search is ``vizcore.examples`` (its map cache is shared by all visitors).
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, wait

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

import vizcore
from dashboard.shared import PHOTO_UPLOAD_MB, background_worker, reported, ss
from vizcore import examples
from vizcore.examples import Example, Photo, PhotoSet

SECTION_KEY = "photo_examples"  # also the CSS class st-key-photo_examples, which the browser tests use
HEAT_COLUMNS = 3
SEARCHING = "Looking through the photos (the first time for a layer takes a few seconds)…"
WAIT_SECONDS = 0.25  # while searching, the page makes a Streamlit call (where a click takes effect) this often


def photo_examples(engine: vizcore.Engine, layer: str, filter_index: int) -> None:
    """The section for this filter; call it after any live render. The search runs in the background and the
    page waits for it without ever holding up a click."""
    with st.container(key=SECTION_KEY):
        st.subheader("Photos that excite this filter")
        try:
            engine.model.check_any_size(examples.FEATURE)
        except vizcore.InputError as unavailable:  # not a mistake of the visitor's: the section is just not offered
            st.info(str(unavailable))
            return
        results = st.container()
        uploads = st.file_uploader(
            "Add your own photos", type=["png", "jpg", "jpeg"], accept_multiple_files=True, key="example_uploads",
            max_upload_size=PHOTO_UPLOAD_MB,
            help=f"Up to {examples.MAX_OWN_PHOTOS} JPEG or PNG photos from your computer. They are searched "
                 "together with the sample photos, so you can see which part of your own pictures this filter "
                 "reacts to.")
        photos = photo_set(uploads or [])
        with results, reported("looking for the photos that excite this filter"):
            search = example_search(engine.model, layer, filter_index, photos)
            wait_for(search)
            draw_examples(search.result(), layer, filter_index, len(photos))


def photo_set(uploads: Sequence[UploadedFile]) -> PhotoSet:
    """The sample photos plus the good uploads; each bad upload is reported in plain words."""
    decoded = ss.setdefault("example_decoded", {})
    for stale in set(decoded) - {upload.file_id for upload in uploads}:
        del decoded[stale]
    good: list[Photo] = []
    for upload in uploads:
        if upload.file_id not in decoded:
            try:
                decoded[upload.file_id] = examples.uploaded_photo(upload.getvalue(), upload.name)
            except vizcore.VizError as error:
                decoded[upload.file_id] = str(error)
        photo = decoded[upload.file_id]
        if isinstance(photo, Photo):
            good.append(photo)
        else:
            st.error(f"{photo} It is left out; the other photos are used.")
    if len(good) > examples.MAX_OWN_PHOTOS:
        st.warning(f"Only your first {examples.MAX_OWN_PHOTOS} photos are used; remove some to use others.")
    return examples.with_own_photos(good[:examples.MAX_OWN_PHOTOS])


def wait_for(search: Future) -> None:
    """Wait for the search, saying so and making a Streamlit call every WAIT_SECONDS: a click (Generate, another
    filter) is taken at the next such call, so it never waits for the search."""
    note = st.empty()
    started = time.monotonic()
    while not wait([search], timeout=WAIT_SECONDS).done:
        note.caption(f"{SEARCHING} {time.monotonic() - started:.0f} s")
    note.empty()


def example_search(model: vizcore.LoadedModel, layer: str, filter_index: int,
                   photos: PhotoSet) -> Future[list[Example]]:
    """The search for this filter's examples, started in the background once per filter and kept in the
    session (a search for a filter no longer shown is cancelled if it has not started yet)."""
    key = (model.fingerprint, layer, filter_index, photos.identity)
    kept = ss.get("example_search")
    if kept is None or kept[0] != key:
        if kept is not None:
            kept[1].cancel()
        kept = ss["example_search"] = (key, background_worker().submit(
            examples.top_examples, model, layer, filter_index, photos))
    return kept[1]


def response_words(relative: float) -> str:
    """How strongly the filter responds at a place, in plain words: its response relative to its mean."""
    if relative < 1.1:
        return "response no stronger than on an average place"
    times = f"{relative:.0f}" if relative >= 10 else f"{relative:.1f}"
    return f"response {times}× stronger than on an average place"


def draw_examples(found: Sequence[Example], layer: str, filter_index: int, photo_count: int) -> None:
    """The places in a row (small ones in context) with their responses in words, then the heat maps in an
    expander."""
    if not found:
        st.info(f"{examples.SILENT_NOTE} ({layer}, filter {filter_index}, {photo_count} photos.)")
        return
    shown = ("Each picture is a piece of the photo around the place, the part the filter sees outlined"
             if found[0].context is not None else "Each crop is the part of the photo the filter sees")
    st.caption(f"The {len(found)} places in {photo_count} photos where {layer} filter {filter_index} responds "
               f"most (at most {examples.PER_PHOTO} per photo). {shown}. \"Stronger than on an average place\" "
               f"compares with the filter's mean response over every place of these {photo_count} photos.")
    for column, example in zip(st.columns(len(found)), found):
        column.image(example.picture, caption=f"{example.photo} · {response_words(example.relative)}",
                     width="stretch")
    with st.expander("Where in each photo the filter fires (heat maps)"):
        st.caption("Bright yellow: the strongest response; orange and purple: weaker; dark: none. "
                   "The box marks the part of the photo the filter sees at each place shown above.")
        for start in range(0, len(found), HEAT_COLUMNS):
            for column, rank, example in zip(st.columns(HEAT_COLUMNS), range(start + 1, len(found) + 1),
                                             found[start:]):
                column.image(example.overlay, caption=f"{rank}. {example.photo}", width="stretch")
