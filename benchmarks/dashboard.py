"""The dashboard's speed as a visitor sees it, in Debian's Chromium against the real server (offline VGG16).

    /tmp/venv/bin/python benchmarks/dashboard.py                # fresh render cache in a temp folder, ~3-5 min
    /tmp/venv/bin/python benchmarks/dashboard.py --keep FOLDER  # keep the cache and the server logs

1. cold start: process start -> Generate button visible, with an empty cache (HED weights converted) and again
   after a restart (weights on disk); Generate is then clicked at once: process start -> first live picture;
2. first live frame: click Generate -> first picture, on block1_conv1 and block5_conv3, for the first render of
   the layer in the process (includes compiling its steps) and for a second filter (compiled);
3. cached revisit: a finished result, page reloaded (new session, same browser): click Generate -> picture;
4. load: 8 browser sessions press Generate at the same time: all finished?, wall time, peak server memory.

Times are taken in the page (performance.now() at the click and when the picture appears).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))

from common import format_table  # noqa: E402
from harness import FIRST_PAINT_MS, DashboardServer, DashboardTab, launch_browser, start_server  # noqa: E402
from playwright.sync_api import Browser, expect, sync_playwright  # noqa: E402

SESSIONS = 8
SHALLOW, DEEP = "block1_conv1", "block5_conv3"
REFERENCE_WAIT_S = 300


@dataclass
class Row:
    """One measurement of the table."""

    what: str
    seconds: float | None
    target: float | None = None
    note: str = ""
    load: float = field(default_factory=lambda: os.getloadavg()[0])  # 1-minute load average when measured

    def cells(self) -> list[object]:
        """The row as table cells."""
        met = "-" if self.target is None or self.seconds is None else ("yes" if self.seconds < self.target else "NO")
        target = "-" if self.target is None else f"< {self.target:g}"
        return [self.what, self.seconds, target, met, f"{self.load:.1f}", self.note]


class Bench:
    """A server, one browser and the rows measured so far."""

    def __init__(self, browser: Browser, folder: Path):
        self.browser = browser
        self.folder = folder
        self.rows: list[Row] = []
        self.server: DashboardServer | None = None
        self.starts = 0

    def tab(self) -> DashboardTab:
        """A new visit (its own browser context)."""
        context = self.browser.new_context(viewport={"width": 1280, "height": 900})
        return DashboardTab(context.new_page(), self.server.url)

    def cold_start(self, what: str) -> None:
        """(Re)start the server; in a first visit, time from process start to the Generate button, then click it
        at once: time to the first picture (the engine loads meanwhile, behind a spinner)."""
        if self.server is not None:
            self.server.stop()
        self.starts += 1
        self.server = start_server(self.folder / "cache", self.folder / f"server{self.starts}.log")
        healthy = self.since_start()
        tab = self.tab()
        tab.start_opening(f"?filter={self.starts}&steps=20")  # a filter not in the cache yet
        expect(tab.page.get_by_text("Filter Explorer").first).to_be_visible(timeout=FIRST_PAINT_MS)
        title = self.since_start()
        expect(tab.button("Generate")).to_be_visible(timeout=FIRST_PAINT_MS)
        self.rows.append(Row(f"process start -> Generate visible ({what})", self.since_start(), 10,
                             note=f"/_stcore/health ok after {healthy:.1f} s, title after {title:.1f} s"))
        tab.button("Generate").click()
        tab.wait_for_frames(1)
        self.rows.append(Row(f"process start -> first picture, Generate clicked at once ({what})",
                             self.since_start()))
        tab.wait_for_result()
        tab.page.context.close()

    def since_start(self) -> float:
        """Seconds since the server's process started."""
        return time.perf_counter() - self.server.started_at

    def click_to_picture(self, tab: DashboardTab) -> float:
        """Click Generate; seconds until the first picture appears in the page."""
        tab.record_frames()
        tab.button("Generate").click()
        tab.wait_for_frames(1)
        return (tab.frames()[0]["t"] - tab.last_click()) / 1000

    def first_frame(self, layer: str, filter_index: int, what: str) -> None:
        """First live frame of a render that is then stopped."""
        tab = self.tab()
        tab.open(f"?layer={layer}&filter={filter_index}&method=robust&steps=256&size=128")
        self.rows.append(Row(what, self.click_to_picture(tab), 2))
        if tab.button("Stop").count():  # a fast shallow render may be done already
            tab.button("Stop").click()
        tab.page.context.close()

    def cached_revisit(self) -> None:
        """Render to the end, reload the same link (a new session in the same browser), press Generate again."""
        query = f"?layer={SHALLOW}&filter=20&method=robust&steps=100&size=128"
        tab = self.tab()
        tab.open(query)
        tab.button("Generate").click()
        tab.wait_for_result()
        tab.open(query)
        seconds = self.click_to_picture(tab)
        tab.wait_for_result()
        expect(tab.page.get_by_text("Shown from the cache")).to_be_visible()
        self.rows.append(Row("click -> cached result shown (page reloaded, same link)", seconds, 0.3))
        tab.page.context.close()

    def wait_for_reference(self) -> None:
        """The natural-photo reference is prepared in the background after a first result: let it finish."""
        started = time.perf_counter()
        tab = self.tab()
        tab.open(f"?layer={SHALLOW}&filter=1&method=robust&steps=20&size=64")
        tab.button("Generate").click()
        tab.wait_for_result()
        tab.page.context.close()
        deadline = started + REFERENCE_WAIT_S
        while not list((self.folder / "cache").glob("natural-reference-*.npz")) and time.perf_counter() < deadline:
            time.sleep(1)
        self.rows.append(Row("natural-photo reference ready (once per cache, background)",
                             time.perf_counter() - started, note="measurements below start after it"))

    def load(self) -> None:
        """SESSIONS visits press Generate at once; wall time until all show their result."""
        tabs = [self.tab() for _ in range(SESSIONS)]
        for index, tab in enumerate(tabs):
            tab.open(f"?layer={SHALLOW}&filter={30 + index}&method=robust&steps=100&size=128")
        rss_before = self.server.rss_mib()
        started = time.perf_counter()
        for tab in tabs:
            tab.button("Generate").click()
        finished = 0
        for tab in tabs:
            tab.wait_for_result()
            finished += not tab.problems()
        wall = time.perf_counter() - started
        health = self.server.health()
        self.rows.append(Row(f"{SESSIONS} sessions Generate at once ({SHALLOW}, 100 it, 128 px): all finished", wall,
                             note=f"{finished}/{SESSIONS} clean, health {health!r}, server RSS "
                                  f"{rss_before:.0f} -> {self.server.rss_mib():.0f} MiB, "
                                  f"peak {self.server.peak_rss_mib():.0f} MiB"))
        for tab in tabs:
            tab.page.context.close()


@contextmanager
def bench(folder: Path) -> Iterator[Bench]:
    """A Bench with Chromium running; the server is stopped at the end."""
    with sync_playwright() as playwright:
        browser = launch_browser(playwright)
        measured = Bench(browser, folder)
        try:
            yield measured
        finally:
            if measured.server is not None:
                measured.server.stop()
            browser.close()


def run(folder: Path) -> list[Row]:
    """All measurements in order (each step prints as it goes)."""
    with bench(folder) as b:
        steps: list[tuple[str, Callable[[], None]]] = [
            ("cold start, empty cache", lambda: b.cold_start("empty cache")),
            ("reference", b.wait_for_reference),
            ("restart", lambda: b.cold_start("restart, weights on disk")),
            (SHALLOW, lambda: b.first_frame(SHALLOW, 3, f"click -> first live frame, {SHALLOW} (compiles)")),
            (SHALLOW, lambda: b.first_frame(SHALLOW, 4, f"click -> first live frame, {SHALLOW} (compiled)")),
            (DEEP, lambda: b.first_frame(DEEP, 3, f"click -> first live frame, {DEEP} (compiles)")),
            (DEEP, lambda: b.first_frame(DEEP, 4, f"click -> first live frame, {DEEP} (compiled)")),
            ("cached", b.cached_revisit),
            ("load", b.load),
        ]
        for name, step in steps:
            step()
            print(f"{name}: {b.rows[-1].seconds:.2f} s", flush=True)
        return b.rows


def main() -> None:
    parser = argparse.ArgumentParser(description="The dashboard's speed in a real browser.")
    parser.add_argument("--keep", metavar="FOLDER", help="keep the render cache and server logs in FOLDER "
                        "(must not exist yet; default: a temporary folder, deleted at the end)")
    args = parser.parse_args()
    if args.keep:
        Path(args.keep).mkdir(parents=True)
        rows = run(Path(args.keep))
    else:
        with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as folder:
            rows = run(Path(folder))
    print()
    print(format_table(["measure", "seconds", "target s", "met", "load", "note"], [row.cells() for row in rows]))


if __name__ == "__main__":
    main()
