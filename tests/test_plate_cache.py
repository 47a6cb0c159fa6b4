"""Plates are served from a cache of renderings; every change a reader could notice must show at once."""
from datetime import date

import time_machine

from tests.factories import make_item, make_org, make_user
from webapp.extensions import db


def _titles(client, person_id, status="open"):
    return [(i["title"], i["created_by"]["name"]) for i in client.get(f"/api/v1/people/{person_id}/plate?status={status}").json["items"]]


def test_plate_read_again_after_each_kind_of_change_shows_it(client, auth, ctx):
    org = make_org()
    boss = make_user(org, "Boss")
    rep = make_user(org, "Rep", boss)
    first = make_item(rep, boss, "Call Siemens")
    db.session.commit()
    auth.login(boss)
    assert _titles(client, rep.id) == [("Call Siemens", "Boss")]

    added = client.post("/api/v1/items", json={"owner_id": rep.id, "title": "Quote Bosch", "priority": "high"}).json
    assert _titles(client, rep.id) == [("Quote Bosch", "Boss"), ("Call Siemens", "Boss")]
    client.post(f"/api/v1/items/{first.id}/move", json={"before_id": added["id"]})
    assert _titles(client, rep.id)[0] == ("Call Siemens", "Boss")
    client.patch(f"/api/v1/items/{first.id}", json={"status": "done"}, headers={"If-Match": '"2"'})
    assert _titles(client, rep.id) == [("Quote Bosch", "Boss")]
    assert _titles(client, rep.id, "done") == [("Call Siemens", "Boss")]
    client.patch("/api/v1/me", json={"name": "Dana"})
    assert _titles(client, rep.id) == [("Quote Bosch", "Dana")]


def test_overdue_flips_at_the_owners_midnight_even_when_cached(client, auth, ctx):
    org = make_org()
    rep = make_user(org, "Rep", time_zone="America/New_York")
    with time_machine.travel("2026-11-25 12:00Z", tick=False):
        make_item(rep, title="Expenses", due_on=date(2026, 11, 25))
        db.session.commit()
        auth.login(rep)
        assert client.get(f"/api/v1/people/{rep.id}/plate").json["items"][0]["overdue"] is False
    with time_machine.travel("2026-11-26 04:59Z", tick=False):  # 23:59 in New York
        assert client.get(f"/api/v1/people/{rep.id}/plate").json["items"][0]["overdue"] is False
    with time_machine.travel("2026-11-26 05:00Z", tick=False):  # midnight in New York
        assert client.get(f"/api/v1/people/{rep.id}/plate").json["items"][0]["overdue"] is True


def test_unchanged_plate_answers_304_to_if_none_match(client, auth, ctx):
    org = make_org()
    rep = make_user(org)
    make_item(rep)
    db.session.commit()
    auth.login(rep)
    first = client.get(f"/api/v1/people/{rep.id}/plate")
    again = client.get(f"/api/v1/people/{rep.id}/plate", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    make_item(rep)
    db.session.commit()
    changed = client.get(f"/api/v1/people/{rep.id}/plate", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and len(changed.json["items"]) == 2
