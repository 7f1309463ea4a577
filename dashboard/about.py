"""The About tab: what filters and the pictures mean, the layers and methods, and the cache's disk use."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import vizcore
from vizcore.atomic import cache_dir
from vizcore.cache import RenderCache, clear_cache, uploads_use
from vizcore.methods import METHODS


def about_tab(model: vizcore.LoadedModel, renders: RenderCache) -> None:
    """Plain-words notes on filters, layers, methods and the quality number; the weights and the disk use."""
    st.markdown(
        """
### What is a filter?
The network on this page, **VGG16**, learned to recognise what is in photos. It looks at a picture in
layers. Each layer has many **filters**: small pattern detectors. A filter gives a strong response where
the picture contains its pattern and stays quiet elsewhere.

### What do these pictures mean?
We start from a blurry noise picture and change it, step by step, so that the chosen filter responds
as strongly as possible. The result shows **what that filter is looking for**: not a photo, but its
favourite pattern, repeated across the picture. The curve next to it shows the filter's response
climbing while the picture forms. To be quick, the first seven eighths of the steps shape a small tile
of the pattern (a step on a picture half as wide costs about a third), shown repeated 2 × 2; the last
eighth refines the whole picture at full size.

### From edges to object parts
- **block1**: colours and simple edges in one direction.
- **block2**: corners, small stripes and dots.
- **block3**: textures: meshes, waves, fur-like and scale-like patterns.
- **block4**: more complex patterns and parts of things: eyes, wheels, petals, text-like marks.
- **block5**: large, object-like parts (faces of animals, buildings, fabric folds).

Each layer looks at a larger part of the picture than the one before:
"""
    )
    st.dataframe(pd.DataFrame({"Layer": [info.name for info in model.layers],
                               "Filters": [info.filters for info in model.layers],
                               "Sees a patch of (pixels)": [f"{info.receptive_field} × {info.receptive_field}"
                                                            for info in model.layers]}),
                 hide_index=True, width="content")
    st.markdown("### The methods")
    for recipe in METHODS.values():
        st.markdown(f"- **{recipe.title}**: {recipe.description}")
    st.markdown(
        """
### More ways to look at a filter
- **Animation** (under a finished picture): the picture forming, from noise to the end, as a GIF.
- **Photos that excite this filter** (under the picture): the places in real photos where the filter
  responds most, and heat maps of where it fires. Add your own photos to see what it finds in them.
- **Objective** and **Blend with another filter** (sidebar): the centre neuron only, or a mix of two filters.
- **Diversity**: several different pictures of one filter at once: one filter can respond to several patterns.
- **DeepDream**: a photo changed so that a layer (or a filter) sees more of what it looks for.
- **Use your own model** (sidebar): the same tools on your own Keras model.

### The "× the strongest natural photo" number
The finished picture is shown to the filter a few times with small shifts and turns, and its average
response is compared with the strongest responses (top 1 %) the same filter gives to crops of ordinary
photos. Above 1 means the picture excites the filter more than real photos do.

### Which weights are in use
"""
    )
    st.markdown(model.weights_description)
    if model.plain_notice:
        st.info(model.plain_notice)
    disk_use(renders)


def disk_use(renders: RenderCache) -> None:
    """One line of what the cache folder keeps against its limits, with a button that empties it."""
    words, button = st.columns([5, 1], vertical_alignment="center")
    if button.button("Clear", key="clear_cache", help="Delete the kept pictures and uploaded model files "
                     "(pictures are made again when asked for; models in use stay loaded)."):
        clear_cache("all", renders)
    words.caption(f"Disk use: {renders.use()}; {uploads_use()} (in {cache_dir()}; least recently used first out "
                  "above the limits, set by VIZCORE_RENDER_CACHE_MB and VIZCORE_UPLOAD_CACHE_MB)")
    if renders.problem:
        words.caption(renders.problem)
