"""Sessions are rotated at login and on a password change, and a password change logs out every other device."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.conftest import ApiClient
from tests.factories import PASSWORD, make_team
from webapp import create_app
from webapp.extensions import db

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def rep(ctx):
    rep = make_team().rep
    db.session.commit()
    return rep


def new_client(app) -> ApiClient:
    app.test_client_class = ApiClient
    return app.test_client()


def log_in(client: ApiClient, email: str, password: str = PASSWORD) -> ApiClient:
    response = client.post("/api/v1/session", json={"email": email, "password": password})
    assert response.status_code == 200
    client.csrf_token = response.json["csrf_token"]
    return client


def session_cookie(client: ApiClient) -> str:
    return client.get_cookie("session").value


def test_logging_in_replaces_a_session_planted_before_it(app, client, rep):
    # Someone sets a session on this browser (session fixation), with a CSRF token they know.
    with client.session_transaction() as planted:
        planted["csrf_token"] = "known-to-the-attacker"
        planted["planted"] = "yes"
    before = session_cookie(client)

    log_in(client, rep.email)

    assert session_cookie(client) != before
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["csrf_token"] not in ("known-to-the-attacker", "")
    assert client.post("/api/v1/items", json={"title": "x"}, headers={"X-CSRF-Token": "known-to-the-attacker"}
                       ).status_code == 403


def test_password_change_rotates_the_cookie_and_the_old_one_stops_working(app, client, rep):
    log_in(client, rep.email)
    old_cookie = session_cookie(client)

    response = client.patch("/api/v1/me", json={"password": NEW_PASSWORD, "current_password": PASSWORD})

    assert response.status_code == 200
    assert session_cookie(client) != old_cookie
    assert client.get("/api/v1/me").status_code == 200  # this device stays logged in
    new_token = client.get("/api/v1/session").json["csrf_token"]
    assert new_token != client.csrf_token  # the CSRF token is rotated with the session
    assert client.patch("/api/v1/me", json={"name": "Old token"}).status_code == 403
    client.csrf_token = new_token
    assert client.patch("/api/v1/me", json={"name": "New token"}).status_code == 200
    replayed = new_client(app)
    replayed.set_cookie("session", old_cookie)
    assert replayed.get("/api/v1/me").status_code == 401  # a copy of the old cookie is worth nothing


def test_password_change_logs_out_the_other_devices(app, rep):
    laptop = log_in(new_client(app), rep.email)
    phone = log_in(new_client(app), rep.email)
    assert phone.get("/api/v1/me").status_code == 200

    assert laptop.patch("/api/v1/me", json={"password": NEW_PASSWORD, "current_password": PASSWORD}).status_code == 200

    assert phone.get("/api/v1/me").status_code == 401
    assert phone.get("/api/v1/session").status_code == 401
    assert laptop.get("/api/v1/me").status_code == 200
    assert log_in(phone, rep.email, NEW_PASSWORD).get("/api/v1/me").status_code == 200


def test_a_rejected_password_change_keeps_every_session(app, rep):
    laptop = log_in(new_client(app), rep.email)
    phone = log_in(new_client(app), rep.email)

    response = laptop.patch("/api/v1/me", json={"password": "short", "current_password": PASSWORD})

    assert response.status_code == 422
    assert phone.get("/api/v1/me").status_code == 200
    assert laptop.get("/api/v1/me").status_code == 200


def test_logging_out_ends_only_this_device(app, rep):
    laptop = log_in(new_client(app), rep.email)
    phone = log_in(new_client(app), rep.email)

    assert laptop.delete("/api/v1/session").status_code == 204

    assert laptop.get("/api/v1/me").status_code == 401
    assert phone.get("/api/v1/me").status_code == 200


# Each worker remembers the cookies it verified (security.SessionInterface); these hold all the same.

def test_a_session_unused_for_30_days_ends_though_this_worker_verified_its_cookie(app, rep):
    start = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        phone = log_in(new_client(app), rep.email)
        assert phone.get("/api/v1/me").status_code == 200
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        assert phone.get("/api/v1/me").status_code == 200  # the same day: the cookie is not re-signed
    with time_machine.travel(start + timedelta(days=30, seconds=60), tick=False):
        assert phone.get("/api/v1/me").status_code == 401


def test_a_session_used_every_day_keeps_going_past_30_days(app, rep):
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False):
        phone = log_in(new_client(app), rep.email)
    for day in range(1, 41):
        with time_machine.travel(start + timedelta(days=day), tick=False):
            assert phone.get("/api/v1/me").status_code == 200, f"day {day}"


def test_a_session_cookie_changed_by_one_character_is_no_session(app, rep):
    phone = log_in(new_client(app), rep.email)
    cookie = session_cookie(phone)
    assert phone.get("/api/v1/me").status_code == 200
    middle = len(cookie) // 3  # inside the signed data (a signature's last character may carry unused bits)
    forged = new_client(app)
    forged.set_cookie("session", cookie[:middle] + ("A" if cookie[middle] != "A" else "B") + cookie[middle + 1:])

    assert forged.get("/api/v1/me").status_code == 401
    assert phone.get("/api/v1/me").status_code == 200


def test_a_cookie_of_another_secret_key_is_no_session(app, rep, database_url):
    phone = log_in(new_client(app), rep.email)
    other = create_app({"SECRET_KEY": "another secret", "SQLALCHEMY_DATABASE_URI": database_url, "TESTING": True,
                        "PLATE_RATELIMIT_ENABLED": False})
    stranger = new_client(other)
    stranger.set_cookie("session", session_cookie(phone))
    try:
        assert stranger.get("/api/v1/me").status_code == 401
    finally:
        with other.app_context():
            db.engine.dispose()


def test_an_unchanged_session_is_not_sent_again_and_a_new_day_re_signs_it(app, rep):
    start = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        phone = log_in(new_client(app), rep.email)
        same_day = phone.get(f"/api/v1/people/{rep.id}/plate")
    assert same_day.status_code == 200
    assert "Set-Cookie" not in same_day.headers  # nothing changed: no cookie to write
    assert "Cookie" in same_day.headers["Vary"]  # but the answer is this session's: caches must not share it
    with time_machine.travel(start + timedelta(days=1), tick=False):
        next_day = phone.get(f"/api/v1/people/{rep.id}/plate")
    assert next_day.status_code == 200
    assert "session=" in next_day.headers["Set-Cookie"] and "HttpOnly" in next_day.headers["Set-Cookie"]
    assert "Cookie" in next_day.headers["Vary"]
