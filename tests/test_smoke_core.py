"""The first end-to-end path: sign up, add an item, read the plate."""
from tests.factories import PASSWORD, make_item, make_org, make_user
from webapp.extensions import db


def test_sign_up_add_item_and_read_plate(client):
    response = client.post("/api/v1/organizations", json={
        "name": "Acme", "admin": {"name": "Ana", "email": "Ana@Example.test", "password": "a long password", "time_zone": "Europe/Lisbon"},
    })
    assert response.status_code == 201, response.json
    client.csrf_token = response.json["csrf_token"]
    me = response.json["user"]
    assert me["email"] == "ana@example.test" and me["is_admin"]

    created = client.post("/api/v1/items", json={"owner_id": me["id"], "title": "Update pipeline", "due_on": "2026-12-01"})
    assert created.status_code == 201, created.json
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"].endswith(f"/api/v1/items/{created.json['id']}")

    plate = client.get(f"/api/v1/people/{me['id']}/plate")
    assert plate.status_code == 200
    assert [i["title"] for i in plate.json["items"]] == ["Update pipeline"]
    assert plate.json["items"][0]["created_at"].endswith("Z")


def test_manager_sees_report_plate_but_peer_gets_403(client, auth, ctx):
    org = make_org()
    boss = make_user(org, "Boss")
    rep, peer = make_user(org, "Rep", boss), make_user(org, "Peer", boss)
    make_item(rep, title="Call Siemens")
    db.session.commit()
    assert auth.login(boss).get(f"/api/v1/people/{rep.id}/plate").status_code == 200
    denied = auth.login(peer).get(f"/api/v1/people/{rep.id}/plate")
    assert denied.status_code == 403
    assert denied.json["message"]


def test_login_with_password(client, ctx):
    org = make_org()
    user = make_user(org, email="rep@example.test")
    db.session.commit()
    assert client.post("/api/v1/session", json={"email": "REP@example.test", "password": PASSWORD}).status_code == 200
    assert client.post("/api/v1/session", json={"email": "rep@example.test", "password": "nope"}).status_code == 401
    assert user.id


def test_async_functions_still_go_through_flasks_ensure_sync(app, monkeypatch):
    """Plate answers "is it async?" itself only for plain functions; everything else is Flask's to wrap."""
    from functools import partial

    from flask import Flask

    handed_on = []
    monkeypatch.setattr(Flask, "ensure_sync", lambda self, func: handed_on.append(func) or "wrapped")

    def plain():
        return "ok"

    async def coroutine():
        return "ok"

    assert app.ensure_sync(plain) is plain
    assert app.ensure_sync(coroutine) == "wrapped"
    assert app.ensure_sync(partial(coroutine)) == "wrapped"
    assert len(handed_on) == 2
