"""Start the real dashboard server and drive it with Debian's Chromium (shared by the e2e tests and the benchmark)."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import DecodeError
from playwright.sync_api import Browser, ConsoleMessage, Error, Locator, Page, Playwright, WebSocket, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
# Playwright refuses --user-data-dir in launch() (it asks for launch_persistent_context, which allows only one
# context); we let it create its own fresh temporary profile per launch instead, which it deletes on close.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
START_TIMEOUT_S = 90.0
RUN_TIMEOUT_MS = 180_000
# A fresh browser context has no cached scripts: the widgets' code loads after the first run and the sidebar shows
# placeholders meanwhile (seen for more than 5 s on a busy machine).
FIRST_PAINT_MS = 60_000
SESSION_KEPT_S = 24 * 3600  # longer than any test run (see start_server)
DOWNLOAD_WAIT_MS = 20_000  # a click on a download button starts the download within this

# Streamlit deletes a run's superseded media files when the run ends; a browser still fetching a live frame
# that was already replaced then logs one of these errors for it. Harmless as long as every picture still shown
# has loaded, which problems() checks.
MEDIA_PATH = "/media/"
SUPERSEDED_MEDIA = ("Failed to load resource: the server responded with a status of 404",
                    "Client Error: Image source error -")
SHOWN_IMAGES = '[data-testid="stImage"] img'
BROKEN_IMAGES = "images => images.filter(i => !(i.naturalWidth > 0)).map(i => i.getAttribute('src'))"
ALL_LOADED = f"[...document.querySelectorAll('{SHOWN_IMAGES}')].every(i => i.complete && i.naturalWidth > 0)"
SETTLE_MS = 10_000
EXCEPTION = '[data-testid="stException"]'
# the generated pictures of the visible tab: not those inside expanders (e.g. the animation) nor the photo
# crops of the "Photos that excite this filter" section
IMAGES = ('[role="tabpanel"]:not([hidden]) [data-testid="stImage"]:not([data-testid="stExpander"] *)'
          ':not(.st-key-photo_examples *) img')
SECTION = '[role="tabpanel"]:not([hidden]) .st-key-photo_examples'  # "Photos that excite this filter"
ALERTS = '[data-testid="stAlert"]'
WHOLE_RUN_ENDS = (ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY,
                  ForwardMsg.ScriptFinishedStatus.FINISHED_WITH_COMPILE_ERROR)
CHARTS = '[data-testid="stVegaLiteChart"], [data-testid="stArrowVegaLiteChart"], [data-testid="stPlotlyChart"]'


def free_port() -> int:
    """A TCP port that is free on localhost right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_status_kib(pid: int, field_name: str) -> int:
    """A memory figure (e.g. VmRSS, VmHWM) of a process from /proc/<pid>/status, in KiB."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"^{field_name}:\s+(\d+) kB", text, re.MULTILINE).group(1))


@dataclass
class DashboardServer:
    """A running `streamlit run app.py` process on a free localhost port."""

    process: subprocess.Popen
    url: str
    log_path: Path
    started_at: float  # time.perf_counter() just before the process was started
    cache_dir: Path    # the server's VIZCORE_CACHE (its converted weights, renders and default atlas folder)

    def health(self) -> str:
        """The body of /_stcore/health ("ok" when serving), or the reason it could not be read."""
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=5) as response:
                return response.read().decode()
        except OSError as error:
            return f"unreachable: {error}"

    def rss_mib(self) -> float:
        """Resident memory of the server process now, in MiB."""
        return proc_status_kib(self.process.pid, "VmRSS") / 1024

    def peak_rss_mib(self) -> float:
        """Highest resident memory the server process has had so far, in MiB."""
        return proc_status_kib(self.process.pid, "VmHWM") / 1024

    def log_tail(self, lines: int = 40) -> str:
        """The last lines the server printed."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate the server (kill it if it does not exit within 10 s)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(cache_dir: Path, log_path: Path, app: Path = ROOT / "app.py") -> DashboardServer:
    """Start the dashboard on the offline weights with its own render cache; return once /_stcore/health is ok."""
    port = free_port()
    env = dict(os.environ, VIZCORE_MODEL="hed-vgg16", VIZCORE_CACHE=str(cache_dir), TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(port),
               "--server.address", "127.0.0.1", "--server.headless", "true",
               "--browser.gatherUsageStats", "false",
               # A closed tab's session is kept (for a reconnect) for this long; when it expires, Streamlit
               # deletes every picture no session refers to at that moment, including those of a session
               # that is mid-run (its references are dropped at a run's start and added again as it draws),
               # so a picture still loading in that session's page breaks. Earlier tests' sessions expiring
               # during later tests made them fail at random (broken photo crops; a GIF download lost).
               "--server.disconnectedSessionTTL", str(SESSION_KEPT_S)]
    started = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=app.parent, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = DashboardServer(process, f"http://127.0.0.1:{port}", log_path, started, cache_dir)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if server.health() == "ok":
            return server
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"the dashboard did not become healthy within {START_TIMEOUT_S:.0f} s "
                       f"(exit code {process.returncode}); log tail:\n{server.log_tail()}")


def run_event(payload: str | bytes, sent: bool) -> str | None:
    """What a websocket frame says about the page's whole-script runs (fragment runs are left out): "request"
    (the browser asks for a run), "start", "end" (a run finished, not cut short by a rerun), or None."""
    if not isinstance(payload, bytes):
        return None
    message = BackMsg() if sent else ForwardMsg()
    try:
        message.ParseFromString(payload)
    except DecodeError:
        return None
    kind = message.WhichOneof("type")
    if sent:
        return "request" if kind == "rerun_script" and not message.rerun_script.fragment_id else None
    if kind == "new_session" and not message.metadata.run.fragment_ids:
        return "start"
    if kind == "script_finished" and message.script_finished in WHOLE_RUN_ENDS:
        return "end"
    return None


def launch_browser(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, with a fresh temporary profile (never `playwright install`)."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's browser with `make browser-deps` "
                           "(apt-get install chromium chromium-driver)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


class DashboardTab:
    """One browser page on the dashboard: drives widgets by label and collects console errors and page errors."""

    def __init__(self, page: Page, url: str):
        self.page = page
        self.url = url
        self.errors: list[str] = []
        self.run_events: list[str] = []  # "request", "start" and "end" of whole-script runs, in order
        page.add_init_script(PAGE_PROBE)
        page.on("console", self._on_console)
        page.on("pageerror", self._on_page_error)
        page.on("websocket", self._on_websocket)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        about_media = MEDIA_PATH in message.text or MEDIA_PATH in message.location.get("url", "")
        if not (about_media and message.text.startswith(SUPERSEDED_MEDIA)):
            self.errors.append(f"console: {message.text} at {message.location}")

    def _on_page_error(self, error: Error) -> None:
        self.errors.append(f"pageerror: {error}")

    def _on_websocket(self, socket: WebSocket) -> None:
        for sent, event in ((True, "framesent"), (False, "framereceived")):
            socket.on(event, lambda payload, sent=sent: self._on_frame(payload, sent))

    def _on_frame(self, payload: str | bytes, sent: bool) -> None:
        event = run_event(payload, sent)
        if event:
            self.run_events.append(event)

    def ran_since(self, mark: int) -> bool:
        """True if, since run_events[mark], the browser asked for a run, a run started after that and the page
        is idle now (the last run that started has finished): the end of a run that was under way before the
        interaction never passes for the end of the run the interaction asked for."""
        events = self.run_events[mark:]
        if "request" not in events:
            return False
        runs = [event for event in events[events.index("request"):] if event != "request"]
        return "start" in runs and runs[-1] == "end"

    def open(self, query: str = "") -> None:
        """Open the dashboard (with an optional query string); return when its first run has finished."""
        self.wait_until_open(self.start_opening(query))

    def start_opening(self, query: str = "") -> int:
        """Start loading the dashboard without waiting for it (other tabs can load meanwhile); returns the mark
        to pass to wait_until_open."""
        mark = len(self.run_events)
        self.page.goto(f"{self.url}/{query}", wait_until="commit")
        return mark

    def wait_until_open(self, mark: int) -> None:
        """Return when the first run of the page opened after ``mark`` has finished and its controls are shown."""
        self.wait_for_run(mark)
        expect(self.button("Generate")).to_be_visible(timeout=FIRST_PAINT_MS)

    @contextmanager
    def rerun(self) -> Iterator[None]:
        """Wrap an interaction that makes Streamlit run the script; return once that run has finished."""
        mark = len(self.run_events)
        yield
        self.wait_for_run(mark)

    def wait_for_run(self, mark: int) -> None:
        """Wait until a run asked for after run_events[mark] has finished (see ran_since)."""
        deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
        while not self.ran_since(mark):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no script run finished within {RUN_TIMEOUT_MS / 1000:.0f} s")
            self.page.wait_for_timeout(20)  # lets Playwright deliver the websocket frames

    def button(self, name: str) -> Locator:
        """The button with exactly this text."""
        return self.page.get_by_role("button", name=name, exact=True)

    def download(self, name: str) -> Path:
        """Click the download button with this text and return the downloaded file.

        A first click that starts no download within DOWNLOAD_WAIT_MS is followed by one more, as a visitor
        would (seen about once in five full browser runs for Download GIF after the atlas test, never alone;
        the media requests are in the failure message if the second click fails too).
        """
        media: list[str] = []
        self.page.on("response", lambda r: media.append(f"{r.status} {r.url}") if "/media/" in r.url else None)
        for _ in range(2):
            try:
                with self.page.expect_download(timeout=DOWNLOAD_WAIT_MS) as started:
                    self.button(name).click()
            except PlaywrightTimeoutError:
                continue
            return Path(started.value.path())
        raise AssertionError(f"{name}: no download after two clicks; media responses: {media}")

    def choose(self, label: str, option: str | re.Pattern) -> None:
        """Pick an option of the selectbox with this label (nothing to do if it is already chosen)."""
        box = self.page.get_by_label(label, exact=True)
        current = box.input_value()
        if (current == option) if isinstance(option, str) else option.search(current):
            return
        with self.rerun():
            box.click()
            self.page.get_by_role("option", name=option, exact=isinstance(option, str)).click()

    def select_exactly(self, label: str, count: int) -> list[str]:
        """Clear the multiselect with this label, pick its first ``count`` options; return their names."""
        widget = self.page.get_by_test_id("stMultiSelect").filter(has=self.page.get_by_label(label, exact=True))
        expect(widget).to_be_visible()  # widgets are drawn a moment after the run that sends them has finished
        clear = widget.get_by_role("button", name="Clear all")
        if clear.count():
            with self.rerun():
                clear.click()
        chosen = []
        for _ in range(count):
            widget.get_by_label(label, exact=True).click()
            option = self.page.get_by_role("option").filter(has_not_text="Select all").first
            chosen.append(option.inner_text().strip())
            with self.rerun():
                option.click()
        self.page.keyboard.press("Escape")
        expect(widget.locator("[data-tag]")).to_have_count(count)
        return chosen

    def type_number(self, label: str, value: str) -> None:
        """Type into the number input with this label and commit it with Enter."""
        field = self.page.get_by_label(label, exact=True)
        if field.input_value() == value:
            return
        with self.rerun():
            field.fill(value)
            field.press("Enter")

    def images(self) -> Locator:
        """The pictures in the visible tab."""
        return self.page.locator(IMAGES)

    def record_frames(self) -> None:
        """Forget the pictures seen so far; frames() then lists only the ones shown from now on."""
        self.page.evaluate("() => { window.__vz.frames = []; }")

    def last_click(self) -> float:
        """performance.now() of the last click in the page, in ms."""
        return self.page.evaluate("() => window.__vz.clicked")

    def frames(self) -> list[dict]:
        """Distinct pictures shown since record_frames: dicts with src, done (Download PNG present) and t (ms)."""
        return self.page.evaluate("() => window.__vz.frames")

    def wait_for_frames(self, count: int = 1) -> None:
        """Wait until at least ``count`` distinct pictures were shown since record_frames."""
        self.page.wait_for_function("n => window.__vz.frames.length >= n", arg=count, timeout=RUN_TIMEOUT_MS)

    def wait_for_result(self, timeout_ms: int = RUN_TIMEOUT_MS) -> None:
        """Wait until the finished picture and its Download PNG button are shown."""
        expect(self.button("Download PNG")).to_be_visible(timeout=timeout_ms)
        expect(self.images().first).to_be_visible()

    def problems(self) -> list[str]:
        """Exception elements, traceback text, console errors and broken pictures on the page (empty if all is well)."""
        found = list(self.errors)
        with suppress(PlaywrightTimeoutError):  # a superseded live frame may show as broken until its successor
            self.page.wait_for_function(f"() => {ALL_LOADED}", timeout=SETTLE_MS)
        for src in self.page.eval_on_selector_all(SHOWN_IMAGES, BROKEN_IMAGES):
            found.append(f"picture failed to load: {src}")
        if self.page.locator(EXCEPTION).count():
            found.append(f"exception element: {self.page.locator(EXCEPTION).first.inner_text()[:500]}")
        if "Traceback" in self.page.locator("body").inner_text():
            found.append("the word 'Traceback' is on the page")
        return found

    def assert_clean(self) -> None:
        """Fail with the full list if the page shows an exception or traceback or logged a console error."""
        problems = self.problems()
        assert not problems, "\n\n".join(problems)


# Installed in every page before Streamlit loads: remembers every distinct picture src shown in the visible tab
# (with performance.now() when it appeared) and the time of the last click.
PAGE_PROBE = """
(() => {
  const vz = window.__vz = {frames: [], seen: new Set(), clicked: null};
  document.addEventListener('click', () => { vz.clicked = performance.now(); }, true);
  const observe = () => {
    const done = document.querySelector('[data-testid="stDownloadButton"]') !== null;
    for (const img of document.querySelectorAll(SELECTOR)) {
      const src = img.getAttribute('src');
      if (src && !vz.seen.has(src)) {
        vz.seen.add(src);
        vz.frames.push({src, done, t: performance.now()});
      }
    }
  };
  new MutationObserver(observe).observe(document, {subtree: true, childList: true, attributes: true,
                                                   attributeFilter: ['src']});
})();
""".replace("SELECTOR", json.dumps(IMAGES))


Screenshot = Callable[[DashboardTab, Path], None]  # the screenshot fixture: save(tab, path) for the docs
