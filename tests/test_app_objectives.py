"""The dashboard's objective controls with Streamlit's AppTest on the offline VGG16: the centre neuron, blending
two filters (sidebar and link), the whole layer, a filter minus another layer's, an objective written out, and
the Diversity tab. Renders use a few iterations at 64 px."""
from __future__ import annotations

import pytest
import test_app
from test_app import SIDEBAR_ONLY, button, small, start

offline_model = test_app.offline_model  # the same module fixture: offline weights, private cache


def sidebar_widget(at, label: str):
    widgets = [w for w in at.sidebar if getattr(w, "label", None) == label]
    assert len(widgets) == 1, f"expected one sidebar widget {label!r}"
    return widgets[0]


def captions(at) -> list[str]:
    return [caption for image in at.get("image") for caption in image.captions]


def test_objective_and_blend_controls_have_plain_labels_and_help() -> None:
    at = start(tab=SIDEBAR_ONLY)
    assert at.selectbox(key="objective").options == [
        "Whole filter (channel)", "Centre neuron", "Whole layer (DeepDream)",
        "This filter but not one of another layer", "Write your own"]
    assert at.selectbox(key="objective").value == "channel"
    assert sidebar_widget(at, "Objective").help and sidebar_widget(at, "Blend with another filter").help
    assert not [w for w in at.sidebar if getattr(w, "label", None) in ("Second filter", "Mix")]
    at.checkbox(key="blend_on").check().run()
    assert sidebar_widget(at, "Second filter").help and sidebar_widget(at, "Mix").help
    assert at.number_input(key="blend_filter").value == 1  # the next filter after filter 0
    assert at.slider(key="mix").value == 50
    assert (at.slider(key="mix").min, at.slider(key="mix").max) == (0, 100)
    assert [tab.label for tab in at.tabs].index("Diversity") == [tab.label for tab in at.tabs].index("Layer grid") - 1
    assert not at.exception and not at.error


def test_a_link_restores_the_objective_and_the_blend() -> None:
    at = start(tab=SIDEBAR_ONLY, layer="block2_conv1", filter="12", objective="neuron", blend="40", mix="25")
    assert at.selectbox(key="objective").value == "neuron"
    assert at.checkbox(key="blend_on").value
    assert at.number_input(key="blend_filter").value == 40
    assert at.slider(key="mix").value == 25
    assert not at.warning
    assert {key: at.query_params[key] for key in ("filter", "objective", "blend", "mix")} == {
        "filter": "12", "objective": "neuron", "blend": "40", "mix": "25"}


def test_an_old_link_means_the_whole_filter_without_a_blend() -> None:
    at = start(tab=SIDEBAR_ONLY, layer="block1_conv2", filter="5")
    assert at.selectbox(key="objective").value == "channel"
    assert not at.checkbox(key="blend_on").value
    assert not {"objective", "blend", "mix"} & set(at.query_params)


def test_bad_objective_link_values_are_clamped_and_reported() -> None:
    at = start(tab=SIDEBAR_ONLY, objective="magic", blend="999", mix="250")
    assert at.selectbox(key="objective").value == "channel"
    assert at.number_input(key="blend_filter").value == 63
    assert at.slider(key="mix").value == 100
    text = " ".join(warning.value for warning in at.warning)
    for bad in ("magic", "999", "250"):
        assert bad in text
    assert not at.exception and not at.error


def test_centre_neuron_renders_and_goes_into_the_link() -> None:
    at = small(start())
    at.selectbox(key="objective").set_value("neuron").run()
    at.button(key="generate").click().run()
    assert not at.exception and not at.error
    assert str(at.session_state["single"].result.settings.objectives[0]) == "neuron(block1_conv1:3)"
    assert captions(at)[0].startswith("block1_conv1 filter 3 · centre neuron · Robust · 4 iterations")
    assert at.query_params["objective"] == "neuron"


def test_a_blend_of_two_filters_renders_and_goes_into_the_link() -> None:
    at = small(start())
    at.checkbox(key="blend_on").check().run()
    at.number_input(key="blend_filter").set_value(40).run()
    at.button(key="generate").click().run()
    assert not at.exception and not at.error
    settings = at.session_state["single"].result.settings
    assert str(settings.objectives[0]) == "0.5*block1_conv1:3 + 0.5*block1_conv1:40"
    assert captions(at)[0].startswith("block1_conv1 filter 3 + filter 40 (50/50) · Robust")
    assert (at.query_params["blend"], at.query_params["mix"]) == ("40", "50")


def test_the_whole_layer_and_a_filter_minus_another_layers_render_and_go_into_the_link() -> None:
    at = small(start(), layer="block2_conv1")
    at.selectbox(key="objective").set_value("dream").run()
    at.button(key="generate").click().run()
    assert not at.exception and not at.error
    assert captions(at)[0].startswith("block2_conv1 every filter (DeepDream) · Robust")
    at.selectbox(key="objective").set_value("minus").run()
    assert at.selectbox(key="minus_layer").value == "block1_conv2"  # the layer before, by default
    at.number_input(key="minus_filter").set_value(7).run()
    at.button(key="generate").click().run()
    assert not at.exception and not at.error
    assert captions(at)[0].startswith("block2_conv1 filter 3 - block1_conv2 filter 7 · Robust")
    assert (at.query_params["objective"], at.query_params["minus"]) == ("minus", "block1_conv2:7")


def test_an_objective_written_out_renders_or_says_in_plain_words_what_is_wrong() -> None:
    at = small(start())
    at.selectbox(key="objective").set_value("own").run()
    assert at.text_input(key="own").value == "block1_conv1:3 + 0.5*block1_conv1:4" and at.text_input(key="own").help
    at.text_input(key="own").set_value("block1_conv1:3 - block9_conv1:2").run()
    at.button(key="generate").click().run()
    assert any("Unknown layer 'block9_conv1'" in error.value for error in at.error)
    assert "single" not in at.session_state and not at.exception
    at.text_input(key="own").set_value("block2_conv1:5 - 0.5*block1_conv1:3").run()
    at.button(key="generate").click().run()
    assert not at.exception and not at.error
    assert captions(at)[0].startswith("block2_conv1 filter 5 - 0.5 × block1_conv1 filter 3 · Robust")
    assert at.query_params["own"] == "block2_conv1:5 - 0.5*block1_conv1:3"


def open_diversity(at):
    at.session_state["tab"] = "Diversity"
    return at.run()


def test_diversity_renders_three_copies_with_their_responses() -> None:
    at = open_diversity(small(start(), index=5, steps=3))
    assert at.slider(key="copies").value == 4 and at.slider(key="copies").help
    assert at.slider(key="diversity_strength").help
    at.slider(key="copies").set_value(3).run()
    button(at, "Render copies").click().run()
    assert not at.exception and not at.error
    record = at.session_state["diversity"]
    assert record.status == "done" and record.result.images.shape == (3, 64, 64, 3)
    assert [caption.split(" · ")[0] for caption in captions(at)] == ["Copy 1", "Copy 2", "Copy 3"]
    assert all("response" in caption for caption in captions(at))
    assert any("Style similarity between the copies" in markdown.value for markdown in at.markdown)


def test_diversity_controls_keep_their_values_across_tabs() -> None:
    at = start(tab="Diversity")
    at.slider(key="copies").set_value(6).run()
    at.slider(key="diversity_strength").set_value(2.5).run()
    at.session_state["tab"] = "About"
    at.run()
    open_diversity(at)
    assert (at.slider(key="copies").value, at.slider(key="diversity_strength").value) == (6, pytest.approx(2.5))
    assert not at.exception
