"""The "Photos that excite this filter" section in a real Chromium: places (in context) with their response in
words after Generate, the visitor's own photos (a real PNG made here, and a text file posing as one), heat maps."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from harness import ALERTS, ROOT, SECTION, DashboardTab, Screenshot
from PIL import Image
from playwright.sync_api import expect

from vizcore import examples
from vizcore.models import LoadedModel

pytestmark = pytest.mark.browser

SCREENSHOT = ROOT / "docs" / "screenshots" / "examples.png"
LAYER, FILTER = "block1_conv1", 20
SEARCH_TIMEOUT_MS = 120_000  # a new photo set: the layer's maps are computed again
PLACE_CAPTION = re.compile(r" · response \d+(\.\d)?× stronger than on an average place$")


def strongest_photo(model: LoadedModel, path: Path) -> None:
    """A grey PNG holding the 3x3 patch the filter responds to most (255 where its BGR weight is positive)."""
    kernel = model.keras_model.get_layer(LAYER).kernel.numpy()[..., FILTER]
    pixels = np.full((120, 160, 3), 128, np.uint8)
    pixels[60:63, 80:83] = np.where(kernel[..., ::-1] > 0, 255, 0)
    Image.fromarray(pixels).save(path)


def test_crops_after_generate_and_own_photos(tab: DashboardTab, vgg16: LoadedModel, tmp_path: Path,
                                             screenshot: Screenshot) -> None:
    tab.open(f"?layer={LAYER}&filter={FILTER}&method=robust&steps=30&lr=0.05&size=64")
    tab.record_frames()
    tab.button("Generate").click()
    tab.wait_for_result()

    section = tab.page.locator(SECTION)
    expect(section.get_by_role("heading", name="Photos that excite this filter")).to_be_visible()
    crops = section.get_by_test_id("stImageCaption").filter(has_text=PLACE_CAPTION)
    expect(crops.first).to_be_visible(timeout=SEARCH_TIMEOUT_MS)
    assert crops.count() >= 3
    first = crops.first.locator("xpath=ancestor::*[.//img][1]//img")  # the picture above the first caption
    size = first.evaluate("picture => [picture.naturalWidth, picture.naturalHeight]")
    assert size == [examples.CONTEXT_PX * 4] * 2  # a 3 px place in a 64 px window, enlarged 4 times
    expect(tab.images()).to_have_count(1)  # the generated picture is still the only one outside the section

    good, bad = tmp_path / "planted.png", tmp_path / "notes.png"
    strongest_photo(vgg16, good)
    bad.write_text("these are my notes, not a picture")
    with tab.rerun():
        section.locator('input[type="file"]').set_input_files([good, bad])
    expect(tab.page.locator(ALERTS).filter(has_text="notes.png is not a JPEG or PNG photo")).to_be_visible(
        timeout=SEARCH_TIMEOUT_MS)
    expect(crops.filter(has_text="planted.png · response")).to_be_visible(timeout=SEARCH_TIMEOUT_MS)
    assert crops.count() >= 3

    section.get_by_text("Where in each photo the filter fires (heat maps)").click()
    heat_maps = section.get_by_test_id("stImageCaption").filter(has_text=re.compile(r"^\d\. "))
    expect(heat_maps.first).to_be_visible()
    expect(heat_maps.filter(has_text="planted.png").first).to_be_visible()
    tab.assert_clean()
    tab.page.set_viewport_size({"width": 1280, "height": 2000})  # the page scrolls inside, so make room for it all
    tab.page.mouse.move(1270, 1990)  # no tooltip or heading link under the pointer
    screenshot(tab, SCREENSHOT)
