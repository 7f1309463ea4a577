"""Objectives in a real Chromium against a real Streamlit server and the offline VGG16: the centre neuron, a blend
of two filters and the Diversity tab's different copies."""
from __future__ import annotations

import re

import pytest
from harness import ROOT, DashboardTab, Screenshot
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "docs" / "screenshots"
RENDER_TIMEOUT_MS = 180_000


def iterations(making_docs: bool) -> int:
    """Enough for a good docs picture; a few for the test alone (the point is the page, not the picture)."""
    return 80 if making_docs else 20


def generate(tab: DashboardTab) -> None:
    """Click Generate and wait for the run that makes the picture to end (the last result stays on screen until
    then), then for the finished picture."""
    with tab.rerun():
        tab.button("Generate").click()
    tab.wait_for_result()


def docs_picture(tab: DashboardTab, screenshot: Screenshot, name: str) -> None:
    """A full-page picture for the docs, the sidebar scrolled to its top and no tooltip over the pictures."""
    tab.page.set_viewport_size({"width": 1280, "height": 1400})  # the main area scrolls inside the page
    tab.page.get_by_label("Layer", exact=True).scroll_into_view_if_needed()
    tab.page.mouse.move(1000, 10)
    expect(tab.page.get_by_role("tooltip")).to_have_count(0)
    screenshot(tab, SCREENSHOTS / name)


def test_centre_neuron_then_a_blend_of_two_filters(tab: DashboardTab, screenshot: Screenshot,
                                                   making_docs: bool) -> None:
    steps = iterations(making_docs)
    tab.open(f"?layer=block3_conv1&filter=12&method=robust&steps={steps}&size=96")
    tab.choose("Objective", "Centre neuron")
    generate(tab)
    caption = f"block3_conv1 filter 12 · centre neuron · Robust · {steps} iterations"
    expect(tab.page.get_by_text(caption)).to_be_visible()
    assert "objective=neuron" in tab.page.url, tab.page.url
    tab.assert_clean()

    tab.choose("Objective", "Whole filter (channel)")
    with tab.rerun():
        tab.page.get_by_text("Blend with another filter", exact=True).click()
    tab.type_number("Second filter", "40")
    generate(tab)
    expect(tab.page.get_by_text("block3_conv1 filter 12 + filter 40 (50/50) · Robust")).to_be_visible()
    assert re.search(r"blend=40\b.*mix=50\b", tab.page.url), tab.page.url
    assert "objective=" not in tab.page.url
    tab.assert_clean()
    docs_picture(tab, screenshot, "objectives.png")


def test_diversity_shows_three_different_pictures(tab: DashboardTab, screenshot: Screenshot,
                                                  making_docs: bool) -> None:
    tab.open(f"?layer=block3_conv1&filter=7&method=robust&steps={iterations(making_docs)}&size=96")
    with tab.rerun():
        tab.page.get_by_role("tab", name="Diversity").click()
    copies = tab.page.get_by_role("slider", name="Copies")
    expect(copies).to_have_value("4")
    with tab.rerun():
        copies.focus()
        copies.press("ArrowLeft")
    expect(copies).to_have_value("3")
    with tab.rerun():  # the run ends when the copies are finished
        tab.button("Render copies").click()

    expect(tab.images()).to_have_count(3, timeout=RENDER_TIMEOUT_MS)
    for number in (1, 2, 3):
        expect(tab.page.get_by_test_id("stImageCaption").filter(has_text=f"Copy {number} · response")).to_be_visible()
    expect(tab.page.get_by_text("Style similarity between the copies")).to_be_visible()
    pictures = [tab.images().nth(i).screenshot() for i in range(3)]
    assert len(set(pictures)) == 3, "the three copies must be different pictures"
    tab.assert_clean()
    docs_picture(tab, screenshot, "diversity.png")
