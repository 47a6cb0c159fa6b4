"""PWA benchmark: app-shell transfer on a first visit, and time to the first plate item painted,
cold (empty browser, throttled network) against warm and offline (served by the service worker).

Run: .venv/bin/python bench/pwa.py   (Debian's /usr/bin/chromium, mobile emulation, 400 kbit/s, 400 ms RTT)
Goals: shell <= 60 KB gzip; the warm offline load requests nothing from the network and paints within 300 ms.
"""
import os
import sys
import tempfile
import threading
from pathlib import Path

from flask_migrate import upgrade
from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

os.environ.setdefault("PLATE_LOG_LEVEL", "WARNING")  # one log line per request would drown the figures
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp import create_app  # noqa: E402
from webapp.cli import DEMO_PASSWORD, demo_command  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
THROTTLE = {"offline": False, "latency": 400, "downloadThroughput": 400_000 / 8, "uploadThroughput": 400_000 / 8}
SHELL_TYPES = {"Document", "Stylesheet", "Script", "Manifest"}
# Records when the first plate item is painted: the frame after it enters the DOM.
FIRST_ITEM_PAINT = """
new MutationObserver((_, observer) => {
  if (!document.querySelector('li.item')) return;
  observer.disconnect();
  requestAnimationFrame(() => setTimeout(() => { window.__firstItemPaint = performance.now(); }));
}).observe(document, { childList: true, subtree: true });
"""


def serve(tmp: Path) -> str:
    app = create_app({"SECRET_KEY": "bench", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'bench.db'}"})
    app.instance_path = str(tmp)
    with app.app_context():
        upgrade(directory=str(Path(app.root_path) / "migrations"))
    app.test_cli_runner().invoke(demo_command)
    server = make_server("127.0.0.1", 0, app, threaded=True)
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


def measure(page, cdp, url: str) -> dict:
    """Navigate and return ms to the first item painted and the shell's bytes from the network."""
    responses, shell_bytes = {}, {"network": 0, "requests": 0}

    def on_response(event):
        responses[event["requestId"]] = event

    def on_finished(event):
        response = responses.get(event["requestId"])
        if response and response.get("type") in SHELL_TYPES and not response["response"].get("fromServiceWorker"):
            shell_bytes["network"] += event["encodedDataLength"]
            shell_bytes["requests"] += 1

    cdp.on("Network.responseReceived", on_response)
    cdp.on("Network.loadingFinished", on_finished)
    page.goto(url, wait_until="commit")
    wait_until(page, "window.__firstItemPaint !== undefined")
    page.wait_for_load_state("load")
    paint = page.evaluate("window.__firstItemPaint")
    page.wait_for_timeout(300)  # let late loadingFinished events (manifest, modules) arrive before reading
    cdp.remove_listener("Network.responseReceived", on_response)
    cdp.remove_listener("Network.loadingFinished", on_finished)
    return {"paint_ms": paint, **shell_bytes}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        base = serve(Path(tmp))
        device = {k: v for k, v in playwright.devices["Pixel 7"].items() if k != "default_browser_type"}
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        context = browser.new_context(**device)
        context.add_init_script(FIRST_ITEM_PAINT)
        context.request.post(f"{base}/api/v1/session", data={"email": "dana@demo.plate.test", "password": DEMO_PASSWORD})
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})  # a first visit: nothing in the HTTP cache
        cdp.send("Network.emulateNetworkConditions", THROTTLE)

        cold = measure(page, cdp, f"{base}/")
        wait_until(page, "navigator.serviceWorker.controller !== null")
        wait_until(page, "document.body.dataset.ready === 'true'")
        page.evaluate("""async () => { for (let i = 0; i < 200; i++) {
            if ((await caches.keys()).includes('plate-api') && await caches.match(location.origin + '/api/v1/session')) return;
            await new Promise((r) => setTimeout(r, 50)); } }""")
        warm_online = measure(page, cdp, f"{base}/")
        context.set_offline(True)
        warm_offline = measure(page, cdp, f"{base}/")
        browser.close()

    print("Plate PWA benchmark (Chromium, Pixel 7 emulation, 400 kbit/s, 400 ms RTT)")
    print(f"  first visit: app shell (HTML+CSS+JS+manifest) transferred  {cold['network'] / 1024:6.1f} KB gzip "
          f"in {cold['requests']} requests   (goal <= 60 KB)")
    print(f"  cold load:    first plate item painted after  {cold['paint_ms']:7.0f} ms")
    print(f"  warm online:  first plate item painted after  {warm_online['paint_ms']:7.0f} ms "
          f"(shell from the service worker; its own API fetches escape the page's throttling, so this is optimistic)")
    print(f"  warm offline: first plate item painted after  {warm_offline['paint_ms']:7.0f} ms   (goal <= 300 ms), "
          f"shell requests on the network: {warm_offline['requests']}   (goal 0)")


if __name__ == "__main__":
    main()
