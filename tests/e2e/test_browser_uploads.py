"""Your own model in a real Chromium against the real server: upload a tiny .keras model saved by the test,
render one of its filters; a pickle renamed .keras gets a plain message and the page stays clean."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from harness import ALERTS, ROOT, DashboardTab, Screenshot
from model_files import pickle_renamed, save_tiny
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SCREENSHOT = ROOT / "docs" / "screenshots" / "uploads.png"
FILE_INPUT = '.st-key-model_upload input[type="file"]'  # the sidebar's uploader, not the photo ones
CHILD_TIMEOUT_MS = 180_000  # the check starts TensorFlow in a child process: slow on a busy machine


def upload(tab: DashboardTab, path: Path) -> None:
    """Open "Use your own model", choose the file, keep preprocessing "none" and press "Use this model"."""
    expander = tab.page.get_by_text("Use your own model", exact=True)
    if not tab.page.locator(FILE_INPUT).is_visible():
        expander.click()
    with tab.rerun():
        tab.page.locator(FILE_INPUT).set_input_files(str(path))
    tab.choose("Preprocessing", "none")
    with tab.rerun():
        tab.button("Use this model").click()


def layer_options(tab: DashboardTab) -> list[str]:
    """The Layer list's options as shown (opened, read, closed again)."""
    box = tab.page.get_by_label("Layer", exact=True)
    box.scroll_into_view_if_needed()  # clicking "Use this model" scrolled the sidebar; a scroll closes the list
    tab.page.wait_for_timeout(300)
    box.click()
    expect(tab.page.get_by_role("option").first).to_be_visible()
    options = [text.strip() for text in tab.page.get_by_role("option").all_inner_texts()]
    tab.page.keyboard.press("Escape")
    return options


def test_an_uploaded_model_lists_its_conv_layers_and_renders(tab: DashboardTab, tmp_path: Path,
                                                             screenshot: Screenshot) -> None:
    tiny = save_tiny(tmp_path / "tiny.keras")
    tab.open("?layer=block1_conv1&filter=2&method=robust&steps=40&size=64")
    upload(tab, tiny)

    expect(tab.page.get_by_text("Now showing tiny.keras: 2 conv layers")).to_be_visible(timeout=CHILD_TIMEOUT_MS)
    expect(tab.page.get_by_label("Layer", exact=True)).to_have_value("conv_a (4 filters)")
    assert layer_options(tab) == ["conv_a (4 filters)", "conv_b (6 filters)"]
    expect(tab.page.get_by_text("Your model tiny.keras — details")).to_be_visible()  # the weights notice
    tab.choose("Layer", re.compile(r"^conv_b"))
    tab.record_frames()
    tab.button("Generate").click()
    tab.wait_for_result()
    expect(tab.page.get_by_text("conv_b filter 2 · Robust · 40 iterations")).to_be_visible()
    expect(tab.images()).to_have_count(1)
    tab.assert_clean()

    show_own_model_panel(tab)
    screenshot(tab, SCREENSHOT)

    with tab.rerun():
        tab.button("Back to VGG16").click()
    assert layer_options(tab)[0] == "block1_conv1 (64 filters)"
    tab.assert_clean()


def test_a_pickle_renamed_keras_gets_a_plain_message(tab: DashboardTab, tmp_path: Path) -> None:
    tab.open("?layer=block1_conv1&filter=2&method=robust&steps=40&size=64")
    upload(tab, pickle_renamed(tmp_path / "weights.keras"))

    expect(tab.page.locator(ALERTS).filter(has_text="weights.keras is a pickle")).to_be_visible(
        timeout=CHILD_TIMEOUT_MS)
    expect(tab.page.get_by_label("Layer", exact=True)).to_have_value(re.compile(r"^block1_conv1"))
    tab.assert_clean()


def show_own_model_panel(tab: DashboardTab) -> None:
    """The page tall enough for the whole sidebar, with the "Use your own model" panel open."""
    tab.page.set_viewport_size({"width": 1280, "height": 1500})
    if not tab.page.locator(FILE_INPUT).is_visible():
        tab.page.get_by_text("Use your own model", exact=True).click()
    expect(tab.button("Use this model")).to_be_visible()
    tab.page.wait_for_timeout(1000)  # the expander's opening animation
    tab.page.mouse.move(1000, 10)  # no tooltip
    expect(tab.page.get_by_role("tooltip")).to_have_count(0)
