"""The DeepDream tab in a real Chromium against a real Streamlit server and the real (offline) VGG16."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from dream_page import choose_radio, dream, open_dream_tab, upload_photo
from harness import ALERTS, ROOT, DashboardTab, Screenshot
from PIL import Image
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SCREENSHOT = ROOT / "docs" / "screenshots" / "dream.png"
SCREENSHOT_VIEWPORT = {"width": 1280, "height": 1000}


def test_an_uploaded_photo_dreams_live_and_downloads(tab: DashboardTab, tmp_path: Path) -> None:
    y, x = np.mgrid[0:200, 0:300]
    photo = np.stack([x * 255 // 299, y * 255 // 199, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "garden.png")
    open_dream_tab(tab, "block3_conv1")
    tab.choose("Photo size", "192 px")
    upload_photo(tab, tmp_path / "garden.png")
    expect(tab.page.get_by_text("Original: garden.png")).to_be_visible()
    dream(tab)

    live = {frame["src"] for frame in tab.frames() if not frame["done"]}
    assert len(live) >= 3, f"expected several live pictures before the end, saw {tab.frames()}"
    expect(tab.images()).to_have_count(2)  # the original beside the dream
    expect(tab.page.get_by_text("block3_conv1 · 3 octaves × 20 steps · strength 1.5")).to_be_visible()
    with tab.page.expect_download() as download:
        tab.button("Download PNG").click()
    assert download.value.suggested_filename == "dream-block3_conv1.png"
    with Image.open(download.value.path()) as picture:
        assert (picture.format, picture.size) == ("PNG", (192, 128))  # the upload, shrunk to the photo size
    tab.assert_clean()


def test_a_file_that_is_not_a_photo_gets_a_plain_message(tab: DashboardTab, tmp_path: Path) -> None:
    fake = tmp_path / "notes.png"
    fake.write_text("shopping list: milk, eggs")
    open_dream_tab(tab, "block1_conv1")
    upload_photo(tab, fake)

    expect(tab.page.locator(ALERTS).filter(has_text="notes.png is not a JPEG or PNG photo")).to_be_visible()
    expect(tab.button("Dream")).to_be_disabled()
    choose_radio(tab, "A sample photo")  # the page still works
    expect(tab.button("Dream")).to_be_enabled()
    tab.assert_clean()


def test_stop_keeps_the_picture_as_far_as_it_got(tab: DashboardTab) -> None:
    open_dream_tab(tab, "block3_conv1")
    tab.choose("Photo size", "192 px")
    tab.record_frames()
    tab.button("Dream").click()
    tab.wait_for_frames(2)  # two live pictures
    tab.button("Stop").click()

    expect(tab.page.locator(ALERTS).filter(has_text="You pressed Stop")).to_be_visible()
    expect(tab.page.get_by_text(re.compile(r"^Stopped at step \d+ of 60 \(octave \d of 3\)$"))).to_be_visible()
    expect(tab.button("Download PNG")).to_have_count(0)
    tab.assert_clean()


def dream_on_the_cat(tab: DashboardTab, layer: str, side: str) -> None:
    """Dream on the sample photo to the end: the original beside the dream, nothing wrong on the page."""
    tab.page.set_viewport_size(SCREENSHOT_VIEWPORT)  # the page scrolls inside Streamlit: show it all
    open_dream_tab(tab, layer)
    tab.choose("Photo size", side)
    dream(tab)
    expect(tab.images()).to_have_count(2)
    tab.assert_clean()
    tab.page.mouse.move(1000, 10)  # no tooltip over the pictures
    expect(tab.page.get_by_role("tooltip")).to_have_count(0)


def test_a_sample_photo_dreams_to_the_end(tab: DashboardTab) -> None:
    dream_on_the_cat(tab, "block1_conv2", "192 px")


@pytest.mark.screenshots
def test_screenshot_of_a_dream_on_the_cat(tab: DashboardTab, screenshot: Screenshot) -> None:
    dream_on_the_cat(tab, "block4_conv2", "256 px")
    screenshot(tab, SCREENSHOT)
