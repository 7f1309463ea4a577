"""Fixtures for the browser tests: one real dashboard server and one Debian Chromium per test session."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from harness import DashboardServer, DashboardTab, Screenshot, launch_browser, start_server
from playwright.sync_api import Browser, sync_playwright

VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardServer]:
    """The real `streamlit run app.py` on a free port, offline VGG16, and a render cache fresh for this session."""
    folder = tmp_path_factory.mktemp("dashboard")
    server = start_server(folder / "cache", folder / "server.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless."""
    with sync_playwright() as playwright:
        chromium = launch_browser(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def new_tab(browser: Browser, dashboard: DashboardServer) -> Iterator[Callable[[], DashboardTab]]:
    """A factory of dashboard tabs, each in its own browser context (its own Streamlit session)."""
    contexts = []

    def make() -> DashboardTab:
        context = browser.new_context(viewport=VIEWPORT)
        contexts.append(context)
        return DashboardTab(context.new_page(), dashboard.url)

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def tab(new_tab: Callable[[], DashboardTab]) -> DashboardTab:
    """One dashboard tab in a fresh browser context."""
    return new_tab()


@pytest.fixture
def making_docs(request: pytest.FixtureRequest) -> bool:
    """True with --screenshots: a test whose page becomes a docs picture then renders at full quality."""
    return request.config.getoption("--screenshots")


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Screenshot:
    """Save a full-page picture of the tab for the docs, with --screenshots only (`make test` writes no file)."""
    def save(tab: DashboardTab, path: Path) -> None:
        if request.config.getoption("--screenshots"):
            path.parent.mkdir(parents=True, exist_ok=True)
            tab.page.screenshot(path=path, full_page=True)

    return save


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """When a browser test fails, show the server's log tail next to the failure."""
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("dashboard")
    if report.failed and isinstance(server, DashboardServer):
        report.sections.append(("dashboard server log (tail)", server.log_tail(60)))
