"""The Diversity tab: several different pictures of the sidebar's filter, made together in one batch and pushed
to differ in style, to show that one filter can respond to several patterns."""
from __future__ import annotations

import streamlit as st

import vizcore
from dashboard.live import Panel, live_render, settings_changed_note, show_stopped
from dashboard.query import View
from dashboard.shared import remembered, reported, ss
from vizcore.render import RenderResult
from vizcore.validate import DEFAULT_COPIES, DEFAULT_DIVERSITY, MAX_COPIES, MIN_COPIES

MAX_STRENGTH = 10.0  # the page's slider; the engine accepts more


def similarity_sentence(result: RenderResult) -> str:
    """The copies' style similarity in plain words."""
    return (f"**Style similarity between the copies: {result.similarity:.2f}** (1 = the same pattern in every "
            "picture, 0 = nothing in common). A higher diversity strength lowers it.")


def diversity_tab(engine: vizcore.Engine, view: View) -> None:
    """Copies and strength controls, a Render button, the copies in a row with live preview, and their curves."""
    st.markdown(f"Several different pictures of the sidebar's filter (**{view.layer}, filter {view.filter}**), "
                "made together. Each starts from its own random noise, and they are pushed to differ in style, "
                "which shows the different patterns one filter responds to.")
    left, right = st.columns(2)
    copies = left.slider(
        "Copies", MIN_COPIES, MAX_COPIES, **remembered("copies", DEFAULT_COPIES),
        help="How many different pictures to make at once. More copies take longer.")
    strength = right.slider(
        "Diversity strength", 0.0, MAX_STRENGTH, step=0.25, **remembered("diversity_strength", DEFAULT_DIVERSITY),
        help=f"How hard the pictures are pushed to look different from each other. 0: each picture is made on "
             f"its own (often the same pattern, shifted). Higher: more different patterns, but each excites the "
             f"filter a little less. {DEFAULT_DIVERSITY:g} is a good start.")
    clicked = st.button("Render copies", type="primary",
                        help="Make the pictures together, with the sidebar's layer, filter, method, iterations, "
                             "learning rate and image size.")
    stop, progress = st.empty(), st.empty()
    panel = Panel(stop, progress, st.empty(), st.empty(), per_row=copies,
                  title="How strongly the filter responds, one curve per copy")
    settings = None
    with reported("checking the settings"):
        settings = view.settings(engine, copies=copies, diversity=strength)
    if clicked and settings is not None:
        with reported("rendering different copies"):
            live_render(engine, settings, panel, "diversity", copy_labels(settings.copies))
    record = ss.get("diversity")
    if record is None:
        panel.pictures.info("Choose how many copies and how different they should be, then press **Render copies**.")
        return
    labels = copy_labels(record.settings.copies)
    panel.per_row = record.settings.copies
    panel.draw_chart(record.losses, labels, record.total)
    if record.status == "done":
        result = record.result
        panel.draw_pictures(result.images, [f"Copy {i + 1} · response {value:.3g}"
                                            for i, value in enumerate(result.activation)])
        st.markdown(similarity_sentence(result))
        for message in result.notes:
            st.info(message)
    else:
        show_stopped(panel, record, labels)
    settings_changed_note(record, settings)


def copy_labels(copies: int) -> list[str]:
    return [f"copy {i + 1}" for i in range(copies)]
