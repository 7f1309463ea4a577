"""DeepDream's speed from the command line and in the dashboard (Debian's Chromium, real server, offline VGG16).

    /tmp/venv/bin/python benchmarks/dream.py                     # block4_conv3, 384 px, the default 3 x 20 steps
    /tmp/venv/bin/python benchmarks/dream.py --layer block3_conv1 --size 256

1. CLI: wall time of `python -m vizcore dream sample:chelsea ...` (process start to exit: imports, weights,
   compiling and dreaming) and the dream loop alone as the CLI reports it;
2. dashboard: click Dream -> first live picture, and click -> finished picture with its Download button,
   for the first dream of the layer in the server process (includes compiling its step) and a second one.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from common import format_table  # noqa: E402
from dream_page import dream, open_dream_tab  # noqa: E402
from harness import DashboardTab, launch_browser, start_server  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from vizcore.dream import DEFAULT_OCTAVES, DEFAULT_STEPS  # noqa: E402


def cli_seconds(args: argparse.Namespace, cache: Path, out: Path) -> tuple[float, float]:
    """Wall time of one `vizcore dream` process, and the dream time it reports."""
    command = [sys.executable, "-m", "vizcore", "dream", "sample:chelsea", "--model", "hed-vgg16", "--layer",
               args.layer, "--octaves", str(DEFAULT_OCTAVES), "--steps", str(DEFAULT_STEPS), "--size", str(args.size),
               "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run(command, env={**os.environ, "VIZCORE_CACHE": str(cache)}, capture_output=True,
                          text=True, check=True, cwd=ROOT)
    wall = time.perf_counter() - started
    return wall, float(re.search(r"\| ([\d.]+) s ->", done.stdout).group(1))


def dashboard_seconds(tab: DashboardTab) -> tuple[float, float]:
    """Click Dream -> first live picture, and click -> finished picture, in seconds (page clock)."""
    dream(tab)
    finished = tab.page.evaluate("() => performance.now()")
    clicked = tab.last_click()
    first = min(frame["t"] for frame in tab.frames())
    return (first - clicked) / 1000, (finished - clicked) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="block4_conv3")
    parser.add_argument("--size", type=int, default=384)
    args = parser.parse_args()
    setting = f"{args.layer}, {DEFAULT_OCTAVES} octaves x {DEFAULT_STEPS} steps, {args.size} px (cat photo)"
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        subprocess.run([sys.executable, "-c", "import vizcore; vizcore.load_model('hed-vgg16')"], check=True,
                       env={**os.environ, "VIZCORE_CACHE": str(folder / "cache")})  # convert the weights once
        wall, loop = cli_seconds(args, folder / "cache", folder / "dream.png")
        rows.append(["CLI: process wall time", wall, f"dream loop {loop:.1f} s"])
        server = start_server(folder / "cache", folder / "server.log")
        try:
            with sync_playwright() as playwright:
                browser = launch_browser(playwright)
                for attempt in ("first dream of the layer (compiles)", "second dream (compiled)"):
                    tab = DashboardTab(browser.new_page(viewport={"width": 1280, "height": 900}), server.url)
                    open_dream_tab(tab, args.layer)
                    tab.choose("Photo size", f"{args.size} px")
                    first, result = dashboard_seconds(tab)
                    rows.append([f"dashboard: click -> first live picture, {attempt}", first, ""])
                    rows.append([f"dashboard: click -> finished picture, {attempt}", result, ""])
                    tab.page.close()
                browser.close()
        finally:
            server.stop()
    print(f"DeepDream speed: {setting}; load average {os.getloadavg()[0]:.1f} at the end\n")
    print(format_table(["what", "seconds", "note"], rows))


if __name__ == "__main__":
    main()
