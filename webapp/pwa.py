"""The service worker at /sw.js, the web app manifest, and gzip for the app shell."""
import gzip
import hashlib
import json
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, request, url_for

bp = Blueprint("pwa", __name__)

SERVICE_WORKER = Path(__file__).parent.parent / "service_worker" / "sw.js"
THEME_COLOR = "#0f5257"
BACKGROUND_COLOR = "#f6f4ef"
# Pages the service worker precaches besides the static files; "/shell" answers every app page.
SHELL_PAGES = ("/shell", "/login", "/signup")
COMPRESSIBLE = {"text/html", "text/css", "text/javascript", "application/javascript", "application/json",
                "application/manifest+json", "image/svg+xml"}


@lru_cache(maxsize=8)
def _shell(static_folder: str, template_folder: str) -> tuple[str, tuple[str, ...]]:
    """The shell's version (a hash of every file it is built from) and its static files."""
    static = Path(static_folder)
    files = sorted(p for p in static.rglob("*") if p.is_file() and p.suffix in {".css", ".js", ".png", ".svg"})
    digest = hashlib.sha256()
    for path in [*files, *sorted(Path(template_folder).rglob("*.html")), SERVICE_WORKER, Path(__file__)]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12], tuple(str(p.relative_to(static)) for p in files)


def shell_version() -> str:
    return _shell(current_app.static_folder, current_app.template_folder)[0]


def shell_urls() -> list[str]:
    _, files = _shell(current_app.static_folder, current_app.template_folder)
    return [*SHELL_PAGES, url_for("pwa.manifest"), *(url_for("static", filename=f) for f in files)]


@bp.get("/sw.js")
def service_worker():
    """Served from the root so its scope is the whole app; never cached, so deploys are seen at once."""
    source = SERVICE_WORKER.read_text()
    source = source.replace('"__SHELL_VERSION__"', json.dumps(shell_version()))
    source = source.replace('["__SHELL_URLS__"]', json.dumps(shell_urls()))
    response = Response(source, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/manifest.webmanifest")
def manifest():
    icon = lambda size, purpose: {  # noqa: E731
        "src": url_for("static", filename=f"icons/{'maskable' if purpose == 'maskable' else 'icon'}-{size}.png"),
        "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose,
    }
    body = {
        "id": "/",
        "name": "Plate",
        "short_name": "Plate",
        "description": "Your shared, prioritized plate with your manager and your team.",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME_COLOR,
        "background_color": BACKGROUND_COLOR,
        "icons": [icon(192, "any"), icon(512, "any"), icon(192, "maskable"), icon(512, "maskable")],
    }
    response = Response(json.dumps(body, indent=1), mimetype="application/manifest+json")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.app_context_processor
def pwa_context() -> dict:
    return {"theme_color": THEME_COLOR, "background_color": BACKGROUND_COLOR}


_compressed: dict[tuple[str, str], bytes] = {}


@bp.after_app_request
def compress_shell(response: Response) -> Response:
    """Gzip the shell's text files and pages when the client accepts it (the API answers as it does)."""
    if request.path.startswith("/api/"):
        return response
    if request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-cache"  # revalidate; the service worker holds the fast copy
    if (response.status_code != 200 or response.mimetype not in COMPRESSIBLE or "Content-Encoding" in response.headers
            or "gzip" not in request.headers.get("Accept-Encoding", "")):
        return response
    etag, _weak = response.get_etag()
    key = (request.path, etag) if etag else None
    body = _compressed.get(key) if key else None
    source = response.response  # for files, an open file wrapper that must be closed
    try:
        if body is None:
            body = gzip.compress(b"".join(source), compresslevel=6, mtime=0)
            if key and len(_compressed) < 512:
                _compressed[key] = body
    finally:
        if hasattr(source, "close"):
            source.close()
    response.direct_passthrough = False
    response.set_data(body)
    response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    response.headers.pop("Accept-Ranges", None)  # ranges would address the uncompressed bytes
    if etag:
        response.set_etag(etag, weak=True)  # the same resource, another encoding
    return response
