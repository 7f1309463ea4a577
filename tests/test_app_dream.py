"""The DeepDream tab with Streamlit's AppTest, on the real offline VGG16 (hed-vgg16).

Dreams use a shallow layer, one octave, a few steps and the smallest photo size, so each takes seconds.
"""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest
from test_app import button, offline_model, start  # noqa: F401  (offline_model: the module's autouse fixture)

from vizcore.dream import DEFAULT_SIDE, SAMPLE_PHOTOS, sample_photo

CONTROLS = ("Photo", "Sample photo", "What to amplify", "Octaves", "Steps per octave", "Strength", "Photo size")


def open_dream(layer: str = "block1_conv1", index: int = 3) -> AppTest:
    """A visit on the DeepDream tab with this sidebar layer and filter, and quick dream settings."""
    at = start(tab="DeepDream")
    at.selectbox(key="layer").set_value(layer).run()  # the layer first: it sets the filter range
    at.number_input(key="filter").set_value(index)
    at.slider(key="dream_octaves").set_value(1)
    at.slider(key="dream_steps").set_value(3)
    at.selectbox(key="dream_side").set_value(192).run()
    assert (at.number_input(key="filter").value, at.slider(key="dream_octaves").value) == (index, 1)
    assert (at.slider(key="dream_steps").value, at.selectbox(key="dream_side").value) == (3, 192)
    assert not at.exception
    return at


def png(picture: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def widgets_labelled(at: AppTest, label: str) -> list:
    return [w for w in (*at.radio, *at.selectbox, *at.slider, *at.file_uploader) if w.label == label]


def test_the_tab_sits_before_about_and_every_control_has_help() -> None:
    at = start()
    assert [tab.label for tab in at.tabs][-2:] == ["DeepDream", "About"]
    at.session_state["tab"] = "DeepDream"
    at.run()
    for label in CONTROLS:
        widgets = widgets_labelled(at, label)
        assert widgets and widgets[0].help, f"{label} needs plain-words help"
    assert at.selectbox(key="dream_sample").options == list(SAMPLE_PHOTOS.values())
    assert at.selectbox(key="dream_side").value == DEFAULT_SIDE
    assert at.radio(key="dream_what").options == ["The whole layer block1_conv1", "Filter 0 of block1_conv1"]
    assert not button(at, "Dream").disabled
    assert not at.exception and not at.error


def test_dreaming_on_a_sample_gives_a_picture_of_its_size_and_a_download() -> None:
    at = open_dream()
    button(at, "Dream").click().run()
    assert not at.exception and not at.error
    record = at.session_state["dream"]
    assert record.status == "done" and record.step == 3
    assert record.settings.layer == "block1_conv1" and record.settings.filter is None
    assert record.images[0].shape == sample_photo("chelsea", 192).shape
    assert not np.array_equal(record.images[0], record.photo)
    assert record.losses.shape == (3, 1)  # the dream's objective at every step: its curve
    assert at.get("download_button")[0].label == "Download PNG"
    captions = [image.captions[0] for image in at.get("image")]
    assert captions == ["Original: Cat", "block1_conv1 · 1 octaves × 3 steps · strength 1.5"]

    at.slider(key="dream_steps").set_value(4).run()  # a change keeps the last dream, marked as older
    assert at.session_state["dream"] is record
    assert any("other settings" in caption.value for caption in at.caption)


def test_one_filter_from_the_sidebar_can_be_amplified() -> None:
    at = open_dream(layer="block2_conv1", index=9)
    at.radio(key="dream_what").set_value("filter").run()
    button(at, "Dream").click().run()
    assert not at.exception and not at.error
    record = at.session_state["dream"]
    assert (record.settings.layer, record.settings.filter, record.status) == ("block2_conv1", 9, "done")
    assert "block2_conv1 filter 9" in at.get("image")[1].captions[0]


def test_an_uploaded_photo_is_dreamed_at_the_chosen_size() -> None:
    at = open_dream()
    at.radio(key="dream_source").set_value("My own photo").run()
    upload = at.file_uploader(key="dream_upload")
    photo = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    upload.set_value(("holiday.png", png(photo), "image/png")).run()
    button(at, "Dream").click().run()
    assert not at.exception and not at.error
    record = at.session_state["dream"]
    assert record.photo_name == "holiday.png" and record.images[0].shape == (144, 192, 3)


@pytest.mark.parametrize("content, words", [
    (b"this is not a picture", "notes.png is not a JPEG or PNG photo"),
    (b"", "notes.png is empty"),
])
def test_a_bad_upload_gets_the_readers_message_and_no_dream_button(content: bytes, words: str) -> None:
    at = open_dream()
    at.radio(key="dream_source").set_value("My own photo").run()
    assert button(at, "Dream").disabled  # nothing uploaded yet
    at.file_uploader(key="dream_upload").set_value(("notes.png", content, "image/png")).run()
    assert not at.exception
    assert words in at.error[0].value
    assert button(at, "Dream").disabled


def test_too_many_octaves_for_a_small_photo_is_a_plain_error() -> None:
    at = open_dream()
    at.radio(key="dream_source").set_value("My own photo").run()
    strip = np.full((100, 300, 3), 128, np.uint8)
    at.file_uploader(key="dream_upload").set_value(("strip.png", png(strip), "image/png")).run()
    at.slider(key="dream_octaves").set_value(6).run()
    button(at, "Dream").click().run()
    assert not at.exception
    assert "too small for 6 octaves" in at.error[0].value
    assert "dream" not in at.session_state
