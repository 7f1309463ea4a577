"""The Tour with Streamlit's AppTest on the offline VGG16: offered to a new visitor, opened by a link at a stop,
walked with Next and Back, each stop's filters chosen from the natural-photo measurements and made live.

The measurements are written into the test's cache folder (the real ones take a minute): the tour must show the
filters they say respond most to photos."""
from __future__ import annotations

import numpy as np
import pytest
import test_app
from test_app import button, start

import vizcore
from vizcore import metrics
from vizcore.atlas import AtlasParameters, Job, local_renderer, open_atlas

offline_model = test_app.offline_model  # the same module fixture: offline weights, private cache
SHOWN = {"block1_conv1": (9, 5), "block2_conv1": (100, 17)}  # the clearest photo matches written below


@pytest.fixture(scope="module", autouse=True)
def natural_measurements(offline_model):
    """Natural-photo responses in which SHOWN's filters lead their layers (the tour reads them from the cache);
    the real measurements, if the session made them, are put back afterwards for the other tests."""
    model = vizcore.load_model("hed-vgg16")
    path = metrics.reference_path(model)
    real = path.read_bytes() if path.exists() else None
    rng = np.random.default_rng(0)
    reference = {info.name: rng.random(info.filters).astype(np.float32) for info in model.layers}
    for layer, filters in SHOWN.items():
        reference[layer][list(filters)] = [3.0, 2.0]
    np.savez(path, **reference)
    metrics.forget_natural_references()
    yield
    if real is None:
        path.unlink()
    else:
        path.write_bytes(real)
    metrics.forget_natural_references()


def subheaders(at) -> list[str]:
    return [header.value for header in at.subheader]


def test_a_new_visitor_is_offered_the_tour_and_can_decline_it() -> None:
    at = start()
    assert any("New here?" in markdown.value for markdown in at.markdown)
    button(at, "No, thanks").click().run()
    assert not any("New here?" in markdown.value for markdown in at.markdown)
    assert not at.exception


def test_a_link_opens_a_stop_and_next_and_back_walk_the_tour() -> None:
    at = start(tour="2", steps="3", size="64")
    assert at.session_state["tab"] == "Tour"
    assert "Stop 2 of 6: Small textures" in subheaders(at)
    assert any("block2_conv1, filters 100 and 17" in caption.value for caption in at.caption)
    pictures = [caption for image in at.get("image") for caption in image.captions]
    assert [caption.split(" · ")[0] for caption in pictures[:2]] == ["block2_conv1 filter 100",
                                                                      "block2_conv1 filter 17"]
    assert at.session_state["tour"].status == "done"
    button(at, "Next").click().run()
    assert "Stop 3 of 6: Patterns" in subheaders(at)
    button(at, "Back").click().run()
    button(at, "Back").click().run()
    assert "Stop 1 of 6: Edges and colours" in subheaders(at)
    assert any("block1_conv1, filters 9 and 5" in caption.value for caption in at.caption)
    assert button(at, "Back").disabled
    assert at.query_params["tour"] == "1"
    assert not at.exception and not at.error


def test_a_link_to_a_stop_that_does_not_exist_starts_at_the_first_with_a_warning() -> None:
    at = start(tour="99", steps="3", size="64")
    assert "Stop 1 of 6: Edges and colours" in subheaders(at)
    assert any("'99' does not exist" in warning.value for warning in at.warning)


def test_a_stop_shows_an_atlas_picture_when_there_is_one(vgg16, tmp_path, monkeypatch) -> None:
    parameters = AtlasParameters("robust", steps=5, size=64, lr=0.15, seed=0)  # the page's default rate
    atlas = open_atlas(tmp_path, vgg16, parameters)
    for done in local_renderer(vizcore.Engine(vgg16))([Job("block1_conv1", SHOWN["block1_conv1"], parameters,
                                                           quality=False)]):
        atlas.save(done)
    monkeypatch.setenv("VIZCORE_ATLAS", str(tmp_path))
    at = start(tour="1", steps="5", size="64")
    pictures = [caption for image in at.get("image") for caption in image.captions]
    assert pictures[:2] == ["block1_conv1 filter 9 · from the atlas", "block1_conv1 filter 5 · from the atlas"]
    assert "tour" not in at.session_state  # nothing was rendered
    assert not at.exception and not at.error
