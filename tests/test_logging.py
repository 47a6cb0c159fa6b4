"""Logs: a JSON line per request with a request id, push deliveries by id, and never a secret."""
import json

import pytest

from tests.factories import make_team
from tests.loopback_push import LoopbackPushService
from webapp.extensions import db


@pytest.fixture
def app_config():
    return {"PLATE_LOG_FORMAT": "json", "PLATE_LOG_LEVEL": "DEBUG", "SECRET_KEY": "a-secret-key-that-signs-cookies"}


def json_lines(capsys) -> list[dict]:
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def request_lines(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line["logger"] == "webapp.requests"]


def test_every_request_is_one_json_line_with_its_id_status_duration_and_user(client, auth, ctx, capsys):
    rep = make_team().rep
    db.session.commit()
    capsys.readouterr()

    response = auth.login(rep).get("/api/v1/me?include=secret-looking-query")

    [line] = request_lines(json_lines(capsys))
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/me"  # never the query string
    assert line["status"] == 200
    assert line["user_id"] == rep.id
    assert isinstance(line["duration_ms"], float)
    assert line["level"] == "INFO" and line["time"]
    assert line["request_id"] == response.headers["X-Request-ID"]


def test_anonymous_and_failed_requests_are_logged_too(client, capsys):
    capsys.readouterr()

    client.get("/api/v1/me")

    [line] = request_lines(json_lines(capsys))
    assert (line["status"], line["user_id"]) == (401, None)


def test_a_sane_x_request_id_is_kept_and_echoed(client, capsys):
    capsys.readouterr()

    response = client.get("/login", headers={"X-Request-ID": "lb-7f3a9c:42"})

    assert response.headers["X-Request-ID"] == "lb-7f3a9c:42"
    assert request_lines(json_lines(capsys))[0]["request_id"] == "lb-7f3a9c:42"


@pytest.mark.parametrize("sent", ["x" * 129, "two words", "evil\"}{\"level\":\"ERROR", ""])
def test_an_unusable_x_request_id_is_replaced_by_a_generated_one(client, capsys, sent):
    capsys.readouterr()

    response = client.get("/login", headers={"X-Request-ID": sent})

    generated = response.headers["X-Request-ID"]
    assert generated != sent and len(generated) == 32
    assert request_lines(json_lines(capsys))[0]["request_id"] == generated


def test_invitation_tokens_in_paths_are_redacted(client, capsys):
    capsys.readouterr()

    client.get("/invite/tok-abcdef-123456")
    client.get("/api/v1/invitations/tok-abcdef-123456")

    paths = [line["path"] for line in request_lines(json_lines(capsys))]
    assert paths == ["/invite/[redacted]", "/api/v1/invitations/[redacted]"]


def test_text_format_for_make_run(tmp_path, capsys, monkeypatch):
    from webapp import create_app

    monkeypatch.delenv("PLATE_LOG_FORMAT", raising=False)
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "SQLALCHEMY_DATABASE_URI": "sqlite://",
                      "PLATE_RATELIMIT_ENABLED": False})
    capsys.readouterr()

    response = app.test_client().get("/login")

    out = capsys.readouterr().out
    assert f"INFO webapp.requests [{response.headers['X-Request-ID']}] GET /login 200" in out
    with app.app_context():
        db.engine.dispose()


# --- no secrets ---------------------------------------------------------------------------------------

@pytest.fixture
def push_service():
    with LoopbackPushService() as running:
        yield running


def test_no_password_token_cookie_or_push_key_reaches_the_logs(app, client, push_service, capsys, caplog):
    """Sign up, log in, invite, accept, subscribe to push, send a test push, fail a request: grep the logs."""
    app.config["PLATE_PUSH_ALLOWED_ORIGINS"] = [push_service.origin]
    admin_password, invitee_password = "plum lantern orbit", "quiet harbour violin"
    secrets = [admin_password, invitee_password]

    signed_up = client.post("/api/v1/organizations", json={
        "name": "Acme", "admin": {"name": "Ana", "email": "ana@example.test", "password": admin_password,
                                  "time_zone": "UTC"}})
    assert signed_up.status_code == 201
    client.delete("/api/v1/session", headers={"X-CSRF-Token": signed_up.json["csrf_token"]})
    logged_in = client.post("/api/v1/session", json={"email": "ana@example.test", "password": admin_password})
    client.csrf_token = logged_in.json["csrf_token"]
    secrets += [logged_in.json["csrf_token"], client.get_cookie("session").value]
    assert client.post("/api/v1/session", json={"email": "ana@example.test", "password": "wrong " + admin_password}
                       ).status_code == 401
    secrets.append("wrong " + admin_password)

    invited = client.post("/api/v1/invitations", json={"email": "nia@example.test", "name": "Nia"})
    token = invited.json["token"]
    secrets.append(token)
    client.get(f"/invite/{token}")
    client.get(f"/api/v1/invitations/{token}")
    invitee = app.test_client()
    accepted = invitee.post(f"/api/v1/invitations/{token}/accept",
                            json={"password": invitee_password, "time_zone": "UTC"})
    assert accepted.status_code == 201
    secrets += [accepted.json["csrf_token"], invitee.get_cookie("session").value]
    assert client.post(f"/api/v1/invitations/{token}/accept", json={"password": invitee_password, "time_zone": "UTC"}
                       ).status_code == 410

    phone = push_service.device("ana-phone")
    subscription = phone.subscription()
    assert client.post("/api/v1/push/subscriptions", json=subscription).status_code == 201
    secrets += [subscription["endpoint"], subscription["keys"]["p256dh"], subscription["keys"]["auth"]]
    assert client.post("/api/v1/push/test").json == {"devices": 1, "delivered": 1}
    assert client.patch("/api/v1/me", json={"password": "plum lantern orbit 2",
                                            "current_password": "not " + admin_password}).status_code == 422
    secrets += ["plum lantern orbit 2", "not " + admin_password]

    logged = capsys.readouterr().out + caplog.text
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    assert [line["delivery_id"] for line in lines if line.get("outcome") == "delivered"]  # logged, by ids
    assert len(request_lines(lines)) >= 10
    leaked = [secret for secret in secrets if secret in logged]
    assert leaked == []
    assert app.config["SECRET_KEY"] not in logged
