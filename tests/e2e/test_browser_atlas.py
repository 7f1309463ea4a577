"""A precomputed atlas in the real dashboard: the Layer grid shows it at once, sorted, and a tile opens its
atlas picture in the Single filter tab."""
from __future__ import annotations

import re

import pytest
from harness import DashboardServer, DashboardTab
from playwright.sync_api import expect

from vizcore import cli

pytestmark = pytest.mark.browser

SETTINGS = "method=robust&steps=5&lr=0.15&size=64"  # the atlas command's defaults but steps and size


def build_atlas(server: DashboardServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Every block1_conv1 filter at 5 iterations, 64 px, with the command line (in this process: no second
    TensorFlow start), where the server looks."""
    monkeypatch.setenv("VIZCORE_CACHE", str(server.cache_dir))
    code = cli.main(["atlas", "--model", "hed-vgg16", "--layers", "block1_conv1", "--steps", "5", "--size", "64",
                     "--no-quality", "--out", str(server.cache_dir / "atlas")])
    assert code == 0, capsys.readouterr().err


def test_the_layer_grid_browses_an_atlas_and_opens_its_pictures(tab: DashboardTab, dashboard: DashboardServer,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture):
    build_atlas(dashboard, monkeypatch, capsys)
    tab.open(f"?layer=block1_conv1&filter=0&{SETTINGS}")
    with tab.rerun():
        tab.page.get_by_role("tab", name="Layer grid").click()
    expect(tab.page.get_by_text("Shown at once from a precomputed atlas (64 of 64 filters)")).to_be_visible()
    expect(tab.images()).to_have_count(16)
    expect(tab.button("Render this page")).to_have_count(0)

    tab.choose("Sort by", "Activation")
    first = tab.page.get_by_role("button", name="Open filter").first
    number = int(first.inner_text().split()[-1])
    with tab.rerun():
        first.click()

    expect(tab.page.get_by_text(f"Opened filter {number} of block1_conv1 from the atlas")).to_be_visible()
    expect(tab.page.get_by_text(f"block1_conv1 filter {number} · Robust · 5 iterations")).to_be_visible()
    expect(tab.page.get_by_text("From the precomputed atlas")).to_be_visible()
    with tab.page.expect_download() as download:
        tab.button("Download PNG").click()
    atlas_png = next((dashboard.cache_dir / "atlas").glob(f"*/block1_conv1/{number}.png"))
    assert download.value.path().read_bytes() == atlas_png.read_bytes()
    tab.assert_clean()


def test_the_layer_grid_keeps_filter_numbers_while_rendering_and_says_how_long_is_left(tab: DashboardTab):
    tab.open("?layer=block2_conv2&filter=0&method=robust&steps=400&size=64")  # no atlas of block2_conv2
    with tab.rerun():
        tab.page.get_by_role("tab", name="Layer grid").click()
    expect(tab.page.get_by_text("takes about", exact=False)).to_be_visible()
    tab.button("Render this page").click()
    expect(tab.page.get_by_text(re.compile(r"^filter 15 · iteration \d+ of 400$"))).to_be_visible(timeout=120_000)
    expect(tab.page.get_by_text(re.compile(r"^Iteration \d+ of 400 · [\d.]+ s · about \d+ \w+ left$"))).to_be_visible()
    with tab.rerun():
        tab.button("Stop").click()
    expect(tab.page.get_by_text(re.compile(r"You pressed Stop"))).to_be_visible()
    tab.assert_clean()
