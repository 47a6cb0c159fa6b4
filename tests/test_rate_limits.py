"""Log in, sign up, invitation-accept and password change are rate-limited per IP and per account."""
import uuid
from datetime import datetime, timezone

import pytest
import redis
import time_machine

from tests.factories import PASSWORD, make_invitation, make_team, make_user
from webapp import create_app
from webapp.config import load_config
from webapp.extensions import db

REDIS_URL = "redis://127.0.0.1:6379"
LIMITS = {
    "PLATE_RATELIMIT_ENABLED": True,
    "PLATE_RATELIMIT_LOGIN": "10 per minute",
    "PLATE_RATELIMIT_LOGIN_ACCOUNT": "5 per minute",
    "PLATE_RATELIMIT_SIGNUP": "3 per minute",
    "PLATE_RATELIMIT_SIGNUP_ACCOUNT": "2 per minute",
    "PLATE_RATELIMIT_ACCEPT": "10 per minute",
    "PLATE_RATELIMIT_ACCEPT_ACCOUNT": "3 per minute",
    "PLATE_RATELIMIT_PASSWORD": "10 per minute",
    "PLATE_RATELIMIT_PASSWORD_ACCOUNT": "3 per minute",
}


@pytest.fixture
def app_config():
    return LIMITS


def from_ip(ip: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": ip}}


def log_in(client, email: str, password: str, ip: str = "192.0.2.1"):
    return client.post("/api/v1/session", json={"email": email, "password": password}, **from_ip(ip))


def assert_too_many(response):
    assert response.status_code == 429
    assert response.json["code"] == 429
    assert response.json["status"] == "Too Many Requests"
    assert "try again in" in response.json["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60  # within the one-minute window


# --- log in ---------------------------------------------------------------------------------------

def test_wrong_passwords_for_one_account_are_limited_from_any_ip(client, ctx):
    make_user(make_team().org, email="rita@example.test")
    db.session.commit()
    for n in range(5):
        assert log_in(client, "rita@example.test", "not the password", ip=f"192.0.2.{n}").status_code == 401

    # Even the right password waits: the attacker must not learn it by trying on.
    response = log_in(client, "Rita@Example.test", PASSWORD, ip="198.51.100.7")

    assert_too_many(response)


def test_retry_after_counts_down_to_when_the_oldest_attempt_leaves_the_window(client):
    start = datetime(2026, 11, 25, 9, 0, 0, 400_000, tzinfo=timezone.utc)  # mid-second: no rounding up to 61
    with time_machine.travel(start, tick=False) as clock:
        for n in range(10):
            log_in(client, f"nobody{n}@example.test", "not the password")
        assert log_in(client, "nobody@example.test", "not the password").headers["Retry-After"] == "60"
        clock.shift(45)
        assert log_in(client, "nobody@example.test", "not the password").headers["Retry-After"] == "15"
        clock.shift(15.01)  # just past Retry-After: the oldest attempt has left the window
        assert log_in(client, "nobody@example.test", "not the password").status_code == 401


def test_successful_logins_do_not_use_up_the_account_limit(client, ctx):
    make_user(make_team().org, email="rita@example.test")
    db.session.commit()

    statuses = [log_in(client, "rita@example.test", PASSWORD, ip=f"192.0.2.{n}").status_code for n in range(7)]

    assert statuses == [200] * 7


def test_one_ip_trying_many_accounts_is_limited(client):
    statuses = [log_in(client, f"nobody{n}@example.test", "not the password").status_code for n in range(11)]

    assert statuses == [401] * 10 + [429]
    assert log_in(client, "nobody@example.test", "not the password", ip="198.51.100.7").status_code == 401


# --- sign up --------------------------------------------------------------------------------------

def sign_up(client, email: str, ip: str = "192.0.2.1"):
    return client.post("/api/v1/organizations", json={
        "name": "Acme", "admin": {"name": "Ana", "email": email, "password": "short", "time_zone": "UTC"},
    }, **from_ip(ip))


def test_sign_ups_from_one_ip_are_limited(client):
    statuses = [sign_up(client, f"ana{n}@example.test").status_code for n in range(4)]

    assert statuses == [422, 422, 422, 429]
    assert sign_up(client, "ana9@example.test", ip="198.51.100.7").status_code == 422


def test_sign_ups_for_one_email_are_limited_from_any_ip(client):
    statuses = [sign_up(client, "ana@example.test", ip=f"192.0.2.{n}").status_code for n in range(3)]

    assert statuses == [422, 422, 429]


# --- invitation accept ------------------------------------------------------------------------------

def test_failed_accepts_of_one_invitation_are_limited(client, ctx):
    token = make_invitation(make_team().manager)
    db.session.commit()
    accept = {"password": "short", "time_zone": "UTC"}
    for n in range(3):
        response = client.post(f"/api/v1/invitations/{token}/accept", json=accept, **from_ip(f"192.0.2.{n}"))
        assert response.status_code == 422

    response = client.post(f"/api/v1/invitations/{token}/accept",
                           json={"password": "a brand new passphrase", "time_zone": "UTC"}, **from_ip("198.51.100.7"))

    assert_too_many(response)


def test_guessing_invitation_tokens_from_one_ip_is_limited(client):
    statuses = [client.post(f"/api/v1/invitations/guess-{n}/accept", json={"password": "a brand new passphrase",
                                                                           "time_zone": "UTC"}).status_code
                for n in range(11)]

    assert statuses == [404] * 10 + [429]


# --- password change --------------------------------------------------------------------------------

def change_password(client, current: str):
    return client.patch("/api/v1/me", json={"password": "a brand new passphrase", "current_password": current})


def test_password_changes_are_limited_per_person(client, auth, ctx):
    rep = make_team().rep
    db.session.commit()
    auth.login(rep)
    for _ in range(3):
        assert change_password(client, "not my password").status_code == 422

    response = change_password(client, PASSWORD)

    assert_too_many(response)


def test_profile_changes_without_a_password_are_not_limited(client, auth, ctx):
    rep = make_team().rep
    db.session.commit()
    auth.login(rep)

    statuses = [client.patch("/api/v1/me", json={"name": f"Rita {n}"}).status_code for n in range(12)]

    assert statuses == [200] * 12


# --- configuration ----------------------------------------------------------------------------------

@pytest.mark.parametrize("app_config", [{**LIMITS, "PLATE_RATELIMIT_ENABLED": False}])
def test_limits_switched_off_let_every_attempt_through(client):
    statuses = {log_in(client, "nobody@example.test", "not the password").status_code for _ in range(15)}

    assert statuses == {401}


@pytest.mark.parametrize("app_config", [{**LIMITS, "PLATE_RATELIMIT_LOGIN": "2 per minute"}])
def test_limits_come_from_configuration(client):
    statuses = [log_in(client, f"nobody{n}@example.test", "not the password").status_code for n in range(3)]

    assert statuses == [401, 401, 429]


@pytest.mark.parametrize(("value", "enabled"), [(None, True), ("1", True), ("0", False), ("false", False)])
def test_plate_ratelimit_enabled_switches_limits(monkeypatch, tmp_path, value, enabled):
    if value is None:
        monkeypatch.delenv("PLATE_RATELIMIT_ENABLED", raising=False)
    else:
        monkeypatch.setenv("PLATE_RATELIMIT_ENABLED", value)

    assert load_config(str(tmp_path), secret_key="x")["PLATE_RATELIMIT_ENABLED"] is enabled


# --- Redis ----------------------------------------------------------------------------------------

@pytest.fixture
def redis_prefix():
    """A key prefix of this test's own in the local Redis; its keys are deleted afterwards."""
    prefix = f"plate-test-{uuid.uuid4().hex}"
    yield prefix
    connection = redis.Redis.from_url(REDIS_URL)
    keys = list(connection.scan_iter(f"*{prefix}*"))
    if keys:
        connection.delete(*keys)
    connection.close()


@pytest.fixture
def redis_app_config(redis_prefix):
    return {**LIMITS, "PLATE_RATELIMIT_STORAGE_URI": REDIS_URL, "PLATE_RATELIMIT_KEY_PREFIX": redis_prefix}


class TestRedisStorage:
    @pytest.fixture
    def app_config(self, redis_app_config):
        return redis_app_config

    def test_counts_are_kept_in_redis_and_shared_by_every_server(self, app, client, redis_prefix):
        statuses = [log_in(client, f"nobody{n}@example.test", "not the password").status_code for n in range(6)]
        # A second server (another gunicorn worker) on the same Redis sees the same counts.
        other = create_app({"TESTING": True, "SECRET_KEY": "test", **{key: app.config[key] for key in COPIED}})
        more = [log_in(other.test_client(), f"nobody{n}@example.test", "not the password").status_code
                for n in range(6, 11)]
        with other.app_context():
            db.engine.dispose()

        assert statuses == [401] * 6
        assert more == [401] * 4 + [429]
        assert list(redis.Redis.from_url(REDIS_URL).scan_iter(f"*{redis_prefix}*"))


COPIED = (*LIMITS, "PLATE_RATELIMIT_STORAGE_URI", "PLATE_RATELIMIT_KEY_PREFIX", "SQLALCHEMY_DATABASE_URI")
