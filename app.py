"""Filter Explorer: pick a layer and a filter of VGG16, press Generate and watch the picture form.

Page layout only. The maths lives in ``vizcore`` (the engine) and what the page shows without
Streamlit (URL parsing, pacing, PNG bytes) in ``dashboard``'s pure modules.  Start with ``streamlit run app.py``.
"""
from __future__ import annotations

import math
import random
from collections.abc import Sequence

import pandas as pd
import streamlit as st

import vizcore
from dashboard.animation import animation_section
from dashboard.diversity import diversity_tab
from dashboard.downloads import png_bytes, png_name
from dashboard.dream import dream_tab
from dashboard.examples import photo_examples
from dashboard.live import Panel, live_render, settings_changed_note, show_stopped, stopped_message
from dashboard.objectives import objective_controls, objective_state
from dashboard.query import (
    MAX_ITERATIONS,
    View,
    compare_defaults,
    lr_choices,
    lr_decimals,
    lr_step,
    picture_sizes,
    view_from_query,
)
from dashboard.records import RunRecord
from dashboard.reference import QUALITY_CAP, quality_sentence
from dashboard.shared import (
    RUN_RECORDS,
    engine_or_stop,
    model_source,
    natural_reference,
    prepare_in_background,
    reported,
    ss,
    step_clock,
)
from dashboard.uploads import own_model_panel
from vizcore.atlas import Atlas, AtlasParameters, atlas_root, find_atlas
from vizcore.atomic import cache_dir
from vizcore.cache import RenderCache, clear_cache, uploads_use
from vizcore.methods import METHODS
from vizcore.render import Settings, picture_caption

TABS = ("Single filter", "Compare learning rates", "Diversity", "Layer grid", "DeepDream", "About")
GRID_PAGE = 16
GRID_COLUMNS = 4
COMPARE_MAX = 6
ATLAS_SORTS = {"Filter number": "filter", "Quality score": "quality", "Activation": "activation"}


# ---------------------------------------------------------------- the view: URL <-> sidebar

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


def share_view(view: View) -> None:
    """Keep the URL equal to the view, so the address bar can be copied and shared."""
    wanted = view.to_query()
    if st.query_params.to_dict() != wanted:
        st.query_params.from_dict(wanted)


def random_filter(counts: dict[str, int]) -> None:
    count = counts[ss["layer"]]
    choices = [i for i in range(count) if i != ss.get("filter")] or [0]
    ss["filter"] = random.choice(choices)


def show_tab(label: str) -> None:
    ss["tab"] = label


def sidebar(model: vizcore.LoadedModel) -> tuple[View, bool]:
    """The controls; returns the chosen view and whether Generate was pressed."""
    bar = st.sidebar
    bar.header("Settings")
    counts = {info.name: info.filters for info in model.layers}
    if ss.get("layer") not in counts:  # another model was chosen: start at its first layer
        ss["layer"] = model.layers[0].name
    layer = bar.selectbox(
        "Layer", list(counts), key="layer", format_func=lambda name: f"{name} ({counts[name]} filters)",
        help="Where in the network to look. block1 layers react to edges and colours; each later block "
             "combines them into textures, patterns and finally parts of objects (block5).")
    count = counts[layer]
    if not 0 <= ss.get("filter", 0) < count:  # a smaller layer was chosen: keep the filter inside it
        ss["filter"] = min(max(ss.get("filter", 0), 0), count - 1)
    index = bar.number_input(
        "Filter", min_value=0, max_value=count - 1, step=1, key="filter",
        help=f"Which of the {count} filters of this layer to show, numbered 0 to {count - 1}. "
             "Each filter looks for one kind of pattern.")
    bar.button("Random filter", on_click=random_filter, args=(counts,),
               help="Pick a filter of this layer at random.")
    objective, blend, mix = objective_controls(bar, count, int(index))
    method = bar.selectbox(
        "Method", list(METHODS), key="method", format_func=lambda name: METHODS[name].title,
        help="How the picture is made. Robust: smooth, natural-looking pictures, fast (recommended). "
             "Lucid: the same look made at full size all the way, about twice as slow. "
             "Classic: the original simple recipe, noisier, kept for comparison.")
    recipe = METHODS[method]
    steps = bar.slider(
        "Iterations", 1, MAX_ITERATIONS, key="steps",
        help=f"How many small improvement steps to make. More steps give a clearer picture but take longer "
             f"(the {recipe.title} method's usual number is {recipe.default_steps}).")
    lr_key = f"lr_{method}"
    ss.setdefault(lr_key, recipe.default_lr)
    lo, hi = recipe.lr_range
    lr = bar.slider(
        "Learning rate", lo, hi, step=lr_step(recipe), key=lr_key, format=f"%.{lr_decimals(recipe)}f",
        help=f"How big each improvement step is. Too small: the picture barely changes; too large: it becomes "
             f"noisy or unstable. The {recipe.title} method works well around {recipe.default_lr:g}.")
    sizes = picture_sizes(model)
    if ss.get("size") not in sizes:  # a model that takes one size only, or back from one
        ss["size"] = min(sizes, key=lambda size: abs(size - ss.get("size", sizes[0])))
    size = bar.selectbox(
        "Image size", sizes, key="size",
        help="Width and height of the picture, in pixels. Smaller pictures are made faster; deep layers "
             "show more of their patterns in larger pictures.")
    generate = bar.button("Generate", key="generate", type="primary", width="stretch", on_click=show_tab,
                          args=(TABS[0],),
                          help="Start making the picture for this layer and filter. You can watch it form "
                               "and stop it at any time.")
    bar.divider()
    bar.caption(f"**Model weights:** {model.weights_description}")
    if model.notice:
        bar.info(model.notice)
    return View(layer, int(index), method, int(steps), round(float(lr), lr_decimals(recipe)), int(size), objective,
                blend, mix), generate


# ---------------------------------------------------------------- live rendering

def mark_interrupted_runs() -> None:
    """A run still marked running at the start of a script run was cut short by a rerun (a widget change)."""
    for key in RUN_RECORDS:
        record = ss.get(key)
        if isinstance(record, RunRecord):  # the DeepDream tab marks its own record
            record.interrupted("It stopped because a setting was changed (or another tab was opened) "
                               "while it was running.")


# ---------------------------------------------------------------- tabs

def qualities(record: RunRecord) -> list[float | None] | None:
    """The record's "x strongest natural photo" scores, computed once; None while they cannot be computed."""
    if record.qualities is None and record.result is not None:
        record.qualities = natural_reference(model_source()).scores(record.result)
    return record.qualities


def single_record(engine: vizcore.Engine, settings: Settings | None) -> RunRecord | None:
    """The last render of this visit, or, for a filter just opened from the layer grid, its finished
    picture from the disk cache (otherwise a cached picture is shown when Generate is pressed)."""
    record = ss.get("single")
    if ss.pop("show_cached", False) and settings is not None and (record is None or record.settings != settings):
        cached = engine.cached_result(settings)
        if cached is not None:
            record = ss["single"] = RunRecord.finished(cached, from_cache=True)
    return record


def atlas_picture(engine: vizcore.Engine, view: View) -> tuple[Atlas, dict] | None:
    """The atlas and record of the sidebar's filter, when it was opened from the atlas (and still chosen)."""
    if ss.get("atlas_opened") != (view.layer, view.filter):
        return None
    atlas = view_atlas(engine, view)
    record = None if atlas is None else atlas.record(view.layer, view.filter)
    return None if record is None else (atlas, record)


def show_atlas_picture(panel: Panel, right, settings: Settings, atlas: Atlas, record: dict) -> None:
    """The atlas's finished picture of the filter, with its numbers and a download button."""
    path = atlas.png(settings.layer, settings.filters[0])
    panel.pictures.image(str(path), width="stretch",
                         caption=f"{picture_caption(settings, 0, settings.steps)} · from the atlas")
    with right:
        st.caption(f"From the precomputed atlas: the filter's response to this picture is {record['activation']:.4g}. "
                   "The loss curve is not kept in the atlas; press **Generate** to watch the picture form.")
        if record["quality"] is not None:  # None: not measured, or photos never excite the filter
            st.markdown(quality_sentence([record["quality"]]))
        st.download_button("Download PNG", path.read_bytes(), file_name=png_name(settings), mime="image/png",
                           on_click="ignore", icon=":material/download:", help="Save this picture as a PNG file.")


def single_filter_page(engine: vizcore.Engine, view: View, generate: bool) -> None:
    """The Single filter tab: the picture (and any live render) first, then the photos that excite the filter."""
    single_filter_tab(engine, view, generate)
    photo_examples(engine, view.layer, view.filter)


def single_filter_tab(engine: vizcore.Engine, view: View, generate: bool) -> None:
    note = ss.pop("opened_note", None)
    if note:
        st.success(note)
    settings = None
    with reported("checking the settings"):
        settings = view.settings(engine)
    stop, progress = st.empty(), st.empty()
    left, right = st.columns(2, gap="large")
    panel = Panel(stop, progress, left.empty(), right.empty(), title="How strongly the filter responds")
    if generate and settings is not None:
        with reported("making the picture"):
            live_render(engine, settings, panel, "single", [f"filter {view.filter}"])
    elif settings is not None:
        prepare_in_background(engine, settings)
    record = single_record(engine, settings)
    opened = atlas_picture(engine, view)
    if (opened is not None and settings is not None and settings.whole_filter
            and (record is None or record.settings != settings)):  # atlases hold whole-filter pictures only
        show_atlas_picture(panel, right, settings, *opened)
        return
    if record is None:
        panel.pictures.info("Choose a layer and a filter in the sidebar, then press **Generate** to watch the "
                            "picture form.")
        return
    label = f"filter {record.settings.filters[0]}"
    panel.draw_chart(record.losses, [label], record.total)
    if record.status == "done":
        result = record.result
        panel.draw_pictures(result.images, [result.caption()])
        with right:
            if record.from_cache:
                st.caption("Shown from the cache: this exact picture was made before.")
            if result.settings.whole_filter and not natural_reference(model_source()).failed:
                st.markdown(quality_sentence(qualities(record)))
            for message in result.notes:
                st.info(message)
            st.download_button("Download PNG", png_bytes(result.images[0]), file_name=png_name(result.settings),
                               mime="image/png", on_click="ignore", icon=":material/download:",
                               help="Save this picture as a PNG file.")
            animation_section(engine, record)
    elif record.images is not None:
        panel.draw_pictures(record.images, [f"Stopped at iteration {record.step} of {record.total}"])
        with right:
            stopped_message(record)
    else:
        with right:
            stopped_message(record)
    with right:
        settings_changed_note(record, settings)


def save_rates(key: str) -> None:
    ss[f"saved_{key}"] = list(ss[key])


def compare_tab(engine: vizcore.Engine, view: View) -> None:
    recipe = METHODS[view.method]
    st.markdown(f"The same filter ({view.layer}, filter {view.filter}, {recipe.title} method, {view.steps} "
                "iterations) made with several learning rates at once, to see which step size works best.")
    key = f"compare_rates_{recipe.name}"
    choices = lr_choices(recipe)
    # The widget's own state is dropped while another tab is open, so keep a copy to restore it.
    ss[key] = [rate for rate in ss.get(f"saved_{key}", compare_defaults(recipe)) if rate in choices]
    rates = st.multiselect(
        "Learning rates", choices, key=key, max_selections=COMPARE_MAX, format_func=lambda rate: f"{rate:g}",
        on_change=save_rates, args=(key,),
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
    return [f"learning rate {rate:g}" for rate in settings.learning_rates]


def open_filter(layer: str, index: int, from_atlas: bool) -> None:
    ss.update(layer=layer, filter=index, tab=TABS[0], show_cached=True)
    ss["atlas_opened"] = (layer, index) if from_atlas else None
    ss["opened_note"] = f"Opened filter {index} of {layer} from the {'atlas' if from_atlas else 'layer grid'}."


def turn_page(layer: str, page: int) -> None:
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
    if view.objective != "channel":  # atlases show whole filters only
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
    score = record["quality"]
    quality = "" if score is None else f" · >{QUALITY_CAP}× photo" if score > QUALITY_CAP else f" · {score:.1f}× photo"
    return f"Filter {number}{quality} · response {record['activation']:.3g}"


def layer_grid_tab(engine: vizcore.Engine, view: View) -> None:
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
        seconds = step_clock().estimate(settings, engine.model.layers) * settings.steps
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


def duration_words(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} seconds"
    return f"{round(seconds / 60)} minutes"


def about_tab(model: vizcore.LoadedModel, renders: RenderCache) -> None:
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
    if model.notice:
        st.info(model.notice)
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


# ---------------------------------------------------------------- the page

def main() -> None:
    st.set_page_config(page_title="Filter Explorer", layout="wide")
    engine = engine_or_stop()
    warnings = restore_view(engine.model.layers)
    mark_interrupted_runs()
    view, generate = sidebar(engine.model)
    own_model_panel(engine.model)
    share_view(view)
    st.title("Filter Explorer")
    st.caption("What does each filter of an image-recognition network look for? Pick a layer and a filter, "
               "press Generate and watch the answer form.")
    for warning in warnings:
        st.warning(warning)
    # Only the open tab runs, so a hidden tab never starts work.
    pages = {  # what each tab shows, and what it was doing if it fails
        "Single filter": (lambda: single_filter_page(engine, view, generate), "showing the picture"),
        "Compare learning rates": (lambda: compare_tab(engine, view), "comparing learning rates"),
        "Diversity": (lambda: diversity_tab(engine, view), "rendering different copies"),
        "Layer grid": (lambda: layer_grid_tab(engine, view), "showing the layer grid"),
        "DeepDream": (lambda: dream_tab(engine, view), "dreaming"),
        "About": (lambda: about_tab(engine.model, engine.cache), "showing the page's notes"),
    }
    for tab, label in zip(st.tabs(TABS, key="tab", on_change="rerun"), TABS):
        if tab.open:
            draw, doing = pages[label]
            with tab, reported(doing):
                draw()


if __name__ == "__main__":
    main()
