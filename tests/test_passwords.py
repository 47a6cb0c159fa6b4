"""Passwords: at least 10 characters, not the email nor its local part, not a commonly used one; everywhere one is set."""
import pytest
from sqlalchemy import select

from tests.factories import PASSWORD, make_invitation, make_team
from webapp.auth.passwords import common_passwords
from webapp.config import load_config
from webapp.extensions import db
from webapp.models import User

EMAIL = "rita.rep@example.test"
REJECTED = [
    pytest.param("short pw", "at least 10 characters", id="too-short"),
    pytest.param("RITA.REP@example.test", "email address", id="the-email"),
    pytest.param("Rita.Rep.", "at least 10 characters", id="local-part-too-short-anyway"),
    pytest.param("password123", "commonly used", id="common"),
    pytest.param("QWERTYUIOP", "commonly used", id="common-in-capitals"),
    pytest.param("1234567890", "commonly used", id="common-digits"),
]


def sign_up(client, password: str, email: str = EMAIL):
    return client.post("/api/v1/organizations", json={
        "name": "Acme", "admin": {"name": "Rita", "email": email, "password": password, "time_zone": "UTC"}})


def accept(client, password: str, email: str = EMAIL):
    with client.application.app_context():
        token = make_invitation(make_team().manager, email=email)
        db.session.commit()
    return client.post(f"/api/v1/invitations/{token}/accept", json={"password": password, "time_zone": "UTC"})


def change(client, password: str, email: str = EMAIL):
    with client.application.app_context():
        make_team().rep.email = email
        db.session.commit()
    logged_in = client.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    client.csrf_token = logged_in.json["csrf_token"]
    return client.patch("/api/v1/me", json={"password": password, "current_password": PASSWORD})


SETTERS = [pytest.param(sign_up, id="sign-up"), pytest.param(accept, id="accept"), pytest.param(change, id="change")]


@pytest.mark.parametrize("set_password", SETTERS)
@pytest.mark.parametrize(("password", "message"), REJECTED)
def test_weak_passwords_are_refused_with_a_message_on_the_password_field(client, set_password, password, message):
    response = set_password(client, password)

    assert response.status_code == 422
    [reason] = response.json["errors"]["json"]["password"]
    assert message in reason


@pytest.mark.parametrize("set_password", SETTERS)
def test_the_local_part_of_the_email_is_refused_when_long_enough(client, set_password):
    response = set_password(client, "Margarethe.Smith", email="margarethe.smith@example.test")

    assert response.status_code == 422
    assert "email address" in response.json["errors"]["json"]["password"][0]


@pytest.mark.parametrize("set_password", SETTERS)
def test_a_long_uncommon_password_is_accepted(client, set_password):
    response = set_password(client, "plum lantern orbit")

    assert response.status_code in (200, 201)


@pytest.mark.parametrize("set_password", SETTERS)
def test_outside_tests_passwords_are_stored_with_werkzeugs_full_scrypt_and_then_let_the_person_in(
        app, client, set_password):
    app.config["PLATE_PASSWORD_HASH"] = load_config(app.instance_path, "test")["PLATE_PASSWORD_HASH"]  # the default

    assert set_password(client, "plum lantern orbit").status_code in (200, 201)

    with app.app_context():
        stored = db.session.scalar(select(User.password_hash).where(User.email == EMAIL))
    assert stored.startswith("scrypt:32768:8:1$")
    client.delete("/api/v1/session")
    assert client.post("/api/v1/session", json={"email": EMAIL, "password": "plum lantern orbit"}).status_code == 200


def test_a_refused_sign_up_creates_nothing_and_the_next_try_works(client):
    assert sign_up(client, "password123").status_code == 422

    assert sign_up(client, "plum lantern orbit").status_code == 201


def test_the_bundled_list_is_small_lowercased_and_holds_only_passwords_the_length_rule_lets_through():
    passwords = common_passwords()

    assert 1000 < len(passwords) < 5000
    assert all(len(password) >= 10 and password == password.lower() for password in passwords)
    assert PASSWORD not in passwords  # the test factories' password
