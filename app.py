"""Filter Explorer: pick a layer and a filter of VGG16, press Generate and watch the picture form.

The router: the title and the sidebar's controls first, without TensorFlow, so they appear at once; then, behind
a spinner, the model and the rest of the page (``dashboard/pages.py``), each tab drawn by its own module in
``dashboard``. The maths lives in ``vizcore`` (the engine). Start with ``streamlit run app.py``.
"""
from __future__ import annotations

import streamlit as st

from dashboard.shared import known_layers
from dashboard.sidebar import restore_view, sidebar

LOADING = ("Starting the network (TensorFlow and the model's weights: a few seconds, once per server start). "
           "A click on Generate meanwhile is kept: the picture starts as soon as the network is ready…")


def main() -> None:
    """The page: title, controls, the model behind a spinner, then the open tab."""
    st.set_page_config(page_title="Filter Explorer", layout="wide")
    st.title("Filter Explorer")
    st.caption("What does each filter of an image-recognition network look for? Pick a layer and a filter, "
               "press Generate and watch the answer form.")
    controls = st.sidebar.empty()
    layers = known_layers()  # the built-in VGG16's layers are known without loading it
    if layers is not None:
        warnings = restore_view(layers)
        view, generate = sidebar(controls.container(), layers, None)
    with st.spinner(LOADING):
        # Imported only now, so the controls above did not wait for TensorFlow, which these modules start.
        from dashboard.engines import engine_or_stop
        from dashboard.pages import show_page
        engine = engine_or_stop(controls)
    if layers is None:  # an uploaded model: its controls follow its layers, known once it is loaded
        warnings = restore_view(engine.model.layers)
        view, generate = sidebar(controls.container(), engine.model.layers, engine.model.input_size)
    show_page(engine, view, generate, warnings)


if __name__ == "__main__":
    main()
