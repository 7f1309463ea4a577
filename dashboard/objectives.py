"""The sidebar's objective controls: the whole filter or its centre neuron, and a second filter blended in."""
from __future__ import annotations

from streamlit.delta_generator import DeltaGenerator

from dashboard.query import DEFAULT_MIX, OBJECTIVE_TITLES, View
from dashboard.shared import ss


def objective_state(view: View) -> dict[str, object]:
    """The session-state values that make the sidebar show the view's objective and blend (from a link)."""
    state: dict[str, object] = {"objective": view.objective, "blend_on": view.blend is not None, "mix": view.mix}
    if view.blend is not None:
        state["blend_filter"] = view.blend
    return state


def objective_controls(bar: DeltaGenerator, count: int, index: int) -> tuple[str, int | None, int]:
    """Objective, then 'Blend with another filter' with its second filter and mix; returns (objective, second
    filter or None, mix in percent)."""
    objective = bar.selectbox(
        "Objective", list(OBJECTIVE_TITLES), key="objective", format_func=OBJECTIVE_TITLES.get,
        help="What the picture should excite. Whole filter: the filter's response everywhere in the picture, "
             "so its pattern fills the picture. Centre neuron: only the response at the centre, so the pattern "
             "appears once, in the middle, at the size that one neuron sees.")
    blend = bar.checkbox(
        "Blend with another filter", key="blend_on",
        help="Make one picture that excites two filters of this layer at once, to see how their patterns combine.")
    if not blend:
        return objective, None, DEFAULT_MIX
    ss.setdefault("blend_filter", (index + 1) % count)
    ss["blend_filter"] = min(max(ss["blend_filter"], 0), count - 1)  # a smaller layer was chosen
    ss.setdefault("mix", DEFAULT_MIX)
    second = bar.number_input(
        "Second filter", min_value=0, max_value=count - 1, step=1, key="blend_filter",
        help=f"The other filter to mix in, numbered 0 to {count - 1}; it must differ from the first.")
    mix = bar.slider(
        "Mix", 0, 100, step=5, key="mix", format="%d%%",
        help="How much of the second filter: 0 % is only the first filter, 100 % only the second, "
             "50 % both equally.")
    return objective, int(second), int(mix)
