"""The service worker at /sw.js, the web app manifest, and gzip for the app shell."""
import base64
import gzip
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, current_app, request, url_for

bp = Blueprint("pwa", __name__)

SERVICE_WORKER = Path(__file__).parent.parent / "service_worker" / "sw.js"
THEME_COLOR = "#0f5257"
BACKGROUND_COLOR = "#f6f4ef"
# Pages the service worker precaches: "/shell" answers every app page, /login and /logout work offline
# (a logout clears the device without a connection). Signing up needs one, so /signup is not kept.
SHELL_PAGES = ("/shell", "/login", "/logout")
# The offline shell besides its pages: the modules these two load (and what they import), the styles, and
# the icon the pages and notifications show. The other icons matter only when installing, which needs a network.
SHELL_ENTRIES = ("js/app.js", "js/auth.js")
SHELL_EXTRAS = ("css/app.css", "icons/icon-192.png")
STATIC_IMPORT = re.compile(r"""^\s*import\s+(?:[^'";]*?\s+from\s+)?["'](\.{1,2}/[^"']+)["']""", re.MULTILINE)
DYNAMIC_IMPORT = re.compile(r"""\bimport\(\s*["'](\.{1,2}/[^"']+)["']\s*\)""")
COMPRESSIBLE = {"text/html", "text/css", "text/javascript", "application/javascript", "application/json",
                "application/manifest+json", "image/svg+xml"}


def _imported(static: Path, module: str, pattern: re.Pattern) -> list[str]:
    """Paths (relative to static/) of the modules `module` imports in the way `pattern` matches."""
    source = static / module
    return [(source.parent / target).resolve().relative_to(static.resolve()).as_posix()
            for target in pattern.findall(source.read_text())]


def _with_imports(static: Path, modules) -> set[str]:
    """These modules and every module they import statically, all the way down."""
    found, todo = set(modules), list(modules)
    while todo:
        for path in _imported(static, todo.pop(), STATIC_IMPORT):
            if path not in found:
                found.add(path)
                todo.append(path)
    return found


def _on_demand(static: Path, core: set[str]) -> set[str]:
    """Modules the shell loads only with import(), e.g. the record and review views, and what they import."""
    lazy, todo = set(), [name for name in core if name.endswith(".js")]
    while todo:
        for module in _imported(static, todo.pop(), DYNAMIC_IMPORT):
            for path in _with_imports(static, [module]) - core - lazy:
                lazy.add(path)
                todo.append(path)
    return lazy


def _integrity(path: Path) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()


@lru_cache(maxsize=8)
def _shell(static_folder: str, template_folder: str) -> tuple[str, tuple, tuple]:
    """The shell's version (a hash of every file it is built from), its static files, and those cached only once used.

    Each file comes with its Subresource Integrity hash, so the worker can take the copy the page
    has just loaded from the HTTP cache without asking the server, and never store another version.
    """
    static = Path(static_folder)
    files = sorted(p for p in static.rglob("*") if p.is_file() and p.suffix in {".css", ".js", ".png", ".svg"})
    digest = hashlib.sha256()
    for path in [*files, *sorted(Path(template_folder).rglob("*.html")), SERVICE_WORKER, Path(__file__)]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    core = _with_imports(static, SHELL_ENTRIES) | set(SHELL_EXTRAS)
    lazy = _on_demand(static, core)
    pick = lambda names: tuple((name, _integrity(static / name)) for name in sorted(names))  # noqa: E731
    return digest.hexdigest()[:12], pick(core), pick(lazy)


def shell_version() -> str:
    return _shell(current_app.static_folder, current_app.template_folder)[0]


def precached() -> list[list]:
    """[url, integrity or None] of everything the worker installs: the offline shell."""
    _, core, _ = _shell(current_app.static_folder, current_app.template_folder)
    return [*([page, None] for page in SHELL_PAGES),
            *([url_for("static", filename=name), integrity] for name, integrity in core)]


def cached_once_used() -> list[list]:
    """[url, integrity] of modules loaded on demand: the worker keeps them once a page has used them."""
    _, _, lazy = _shell(current_app.static_folder, current_app.template_folder)
    return [[url_for("static", filename=name), integrity] for name, integrity in lazy]


@bp.get("/sw.js")
def service_worker():
    """Served from the root so its scope is the whole app; never cached, so deploys are seen at once."""
    source = SERVICE_WORKER.read_text()
    source = source.replace('"__SHELL_VERSION__"', json.dumps(shell_version()))
    source = source.replace('["__PRECACHE__"]', json.dumps(precached()))
    source = source.replace('["__ON_DEMAND__"]', json.dumps(cached_once_used()))
    response = Response(source, mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["Service-Worker-Allowed"] = "/"
    response.add_etag()  # the browser's update check costs a 304 while nothing changed
    return response.make_conditional(request)


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
        response.vary.add("Accept-Encoding")  # on a 304 too, which answers for the gzipped copy
    elif request.path in SHELL_PAGES and request.method == "GET" and response.status_code == 200:
        # The same bytes for everyone: with an ETag, the worker's next install revalidates them for a 304.
        response.headers["Cache-Control"] = "no-cache"
        response.vary.add("Accept-Encoding")
        response.add_etag()
        response.make_conditional(request)
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
