"""The Tour in a real Chromium against a real Streamlit server and the offline VGG16: a walk from the first stop to
the last with Next, back with the left arrow key and Back, forward again with the right arrow key, and a link
that opens a stop. Each stop's pictures are made live with a few iterations at 64 px (the point is the page;
`make screenshots` renders more for the docs); the stops follow the server's real natural-photo measurements."""
from __future__ import annotations

import re

import pytest
from harness import ROOT, DashboardTab, Screenshot
from playwright.sync_api import Locator, expect

pytestmark = pytest.mark.browser

# A stop's first visit compiles its layer's steps and searches the photos; the first stop may also wait for the
# server's natural-photo measurements (about a minute, started in the background when the server first served).
STOP_TIMEOUT_MS = 180_000


def tour_button(tab: DashboardTab, name: str) -> Locator:
    """Back or Next (their names also hold the arrow key that presses them)."""
    return tab.page.get_by_role("button", name=re.compile(rf"^{name}\b"))


def stop_heading(tab: DashboardTab, number: int) -> re.Match:
    """Wait for stop ``number``'s heading and its finished pictures; return the heading's match."""
    heading = tab.page.get_by_text(re.compile(rf"^Stop {number} of \d+: "))
    expect(heading).to_be_visible(timeout=STOP_TIMEOUT_MS)
    layer = re.match(r"(\w+), filter", tab.page.get_by_text(re.compile(r"chosen because natural photos")).inner_text())
    expect(tab.page.get_by_text(re.compile(rf"^{layer.group(1)} filter \d+ · Robust")).first).to_be_visible(
        timeout=STOP_TIMEOUT_MS)
    return re.match(r"Stop (\d+) of (\d+)", heading.inner_text())


def test_the_tour_walks_forward_and_back_and_a_link_opens_a_stop(tab: DashboardTab, screenshot: Screenshot,
                                                                making_docs: bool) -> None:
    steps = 96 if making_docs else 3
    tab.open(f"?steps={steps}&size={128 if making_docs else 64}")
    with tab.rerun():
        tab.button("Take the tour").click()
    count = int(stop_heading(tab, 1).group(2))
    for number in range(2, count + 1):
        with tab.rerun():
            tour_button(tab, "Next").click()
        stop_heading(tab, number)
        assert f"tour={number}" in tab.page.url, tab.page.url
        if making_docs and number == 4:
            tab.page.mouse.move(1000, 10)  # no tooltip
            expect(tab.page.get_by_role("tooltip")).to_have_count(0)
            screenshot(tab, ROOT / "docs" / "screenshots" / "tour.png")
    expect(tour_button(tab, "Next")).to_be_disabled()
    with tab.rerun():
        tab.page.keyboard.press("ArrowLeft")
    stop_heading(tab, count - 1)
    with tab.rerun():
        tour_button(tab, "Back").click()
    stop_heading(tab, count - 2)
    with tab.rerun():
        tab.page.keyboard.press("ArrowRight")
    stop_heading(tab, count - 1)
    tab.assert_clean()

    tab.open(f"?tour=3&steps={steps}&size=64")
    stop_heading(tab, 3)
    tab.assert_clean()
