"""The dashboard in a real Chromium against a real Streamlit server and the real (offline) VGG16."""
from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from harness import ALERTS, CHARTS, ROOT, RUN_TIMEOUT_MS, SECTION, DashboardServer, DashboardTab, Screenshot
from PIL import Image
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SCREENSHOT = ROOT / "docs" / "screenshot.png"
ANIMATION_SCREENSHOT = ROOT / "docs" / "screenshots" / "animation.png"
MAX_SERVER_RSS_MIB = 4096
SESSIONS = 8
QUALITY_WAIT_S = 180
CLICK_TAKEN_MS = 3000  # a click shows it was taken (Stop, progress) within this (0.1-2 s measured at load 3-11)


def layer_option(name: str) -> re.Pattern:
    """The Layer option for this layer, whatever filter count it shows next to the name."""
    return re.compile(rf"^{name}\b")


def generate(tab: DashboardTab) -> None:
    """Start recording the pictures, click Generate and wait for the finished result and the end of the script
    run (the photo examples below the picture come after it; a click before the run ends can be lost)."""
    tab.record_frames()
    with tab.rerun():
        tab.button("Generate").click()
    tab.wait_for_result()


def fewest_iterations(tab: DashboardTab) -> None:
    """Move the Iterations slider to its smallest value (a render then takes a moment)."""
    iterations = tab.page.get_by_role("slider", name="Iterations")
    with tab.rerun():
        iterations.focus()
        iterations.press("Home")


def test_generate_shows_live_frames_then_the_result(tab: DashboardTab, screenshot: Screenshot) -> None:
    tab.open("?method=robust&steps=200&lr=0.05")
    tab.choose("Layer", layer_option("block2_conv1"))
    tab.type_number("Filter", "5")
    tab.choose("Image size", "64")
    generate(tab)

    live = {frame["src"] for frame in tab.frames() if not frame["done"]}
    assert len(live) >= 2, f"expected at least two different live pictures before the end, saw {tab.frames()}"
    expect(tab.images()).to_have_count(1)
    expect(tab.page.get_by_text("block2_conv1 filter 5 · Robust · 200 iterations")).to_be_visible()
    assert re.search(r"layer=block2_conv1\b.*filter=5\b.*size=64\b", tab.page.url), tab.page.url
    with Image.open(tab.download("Download PNG")) as picture:
        assert (picture.format, picture.size) == ("PNG", (64, 64))

    tab.page.get_by_text("Animation: watch the picture form").click()
    expect(tab.page.get_by_text("From random start to final picture")).to_be_visible()
    with Image.open(tab.download("Download GIF")) as animated:
        assert animated.format == "GIF" and animated.n_frames >= 3
    tab.assert_clean()
    tab.page.mouse.move(1000, 10)  # no tooltip
    expect(tab.page.get_by_role("tooltip")).to_have_count(0)
    screenshot(tab, ANIMATION_SCREENSHOT)


def test_compare_learning_rates_shows_two_pictures_and_one_chart(tab: DashboardTab) -> None:
    tab.open("?layer=block1_conv1&filter=2&method=robust&steps=10&size=64")
    with tab.rerun():
        tab.page.get_by_role("tab", name="Compare learning rates").click()
    rates = tab.select_exactly("Learning rates", 2)
    with tab.rerun():  # the run ends when both pictures are finished
        tab.button("Compare").click()

    expect(tab.images()).to_have_count(2, timeout=120_000)
    expect(tab.page.locator(CHARTS)).to_have_count(1)
    for rate in rates:
        expect(tab.page.get_by_test_id("stImageCaption").filter(has_text=f"learning rate {rate}")).to_be_visible()
    tab.assert_clean()


def test_bad_link_values_get_plain_warnings_and_the_page_still_works(tab: DashboardTab) -> None:
    tab.open("?layer=nonsense&filter=-5&lr=nan&steps=many&method=magic&size=7")
    notice = tab.page.get_by_text("Offline weights: HED-VGG16 — why?")  # one line, its details collapsed
    expect(notice).to_be_visible()
    expect(tab.page.get_by_text("edge detector", exact=False).first).not_to_be_visible()

    expect(tab.page.locator(ALERTS).filter(has_text="nonsense")).to_be_visible()
    expect(tab.page.locator(ALERTS).filter(has_text="many")).to_be_visible()
    tab.assert_clean()
    fewest_iterations(tab)  # the page works: a quick render with the other values it fell back to
    generate(tab)
    tab.assert_clean()


def test_out_of_range_filter_is_flagged_and_the_last_valid_one_is_rendered(tab: DashboardTab) -> None:
    tab.open("?layer=block1_conv1&filter=3&method=robust&steps=10&size=64")
    field = tab.page.get_by_label("Filter", exact=True)
    field.fill("999")
    field.press("Enter")

    expect(field).to_have_attribute("aria-invalid", "true")
    expect(tab.page.get_by_text("between 0 and 63")).to_be_visible()
    generate(tab)
    expect(tab.page.get_by_text("block1_conv1 filter 3 · Robust")).to_be_visible()
    assert "filter=3" in tab.page.url
    tab.assert_clean()


def test_stop_and_a_change_mid_run_leave_the_page_usable(tab: DashboardTab) -> None:
    # long enough to stop anywhere; a layer whose photos an earlier test has searched (the page opens sooner)
    tab.open("?layer=block2_conv1&filter=1&method=robust&steps=1000&size=128")
    tab.record_frames()
    tab.button("Generate").click()
    tab.wait_for_frames(1)
    tab.button("Stop").click()
    expect(tab.page.locator(ALERTS).filter(has_text="You pressed Stop")).to_be_visible()

    tab.record_frames()
    tab.button("Generate").click()
    tab.wait_for_frames(1)
    tab.type_number("Filter", "2")
    expect(tab.page.locator(ALERTS).filter(has_text="setting was changed")).to_be_visible()

    fewest_iterations(tab)  # the page still works: a quick render to the end
    generate(tab)
    expect(tab.page.get_by_text("block2_conv1 filter 2 · Robust · 1 iterations")).to_be_visible()
    tab.assert_clean()


def test_generate_right_after_a_layer_change_is_taken_at_once(tab: DashboardTab) -> None:
    tab.open("?layer=block1_conv1&filter=4&method=robust&steps=10&size=64")
    tab.page.get_by_label("Layer", exact=True).click()
    tab.page.get_by_role("option", name=layer_option("block5_conv2")).click()  # its photos were never searched
    tab.button("Generate").click()  # at once: the page is still running for the new layer

    taken = tab.button("Stop").or_(tab.page.get_by_test_id("stProgress")).first
    expect(taken).to_be_visible(timeout=CLICK_TAKEN_MS)
    tab.wait_for_result()
    expect(tab.page.get_by_text("block5_conv2 filter 4 · Robust · 10 iterations")).to_be_visible()
    crops = tab.page.locator(f"{SECTION} [data-testid='stImageCaption']").filter(has_text=" · response ")
    expect(crops.first).to_be_visible(timeout=RUN_TIMEOUT_MS)  # shown by itself when the search is done
    tab.assert_clean()


def test_cached_revisit_shows_the_stored_picture_at_once(tab: DashboardTab) -> None:
    query = "?layer=block1_conv1&filter=7&method=robust&steps=20&lr=0.05&size=64"
    tab.open(query)
    generate(tab)
    first = tab.frames()[-1]["src"]

    tab.open(query)
    generate(tab)
    assert [frame["src"] for frame in tab.frames()] == [first], "a cached result shows the stored picture only"
    expect(tab.page.get_by_text("Shown from the cache")).to_be_visible()
    tab.assert_clean()


def test_eight_sessions_generate_at_once(new_tab: Callable[[], DashboardTab], dashboard: DashboardServer) -> None:
    tabs = [new_tab() for _ in range(SESSIONS)]
    marks = [tab.start_opening(f"?layer=block1_conv1&filter={10 + index}&method=robust&steps=5&lr=0.05&size=64")
             for index, tab in enumerate(tabs)]  # all eight load at once
    for tab, mark in zip(tabs, marks):
        tab.wait_until_open(mark)
    rss_before = dashboard.rss_mib()
    for tab in tabs:
        tab.record_frames()
        tab.button("Generate").click()
    for tab in tabs:
        tab.wait_for_result()

    assert dashboard.health() == "ok"
    peak = dashboard.peak_rss_mib()
    print(f"\nserver RSS before {rss_before:.0f} MiB, after {dashboard.rss_mib():.0f} MiB, peak {peak:.0f} MiB")
    assert peak < MAX_SERVER_RSS_MIB
    for tab in tabs:
        tab.assert_clean()


def finished_with_quality_number(tab: DashboardTab, query: str) -> None:
    """Generate the view of this link, wait for its "x strongest natural photo" number; the page is clean and
    no tooltip covers the picture."""
    tab.open(query)
    generate(tab)
    wait_for_quality_number(tab)
    tab.assert_clean()
    tab.page.mouse.move(1000, 10)
    expect(tab.page.get_by_role("tooltip")).to_have_count(0)


def test_the_quality_number_comes_with_a_finished_picture(tab: DashboardTab) -> None:
    finished_with_quality_number(tab, "?layer=block1_conv1&filter=8&method=robust&steps=20&lr=0.05&size=64")


@pytest.mark.screenshots
def test_readme_screenshot(tab: DashboardTab, screenshot: Screenshot) -> None:
    finished_with_quality_number(tab, "?layer=block4_conv1&filter=8&method=robust&steps=256&lr=0.05&size=128")
    screenshot(tab, SCREENSHOT)


def wait_for_quality_number(tab: DashboardTab) -> None:
    """The natural-photo comparison is prepared in the background: its number appears by itself, no click."""
    expect(tab.page.get_by_text("the strongest natural photo")).to_be_visible(timeout=QUALITY_WAIT_S * 1000)
