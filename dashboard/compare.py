"""The Compare learning rates tab: the sidebar's filter made with several learning rates at once, side by side."""
from __future__ import annotations

import streamlit as st

import vizcore
from dashboard.engines import qualities
from dashboard.live import Panel, live_render, settings_changed_note, show_stopped
from dashboard.query import View, compare_defaults, lr_choices
from dashboard.shared import remembered, reported, ss
from vizcore.methods import METHODS
from vizcore.render import Settings

COMPARE_MAX = 6


def compare_tab(engine: vizcore.Engine, view: View) -> None:
    """Learning rates to choose, a Compare button, the pictures side by side and one curve per rate."""
    recipe = METHODS[view.method]
    st.markdown(f"The same filter ({view.layer}, filter {view.filter}, {recipe.title} method, {view.steps} "
                "iterations) made with several learning rates at once, to see which step size works best.")
    key = f"compare_rates_{recipe.name}"
    choices = lr_choices(recipe)
    memory = remembered(key, compare_defaults(recipe))
    ss[key] = [rate for rate in ss[key] if rate in choices]
    rates = st.multiselect(
        "Learning rates", choices, max_selections=COMPARE_MAX, format_func=lambda rate: f"{rate:g}", **memory,
        help=f"Pick up to {COMPARE_MAX} step sizes. Each gives its own picture, rendered side by side "
             "in one batch.")
    clicked = st.button("Compare", type="primary", disabled=not rates,
                        help="Make one picture per learning rate, all at the same time.")
    stop, progress = st.empty(), st.empty()
    panel = Panel(stop, progress, st.empty(), st.empty(), per_row=max(2, min(len(rates), COMPARE_MAX)),
                  title="How strongly the filter responds, one curve per learning rate")
    settings = None
    with reported("checking the settings"):
        settings = view.settings(engine, rates=rates) if rates else None
    if clicked and settings is not None:
        with reported("comparing learning rates"):
            live_render(engine, settings, panel, "compare", rate_labels(settings))
    record = ss.get("compare")
    if record is None:
        panel.pictures.info("Choose learning rates and press **Compare**.")
        return
    labels = rate_labels(record.settings)
    panel.per_row = max(2, len(labels))
    panel.draw_chart(record.losses, labels, record.total)
    if record.status == "done":
        panel.draw_pictures(record.images, labels)
        for message in record.result.notes:
            st.info(message)
        # may take a moment the first time for a layer: pictures first
        scores = qualities(record) if record.settings.whole_filter else None
        if scores is not None:
            panel.draw_pictures(record.images, [label if score is None else f"{label} · {score:.1f}× strongest photo"
                                                for label, score in zip(labels, scores)])
    else:
        show_stopped(panel, record, labels)
    settings_changed_note(record, settings)


def rate_labels(settings: Settings) -> list[str]:
    """One label per picture: its learning rate."""
    return [f"learning rate {rate:g}" for rate in settings.learning_rates]
