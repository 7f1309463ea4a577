"""The dashboard's widget logic with Streamlit's AppTest, on the real offline VGG16 (hed-vgg16).

AppTest runs app.py in this process; the engine (st.cache_resource) is loaded once and reused by
every test. Renders use a few iterations at 64 px so each takes about a second.
"""
from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

import vizcore
from dashboard.reference import NaturalReference
from vizcore import animation, models
from vizcore.atlas import AtlasParameters, Job, local_renderer, open_atlas
from vizcore.cache import CachedPicture, RenderCache

APP = Path(__file__).resolve().parents[1] / "app.py"
SIDEBAR_ONLY = "About"  # a tab without work of its own, for tests of the sidebar
TIMEOUT = 120  # the first run imports TensorFlow and loads (converts, on a fresh cache) the weights


@pytest.fixture(scope="module", autouse=True)
def offline_model(tmp_path_factory):
    """The offline weights, a private render cache, and no minute-long natural-photo reference in the background."""
    os.environ["VIZCORE_MODEL"] = "hed-vgg16"
    os.environ.setdefault("VIZCORE_CACHE", str(tmp_path_factory.mktemp("vizcore-cache")))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(NaturalReference, "prepare", lambda self: None)
        yield


def start(tab: str | None = None, **query: str) -> AppTest:
    """A new visit (a new browser tab), optionally opened from a link with these query parameters, optionally on
    another tab than Single filter (the sidebar's tests need not wait for its photo examples)."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    if tab:
        at.session_state["tab"] = tab
    at.run()
    assert not at.exception
    return at


def small(at: AppTest, layer: str = "block1_conv1", index: int = 3, steps: int = 4) -> AppTest:
    """Choose a quick render: a shallow layer, a few iterations, 64 px (the layer first: it sets the filter range)."""
    at.selectbox(key="layer").set_value(layer).run()
    at.number_input(key="filter").set_value(index)
    at.slider(key="steps").set_value(steps)
    at.selectbox(key="size").set_value(64).run()
    assert (at.selectbox(key="layer").value, at.number_input(key="filter").value) == (layer, index)
    assert (at.slider(key="steps").value, at.selectbox(key="size").value) == (steps, 64)
    assert not at.exception
    return at


def button(at: AppTest, label: str):
    """The page's button with this label."""
    matches = [b for b in at.button if b.label == label]
    assert len(matches) == 1, f"expected one button {label!r}, found {[b.label for b in at.button]}"
    return matches[0]


def test_first_visit_shows_every_control_and_the_weights_in_use() -> None:
    at = start()
    assert at.selectbox(key="layer").value == "block1_conv1"
    assert at.selectbox(key="layer").options[:2] == ["block1_conv1 (64 filters)", "block1_conv2 (64 filters)"]
    assert at.selectbox(key="method").options == ["Robust", "Lucid (full size)", "Classic"]
    for label in ("Filter", "Iterations", "Learning rate", "Image size", "Layer", "Method"):
        widgets = [w for w in at.sidebar if getattr(w, "label", None) == label]
        assert widgets and widgets[0].help, f"{label} needs plain-words help"
    assert [b.label for b in at.sidebar.button] == ["Random filter", "Generate", "Use this model"]
    assert weights_notice(at).label == "Offline weights: HED-VGG16 — why?"
    assert [tab.label for tab in at.tabs] == ["Single filter", "Tour", "Compare learning rates", "Diversity",
                                             "Layer grid", "DeepDream", "About"]
    assert not at.error and not at.warning


def weights_notice(at: AppTest):
    """The sidebar's weights notice: one line, its details collapsed, with no command-line flags in them."""
    notices = [block for block in at.sidebar.expander if "weights" in block.label]
    assert len(notices) == 1, [block.label for block in at.sidebar.expander]
    notice = notices[0]
    assert "\n" not in notice.label and len(notice.label) < 40 and not notice.proto.expanded
    details = " ".join(element.value for element in [*notice.markdown, *notice.caption])
    assert "HED edge detector" in details and "--" not in details
    return notice


def test_the_fallback_to_offline_weights_is_explained_without_command_line_flags(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("VIZCORE_MODEL", "auto")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))  # no ImageNet weights downloaded, and no network:
    monkeypatch.setattr(models, "network_reachable", lambda: False)
    at = start(tab=SIDEBAR_ONLY)
    details = " ".join(element.value for element in weights_notice(at).markdown)
    assert "ImageNet weights unavailable" in details and "cannot reach" in details
    assert not at.exception


def test_changing_the_layer_updates_the_filter_range() -> None:
    at = start(tab=SIDEBAR_ONLY)
    assert at.number_input(key="filter").max == 63
    at.selectbox(key="layer").set_value("block5_conv1").run()
    assert at.number_input(key="filter").max == 511
    at.number_input(key="filter").set_value(300).run()
    at.selectbox(key="layer").set_value("block2_conv1").run()
    assert at.number_input(key="filter").max == 127
    assert at.number_input(key="filter").value == 127  # kept inside the smaller layer
    assert not at.exception


def test_random_filter_stays_in_range() -> None:
    at = start(tab=SIDEBAR_ONLY)
    at.selectbox(key="layer").set_value("block1_conv2").run()
    seen = set()
    for _ in range(12):
        at.sidebar.button[0].click().run()
        seen.add(at.number_input(key="filter").value)
    assert all(0 <= value <= 63 for value in seen)
    assert len(seen) > 1
    assert not at.exception


def test_a_link_restores_the_view() -> None:
    at = start(tab=SIDEBAR_ONLY, layer="block3_conv2", filter="17", method="classic", steps="42", lr="2.5", size="96")
    assert at.selectbox(key="layer").value == "block3_conv2"
    assert at.number_input(key="filter").value == 17
    assert at.selectbox(key="method").value == "classic"
    assert at.slider(key="steps").value == 42
    assert at.slider(key="lr_classic").value == pytest.approx(2.5)
    assert at.selectbox(key="size").value == 96
    assert not at.warning
    assert at.query_params["lr"] == "2.5"


def test_changing_widgets_updates_the_link() -> None:
    at = start(tab=SIDEBAR_ONLY)
    small(at, "block2_conv2", 9, 30)
    at.selectbox(key="method").set_value("classic").run()
    assert at.slider(key="lr_classic").value == pytest.approx(4.0)  # the method's own range and default
    assert (at.slider(key="lr_classic").min, at.slider(key="lr_classic").max) == (0.1, 20.0)
    at.slider(key="lr_classic").set_value(7.5).run()
    assert {key: at.query_params[key] for key in ("layer", "filter", "method", "steps", "lr", "size")} == {
        "layer": "block2_conv2", "filter": "9", "method": "classic", "steps": "30", "lr": "7.5",
        "size": "64"}


def test_bad_link_values_are_clamped_and_reported() -> None:
    at = start(tab=SIDEBAR_ONLY, layer="nonsense", filter="99999", lr="nan", steps="many", method="magic", size="13")
    assert at.selectbox(key="layer").value == "block1_conv1"
    assert at.number_input(key="filter").value == 63
    assert at.selectbox(key="method").value == "robust"
    assert at.slider(key="steps").value == 256
    assert at.slider(key="lr_robust").value == pytest.approx(0.15)
    assert at.selectbox(key="size").value == 64
    text = " ".join(warning.value for warning in at.warning)
    for bad in ("nonsense", "99999", "nan", "many", "magic", "13"):
        assert bad in text
    assert not at.error


def test_out_of_range_link_values_are_clamped() -> None:
    at = start(tab=SIDEBAR_ONLY, layer="block2_conv1", filter="-4", steps="99999", lr="9")
    assert at.number_input(key="filter").value == 0
    assert at.slider(key="steps").value == 1000
    assert at.slider(key="lr_robust").value == pytest.approx(0.5)
    assert len(at.warning) == 3
    assert at.query_params["lr"] == "0.5"


def test_generate_renders_and_keeps_the_result() -> None:
    at = small(start())
    at.button(key="generate").click().run()
    assert not at.exception and not at.error
    record = at.session_state["single"]
    assert record.status == "done" and not record.from_cache
    assert record.result.images.shape == (1, 64, 64, 3)
    assert record.result.loss_history.shape == (4, 1)
    assert at.get("download_button")[0].label == "Download PNG"
    assert at.get("image")[0].captions[0].startswith("block1_conv1 filter 3 · Robust · 4 iterations")

    at.slider(key="steps").set_value(5).run()  # a widget change keeps the last picture on the page
    assert at.session_state["single"] is record
    assert any("other settings" in caption.value for caption in at.caption)

    at.slider(key="steps").set_value(4).run()
    at.button(key="generate").click().run()  # the same settings again come from the disk cache
    assert at.session_state["single"].from_cache
    assert not at.exception


def test_the_animation_of_a_cached_picture_is_recorded_on_request() -> None:
    at = small(start(), index=7, steps=12)
    at.button(key="generate").click().run()
    fresh = at.session_state["single"]
    downloads = [b.label for b in at.get("download_button")]
    assert ("Download GIF" in downloads) == (len(fresh.timeline) >= 3)  # a live run records what it showed

    at.session_state["single"] = None
    at.button(key="generate").click().run()  # now from the disk cache: no stages recorded
    record = at.session_state["single"]
    assert record.from_cache and record.animation is None
    assert [b.label for b in at.get("download_button")] == ["Download PNG"]
    button(at, "Record the animation").click().run()
    assert not at.exception and not at.error
    gif = Image.open(io.BytesIO(record.animation[0]))
    assert gif.format == "GIF" and gif.n_frames == len(animation.capture_steps(12))
    assert [b.label for b in at.get("download_button")] == ["Download PNG", "Download GIF"]


def test_compare_learning_rates_in_one_batch() -> None:
    at = small(start(), index=5, steps=3)
    at.session_state["tab"] = "Compare learning rates"
    at.run()
    rates = at.multiselect(key="compare_rates_robust")
    assert rates.value == [0.05, 0.15, 0.5]
    rates.set_value([0.01, 0.1]).run()
    button(at, "Compare").click().run()
    assert not at.exception and not at.error
    record = at.session_state["compare"]
    assert record.status == "done"
    assert record.result.settings.learning_rates == (0.01, 0.1)
    assert [image.captions for image in at.get("image")] == [["learning rate 0.01"], ["learning rate 0.1"]]


def test_layer_grid_renders_a_page_and_opens_a_tile() -> None:
    at = small(start(), steps=2)
    at.session_state["tab"] = "Layer grid"
    at.run()
    button(at, "Render this page").click().run()
    assert not at.exception and not at.error
    assert at.session_state["grid"].result.images.shape == (16, 64, 64, 3)

    button(at, "Next page").click().run()
    assert any("filters 16–31" in markdown.value for markdown in at.markdown)
    button(at, "Previous page").click().run()
    assert at.session_state["grid"].status == "done"  # page 1 again, straight from the cache

    button(at, "Open filter 6").click().run()
    assert at.session_state["tab"] == "Single filter"
    assert at.number_input(key="filter").value == 6
    assert at.session_state["single"].from_cache
    assert any("Opened filter 6" in message.value for message in at.success)
    assert not at.exception


def test_about_names_the_weights() -> None:
    at = start()
    at.session_state["tab"] = "About"
    at.run()
    text = " ".join(markdown.value for markdown in at.markdown)
    assert "What is a filter?" in text and "block5" in text and "HED-VGG16" in text
    assert not at.exception


def test_about_shows_the_disk_use_and_clears_it() -> None:
    RenderCache().put("f" * 32, CachedPicture(np.zeros((32, 32, 3), np.uint8), np.zeros(3, np.float32), 1.0))
    at = start()
    at.session_state["tab"] = "About"
    at.run()
    [line] = [caption.value for caption in at.caption if caption.value.startswith("Disk use:")]
    assert "MB of 1024 MB" in line and "uploads: " in line and os.environ["VIZCORE_CACHE"] in line
    assert "renders: 0 pictures" not in line
    button(at, "Clear").click().run()
    assert not at.exception
    [line] = [caption.value for caption in at.caption if caption.value.startswith("Disk use:")]
    assert "renders: 0 pictures" in line and "uploads: 0 model files" in line
    assert RenderCache().get("f" * 32, 32, 3) is None


def test_a_model_that_cannot_load_gives_a_plain_error(monkeypatch) -> None:
    monkeypatch.setenv("VIZCORE_MODEL", "no-such-model")
    at = start()
    assert "Unknown model source 'no-such-model'" in at.error[0].value
    assert "VIZCORE_MODEL=hed-vgg16" in at.error[0].value
    assert not at.sidebar.button  # the page stops there


@pytest.mark.parametrize(("failure", "message"), [
    (vizcore.InputError("Filter 3 does not exist."), "Filter 3 does not exist."),
    (RuntimeError("boom"), "Something went wrong while making the picture."),
])
def test_engine_errors_become_short_messages(monkeypatch, failure: Exception, message: str) -> None:
    at = small(start())

    def broken(self, settings, preview_every=10):
        raise failure
        yield  # a generator, like the real one

    monkeypatch.setattr(vizcore.Engine, "run", broken)
    at.button(key="generate").click().run()
    assert not at.exception
    assert at.error[0].value.startswith(message)
    assert "boom" not in at.error[0].value and "Traceback" not in at.error[0].value
    assert at.session_state["single"].status == "stopped"


def test_layer_grid_shows_a_precomputed_atlas_sorted_by_response(vgg16, tmp_path, monkeypatch) -> None:
    parameters = AtlasParameters("robust", steps=5, size=64, lr=0.15, seed=0)  # the page's default rate
    atlas = open_atlas(tmp_path, vgg16, parameters)
    for done in local_renderer(vizcore.Engine(vgg16))([Job("block1_conv1", (0, 1, 2, 3), parameters, quality=False)]):
        atlas.save(done)
    monkeypatch.setenv("VIZCORE_ATLAS", str(tmp_path))
    at = small(start(), steps=5)
    at.session_state["tab"] = "Layer grid"
    at.run()
    assert "Render this page" not in [b.label for b in at.button]  # shown at once, nothing to render
    assert any("4 of 64 filters so far" in caption.value for caption in at.caption)
    assert [b.label for b in at.button if b.label.startswith("Open")] == [f"Open filter {i}" for i in range(4)]

    at.selectbox(key="atlas_sort").set_value("Activation").run()
    strongest_first = [number for number, _, _ in atlas.tiles("block1_conv1", "activation")]
    assert strongest_first != [0, 1, 2, 3]  # the order really changes
    assert [b.label for b in at.button if b.label.startswith("Open")] == [f"Open filter {i}" for i in strongest_first]
    button(at, f"Open filter {strongest_first[0]}").click().run()
    assert at.number_input(key="filter").value == strongest_first[0]
    assert at.session_state["tab"] == "Single filter"
    assert any(f"Opened filter {strongest_first[0]} of block1_conv1 from the atlas" in s.value for s in at.success)
    response = atlas.records["block1_conv1"][strongest_first[0]]["activation"]
    assert any(f"From the precomputed atlas: the filter's response to this picture is {response:.4g}" in c.value
               for c in at.caption)
    assert "single" not in at.session_state  # nothing was rendered: the atlas picture is shown
    at.checkbox(key="blend_on").check().run()  # a blend is not what the atlas shows
    assert not any("From the precomputed atlas" in c.value for c in at.caption)
    at.checkbox(key="blend_on").uncheck().run()
    assert any("From the precomputed atlas" in c.value for c in at.caption)
    atlas.png("block1_conv1", strongest_first[0]).unlink()  # a picture removed from the atlas folder
    at.run()
    assert not any("From the precomputed atlas" in c.value for c in at.caption)
    assert not at.exception and not at.error
    at.number_input(key="filter").set_value(strongest_first[1]).run()  # another filter: back to normal
    assert not any("From the precomputed atlas" in c.value for c in at.caption)

    at.session_state["tab"] = "Layer grid"
    at.slider(key="steps").set_value(6).run()  # other settings: no atlas, rendering on demand as before
    assert "Render this page" in [b.label for b in at.button]
    assert not at.exception and not at.error


def test_keras_state_is_kept_between_script_runs() -> None:
    """Streamlit clears Keras's session after every run unless the page stops it: a full garbage collection each
    time, holding the GIL (the server answered its health check only after 9-15 s with 8 sessions open)."""
    from keras.src.backend.common import global_state

    at = start("About")
    global_state.set_global_attribute("filter_explorer_probe", "kept")
    at.run()
    assert not at.exception
    assert global_state.get_global_attribute("filter_explorer_probe") == "kept"
