"""Filter Explorer: pick a layer and a filter of VGG16, press Generate and watch the picture form.

The router: the model, the sidebar and the tabs, each tab drawn by its own module in ``dashboard``. The maths
lives in ``vizcore`` (the engine). Start with ``streamlit run app.py``.
"""
from __future__ import annotations

import streamlit as st

from dashboard.about import about_tab
from dashboard.compare import compare_tab
from dashboard.diversity import diversity_tab
from dashboard.dream import dream_tab
from dashboard.grid import layer_grid_tab
from dashboard.live import mark_interrupted_runs
from dashboard.shared import SINGLE_TAB, engine_or_stop, known_layers, reported, ss
from dashboard.sidebar import restore_view, share_view, sidebar, weights_notice
from dashboard.single import single_filter_page
from dashboard.tour import STORY, TOUR_TAB, offer_tour, stop_from_link, tour_query, tour_tab
from dashboard.uploads import own_model_panel


def main() -> None:
    """The page: model, sidebar, warnings about the link, then the open tab."""
    st.set_page_config(page_title="Filter Explorer", layout="wide")
    st.title("Filter Explorer")
    st.caption("What does each filter of an image-recognition network look for? Pick a layer and a filter, "
               "press Generate and watch the answer form.")
    # The built-in VGG16's controls come at once; the model itself loads meanwhile (the first visit starts
    # TensorFlow), and a click on Generate is kept until it is ready.
    layers = known_layers()
    engine = None if layers is not None else engine_or_stop()
    layers = layers or engine.model.layers
    warnings = restore_view(layers) + open_tour_from_link()
    mark_interrupted_runs()
    controls = st.sidebar.empty()
    view, generate = sidebar(controls.container(), layers, None if engine is None else engine.model.input_size)
    if engine is None:
        with st.spinner("Loading the network (TensorFlow and the VGG16 weights: a few seconds, once per server)…"):
            engine = engine_or_stop(controls)
    weights_notice(st.sidebar, engine.model)
    own_model_panel(engine.model)
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


if __name__ == "__main__":
    main()
