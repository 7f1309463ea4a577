"""Driving the DeepDream tab in the browser (shared by the e2e test and benchmarks/dream.py)."""
from __future__ import annotations

import re
from pathlib import Path

from harness import DashboardTab
from playwright.sync_api import expect


def open_dream_tab(tab: DashboardTab, layer: str, query: str = "") -> None:
    """Open the dashboard, choose the sidebar's layer and switch to the DeepDream tab."""
    tab.open(query)
    tab.choose("Layer", re.compile(rf"^{layer}\b"))
    with tab.rerun():
        tab.page.get_by_role("tab", name="DeepDream").click()
    expect(tab.button("Dream")).to_be_visible()


def choose_radio(tab: DashboardTab, option: str) -> None:
    """Click a radio option by its text."""
    with tab.rerun():
        tab.page.get_by_test_id("stRadio").get_by_text(option, exact=True).click()


def upload_photo(tab: DashboardTab, path: Path) -> None:
    """Switch to "My own photo" (if needed) and upload the file at ``path``."""
    uploader = tab.page.locator(".st-key-dream_upload")  # not the sidebar's model uploader
    if not uploader.count():
        choose_radio(tab, "My own photo")
    with tab.rerun():
        uploader.locator("input[type=file]").set_input_files(str(path))


def dream(tab: DashboardTab, timeout_ms: int = 600_000) -> None:
    """Start recording the pictures, press Dream and wait for the result and its Download PNG button."""
    tab.record_frames()
    tab.button("Dream").click()
    tab.wait_for_result(timeout_ms)
