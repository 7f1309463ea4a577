"""The Single filter tab's "Photos that excite this filter" section with Streamlit's AppTest, on the real
offline VGG16 (uploads are not supported by AppTest: tests/e2e/test_browser_examples.py covers them)."""
from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest
from test_app import offline_model, start  # noqa: F401  (the module's autouse fixture: offline weights)

from dashboard.examples import response_words
from vizcore import examples

CROP_CAPTION = re.compile(r"^(.+) · response (\d+(?:\.\d)?)× stronger than on an average place$")


def crop_captions(at: AppTest) -> list[tuple[str, float]]:
    """(photo, response relative to the filter's mean) of each place shown in the section."""
    found = [CROP_CAPTION.match(image.captions[0]) for image in at.get("image") if image.captions]
    return [(match.group(1), float(match.group(2))) for match in found if match]


def test_the_response_in_plain_words() -> None:
    assert response_words(19.3) == "response 19× stronger than on an average place"
    assert response_words(3.44) == "response 3.4× stronger than on an average place"
    assert response_words(1.02) == "response no stronger than on an average place"


def test_the_section_shows_the_strongest_crops_before_and_after_generate() -> None:
    at = start(layer="block1_conv1", filter="5", steps="3", size="64")
    assert any(header.value == "Photos that excite this filter" for header in at.subheader)
    first = crop_captions(at)
    assert len(first) == examples.DEFAULT_COUNT
    assert [value for _, value in first] == sorted((value for _, value in first), reverse=True)
    assert {name for name, _ in first} <= set(examples.NATURAL_PHOTOS)
    found = at.session_state["example_search"][1].result()
    shown = [image.captions[0] for image in at.get("image") if image.captions and CROP_CAPTION.match(image.captions[0])]
    assert shown == [f"{example.photo} · {response_words(example.relative)}" for example in found]
    assert all(example.relative > 1 and example.context is not None for example in found)  # 3 px: in context
    assert any("the part the filter sees outlined" in caption.value for caption in at.caption)
    heat_maps = [image for image in at.get("image") if image.captions and re.match(r"^\d\. ", image.captions[0])]
    assert len(heat_maps) == examples.DEFAULT_COUNT

    at.button(key="generate").click().run()
    assert not at.exception and not at.error
    assert at.get("image")[0].captions[0].startswith("block1_conv1 filter 5 · Robust")  # the picture comes first
    assert crop_captions(at) == first


def test_another_filter_of_the_layer_comes_from_memory() -> None:
    at = start(layer="block1_conv2", filter="1")
    before = examples.SHARED_FINDER.computations
    at.number_input(key="filter").set_value(2).run()
    assert not at.exception
    assert examples.SHARED_FINDER.computations == before
    assert at.session_state["example_search"][0][2] == 2
    assert len(crop_captions(at)) == examples.DEFAULT_COUNT


def test_a_filter_silent_on_every_photo_gets_a_plain_note() -> None:
    at = start(layer="block2_conv1", filter="7")
    assert any(examples.SILENT_NOTE in info.value for info in at.info)
    assert not crop_captions(at)
    assert not at.exception and not at.error
