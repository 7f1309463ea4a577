"""The sidebar: layer, filter, objective, method, iterations, learning rate, size and Generate, kept equal to
the page's URL so a view can be shared."""
from __future__ import annotations

import random
from collections.abc import Sequence

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import vizcore
from dashboard.objectives import objective_controls, objective_state
from dashboard.query import MAX_ITERATIONS, View, clamp, lr_decimals, lr_step, picture_sizes, view_from_query
from dashboard.shared import SINGLE_TAB, ss
from vizcore.method_cards import METHOD_CARDS


def restore_view(layers: Sequence[vizcore.LayerInfo]) -> list[str]:
    """Once per visit, set the sidebar from the link's query parameters; return warnings about bad values."""
    if ss.get("view_restored"):
        return []
    view, warnings = view_from_query(st.query_params.to_dict(), layers)
    ss.update(layer=view.layer, filter=view.filter, method=view.method, steps=view.steps, size=view.size)
    ss[f"lr_{view.method}"] = view.lr
    ss.update(objective_state(view))
    ss["view_restored"] = True
    return warnings


def share_view(view: View, extra: dict[str, str]) -> None:
    """Keep the URL equal to the view (and ``extra`` parameters), so the address bar can be copied and shared."""
    wanted = view.to_query() | extra
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def random_filter(counts: dict[str, int]) -> None:
    """Choose another filter of the sidebar's layer at random."""
    count = counts[ss["layer"]]
    choices = [i for i in range(count) if i != ss.get("filter")] or [0]
    ss["filter"] = random.choice(choices)


def show_tab(label: str) -> None:
    """Open the tab ``label`` (on the next script run)."""
    ss["tab"] = label


WEIGHTS_TITLES = {"hed-vgg16": "Offline weights: HED-VGG16 — why?", "imagenet": "ImageNet weights: VGG16 — details"}


def weights_title(model: vizcore.LoadedModel) -> str:
    """The weights in use in a few words, for the sidebar's one line (a file's or upload's name otherwise)."""
    return WEIGHTS_TITLES.get(model.weights, f"{model.weights_description.split(' (')[0]} — details")


def weights_notice(bar: DeltaGenerator, model: vizcore.LoadedModel) -> None:
    """One line naming the weights in use; what they are and why they were chosen in a collapsed expander."""
    details = bar.expander(weights_title(model))
    details.markdown(model.weights_description)
    if model.plain_notice:
        details.markdown(model.plain_notice)
    if model.weights in WEIGHTS_TITLES:
        details.caption("README's *Which weights?* says how to choose the weights.")


def sidebar(bar: DeltaGenerator, layers: Sequence[vizcore.LayerInfo], input_size: int | None) -> tuple[View, bool]:
    """The controls, in ``bar``, for a model with these conv layers (and one fixed picture size, if it has one);
    returns the chosen view and whether Generate was pressed. The weights notice follows once the model is
    loaded."""
    bar.header("Settings")
    counts = {info.name: info.filters for info in layers}
    if ss.get("layer") not in counts:  # another model was chosen: start at its first layer
        ss["layer"] = layers[0].name
    layer = bar.selectbox(
        "Layer", list(counts), key="layer", format_func=lambda name: f"{name} ({counts[name]} filters)",
        help="Where in the network to look. block1 layers react to edges and colours; each later block "
             "combines them into textures, patterns and finally parts of objects (block5).")
    count = counts[layer]
    if not 0 <= ss.get("filter", 0) < count:  # a smaller layer was chosen: keep the filter inside it
        ss["filter"] = clamp(ss.get("filter", 0), 0, count - 1)
    index = bar.number_input(
        "Filter", min_value=0, max_value=count - 1, step=1, key="filter",
        help=f"Which of the {count} filters of this layer to show, numbered 0 to {count - 1}. "
             "Each filter looks for one kind of pattern.")
    bar.button("Random filter", on_click=random_filter, args=(counts,),
               help="Pick a filter of this layer at random.")
    objective = objective_controls(bar, layers, layer, int(index))
    method = bar.selectbox(
        "Method", list(METHOD_CARDS), key="method", format_func=lambda name: METHOD_CARDS[name].title,
        help="How the picture is made. Robust: smooth, natural-looking pictures, fast (recommended). "
             "Lucid: the same look made at full size all the way, about twice as slow. "
             "Classic: the original simple recipe, noisier, kept for comparison.")
    card = METHOD_CARDS[method]
    steps = bar.slider(
        "Iterations", 1, MAX_ITERATIONS, key="steps",
        help=f"How many small improvement steps to make. More steps give a clearer picture but take longer "
             f"(the {card.title} method's usual number is {card.default_steps}).")
    lr_key = f"lr_{method}"
    ss.setdefault(lr_key, card.default_lr)
    lo, hi = card.lr_range
    lr = bar.slider(
        "Learning rate", lo, hi, step=lr_step(card), key=lr_key, format=f"%.{lr_decimals(card)}f",
        help=f"How big each improvement step is. Too small: the picture barely changes; too large: it becomes "
             f"noisy or unstable. The {card.title} method works well around {card.default_lr:g}.")
    sizes = picture_sizes(input_size)
    if ss.get("size") not in sizes:  # a model that takes one size only, or back from one
        ss["size"] = min(sizes, key=lambda size: abs(size - ss.get("size", sizes[0])))
    size = bar.selectbox(
        "Image size", sizes, key="size",
        help="Width and height of the picture, in pixels. Smaller pictures are made faster; deep layers "
             "show more of their patterns in larger pictures.")
    generate = bar.button("Generate", key="generate", type="primary", width="stretch", on_click=show_tab,
                          args=(SINGLE_TAB,),
                          help="Start making the picture for this layer and filter. You can watch it form "
                               "and stop it at any time.")
    bar.divider()
    return View(layer, int(index), method, int(steps), round(float(lr), lr_decimals(card)), int(size),
                **objective), generate
