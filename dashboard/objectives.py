"""The sidebar's objective controls: what the picture should excite, in plain words. The whole filter or its
centre neuron (either blended with a second filter), the whole layer, this filter but not a filter of another
layer, or an objective written out in the engine's algebra (README: Objectives)."""
from __future__ import annotations

from collections.abc import Sequence

from streamlit.delta_generator import DeltaGenerator

from dashboard.query import BLENDS, DEFAULT_MIX, OBJECTIVE_TITLES, View, clamp
from dashboard.shared import ss
from vizcore.models import LayerInfo

OBJECTIVE_HELP = (
    "What the picture should excite. Whole filter: the filter's response everywhere, so its pattern fills the "
    "picture. Centre neuron: only the response at the centre, so the pattern appears once, at the size one "
    "neuron sees. Whole layer: every filter of the layer at once (DeepDream). This filter but not one of "
    "another layer: what makes this filter respond while the other stays quiet. Write your own: any sum of "
    "filters, e.g. 'block3_conv1:12 + 0.5*block3_conv1:40'.")


def objective_state(view: View) -> dict[str, object]:
    """The session-state values that make the sidebar show the view's objective (from a link)."""
    state: dict[str, object] = {"objective": view.objective, "blend_on": view.blend is not None, "mix": view.mix}
    if view.blend is not None:
        state["blend_filter"] = view.blend
    if view.minus:
        other, _, number = view.minus.rpartition(":")
        state.update(minus_layer=other, minus_filter=int(number))
    if view.own:
        state["own"] = view.own
    return state


def objective_controls(bar: DeltaGenerator, layers: Sequence[LayerInfo], layer: str, index: int) -> dict[str, object]:
    """The Objective choice and the controls it needs; returns the View's objective fields."""
    objective = bar.selectbox("Objective", list(OBJECTIVE_TITLES), key="objective",
                              format_func=OBJECTIVE_TITLES.get, help=OBJECTIVE_HELP)
    fields: dict[str, object] = {"objective": objective}
    count = next(info.filters for info in layers if info.name == layer)
    if objective in BLENDS:
        fields.update(blend_controls(bar, count, index))
    elif objective == "minus":
        fields["minus"] = minus_controls(bar, layers, layer)
    elif objective == "own":
        ss.setdefault("own", f"{layer}:{index} + 0.5*{layer}:{(index + 1) % count}")
        fields["own"] = bar.text_input(
            "Your objective", key="own",
            help="Filters as layer:filter, combined with + and - and multiplied by numbers, e.g. "
                 "'block4_conv1:7 - 0.5*block3_conv3:12'; also neuron(layer:filter), dream(layer). "
                 "The README's Objectives section lists them all.").strip()
    return fields


def blend_controls(bar: DeltaGenerator, count: int, index: int) -> dict[str, object]:
    """'Blend with another filter' with its second filter and mix."""
    blend = bar.checkbox(
        "Blend with another filter", key="blend_on",
        help="Make one picture that excites two filters of this layer at once, to see how their patterns combine.")
    if not blend:
        return {}
    ss.setdefault("blend_filter", (index + 1) % count)
    ss["blend_filter"] = clamp(ss["blend_filter"], 0, count - 1)  # a smaller layer was chosen
    ss.setdefault("mix", DEFAULT_MIX)
    second = bar.number_input(
        "Second filter", min_value=0, max_value=count - 1, step=1, key="blend_filter",
        help=f"The other filter to mix in, numbered 0 to {count - 1}.")
    mix = bar.slider(
        "Mix", 0, 100, step=5, key="mix", format="%d%%",
        help="How much of the second filter: 0 % is only the first filter, 100 % only the second, "
             "50 % both equally.")
    return {"blend": int(second), "mix": int(mix)}


def minus_controls(bar: DeltaGenerator, layers: Sequence[LayerInfo], layer: str) -> str:
    """The other layer and its filter, subtracted from this one; returns it as 'layer:filter'."""
    names = [info.name for info in layers]
    if ss.get("minus_layer") not in names:
        ss["minus_layer"] = names[max(names.index(layer) - 1, 0)]
    other = bar.selectbox("Not this layer", names, key="minus_layer",
                          help="The layer of the filter that should stay quiet (an earlier one shows what this "
                               "filter adds to it).")
    count = layers[names.index(other)].filters
    ss["minus_filter"] = clamp(ss.get("minus_filter", 0), 0, count - 1)
    other_filter = bar.number_input("…and this filter", min_value=0, max_value=count - 1, step=1, key="minus_filter",
                                    help=f"Numbered 0 to {count - 1}.")
    return f"{other}:{int(other_filter)}"
