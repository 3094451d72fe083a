"""Browser fixtures: a real gateway with the Dashboard on, a real webhook receiver, and Debian's Chromium.

Every test here is marked `browser` (`-m 'not browser'` deselects them). Chromium runs headless through
Debian's chromedriver, both at fixed paths (`tests/setup.sh` installs `chromium` and `chromium-driver`); a
missing one FAILS, it never skips. Selenium Manager is never invoked (it would go to the network): the
driver's path is given to the Service.

- `stack` (module): the gateway (tyk.conf `dashboard.enabled`), an echo upstream and a `WebhookRecorder`,
  served in an event loop of their own on a background thread, so that the test's blocking WebDriver calls
  never stall them. The API is the seed's keyless one, 2 requests per 10 s, with no event handler: the
  third request answers 429 and fires RatelimitExceeded.
- `driver` (module): one headless Chromium with a 1280x900 page and a fresh profile, for the whole module.
- `shoot(driver, page)`: a screenshot into build/test-artifacts/dashboard/, and with DASHBOARD_SCREENSHOTS=1
  also into docs/images/dashboard-<page>.png (how the docs' screenshots are refreshed).

A failing test leaves `<test>-failure.png` and `.html` (the page as the browser had it) in the artifacts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from gateway.testing import RunningGateway, WebhookRecorder, echo_app, run_gateway, serve
from gateway.testing.harness import TEST_SECRET
from tests.e2e.conftest import seed_classic

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 10.0  # seconds any one browser step (a page, an element, a live event) may take
WIDTH, HEIGHT = 1280, 900
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "build" / "test-artifacts" / "dashboard"
DOCS_IMAGES = ROOT / "docs" / "images"
API_ID = "seed-classic"
LISTEN_PATH = "/example-local-webhook/"
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    f"--window-size={WIDTH},{HEIGHT}",
)

T = TypeVar("T")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name == "browser":
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


_CALL_FAILED = pytest.StashKey[bool]()


def installed(path: str, package: str) -> str:
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"{path} is missing; the browser tests need Debian's {package} (sh tests/setup.sh installs it)",
            pytrace=False,
        )
    return path


@dataclass
class Stack:
    """What runs on the background loop, and how the test thread reaches it."""

    gateway: RunningGateway
    recorder: WebhookRecorder
    hook_url: str
    loop: asyncio.AbstractEventLoop
    stop: asyncio.Event

    @property
    def url(self) -> str:
        return self.gateway.url

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = WAIT) -> T:
        """Run `coro` on the stack's loop and return its result (bounded by `timeout` s)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout + 1)

    def deliveries(self, count: int, timeout: float = WAIT) -> list[Any]:
        """Wait (bounded) until the receiver has at least `count` deliveries; return them."""
        return self.run(self.recorder.wait_for(count, timeout), timeout)


def keyless_api(upstream: str) -> dict[str, Any]:
    """The seed's keyless API (2 requests per 10 s) without its handler: the Dashboard attaches one."""
    api = seed_classic(upstream, "http://127.0.0.1:9/unused")
    del api["event_handlers"]
    return api


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("dashboard")
    started: concurrent.futures.Future[Stack] = concurrent.futures.Future()

    async def main() -> None:
        stop = asyncio.Event()
        recorder = WebhookRecorder()
        async with await serve(echo_app) as upstream, await serve(recorder) as hook:
            config = {"dashboard": {"enabled": True}}
            async with run_gateway(folder, apis=[keyless_api(upstream.url + "/")], config=config) as gw:
                loop = asyncio.get_running_loop()
                started.set_result(Stack(gw, recorder, hook.url + "/webhook", loop, stop))
                await stop.wait()

    def thread_main() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
            else:
                raise

    thread = threading.Thread(target=thread_main, name="dashboard-gateway", daemon=True)
    thread.start()
    running = started.result(30)
    try:
        yield running
    finally:
        running.loop.call_soon_threadsafe(running.stop.set)
        thread.join(30)
        assert not thread.is_alive(), "the gateway's thread did not stop within 30 s"


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = installed(CHROMIUM, "chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    service = Service(installed(CHROMEDRIVER, "chromium-driver"))
    browser = webdriver.Chrome(options=options, service=service)
    try:
        browser.set_window_size(WIDTH, HEIGHT)
        # The page itself is WIDTH x HEIGHT (the window's would be less), so screenshots have that size.
        metrics = {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False}
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        browser.set_page_load_timeout(WAIT)
        browser.set_script_timeout(WAIT)
        yield browser
    finally:
        browser.quit()


@pytest.fixture(autouse=True)
def keep_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a failed test, keep what the browser showed: a screenshot and the page's HTML."""
    yield
    if not request.node.stash.get(_CALL_FAILED, False) or "driver" not in request.fixturenames:
        return
    browser: WebDriver = request.getfixturevalue("driver")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    name = request.node.name.replace("/", "_")
    browser.save_screenshot(str(ARTIFACTS / f"{name}-failure.png"))
    (ARTIFACTS / f"{name}-failure.html").write_text(
        f"<!-- {browser.current_url} -->\n{browser.page_source}", encoding="utf-8"
    )


def shoot(browser: WebDriver, page: str) -> Path:
    """Screenshot the viewport into the artifacts (and docs/images with DASHBOARD_SCREENSHOTS=1)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{page}.png"
    assert browser.save_screenshot(str(path)), f"no screenshot of the {page} page"
    if os.environ.get("DASHBOARD_SCREENSHOTS") == "1":
        DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
        (DOCS_IMAGES / f"dashboard-{page}.png").write_bytes(path.read_bytes())
    return path


__all__ = ["API_ID", "LISTEN_PATH", "TEST_SECRET", "WAIT", "Stack", "shoot"]
