"""The accept page can show an invitation before any account exists."""
import time_machine

from tests.factories import make_org, make_user
from webapp.extensions import db


def invite(client, auth, inviter, email="new@example.test"):
    return auth.login(inviter).post("/api/v1/invitations", json={"email": email, "name": "Noor"}).json


def test_anyone_with_the_token_sees_who_invited_them(client, auth, ctx):
    boss = make_user(make_org("Northwind"), "Dana")
    db.session.commit()
    token = invite(client, auth, boss)["token"]
    auth.logout()
    preview = client.get(f"/api/v1/invitations/{token}")
    assert preview.status_code == 200
    assert preview.json["email"] == "new@example.test" and preview.json["name"] == "Noor"
    assert preview.json["organization"]["name"] == "Northwind"
    assert preview.json["invited_by"] == {"id": boss.id, "name": "Dana"}


def test_unknown_used_and_expired_invitations_say_so_before_the_form(client, auth, ctx):
    boss = make_user(make_org())
    db.session.commit()
    assert client.get("/api/v1/invitations/not-a-token").status_code == 404
    used = invite(client, auth, boss)["token"]
    auth.logout()
    client.post(f"/api/v1/invitations/{used}/accept", json={"password": "a long password", "time_zone": "Europe/Paris"})
    assert client.get(f"/api/v1/invitations/{used}").status_code == 410
    with time_machine.travel("2026-01-01T00:00Z", tick=False):
        expired = invite(client, auth, boss, "later@example.test")
    with time_machine.travel("2026-01-08T00:00:01Z", tick=False):
        assert client.get(f"/api/v1/invitations/{expired['token']}").status_code == 410


def test_people_rows_count_open_high_priority_items(client, auth, ctx):
    from tests.factories import make_item

    boss = make_user(make_org())
    rep = make_user(boss.organization, manager=boss)
    make_item(rep, priority="high")
    make_item(rep, priority="high")
    make_item(rep, priority="low")
    db.session.commit()
    rows = {row["id"]: row for row in auth.login(boss).get("/api/v1/people").json}
    assert (rows[rep.id]["open_items"], rows[rep.id]["high_items"]) == (3, 2)
    as_rep = {row["id"]: row for row in auth.login(rep).get("/api/v1/people").json}
    assert as_rep[rep.id]["high_items"] == 2 and as_rep[boss.id]["high_items"] is None
