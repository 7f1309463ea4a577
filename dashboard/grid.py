"""The Layer grid tab: a page of 16 filters of the sidebar's layer rendered together, or the whole layer at
once from a precomputed atlas; each picture opens its filter in the Single filter tab."""
from __future__ import annotations

import math
from collections.abc import Sequence

import streamlit as st

import vizcore
from dashboard.engines import step_clock
from dashboard.estimates import duration_words
from dashboard.live import Panel, live_render, stopped_message
from dashboard.query import View
from dashboard.records import RunRecord
from dashboard.reference import QUALITY_CAP
from dashboard.shared import SINGLE_TAB, ss
from vizcore.atlas import Atlas, AtlasParameters, atlas_root, find_atlas

GRID_PAGE = 16
GRID_COLUMNS = 4
ATLAS_SORTS = {"Filter number": "filter", "Quality score": "quality", "Activation": "activation"}


def open_filter(layer: str, index: int, from_atlas: bool) -> None:
    """Show this filter in the Single filter tab (its picture from the cache or the atlas), with a note."""
    ss.update(layer=layer, filter=index, tab=SINGLE_TAB, show_cached=True)
    ss["atlas_opened"] = (layer, index) if from_atlas else None
    ss["opened_note"] = f"Opened filter {index} of {layer} from the {'atlas' if from_atlas else 'layer grid'}."


def turn_page(layer: str, page: int) -> None:
    """Remember the grid page shown for this layer."""
    ss.setdefault("grid_pages", {})[layer] = page


def grid_page(name: str, count: int, what: str, first: int = 0) -> range:
    """Previous/next page buttons around '``what`` a–b of ``count``' (numbered from ``first``); returns the
    positions (from 0) shown on this page."""
    pages = math.ceil(count / GRID_PAGE)
    page = min(ss.get("grid_pages", {}).get(name, 0), pages - 1)
    positions = range(page * GRID_PAGE, min(count, (page + 1) * GRID_PAGE))
    back, middle, forward = st.columns([1, 3, 1], vertical_alignment="center")
    back.button("Previous page", disabled=page == 0, on_click=turn_page, args=(name, page - 1),
                width="stretch", help="Show the previous 16 filters.")
    middle.markdown(f"<div style='text-align:center'><b>{name}</b> · {what} {positions[0] + first}–"
                    f"{positions[-1] + first} of {count} · page {page + 1} of {pages}</div>", unsafe_allow_html=True)
    forward.button("Next page", disabled=page == pages - 1, on_click=turn_page, args=(name, page + 1),
                   width="stretch", help="Show the next 16 filters.")
    return positions


def draw_tiles(layer: str, filters: Sequence[int], images: Sequence, captions: Sequence[str],
               from_atlas: bool = False) -> None:
    """The pictures in rows, each with a button that opens it in the Single filter tab."""
    st.caption("Press **Open filter N** under a picture to look at it on its own in the Single filter tab.")
    for start in range(0, len(filters), GRID_COLUMNS):
        for column, index, image, caption in zip(st.columns(GRID_COLUMNS), filters[start:], images[start:],
                                                  captions[start:]):
            column.image(image, caption=caption, width="stretch")
            column.button(f"Open filter {index}", key=f"open_{index}", on_click=open_filter,
                          args=(layer, index, from_atlas), width="stretch",
                          help=f"Show filter {index} in the Single filter tab.")


def view_atlas(engine: vizcore.Engine, view: View) -> Atlas | None:
    """The precomputed atlas with the sidebar's settings, if it has pictures of the chosen layer."""
    if view.objective == "neuron":  # atlases show whole filters only
        return None
    found = find_atlas(atlas_root(), engine.model, AtlasParameters(view.method, view.steps, view.size, view.lr, 0))
    return found if found is not None and found.has_pictures(view.layer) else None


def atlas_grid(atlas: Atlas, info: vizcore.LayerInfo) -> None:
    """The whole layer from the atlas, paged, sorted as chosen."""
    order = st.selectbox("Sort by", list(ATLAS_SORTS), key="atlas_sort",
                         help="Filter number, or the strongest pictures first: by how much more they excite "
                              "their filter than natural photos do (quality score), or by the raw response.")
    tiles = atlas.tiles(info.name, ATLAS_SORTS[order])
    done = len(tiles)
    st.caption(f"Shown at once from a precomputed atlas ({done} of {info.filters} filters"
               f"{'' if done == info.filters else ' so far'}), made with the sidebar's settings.")
    page = [tiles[position] for position in grid_page(info.name, done, "pictures", first=1)]
    draw_tiles(info.name, [number for number, _, _ in page], [str(path) for _, path, _ in page],
               [tile_caption(number, record) for number, _, record in page], from_atlas=True)


def tile_caption(number: int, record: dict) -> str:
    """An atlas tile's caption: filter number, quality score (capped) and response."""
    score = record["quality"]
    quality = "" if score is None else f" · >{QUALITY_CAP}× photo" if score > QUALITY_CAP else f" · {score:.1f}× photo"
    return f"Filter {number}{quality} · response {record['activation']:.3g}"


def layer_grid_tab(engine: vizcore.Engine, view: View) -> None:
    """The layer from the atlas if there is one, else a page of filters rendered together on request."""
    info = engine.model.layer(view.layer)
    atlas = view_atlas(engine, view)
    if atlas is not None:
        atlas_grid(atlas, info)
        return
    filters = list(grid_page(info.name, info.filters, "filters"))
    settings = view.settings(engine, filters)
    record = ss.get("grid")
    if record is None or record.settings != settings:
        cached = engine.cached_result(settings)
        record = ss["grid"] = RunRecord.finished(cached, from_cache=True) if cached is not None else None
    stop, progress = st.empty(), st.empty()
    panel = Panel(stop, progress, st.empty(), None, per_row=GRID_COLUMNS)
    if record is None or record.status != "done":
        seconds = step_clock().render_seconds(settings, engine)
        clicked = panel.stop.button(
            "Render this page", type="primary",
            help="Make the pictures of these 16 filters together, with the sidebar's method, iterations, "
                 "learning rate and image size. Finished pages are kept, so coming back is instant.")
        with panel.progress.container():
            st.caption(f"Uses the sidebar's settings; takes about {duration_words(seconds)} "
                       "(fewer iterations or a smaller image size are faster).")
            if record is not None:
                stopped_message(record)
        if record is not None and record.images is not None:
            panel.draw_pictures(record.images, [f"Filter {f} · stopped" for f in record.settings.filters])
        if not clicked:
            return
        panel.clear_controls()
        record = live_render(engine, settings, panel, "grid", [f"filter {f}" for f in filters])
    with panel.pictures.container():
        draw_tiles(info.name, filters, record.images, [f"Filter {index}" for index in filters])
