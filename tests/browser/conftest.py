"""Browser tests: the app on a live server (SQLite, and PostgreSQL with TEST_DATABASE_URL) driven by Chromium."""
import os
import re
import sys
from pathlib import Path

import pytest

from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.factories import PASSWORD, make_org, make_user
from tests.serving import served

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
TIMEOUT_MS = 10_000


def screenshots(page, name):
    """The page at Pixel 7 size (the context's) and at 360x640, for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    page.screenshot(path=str(ARTIFACTS / f"{name}-pixel7.png"), full_page=True)
    page.set_viewport_size({"width": 360, "height": 640})
    page.screenshot(path=str(ARTIFACTS / f"{name}-360x640.png"), full_page=True)
    page.set_viewport_size(size)


def pytest_collection_modifyitems(items):
    for item in items:
        # Outside CI a missing Chromium skips; in CI the playwright fixture fails instead.
        if "browser" in item.keywords and not CHROMIUM.exists() and not os.environ.get("CI"):
            item.add_marker(pytest.mark.skip(reason=f"{CHROMIUM} not found: install Debian's chromium to run browser tests"))


@pytest.fixture(scope="session")
def playwright():
    if not CHROMIUM.exists() and os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing and CI is set: browser tests must run in CI")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def phone(playwright) -> dict:
    """Pixel-class emulation from Playwright's built-in descriptors (nothing is downloaded)."""
    device = dict(playwright.devices["Pixel 7"])
    device.pop("default_browser_type", None)
    return {**device, "timezone_id": "Europe/Berlin", "locale": "en-GB"}


@pytest.fixture
def live_server(app):
    """The test's app served on a free loopback port from a thread; yields its base URL."""
    with served(app) as url:
        yield url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


def _failed(request) -> bool:
    return any(getattr(getattr(request.node, f"report_{when}", None), "failed", False) for when in ("setup", "call"))


def _photos(pages) -> list[bytes]:
    shots = []
    for page in pages:
        if page.url == "about:blank":  # a persistent context's first tab, never used
            continue
        try:
            shots.append(page.screenshot(full_page=True))
        except Exception as error:  # a crashed page cannot be photographed; the test failure says why
            print(f"no screenshot of {page.url}: {error}")
    return shots


class OpenedContexts:
    """Every browser context the test opens, whichever way, so that a failure keeps what each page showed.

    A test often closes its extra contexts in a `finally`, before pytest reports the failure; so a context
    closed while an exception is on its way up (or once the test has failed) is photographed as it closes.
    """

    def __init__(self, request):
        self.request = request
        self.open: list = []
        self.shots: list[bytes] = []

    def keep(self, context):
        self.open.append(context)
        return context

    def closing(self, context) -> None:
        if context not in self.open:
            return
        self.open.remove(context)
        if sys.exc_info()[0] is not None or _failed(self.request):
            self.shots += _photos(context.pages)

    def save_if_failed(self) -> None:
        """On failure, every page of every context under tests/artifacts/, in the order they were photographed."""
        if not _failed(self.request):
            return
        for context in self.open:
            self.shots += _photos(context.pages)
        ARTIFACTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", self.request.node.nodeid.split("::", 1)[-1])
        for index, shot in enumerate(self.shots):
            (ARTIFACTS / f"{name}-{index}.png").write_bytes(shot)


@pytest.fixture(autouse=True)
def opened_contexts(request, monkeypatch):
    """Register each context a test opens: from `browser.new_context`, `browser.new_page` or a persistent launch."""
    from playwright.sync_api import Browser, BrowserContext, BrowserType

    opened = OpenedContexts(request)
    new_context, new_page = Browser.new_context, Browser.new_page
    launch_persistent, close = BrowserType.launch_persistent_context, BrowserContext.close

    def page_in_a_context_of_its_own(browser, *args, **kwargs):
        page = new_page(browser, *args, **kwargs)
        opened.keep(page.context)
        return page

    def closing(context, *args, **kwargs):
        opened.closing(context)
        return close(context, *args, **kwargs)

    monkeypatch.setattr(Browser, "new_context", lambda self, *a, **kw: opened.keep(new_context(self, *a, **kw)))
    monkeypatch.setattr(Browser, "new_page", page_in_a_context_of_its_own)
    monkeypatch.setattr(BrowserType, "launch_persistent_context",
                        lambda self, *a, **kw: opened.keep(launch_persistent(self, *a, **kw)))
    monkeypatch.setattr(BrowserContext, "close", closing)
    yield opened
    opened.save_if_failed()


@pytest.fixture
def context(browser, phone, opened_contexts):
    context = browser.new_context(**phone)
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


@pytest.fixture
def page(context):
    return context.new_page()


class Site:
    """Helpers for a test's live server: log a browser context in, wait for the app to settle."""

    def __init__(self, base_url: str):
        self.url = base_url

    def log_in(self, context_or_page, email: str, password: str = PASSWORD) -> dict:
        response = context_or_page.request.post(f"{self.url}/api/v1/session", data={"email": email, "password": password})
        assert response.ok, response.text()
        return response.json()

    def open(self, page, path: str = "/"):
        page.goto(f"{self.url}{path}")
        page.wait_for_selector("body[data-ready='true']")
        return page

    @staticmethod
    def wait_until_synced(page):
        """Everything this page queued has reached the server (the app shows the outbox size on <body>)."""
        page.wait_for_selector("body[data-outbox='0']", state="attached")

    @staticmethod
    def wait_for_worker(page):
        """A service worker controls the page (so its shell is cached)."""
        # Polled in evaluate(), not wait_for_function(): that one evals a string, which the app's CSP refuses.
        controlled = page.evaluate("""async (timeout) => {
            const deadline = Date.now() + timeout;
            while (!navigator.serviceWorker?.controller && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
            return Boolean(navigator.serviceWorker?.controller);
        }""", TIMEOUT_MS)
        assert controlled, "no service worker took control of the page"

    @staticmethod
    def wait_until_cached(page, path: str, timeout_ms: int = TIMEOUT_MS):
        """The service worker holds a copy of this API read."""
        found = page.evaluate("""async ([path, timeout]) => {
            const deadline = Date.now() + timeout;
            while (Date.now() < deadline) {
              if (await caches.match(path, { cacheName: 'plate-api' })) return true;
              await new Promise((resolve) => setTimeout(resolve, 50));
            }
            return false;
        }""", [path, timeout_ms])
        assert found, f"{path} never reached the service worker's cache"

    @staticmethod
    def outbox(page) -> list:
        return page.evaluate("""() => new Promise((resolve) => {
            const request = indexedDB.open('plate');
            request.onsuccess = () => {
              const all = request.result.transaction('outbox').objectStore('outbox').getAll();
              all.onsuccess = () => { request.result.close(); resolve(all.result); };
            };
        })""")


@pytest.fixture
def site(live_server) -> Site:
    return Site(live_server)


def dana_and_ravi(dana_zone: str = "Europe/Berlin", ravi_zone: str = "Europe/Berlin", *, dana_is_admin: bool = False):
    """A new organization with the people of most browser tests: Dana Whitfield, who manages Ravi Menon."""
    org = make_org()
    dana = make_user(org, "Dana Whitfield", email="dana@example.test", time_zone=dana_zone, is_admin=dana_is_admin)
    ravi = make_user(org, "Ravi Menon", dana, email="ravi@example.test", time_zone=ravi_zone)
    return org, dana, ravi
