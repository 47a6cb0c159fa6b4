"""Security headers on every response, the session cookie's Secure flag, and trusting a reverse proxy."""
import time
from threading import Lock

from cachetools import LRUCache
from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp.lean import plain_copy

# Only our own scripts, styles, images and connections; no inline code, no plugins, never inside a frame.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "manifest-src 'self'",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
}
HSTS = "max-age=31536000"  # a year; sent only over https, where it can be trusted
# The app shell's files are the same bytes for everyone: their responses never carry the session
# (no Set-Cookie, no `Vary: Cookie`, which would tie the service worker's cached copy to one cookie).
SESSIONLESS_ENDPOINTS = {"static", "pwa.service_worker", "pwa.manifest"}


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, Secure whenever the request came over https, verified once per cookie.

    A device sends the same cookie with every request until its session changes, and checking the
    signature costs more than the rest of a cached plate read. So each worker remembers the cookies
    it verified, by exact value, with the instant they were signed: expiry is still checked on every
    request, and a cookie that differs by one byte is verified from scratch.
    """

    def __init__(self) -> None:
        self._verified: LRUCache = LRUCache(maxsize=4096)
        self._serializers: dict = {}
        self._lock = Lock()

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def get_signing_serializer(self, app: Flask):
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer

    def save_session(self, app: Flask, session, response) -> None:
        if request.endpoint in SESSIONLESS_ENDPOINTS:
            return
        if session and not self.should_set_cookie(app, session):
            # Flask's own outcome for an unchanged session, without working out every cookie attribute first.
            if session.accessed:
                response.vary.add("Cookie")
            return
        super().save_session(app, session, response)

    def open_session(self, app: Flask, request):
        serializer = self.get_signing_serializer(app)
        if serializer is None:
            return None
        cookie = request.cookies.get(self.get_cookie_name(app))
        if not cookie:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        memo_key = (app.secret_key, cookie)
        with self._lock:
            verified = self._verified.get(memo_key)
        if verified is None:
            try:
                data, signed_at = serializer.loads(cookie, max_age=max_age, return_timestamp=True)
            except BadSignature:
                return self.session_class()
            verified = (data, signed_at.timestamp())
            with self._lock:
                self._verified[memo_key] = verified
        data, signed_at = verified
        if not 0 <= time.time() - signed_at <= max_age:  # itsdangerous's own rule, against the clock of now
            return self.session_class()
        return self.session_class(plain_copy(data))


class SecurityHeaders:
    """WSGI middleware: the headers above on every response (HSTS only over https), static files and errors included.

    At this level they cost a list append; Plate's views never set these headers themselves.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.plain = list(HEADERS.items())
        self.secure = [*self.plain, ("Strict-Transport-Security", HSTS)]

    def __call__(self, environ, start_response):
        extra = self.secure if environ.get("wsgi.url_scheme") == "https" else self.plain

        def start_with_headers(status, headers, exc_info=None):
            headers.extend(extra)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start_with_headers)


def init_app(app: Flask) -> None:
    app.wsgi_app = SecurityHeaders(app.wsgi_app)
    proxies = app.config["PLATE_PROXY_FIX"]
    if proxies:  # only then do X-Forwarded-* headers count: anyone can send them to a bare server
        # Outside the headers, so that https at the proxy counts for HSTS.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)
    app.session_interface = SessionInterface()
