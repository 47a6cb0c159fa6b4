"""Security headers on every response; the session cookie's flags over http, https and behind a proxy."""
import re
from html.parser import HTMLParser

import pytest

from tests.factories import PASSWORD, make_invitation, make_team
from webapp.extensions import db

EVERY_KIND_OF_RESPONSE = [
    "/login", "/signup", "/shell", "/no-such-page", "/sw.js", "/manifest.webmanifest", "/static/js/app.js",
    "/api/v1/session", "/api/v1/no-such-thing", "/api/v1/openapi.json", "/healthz",
]


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


@pytest.mark.parametrize("path", EVERY_KIND_OF_RESPONSE)
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    response.close()  # a static file's stream

    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    assert client.get("/login", base_url="https://plate.example").headers["Strict-Transport-Security"] == \
        "max-age=31536000"


class InlineCode(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block: inline scripts, handlers, styles."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script" and not names.get("src"):
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style> element")
        self.found += [f"{name}= on <{tag}>" for name in names if name.startswith("on") or name == "style"]
        if any((value or "").strip().lower().startswith("javascript:") for value in names.values()):
            self.found.append(f"javascript: URL on <{tag}>")


@pytest.mark.parametrize("path", ["/login", "/signup", "/invite/some-token", "/logout", "/shell", "/no-such-page"])
def test_pages_have_no_inline_code_the_policy_would_block(client, path):
    parser = InlineCode()
    parser.feed(client.get(path).get_data(as_text=True))

    assert parser.found == []


def test_static_scripts_use_no_eval_or_inline_styles_by_markup(app):
    """The policy forbids eval and style attributes set through HTML strings; code must build the DOM."""
    from pathlib import Path

    offenders = []
    for path in sorted(Path(app.static_folder).rglob("*.js")):
        source = path.read_text()
        for pattern in (r"\beval\(", r"new Function\(", r"setAttribute\(\s*['\"]style['\"]", r"style=\\?[\"']",
                        r"\bon[a-z]+=\\?[\"']"):
            if re.search(pattern, source):
                offenders.append(f"{path.name}: {pattern}")

    assert offenders == []


# --- the session cookie ------------------------------------------------------------------------------

def log_in_and_get_cookie(client, **kwargs) -> str:
    with client.application.app_context():
        rep = make_team().rep
        db.session.commit()
        email = rep.email
    response = client.post("/api/v1/session", json={"email": email, "password": PASSWORD}, **kwargs)
    assert response.status_code == 200
    [cookie] = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    return cookie


def flags(cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]} | {
        part.strip().lower() for part in cookie.split(";")[1:] if part.strip().lower().startswith("samesite")}


def test_session_cookie_over_http_is_httponly_and_lax_but_not_secure(client):
    cookie_flags = flags(log_in_and_get_cookie(client))

    assert {"httponly", "samesite=lax"} <= cookie_flags
    assert "secure" not in cookie_flags  # `make run` on http://127.0.0.1 must keep its session


def test_session_cookie_over_https_is_secure(client):
    cookie_flags = flags(log_in_and_get_cookie(client, base_url="https://plate.example"))

    assert {"httponly", "samesite=lax", "secure"} <= cookie_flags


def test_accepting_an_invitation_over_https_sets_a_secure_cookie(client, ctx):
    token = make_invitation(make_team().manager)
    db.session.commit()

    response = client.post(f"/api/v1/invitations/{token}/accept", base_url="https://plate.example",
                           json={"password": "a brand new passphrase", "time_zone": "UTC"})

    assert response.status_code == 201
    assert "secure" in flags(response.headers["Set-Cookie"])


FORWARDED_HTTPS = {"headers": {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}}


def test_forwarded_headers_are_ignored_without_a_configured_proxy(client):
    cookie_flags = flags(log_in_and_get_cookie(client, **FORWARDED_HTTPS))

    assert "secure" not in cookie_flags  # anyone could send X-Forwarded-Proto to a bare server
    assert "Strict-Transport-Security" not in client.get("/login", **FORWARDED_HTTPS).headers


class TestBehindAProxy:
    @pytest.fixture
    def app_config(self):
        return {"PLATE_PROXY_FIX": 1}

    def test_https_at_the_proxy_makes_the_cookie_secure_and_sends_hsts(self, client):
        cookie_flags = flags(log_in_and_get_cookie(client, **FORWARDED_HTTPS))

        assert "secure" in cookie_flags
        assert client.get("/login", **FORWARDED_HTTPS).headers["Strict-Transport-Security"]

    def test_invitation_links_use_the_host_and_scheme_the_proxy_was_asked_for(self, client, auth, ctx):
        manager = make_team().manager
        db.session.commit()

        response = auth.login(manager).post("/api/v1/invitations", json={"email": "nia@example.test", "name": "Nia"},
                                            headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "plate.example"})

        assert response.json["url"].startswith("https://plate.example/invite/")


@pytest.mark.parametrize("path", ["/static/js/app.js", "/static/css/app.css", "/sw.js", "/manifest.webmanifest"])
def test_shell_files_do_not_depend_on_the_session(client, auth, team, path):
    # A `Vary: Cookie` would tie the service worker's HTTP-cache copy to one cookie, so a new session
    # (or the daily renewal) would download the whole shell again.
    auth.login(team.rep)
    with client.session_transaction() as session:
        session["renewed"] = 0  # due for renewal: a request that looked at the session would re-sign it

    response = client.get(path)
    response.close()

    assert response.status_code == 200
    assert "Cookie" not in response.headers.get("Vary", "")
    assert "Set-Cookie" not in response.headers
