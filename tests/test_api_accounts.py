"""Sign-up, log in and out, your own profile, and invitations into an organization."""
import threading
from datetime import UTC, datetime, timedelta

import time_machine

from tests.conftest import ApiClient, Auth
from tests.factories import PASSWORD, make_invitation, make_org, make_team, make_user
from webapp.extensions import db

NEW_PASSWORD = "a brand new passphrase"


def sign_up(client, email="ana@example.test", **admin):
    return client.post("/api/v1/organizations", json={
        "name": "Acme",
        "admin": {"name": "Ana Admin", "email": email, "password": "a long password", "time_zone": "Europe/Lisbon",
                  **admin},
    })


# --- POST /organizations --------------------------------------------------------------------

def test_sign_up_creates_organization_with_its_admin_logged_in(client):
    response = sign_up(client, email="Ana@Example.TEST")

    assert response.status_code == 201
    assert response.json["organization"]["name"] == "Acme"
    user = response.json["user"]
    assert (user["name"], user["email"], user["is_admin"], user["manager_id"], user["time_zone"]) == (
        "Ana Admin", "ana@example.test", True, None, "Europe/Lisbon")
    session = client.get("/api/v1/session")
    assert session.status_code == 200
    assert session.json["user"]["id"] == user["id"]


def test_sign_up_with_an_email_already_registered_in_any_case_is_409(client, ctx):
    make_user(make_org(), email="ana@example.test")
    db.session.commit()

    response = sign_up(client, email="ANA@example.test")

    assert response.status_code == 409
    assert "email" in response.json["errors"]["json"]


def test_sign_up_with_an_unknown_time_zone_is_422(client):
    response = sign_up(client, time_zone="Mars/Olympus_Mons")

    assert response.status_code == 422
    assert "time_zone" in response.json["errors"]["json"]


def test_sign_up_with_a_short_password_is_422(client):
    response = sign_up(client, password="short")

    assert response.status_code == 422
    assert "password" in response.json["errors"]["json"]


# --- /session ---------------------------------------------------------------------------------

def test_session_is_401_when_nobody_is_logged_in(client):
    response = client.get("/api/v1/session")

    assert response.status_code == 401
    assert response.json["code"] == 401


def test_session_returns_the_logged_in_user_and_csrf_token(client, auth, ctx):
    user = make_user(make_org(), "Rita Rep")
    db.session.commit()

    response = auth.login(user).get("/api/v1/session")

    assert response.status_code == 200
    assert response.json["user"]["name"] == "Rita Rep"
    assert response.json["csrf_token"] == client.csrf_token


def test_log_in_returns_a_csrf_token_that_unsafe_requests_accept(client, ctx):
    user = make_user(make_org(), email="rita@example.test")
    db.session.commit()

    response = client.post("/api/v1/session", json={"email": "Rita@example.test", "password": PASSWORD})

    assert response.status_code == 200
    assert response.json["user"]["id"] == user.id
    client.csrf_token = response.json["csrf_token"]
    assert client.post("/api/v1/items", json={"owner_id": user.id, "title": "Call Siemens"}).status_code == 201


def test_wrong_password_and_unknown_email_get_the_same_401(client, ctx):
    make_user(make_org(), email="rita@example.test")
    db.session.commit()

    wrong_password = client.post("/api/v1/session", json={"email": "rita@example.test", "password": "not it at all"})
    unknown_email = client.post("/api/v1/session", json={"email": "nobody@example.test", "password": PASSWORD})

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json == unknown_email.json
    assert client.get("/api/v1/session").status_code == 401


def test_log_out_ends_the_session(client, auth, ctx):
    user = make_user(make_org())
    db.session.commit()
    client = auth.login(user)

    response = client.delete("/api/v1/session")

    assert response.status_code == 204
    assert client.get("/api/v1/session").status_code == 401
    assert client.get("/api/v1/me").status_code == 401


# --- /me ------------------------------------------------------------------------------------

def test_me_returns_your_profile(client, auth, ctx):
    user = make_user(make_org(), "Rita Rep", time_zone="America/Chicago")
    db.session.commit()

    response = auth.login(user).get("/api/v1/me")

    assert response.status_code == 200
    assert (response.json["id"], response.json["name"], response.json["time_zone"]) == (
        user.id, "Rita Rep", "America/Chicago")


def test_me_changes_name_and_time_zone(client, auth, ctx):
    user = make_user(make_org(), "Rita Rep")
    db.session.commit()
    client = auth.login(user)

    response = client.patch("/api/v1/me", json={"name": "Rita Reyes", "time_zone": "Asia/Tokyo"})

    assert response.status_code == 200
    assert (response.json["name"], response.json["time_zone"]) == ("Rita Reyes", "Asia/Tokyo")
    assert client.get("/api/v1/me").json["time_zone"] == "Asia/Tokyo"


def test_me_rejects_a_time_zone_that_is_not_an_iana_name(client, auth, ctx):
    user = make_user(make_org(), time_zone="Europe/Berlin")
    db.session.commit()
    client = auth.login(user)

    response = client.patch("/api/v1/me", json={"time_zone": "CEST+2"})

    assert response.status_code == 422
    assert "time_zone" in response.json["errors"]["json"]
    assert client.get("/api/v1/me").json["time_zone"] == "Europe/Berlin"


def test_password_change_needs_the_current_password(client, auth, ctx):
    user = make_user(make_org())
    db.session.commit()

    response = auth.login(user).patch("/api/v1/me", json={"password": NEW_PASSWORD})

    assert response.status_code == 422
    assert "current_password" in response.json["errors"]["json"]


def test_password_change_with_a_wrong_current_password_is_422(client, auth, ctx):
    user = make_user(make_org())
    db.session.commit()

    response = auth.login(user).patch("/api/v1/me", json={"password": NEW_PASSWORD, "current_password": "guess work"})

    assert response.status_code == 422
    assert "current_password" in response.json["errors"]["json"]


def test_password_change_logs_out_other_sessions_but_keeps_this_one(app, client, auth, ctx):
    user = make_user(make_org(), email="rita@example.test")
    db.session.commit()
    other_device = Auth(app.test_client()).login(user)
    this_device = auth.login(user)

    response = this_device.patch("/api/v1/me", json={"password": NEW_PASSWORD, "current_password": PASSWORD})

    assert response.status_code == 200
    assert other_device.get("/api/v1/me").status_code == 401
    assert this_device.get("/api/v1/me").status_code == 200
    this_device.csrf_token = this_device.get("/api/v1/session").json["csrf_token"]  # rotated with the session
    assert this_device.patch("/api/v1/me", json={"name": "Still here"}).status_code == 200
    fresh = app.test_client()
    assert fresh.post("/api/v1/session", json={"email": "rita@example.test", "password": NEW_PASSWORD}).status_code == 200


# --- POST /invitations ---------------------------------------------------------------------------

def test_invitation_defaults_the_manager_to_the_inviter(client, auth, ctx):
    team = make_team()
    db.session.commit()
    before = datetime.now(UTC)

    response = auth.login(team.manager).post("/api/v1/invitations", json={"email": "nia@example.test", "name": "Nia"})

    assert response.status_code == 201
    assert response.json["token"] and response.json["url"].endswith(response.json["token"])
    expires_at = datetime.fromisoformat(response.json["expires_at"])
    assert response.json["expires_at"].endswith("Z")
    assert before + timedelta(days=7) - timedelta(seconds=1) <= expires_at <= datetime.now(UTC) + timedelta(days=7)
    accepted = ApiClient(client.application).post(
        f"/api/v1/invitations/{response.json['token']}/accept", json={"password": NEW_PASSWORD, "time_zone": "Europe/Paris"})
    assert accepted.json["user"]["manager_id"] == team.manager.id


def test_inviting_an_email_that_has_an_account_is_409(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.boss).post("/api/v1/invitations", json={"email": team.rep.email.upper(), "name": "Rita"})

    assert response.status_code == 409


def test_non_admin_may_invite_someone_to_report_to_a_person_below_them(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.manager).post(
        "/api/v1/invitations", json={"email": "nia@example.test", "name": "Nia", "manager_id": team.rep.id})

    assert response.status_code == 201


def test_non_admin_may_not_invite_someone_to_report_to_a_peer(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.rep).post(
        "/api/v1/invitations", json={"email": "nia@example.test", "name": "Nia", "manager_id": team.peer.id})

    assert response.status_code == 403


def test_non_admin_may_not_invite_an_admin(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.manager).post(
        "/api/v1/invitations", json={"email": "nia@example.test", "name": "Nia", "is_admin": True})

    assert response.status_code == 403


def test_non_admin_may_not_invite_someone_without_a_manager(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.manager).post(
        "/api/v1/invitations", json={"email": "nia@example.test", "name": "Nia", "manager_id": None})

    assert response.status_code == 403


def test_admin_may_invite_an_admin_to_report_to_anyone(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.boss).post(
        "/api/v1/invitations",
        json={"email": "nia@example.test", "name": "Nia", "manager_id": team.peer.id, "is_admin": True})

    assert response.status_code == 201


def test_inviting_under_a_manager_of_another_organization_is_404(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = auth.login(team.boss).post(
        "/api/v1/invitations", json={"email": "nia@example.test", "name": "Nia", "manager_id": team.outsider.id})

    assert response.status_code == 404


# --- POST /invitations/<token>/accept -----------------------------------------------------------

def test_accepting_an_invitation_creates_the_account_and_logs_in(client, ctx):
    team = make_team()
    token = make_invitation(team.manager, email="nia@example.test", name="Nia New")
    db.session.commit()

    response = client.post(f"/api/v1/invitations/{token}/accept", json={"password": NEW_PASSWORD, "time_zone": "Asia/Tokyo"})

    assert response.status_code == 201
    user = response.json["user"]
    assert (user["name"], user["email"], user["manager_id"], user["time_zone"], user["is_admin"]) == (
        "Nia New", "nia@example.test", team.manager.id, "Asia/Tokyo", False)
    assert client.get("/api/v1/session").json["user"]["id"] == user["id"]
    people = client.get("/api/v1/people").json
    assert user["id"] in [person["id"] for person in people if person["manager_id"] == team.manager.id]


def test_accepting_lets_the_invitee_choose_their_name(client, ctx):
    token = make_invitation(make_team().manager, name="Nia New")
    db.session.commit()

    response = client.post(f"/api/v1/invitations/{token}/accept",
                           json={"name": "Nia Nakamura", "password": "x" * 12, "time_zone": "UTC"})

    assert response.json["user"]["name"] == "Nia Nakamura"


def test_accepting_an_unknown_invitation_is_404(client):
    response = client.post("/api/v1/invitations/no-such-token/accept", json={"password": NEW_PASSWORD, "time_zone": "UTC"})

    assert response.status_code == 404
    assert response.json["message"]


def test_accepting_a_used_invitation_is_410(client, ctx):
    token = make_invitation(make_team().manager)
    db.session.commit()
    first = client.post(f"/api/v1/invitations/{token}/accept", json={"password": NEW_PASSWORD, "time_zone": "UTC"})
    assert first.status_code == 201

    again = ApiClient(client.application).post(
        f"/api/v1/invitations/{token}/accept", json={"password": NEW_PASSWORD, "time_zone": "UTC"})

    assert again.status_code == 410


def test_accepting_an_expired_invitation_is_410(client, ctx):
    token = make_invitation(make_team().manager)
    db.session.commit()

    with time_machine.travel(datetime.now(UTC) + timedelta(days=7, minutes=1), tick=False):
        response = client.post(f"/api/v1/invitations/{token}/accept", json={"password": NEW_PASSWORD, "time_zone": "UTC"})

    assert response.status_code == 410


def test_an_invitation_is_still_good_on_its_last_day(client, ctx):
    token = make_invitation(make_team().manager)
    db.session.commit()

    with time_machine.travel(datetime.now(UTC) + timedelta(days=6, hours=23), tick=False):
        response = client.post(f"/api/v1/invitations/{token}/accept", json={"password": NEW_PASSWORD, "time_zone": "UTC"})

    assert response.status_code == 201


def test_a_double_submitted_sign_up_creates_one_account_and_answers_409_to_the_other(app):
    clients = [ApiClient(app) for _ in range(2)]
    start = threading.Barrier(len(clients))
    responses = [None] * len(clients)

    def submit(n):
        start.wait()
        responses[n] = sign_up(clients[n])

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(response.status_code for response in responses) == [201, 409]


def test_a_rejected_accept_leaves_the_invitation_usable(client, ctx):
    token = make_invitation(make_team().manager)
    db.session.commit()

    rejected = client.post(f"/api/v1/invitations/{token}/accept", json={"password": "short", "time_zone": "UTC"})
    accepted = client.post(f"/api/v1/invitations/{token}/accept", json={"password": NEW_PASSWORD, "time_zone": "UTC"})

    assert (rejected.status_code, accepted.status_code) == (422, 201)


def test_an_invitation_as_admin_makes_an_admin(client, ctx):
    team = make_team()
    token = make_invitation(team.boss, is_admin=True)
    db.session.commit()

    response = client.post(f"/api/v1/invitations/{token}/accept", json={"password": NEW_PASSWORD, "time_zone": "UTC"})

    assert response.json["user"]["is_admin"] is True
    assert response.json["user"]["manager_id"] == team.boss.id
