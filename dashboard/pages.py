"""Everything below the sidebar's controls, once the engine is loaded: the weights notice, your own model, the
shareable link, warnings about it, the tour's offer and the open tab, each tab drawn by its own module.

Importing this module starts TensorFlow, so ``app.py`` imports it only after drawing the controls.
"""
from __future__ import annotations

import streamlit as st

import vizcore
from dashboard.about import about_tab
from dashboard.compare import compare_tab
from dashboard.diversity import diversity_tab
from dashboard.dream import dream_tab
from dashboard.grid import layer_grid_tab
from dashboard.live import mark_interrupted_runs
from dashboard.query import View
from dashboard.shared import SINGLE_TAB, reported, ss
from dashboard.sidebar import share_view, weights_notice
from dashboard.single import single_filter_page
from dashboard.tour import STORY, TOUR_TAB, offer_tour, stop_from_link, tour_query, tour_tab
from dashboard.uploads import own_model_panel


def show_page(engine: vizcore.Engine, view: View, generate: bool, warnings: list[str]) -> None:
    """The page for ``view`` (Generate pressed or not), with ``warnings`` about the link shown above the tabs."""
    weights_notice(st.sidebar, engine.model)
    own_model_panel(engine.model)
    warnings = warnings + open_tour_from_link()
    mark_interrupted_runs()
    share_view(view, tour_query())
    for warning in warnings:
        st.warning(warning)
    offer_tour()
    # Only the open tab runs, so a hidden tab never starts work.
    pages = {  # what each tab shows, and what it was doing if it fails
        SINGLE_TAB: (lambda: single_filter_page(engine, view, generate), "showing the picture"),
        TOUR_TAB: (lambda: tour_tab(engine, view), "showing the tour"),
        "Compare learning rates": (lambda: compare_tab(engine, view), "comparing learning rates"),
        "Diversity": (lambda: diversity_tab(engine, view), "rendering different copies"),
        "Layer grid": (lambda: layer_grid_tab(engine, view), "showing the layer grid"),
        "DeepDream": (lambda: dream_tab(engine, view), "dreaming"),
        "About": (lambda: about_tab(engine.model, engine.cache), "showing the page's notes"),
    }
    for tab, label in zip(st.tabs(list(pages), key="tab", on_change="rerun"), pages):
        if tab.open:
            draw, doing = pages[label]
            with tab, reported(doing):
                draw()


def open_tour_from_link() -> list[str]:
    """Once per visit, a ``?tour=N`` link opens the Tour at stop N; returns a warning if N is not a stop."""
    if ss.get("tour_link_read"):
        return []
    ss["tour_link_read"] = True
    stop, warning = stop_from_link(st.query_params.get("tour"), len(STORY))
    if stop is not None:
        ss.update(tab=TOUR_TAB, tour_stop=stop)
    return [warning] if warning else []
