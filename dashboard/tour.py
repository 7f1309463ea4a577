"""The Tour: a guided walk through the network in a few stops, from edges and colours to parts of objects.

Each stop shows a layer's chosen filters large, says in one or two plain sentences what that depth looks for,
and shows the photo places that excite the first of them. The filters are chosen by measurement on the weights
in use: among those that respond most to natural photos (clear photo matches), the best quality scores of an
atlas when there is one. Pictures, made with the sidebar's method, iterations and size, come from an atlas, else
the render cache, else are made live as the stop opens. Back and Next (also the arrow keys) walk the stops;
``?tour=3`` opens the third.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

import vizcore
from dashboard.captions import result_caption
from dashboard.examples import photo_examples
from dashboard.grid import view_atlas
from dashboard.live import Panel, live_render, show_stopped
from dashboard.query import View
from dashboard.shared import ss
from vizcore import metrics
from vizcore.atlas import Atlas, atlas_parameters, atlas_root, find_atlas
from vizcore.models import LayerInfo

TOUR_TAB = "Tour"
PER_STOP = 2
CANDIDATE_SHARE = 0.25  # a stop's filters come from the quarter of its layer that responds most to photos

# (depth in the network from 0 to 1, title, what a visitor is told there)
STORY: tuple[tuple[float, str, str], ...] = (
    (0.0, "Edges and colours",
     "The first layer looks at a few pixels at a time. Each filter answers one simple question: is there an "
     "edge at this angle here, or this colour?"),
    (0.17, "Small textures",
     "A few layers on, filters combine edges and colours into small repeating textures: stripes, dots and "
     "fine grids."),
    (0.35, "Patterns",
     "Deeper in, each filter sees a larger patch and answers to richer patterns: waves, honeycombs, woven "
     "and furry surfaces."),
    (0.55, "Motifs",
     "In the middle of the network, filters look for motifs that come back in many things: rings, eyes, "
     "scales, petals."),
    (0.75, "Parts of things",
     "Later filters see a good part of the picture and answer to parts of objects: a snout, a wheel, a "
     "feather, a window."),
    (1.0, "What the network decides with",
     "The last layer's filters are what the network finally reads a photo with: parts and textures of "
     "animals and things, wherever they are in the picture."),
)


@dataclass(frozen=True)
class Stop:
    """One stop of the tour: a layer, its chosen filters and what to say about them."""

    title: str
    words: str
    layer: str
    filters: tuple[int, ...]


def tour_stops(layers: Sequence[LayerInfo], natural: Mapping[str, np.ndarray],
               quality: Mapping[str, np.ndarray] | None = None) -> list[Stop]:
    """The story's depths mapped onto this model's layers (one stop per layer); at each, the filters with the
    clearest photo matches (the strongest responses to natural photos), best quality score first where an
    atlas measured them."""
    stops: list[Stop] = []
    for depth, title, words in STORY:
        info = layers[round(depth * (len(layers) - 1))]
        if stops and stops[-1].layer == info.name:  # a small model has fewer layers than the story has stops
            continue
        response = np.asarray(natural[info.name])
        order = [int(i) for i in np.argsort(-response, kind="stable")]
        clear = [i for i in order[:max(PER_STOP, int(len(order) * CANDIDATE_SHARE))] if response[i] > 0]
        candidates = clear or order
        scores = None if quality is None else quality.get(info.name)
        if scores is not None:
            candidates = sorted(candidates, key=lambda i: -np.nan_to_num(scores[i], nan=-np.inf))
        stops.append(Stop(title, words, info.name, tuple(candidates[:PER_STOP])))
    return stops


def stop_from_link(text: str | None, count: int) -> tuple[int | None, str | None]:
    """The stop a ``?tour=N`` link opens (0-based), or None; and a warning if N is not a stop number."""
    if text is None:
        return None, None
    try:
        number = int(text)
    except ValueError:
        number = 0
    if 1 <= number <= count:
        return number - 1, None
    return 0, f"The link's tour stop '{text}' does not exist (stops 1 to {count}); starting at the first."


def atlas_quality(atlas: Atlas | None, layers: Sequence[LayerInfo]) -> dict[str, np.ndarray] | None:
    """Each layer's quality scores from the atlas's index (NaN where it has none), or None without an atlas."""
    if atlas is None:
        return None
    scores = {}
    for info in layers:
        records = atlas.records.get(info.name, {})
        scores[info.name] = np.array([np.nan if records.get(i, {}).get("quality") is None
                                      else float(records[i]["quality"]) for i in range(info.filters)])
    return scores


@st.cache_data(show_spinner=False, max_entries=8)
def stops_for(fingerprint: str, _engine: vizcore.Engine) -> list[Stop]:
    """The tour of the model with these weights (measured once per weights, then kept); an atlas made with the
    default settings lends its quality scores."""
    model = _engine.model
    atlas = find_atlas(atlas_root(), model, atlas_parameters(_engine))
    return tour_stops(model.layers, metrics.natural_reference(model), atlas_quality(atlas, model.layers))


def tour_query() -> dict[str, str]:
    """The tour's stop as a link parameter, while the Tour tab is open."""
    return {"tour": str(ss.get("tour_stop", 0) + 1)} if ss.get("tab") == TOUR_TAB else {}


def go_to(stop: int) -> None:
    ss["tour_stop"] = stop


def open_tour() -> None:
    ss.update(tab=TOUR_TAB, tour_offered=True)


def offer_tour() -> None:
    """The first thing a new visitor is offered: the tour (until it was opened or dismissed)."""
    if ss.get("tour_offered") or ss.get("tab") == TOUR_TAB:
        ss["tour_offered"] = True
        return
    with st.container(border=True, horizontal=True, vertical_alignment="center"):
        st.markdown(f"**New here?** The tour walks through the network in {len(STORY)} stops, from the edges and "
                    "colours of the first layer to the parts of objects of the last, with pictures and plain words.")
        st.button("Take the tour", type="primary", on_click=open_tour, icon=":material/explore:",
                  help="Open the Tour tab at its first stop.")
        st.button("No, thanks", on_click=ss.update, kwargs={"tour_offered": True}, help="Hide this offer.")


def tour_tab(engine: vizcore.Engine, view: View) -> None:
    """The Tour tab: the current stop, with Back and Next."""
    with st.spinner("Preparing the tour: measuring every filter on natural photos (about a minute, once per "
                    "set of weights)…"):
        stops = stops_for(engine.model.fingerprint, engine)
    index = min(max(ss.get("tour_stop", 0), 0), len(stops) - 1)
    stop = stops[index]
    st.subheader(f"Stop {index + 1} of {len(stops)}: {stop.title}")
    st.markdown(stop.words)
    filters = " and ".join(str(f) for f in stop.filters)
    st.caption(f"{stop.layer}, filter{'s' if len(stop.filters) > 1 else ''} {filters}: chosen because natural "
               f"photos excite {'them' if len(stop.filters) > 1 else 'it'} most clearly.")
    back, step, forward = st.columns([1, 2, 1])
    back.button("Back", key="tour_back", icon=":material/arrow_back:", on_click=go_to, args=(index - 1,),
                disabled=index == 0, shortcut="Left", width="stretch", help="The previous stop (left arrow key).")
    step.progress((index + 1) / len(stops), text=f"Stop {index + 1} of {len(stops)}")
    forward.button("Next", key="tour_next", icon=":material/arrow_forward:", on_click=go_to, args=(index + 1,),
                   disabled=index == len(stops) - 1, shortcut="Right", type="primary", width="stretch",
                   help="The next stop (right arrow key).")
    stop_pictures(engine, replace(view, layer=stop.layer), stop.filters)
    photo_examples(engine, stop.layer, stop.filters[0])


def stop_pictures(engine: vizcore.Engine, view: View, filters: tuple[int, ...]) -> None:
    """The stop's pictures with the sidebar's settings: from an atlas, else the render cache, else made live now
    (and kept in the cache)."""
    atlas = view_atlas(engine, view)
    if atlas is not None and all(atlas.record(view.layer, f) is not None for f in filters):
        for column, index in zip(st.columns(len(filters)), filters):
            column.image(str(atlas.png(view.layer, index)), caption=f"{view.layer} filter {index} · from the atlas",
                         width="stretch")
        return
    settings = view.settings(engine, filters)
    record = ss.get("tour")
    panel = Panel(st.empty(), st.empty(), st.empty(), None, per_row=len(filters))
    if record is None or record.settings != settings:
        cached = engine.cached_result(settings)
        if cached is not None:
            panel.draw_pictures(cached.images, [result_caption(cached, i) for i in range(len(filters))])
            return
        st.caption("Making these pictures now (they are kept for the next visit): watch them form.")
        record = live_render(engine, settings, panel, "tour", [f"filter {f}" for f in filters])
    if record.status == "done":
        panel.draw_pictures(record.result.images, [result_caption(record.result, i) for i in range(len(filters))])
    else:
        show_stopped(panel, record, [f"filter {f}" for f in filters])
