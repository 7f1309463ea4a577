"""The Single filter tab: the sidebar's filter made live (or its picture from the cache or the atlas), with its
loss curve, "x strongest natural photo" number, downloads and animation, then the photos that excite it."""
from __future__ import annotations

import streamlit as st

import vizcore
from dashboard.animation import animation_section
from dashboard.captions import picture_caption, result_caption
from dashboard.downloads import png_bytes, png_name
from dashboard.engines import natural_reference, prepare_in_background, qualities
from dashboard.examples import photo_examples
from dashboard.grid import view_atlas
from dashboard.live import Panel, live_render, settings_changed_note, show_stopped
from dashboard.query import View
from dashboard.records import RunRecord
from dashboard.reference import quality_sentence
from dashboard.shared import model_source, reported, ss
from vizcore.atlas import Atlas
from vizcore.render import Settings


def single_record(engine: vizcore.Engine, settings: Settings | None) -> RunRecord | None:
    """The last render of this visit, or, for a filter just opened from the layer grid, its finished
    picture from the disk cache (otherwise a cached picture is shown when Generate is pressed)."""
    record = ss.get("single")
    if ss.pop("show_cached", False) and settings is not None and (record is None or record.settings != settings):
        cached = engine.cached_result(settings)
        if cached is not None:
            record = ss["single"] = RunRecord.finished(cached, from_cache=True)
    return record


def atlas_picture(engine: vizcore.Engine, view: View) -> tuple[Atlas, dict] | None:
    """The atlas and record of the sidebar's filter, when it was opened from the atlas (and still chosen)."""
    if ss.get("atlas_opened") != (view.layer, view.filter):
        return None
    atlas = view_atlas(engine, view)
    record = None if atlas is None else atlas.record(view.layer, view.filter)
    return None if record is None else (atlas, record)


def show_atlas_picture(panel: Panel, right, settings: Settings, atlas: Atlas, record: dict) -> None:
    """The atlas's finished picture of the filter, with its numbers and a download button."""
    path = atlas.png(settings.layer, settings.filters[0])
    panel.pictures.image(str(path), width="stretch",
                         caption=f"{picture_caption(settings, 0, settings.steps)} · from the atlas")
    with right:
        st.caption(f"From the precomputed atlas: the filter's response to this picture is {record['activation']:.4g}. "
                   "The loss curve is not kept in the atlas; press **Generate** to watch the picture form.")
        if record["quality"] is not None:  # None: not measured, or photos never excite the filter
            st.markdown(quality_sentence([record["quality"]]))
        st.download_button("Download PNG", path.read_bytes(), file_name=png_name(settings), mime="image/png",
                           on_click="ignore", icon=":material/download:", help="Save this picture as a PNG file.")


QUALITY_POLL_SECONDS = 2.0


def quality_number(record: RunRecord) -> None:
    """The "x strongest natural photo" sentence; while the photos are still being measured, the sentence checks
    again every few seconds by itself and shows the number as soon as it is there."""
    if qualities(record) is not None:
        st.markdown(quality_sentence(record.qualities))
    else:
        st.fragment(lambda: st.markdown(quality_sentence(qualities(record))), run_every=QUALITY_POLL_SECONDS)()


def single_filter_page(engine: vizcore.Engine, view: View, generate: bool) -> None:
    """The Single filter tab: the picture (and any live render) first, then the photos that excite the filter."""
    single_filter_tab(engine, view, generate)
    photo_examples(engine, view.layer, view.filter)


def single_filter_tab(engine: vizcore.Engine, view: View, generate: bool) -> None:
    """The picture of the sidebar's filter: made live on Generate, else the last one, a cached or an atlas one."""
    note = ss.pop("opened_note", None)
    if note:
        st.success(note)
    settings = None
    with reported("checking the settings"):
        settings = view.settings(engine)
    stop, progress = st.empty(), st.empty()
    left, right = st.columns(2, gap="large")
    panel = Panel(stop, progress, left.empty(), right.empty(), title="How strongly the filter responds")
    if generate and settings is not None:
        with reported("making the picture"):
            live_render(engine, settings, panel, "single", [f"filter {view.filter}"])
    elif settings is not None:
        prepare_in_background(engine, settings)
    record = single_record(engine, settings)
    opened = atlas_picture(engine, view)
    if (opened is not None and settings is not None and settings.whole_filter
            and (record is None or record.settings != settings)):  # atlases hold whole-filter pictures only
        show_atlas_picture(panel, right, settings, *opened)
        return
    if record is None:
        panel.pictures.info("Choose a layer and a filter in the sidebar, then press **Generate** to watch the "
                            "picture form.")
        return
    label = f"filter {record.settings.filters[0]}"
    panel.draw_chart(record.losses, [label], record.total)
    if record.status == "done":
        result = record.result
        panel.draw_pictures(result.images, [result_caption(result)])
        with right:
            if record.from_cache:
                st.caption("Shown from the cache: this exact picture was made before.")
            if result.settings.whole_filter and not natural_reference(model_source()).failed:
                quality_number(record)
            for message in result.notes:
                st.info(message)
            st.download_button("Download PNG", png_bytes(result.images[0]), file_name=png_name(result.settings),
                               mime="image/png", on_click="ignore", icon=":material/download:",
                               help="Save this picture as a PNG file.")
            animation_section(engine, record)
    else:
        with right:
            show_stopped(panel, record)
    with right:
        settings_changed_note(record, settings)
