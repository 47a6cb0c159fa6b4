"""PWA benchmark: what a first visit transfers (the page and its service worker's precache), and time to the
first plate item painted, cold (empty browser, throttled network) against warm and offline (from the worker).

Run: .venv/bin/python bench/pwa.py   (Debian's /usr/bin/chromium, mobile emulation, 400 kbit/s, 400 ms RTT)
Goals: shell <= 60 KB gzip on a first visit; the warm offline load requests nothing from the network for
the shell and paints within 300 ms.

Bytes are counted where they leave the server (status line, headers and body of every response), so the
service worker's downloads count as much as the page's, and a copy the browser takes from its HTTP cache
counts nothing. Which requests the page or its worker *tried* to make comes from Playwright's
context-level request events, which in Chromium include the service worker's own requests.
"""
import logging
import os
import re
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from urllib.parse import urlsplit

from flask_migrate import upgrade
from playwright.sync_api import sync_playwright
from werkzeug.serving import WSGIRequestHandler, make_server

os.environ.setdefault("PLATE_LOG_LEVEL", "WARNING")  # one log line per request would drown the figures
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp import create_app  # noqa: E402
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from webapp.cli import DEMO_PASSWORD, demo_command  # noqa: E402

WARM_LOADS = 5  # the warm loads take a few hundred ms each on a shared machine: the median of several
THROTTLE = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
# The app shell: pages, styles, scripts (the service worker's too) and the manifest. Icons and API reads are apart.
SHELL = re.compile(r"^/(static/.*\.(js|css)|sw\.js|manifest\.webmanifest|shell|login|signup|logout"
                   r"|people/\d+(/record)?|items/\d+|requests/\d+|team|settings|inbox|review)?/?$")
# Records when the first plate item is painted: the frame after it enters the DOM.
FIRST_ITEM_PAINT = """
new MutationObserver((_, observer) => {
  if (!document.querySelector('li.item')) return;
  observer.disconnect();
  requestAnimationFrame(() => setTimeout(() => { window.__firstItemPaint = performance.now(); }));
}).observe(document, { childList: true, subtree: true });
"""


class Meter:
    """Every response the server wrote: (path, status, header bytes, body bytes), as they went on the wire."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.responses: list[tuple[str, int, int, int]] = []

    def take(self) -> list[tuple[str, int, int, int]]:
        with self.lock:
            taken, self.responses = self.responses, []
        return taken


class _CountingWriter:
    """The connection's writer, counting one response's status line and headers, then its body."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.reset()

    def reset(self) -> None:
        self.head = b""
        self.body = 0
        self.in_body = False

    def write(self, data) -> int:
        if self.in_body:
            self.body += len(data)
        else:
            self.head += bytes(data)
            if b"\r\n\r\n" in self.head:
                self.head, rest = self.head.split(b"\r\n\r\n", 1)
                self.head += b"\r\n\r\n"
                self.body, self.in_body = len(rest), True
        return self.raw.write(data)

    def __getattr__(self, name):
        return getattr(self.raw, name)


def metered_handler(meter: Meter):
    class MeteredHandler(WSGIRequestHandler):
        def setup(self) -> None:
            super().setup()
            self.wfile = _CountingWriter(self.wfile)

        def handle_one_request(self) -> None:
            self.wfile.reset()
            super().handle_one_request()
            if self.wfile.head:
                status = int(self.wfile.head.split(b" ", 2)[1])
                with meter.lock:
                    meter.responses.append((urlsplit(self.path).path, status, len(self.wfile.head), self.wfile.body))

        def log_request(self, *args, **kwargs) -> None:
            pass  # quiet: the figures are the output

    return MeteredHandler


def serve(tmp: Path, meter: Meter) -> str:
    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}"})
    app.instance_path = str(tmp)
    for name in ("alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)
    with app.app_context():
        upgrade(directory=str(Path(app.root_path) / "migrations"))
    app.test_cli_runner().invoke(demo_command)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=metered_handler(meter))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def wait_until(page, condition: str, timeout_ms: int = 60_000) -> None:
    """Poll a JS condition inside the page (wait_for_function evals a string, which Plate's CSP refuses)."""
    met = page.evaluate(f"""async (timeout) => {{
        const deadline = Date.now() + timeout;
        while (Date.now() < deadline) {{
          if ({condition}) return true;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }}
        return false;
    }}""", timeout_ms)
    if not met:
        raise TimeoutError(f"{condition} did not become true within {timeout_ms} ms")


class Attempts:
    """Requests the page or its service worker sent towards the network (Playwright's context-level events)."""

    def __init__(self, context) -> None:
        self.seen: list[tuple[str, str]] = []
        context.on("request", self._on_request)

    def _on_request(self, request) -> None:
        self.seen.append(("worker" if request.service_worker else "page", request.url))

    def take(self) -> list[tuple[str, str]]:
        taken, self.seen = self.seen, []
        return taken


def network_shell_requests(attempts: list[tuple[str, str]], page_requests: list) -> list[str]:
    """Shell files asked of the network: every request of the worker, and the page's that no worker answered."""
    asked = [urlsplit(url).path for who, url in attempts if who == "worker"]
    asked += [urlsplit(request.url).path for request in page_requests if not served_by_worker(request)]
    return [path for path in asked if SHELL.match(path)]


def served_by_worker(request) -> bool:
    response = request.response()
    return bool(response and response.from_service_worker)


def load(page, url: str) -> float:
    """Navigate and return ms from navigation to the first plate item painted."""
    page.goto(url, wait_until="commit")
    wait_until(page, "window.__firstItemPaint !== undefined")
    page.wait_for_load_state("load")
    return page.evaluate("window.__firstItemPaint")


def settle(page, meter: Meter, quiet_ms: int = 1000) -> None:
    """Wait until nothing reached the server for `quiet_ms` (late worker fetches, the manifest, icons)."""
    with meter.lock:
        last = len(meter.responses)
    for _ in range(60):
        page.wait_for_timeout(quiet_ms)
        with meter.lock:
            now = len(meter.responses)
        if now == last:
            return
        last = now


def summarize(responses) -> dict:
    """Bodies (gzip where the server compresses), headers and requests, for the shell, icons and API reads."""
    kinds = {kind: {"body": 0, "headers": 0, "requests": 0, "304": 0} for kind in ("shell", "icons", "api")}
    for path, status, head, body in responses:
        kind = kinds["api" if path.startswith("/api/") else "shell" if SHELL.match(path) else "icons"]
        kind["body"] += body
        kind["headers"] += head
        kind["requests"] += 1
        kind["304"] += status == 304
    return kinds


def main() -> None:
    meter = Meter()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        base = serve(Path(tmp), meter)
        device = {k: v for k, v in playwright.devices["Pixel 7"].items() if k != "default_browser_type"}
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(**device)  # a new context: empty HTTP cache, no service worker
        context.add_init_script(FIRST_ITEM_PAINT)
        context.request.post(f"{base}/api/v1/session", data={"email": "dana@demo.plate.test", "password": DEMO_PASSWORD})
        meter.take()
        attempts = Attempts(context)
        page = context.new_page()
        page_requests: list = []
        page.on("request", lambda request: page_requests.append(request))
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", THROTTLE)  # the page's requests; the worker's are not throttled

        # First visit: the page, then its service worker installing the shell, until the network is quiet.
        cold_ms = load(page, f"{base}/")
        wait_until(page, "navigator.serviceWorker.controller !== null")
        page.evaluate("""async () => { for (let i = 0; i < 400; i++) {
            if (await caches.match(location.origin + '/api/v1/session', { cacheName: 'plate-api' })) return;
            await new Promise((r) => setTimeout(r, 50)); } }""")
        settle(page, meter)
        first = summarize(meter.take())
        worker_asked = [url for who, url in attempts.take() if who == "worker" and SHELL.match(urlsplit(url).path)]
        page_sent = [r for r in page_requests if SHELL.match(urlsplit(r.url).path) and not served_by_worker(r)]

        page_requests.clear()
        warm_online_ms = statistics.median(load(page, f"{base}/") for _ in range(WARM_LOADS))
        settle(page, meter, 500)
        warm_online = summarize(meter.take())
        warm_online_shell = network_shell_requests(attempts.take(), page_requests)

        context.set_offline(True)  # the worker's network too
        page_requests.clear()
        offline_loads = sorted(load(page, f"{base}/") for _ in range(WARM_LOADS))
        page.wait_for_timeout(500)  # late requests (the manifest, icons) would show up here
        warm_offline_shell = network_shell_requests(attempts.take(), page_requests)
        browser.close()

    kb = lambda n: f"{n / 1024:5.1f} KB"  # noqa: E731
    shell, icons, api = first["shell"], first["icons"], first["api"]
    worker_sent = shell["requests"] - len(page_sent)
    print("Plate PWA benchmark (Chromium, Pixel 7 emulation, 400 kbit/s, 400 ms RTT); bytes as the server sent them")
    print(f"  first visit, app shell (pages, CSS, JS, service worker; gzip): {kb(shell['body'])} of bodies   (goal <= 60 KB), "
          f"{kb(shell['body'] + shell['headers'])} with HTTP/1.1 headers, in {shell['requests']} requests")
    print(f"      the page sent {len(page_sent)}; the service worker asked for {len(worker_asked)} shell files, "
          f"{worker_sent} reached the server ({shell['304']} answered 304), the rest came from the HTTP cache")
    print(f"      besides the shell: icons {kb(icons['body'] + icons['headers'])} in {icons['requests']}, API reads "
          f"{kb(api['body'] + api['headers'])} in {api['requests']}; everything with headers "
          f"{kb(sum(k['body'] + k['headers'] for k in first.values()))}")
    print(f"  cold load:    first plate item painted after {cold_ms:6.0f} ms")
    print(f"  warm online:  first plate item painted after {warm_online_ms:6.0f} ms, median of {WARM_LOADS} "
          f"(its API reads escape the page's throttling, so this is optimistic); "
          f"shell requests on the network: {len(warm_online_shell)}, {warm_online['shell']['requests']} reached the server")
    print(f"  warm offline: first plate item painted after {statistics.median(offline_loads):6.0f} ms, median of "
          f"{WARM_LOADS} ({offline_loads[0]:.0f}–{offline_loads[-1]:.0f})   (goal <= 300 ms); "
          f"shell requests towards the network, page or worker: {len(warm_offline_shell)}   (goal 0) {warm_offline_shell or ''}")


if __name__ == "__main__":
    main()
