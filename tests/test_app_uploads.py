"""The dashboard's "Use your own model" with Streamlit's AppTest: real uploads, a real child-process inspection,
and every tab on the uploaded model (tiny, so each render or dream takes a moment). Set-up and helpers: test_app."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from model_files import pickle_renamed, save_tiny
from streamlit.testing.v1 import AppTest
from test_app import SIDEBAR_ONLY, button, offline_model, small, start, weights_notice  # noqa: F401  (offline_model)

from vizcore import uploads
from vizcore.errors import InputError
from vizcore.model_file import file_sha256


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """The model files the tests upload, each checked by its own real child process, the three at once: the
    dashboard then takes the verdict that vizcore.uploads remembers by SHA-256 instead of waiting for the children
    one after the other (each starts TensorFlow)."""
    folder = tmp_path_factory.mktemp("model-files")
    paths = {"tiny": save_tiny(folder / "tiny.keras"), "pickle": pickle_renamed(folder / "weights.keras"),
             "fixed48": save_tiny(folder / "fixed48.keras", input_size=48)}
    with ThreadPoolExecutor(len(paths)) as pool:
        verdicts = list(pool.map(remembered_verdict, paths.values()))
    assert verdicts == [True, False, True]  # the pickle is refused, the tiny models accepted
    return paths


def remembered_verdict(path: Path) -> bool:
    """Have the file inspected (its verdict is then remembered); whether it was accepted."""
    try:
        uploads.inspect_file(path)
    except InputError:
        return False
    return True


def upload(at: AppTest, path: Path, preprocessing: str = "none", tab: str | None = None) -> AppTest:
    """Upload a file in the sidebar, choose the preprocessing and press "Use this model" (on ``tab`` if given)."""
    at.file_uploader(key="model_upload").set_value((path.name, path.read_bytes(), "application/octet-stream")).run()
    at.selectbox(key="model_preprocessing").set_value(preprocessing).run()
    if tab:
        at.session_state["tab"] = tab
    button(at, "Use this model").click().run()
    assert not at.exception
    return at


def layer_names(at: AppTest) -> list[str]:
    return [option.split(" ")[0] for option in at.selectbox(key="layer").options]


def own_model_notice(at: AppTest) -> tuple[str, str]:
    """The sidebar's one line naming the uploaded model in use, and the details collapsed under it."""
    notices = [block for block in at.sidebar.expander if block.label.startswith("Your model")]
    assert len(notices) == 1, [block.label for block in at.sidebar.expander]
    return notices[0].label, " ".join(element.value for element in notices[0].markdown)


def test_an_uploaded_model_is_used_by_every_tab_until_back_to_vgg16(files):
    at = upload(start(SIDEBAR_ONLY), files["tiny"])  # Generate opens Single filter: no VGG16 photo examples
    assert not at.error
    assert layer_names(at) == ["conv_a", "conv_b"]
    title, details = own_model_notice(at)
    assert title == "Your model tiny.keras — details" and "preprocessing none" in details
    assert any("2 conv layers" in message.value for message in at.sidebar.success)
    assert at.selectbox(key="model_preprocessing").help and at.file_uploader(key="model_upload").help

    small(at, "conv_b", 5, 2)  # each tab renders 2 iterations at 64 px: the uploaded model is used, not its quality
    button(at, "Generate").click().run()
    single = at.session_state["single"]
    assert single.status == "done" and single.result.images.shape == (1, 64, 64, 3)
    assert single.settings.layer == "conv_b"

    at.session_state["tab"] = "Compare learning rates"
    at.run()
    rates = at.multiselect(key="compare_rates_robust")
    rates.set_value(rates.value[:2])
    button(at, "Compare").click().run()
    compare = at.session_state["compare"]
    assert compare.status == "done" and compare.result.images.shape[1:] == (64, 64, 3)
    assert len(compare.result.images) == len(compare.settings.learning_rates) >= 2

    at.session_state["tab"] = "Layer grid"
    at.run()
    button(at, "Render this page").click().run()
    assert at.session_state["grid"].result.images.shape == (6, 64, 64, 3)  # conv_b's 6 filters on one page

    at.session_state["tab"] = "Diversity"
    at.run()
    button(at, "Render copies").click().run()
    assert at.session_state["diversity"].status == "done"

    at.session_state["tab"] = "DeepDream"
    at.run()
    at.slider(key="dream_octaves").set_value(1)
    at.slider(key="dream_steps").set_value(2)
    at.selectbox(key="dream_side").set_value(192)
    button(at, "Dream").click().run()
    assert at.session_state["dream"].status == "done"
    assert not at.exception and not at.error

    at.session_state["tab"] = "Layer grid"
    button(at, "Back to VGG16").click().run()
    assert layer_names(at)[0] == "block1_conv1"
    assert weights_notice(at).label == "Offline weights: HED-VGG16 — why?"
    labels = [b.label for b in at.button]
    assert "Render this page" in labels and "Back to VGG16" not in labels  # the tiny model's grid is gone


def test_a_bad_upload_shows_a_plain_message_and_a_fixed_size_model_offers_only_its_size(files):
    pickled = files["pickle"]
    at = upload(start(SIDEBAR_ONLY), pickled)
    assert len(at.error) == 1 and "weights.keras is a pickle" in at.error[0].value
    assert not (uploads.uploads_dir() / f"{file_sha256(pickled)}.keras").exists()  # deleted at once
    assert layer_names(at)[0] == "block1_conv1"  # still VGG16

    at = upload(at, files["fixed48"], preprocessing="tf", tab="Single filter")  # where photo examples would be
    assert not at.error
    assert at.selectbox(key="size").options == ["48"] and at.selectbox(key="size").value == 48
    assert any("only takes pictures of 48 x 48 pixels" in info.value for info in at.info)  # no photo examples
    at.slider(key="steps").set_value(3).run()
    button(at, "Generate").click().run()
    assert at.session_state["single"].result.images.shape == (1, 48, 48, 3)
