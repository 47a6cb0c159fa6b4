"""Notification settings, who is told what, when their digest is due, the inbox and push subscriptions."""
import base64
from datetime import UTC, datetime

import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.factories import make_item, make_org, make_user
from webapp.extensions import db
from webapp.models import Notification, PendingDigest, PushSubscription


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def device(endpoint="https://fcm.googleapis.com/fcm/send/abc123"):
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return {"endpoint": endpoint, "expirationTime": None, "keys": {"p256dh": b64url(point), "auth": b64url(b"0123456789abcdef")}}


@pytest.fixture
def team(ctx):
    org = make_org()
    boss = make_user(org, "Boss", time_zone="Europe/London")
    rep = make_user(org, "Rep", boss, time_zone="America/New_York")
    peer = make_user(org, "Peer", boss, time_zone="Europe/Berlin")
    db.session.commit()
    return boss, rep, peer


def kinds(user_id):
    db.session.expire_all()
    return [(n.kind, n.actor_id) for n in db.session.query(Notification).filter_by(user_id=user_id).order_by(Notification.id)]


# --- settings -------------------------------------------------------------------------------

def test_settings_default_to_working_hours_in_the_persons_zone(client, auth, team):
    _, rep, _ = team
    with time_machine.travel(datetime(2026, 11, 26, 12, 0, tzinfo=UTC), tick=False):  # Thu 07:00 in New York
        body = auth.login(rep).get("/api/v1/me/notification-settings").json
    assert body["time_zone"] == "America/New_York"
    assert body["quiet_hours"] == {"start": "18:00", "end": "08:00"}
    assert body["quiet_days"] == [6, 7]
    assert body["digest_times"] == ["09:00", "13:00", "16:30"]
    assert body["push_enabled"] is True
    assert body["local_time"] == "07:00"
    assert body["next_digest"] == "Thu 09:00"
    assert body["next_digest_at"] == "2026-11-26T14:00:00Z"


def test_patch_changes_only_what_is_sent_and_sorts_digest_times(client, auth, team):
    _, rep, _ = team
    auth.login(rep)
    response = client.patch("/api/v1/me/notification-settings", json={"digest_times": ["15:00", "08:30", "15:00"]})
    assert response.status_code == 200, response.json
    assert response.json["digest_times"] == ["08:30", "15:00"]
    assert response.json["quiet_hours"] == {"start": "18:00", "end": "08:00"}
    again = client.get("/api/v1/me/notification-settings").json
    assert again["digest_times"] == ["08:30", "15:00"]


@pytest.mark.parametrize("body, field", [
    ({"quiet_hours": {"start": "25:00", "end": "08:00"}}, "quiet_hours"),
    ({"quiet_hours": {"start": "18:00"}}, "quiet_hours"),
    ({"quiet_days": [0]}, "quiet_days"),
    ({"quiet_days": ["mon"]}, "quiet_days"),
    ({"digest_times": []}, "digest_times"),
    ({"digest_times": ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00"]}, "digest_times"),
    ({"digest_times": ["9am"]}, "digest_times"),
    ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
    ({"push_enabled": "sometimes"}, "push_enabled"),
])
def test_invalid_settings_answer_422_naming_the_field(client, auth, team, body, field):
    _, rep, _ = team
    response = auth.login(rep).patch("/api/v1/me/notification-settings", json=body)
    assert response.status_code == 422
    assert field in response.json["errors"]["json"]
    assert response.json["message"]


# --- who is told ----------------------------------------------------------------------------

def test_item_added_by_manager_tells_the_owner_but_own_items_tell_nobody(client, auth, team):
    boss, rep, _ = team
    auth.login(boss).post("/api/v1/items", json={"owner_id": rep.id, "title": "Update pipeline"})
    auth.login(rep).post("/api/v1/items", json={"owner_id": rep.id, "title": "Call Siemens"})
    assert kinds(rep.id) == [("added", boss.id)]
    assert kinds(boss.id) == []


def test_owner_completing_a_managers_item_tells_the_manager(client, auth, team):
    boss, rep, _ = team
    item = make_item(rep, boss, "Forecast")
    db.session.commit()
    auth.login(rep).patch(f"/api/v1/items/{item.id}", json={"status": "done"}, headers={"If-Match": '"1"'})
    assert kinds(boss.id) == [("completed", rep.id)]
    assert kinds(rep.id) == [("added", boss.id)]  # from the manager adding it, not from completing it


def test_due_date_and_priority_changes_tell_owner_and_creator(client, auth, team):
    boss, rep, _ = team
    item = make_item(rep, rep, "Expenses")
    db.session.commit()
    auth.login(boss).patch(f"/api/v1/items/{item.id}", json={"due_on": "2026-12-01"}, headers={"If-Match": '"1"'})
    auth.login(boss).patch(f"/api/v1/items/{item.id}", json={"priority": "high"}, headers={"If-Match": '"2"'})
    assert kinds(rep.id) == [("due_changed", boss.id), ("priority_changed", boss.id)]


def test_dropping_and_reopening_tell_the_creator_but_not_the_owner_who_did_it(client, auth, team):
    boss, rep, _ = team
    item = make_item(rep, boss, "Forecast")
    db.session.commit()
    owner = auth.login(rep)
    owner.patch(f"/api/v1/items/{item.id}", json={"status": "dropped", "drop_reason": "Finance cancelled it"},
                headers={"If-Match": '"1"'})
    owner.patch(f"/api/v1/items/{item.id}", json={"status": "open"}, headers={"If-Match": '"2"'})
    assert kinds(boss.id) == [("dropped", rep.id), ("reopened", rep.id)]
    assert kinds(rep.id) == [("added", boss.id)]


def test_the_owner_changing_due_date_and_priority_tells_the_creator(client, auth, team):
    boss, rep, _ = team
    item = make_item(rep, boss, "Forecast")
    db.session.commit()
    owner = auth.login(rep)
    owner.patch(f"/api/v1/items/{item.id}", json={"due_on": "2026-12-04"}, headers={"If-Match": '"1"'})
    owner.patch(f"/api/v1/items/{item.id}", json={"priority": "low"}, headers={"If-Match": '"2"'})
    assert kinds(boss.id) == [("due_changed", rep.id), ("priority_changed", rep.id)]

def test_marking_urgent_later_tells_the_owner_urgently(client, auth, team):
    boss, rep, _ = team
    item = make_item(rep, rep, "Quote")
    db.session.commit()
    auth.login(boss).patch(f"/api/v1/items/{item.id}", json={"urgent": True}, headers={"If-Match": '"1"'})
    db.session.expire_all()
    note = db.session.query(Notification).filter_by(user_id=rep.id).one()
    assert (note.kind, note.urgent) == ("urgent", True)


def test_only_someone_who_may_add_may_mark_urgent(client, auth, team):
    boss, rep, peer = team
    item = make_item(rep, boss, "Forecast")
    other_manager = make_user(rep.organization, "Other manager")
    rep.manager_id = other_manager.id  # the rep moved teams: the boss still sees the item they created, may not add
    db.session.commit()
    response = auth.login(boss).patch(f"/api/v1/items/{item.id}", json={"urgent": True}, headers={"If-Match": '"1"'})
    assert response.status_code == 403
    assert auth.login(other_manager).patch(f"/api/v1/items/{item.id}", json={"urgent": True},
                                           headers={"If-Match": '"1"'}).status_code == 200


def test_reassigning_tells_the_new_owner(client, auth, team):
    boss, rep, peer = team
    item = make_item(rep, boss, "Visit Bosch")
    db.session.commit()
    auth.login(boss).patch(f"/api/v1/items/{item.id}", json={"owner_id": peer.id}, headers={"If-Match": '"1"'})
    assert kinds(peer.id) == [("reassigned", boss.id)]


# --- when -----------------------------------------------------------------------------------

def pending(user_id):
    db.session.expire_all()
    return db.session.get(PendingDigest, user_id)


def test_evening_event_waits_for_the_next_mornings_digest_in_the_owners_zone(client, auth, team):
    boss, rep, _ = team
    with time_machine.travel(datetime(2026, 11, 25, 23, 30, tzinfo=UTC), tick=False):  # Wed 18:30 New York: quiet
        auth.login(boss).post("/api/v1/items", json={"owner_id": rep.id, "title": "Forecast"})
    assert pending(rep.id).due_at == datetime(2026, 11, 26, 14, 0, tzinfo=UTC)  # Thu 09:00 New York


def test_urgent_item_is_due_at_once_in_working_hours(client, auth, team):
    boss, rep, _ = team
    at = datetime(2026, 11, 25, 15, 10, tzinfo=UTC)  # Wed 10:10 New York
    with time_machine.travel(at, tick=False):
        auth.login(boss).post("/api/v1/items", json={"owner_id": rep.id, "title": "Call the CFO", "urgent": True})
    due = pending(rep.id)
    assert due.due_at == at and due.urgent


def test_friday_evening_urgent_item_waits_for_monday_morning(client, auth, team):
    boss, rep, _ = team
    with time_machine.travel(datetime(2026, 11, 27, 23, 30, tzinfo=UTC), tick=False):  # Fri 18:30 New York
        auth.login(boss).post("/api/v1/items", json={"owner_id": rep.id, "title": "Call the CFO", "urgent": True})
    assert pending(rep.id).due_at == datetime(2026, 11, 30, 13, 0, tzinfo=UTC)  # Mon 08:00 New York


def test_moving_to_another_zone_recomputes_the_pending_digest(client, auth, team):
    boss, rep, _ = team
    with time_machine.travel(datetime(2026, 11, 25, 23, 30, tzinfo=UTC), tick=False):
        auth.login(boss).post("/api/v1/items", json={"owner_id": rep.id, "title": "Forecast"})
        auth.login(rep).patch("/api/v1/me/notification-settings", json={"time_zone": "Asia/Tokyo"})
    # 08:30 Thu in Tokyo is the moment of the change; the next slot there is Thu 09:00 JST.
    assert pending(rep.id).due_at == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)


def test_changing_ones_time_zone_in_the_profile_recomputes_the_pending_digest(client, auth, team):
    boss, rep, _ = team
    with time_machine.travel(datetime(2026, 11, 25, 23, 30, tzinfo=UTC), tick=False):  # Wed 18:30 New York
        auth.login(boss).post("/api/v1/items", json={"owner_id": rep.id, "title": "Forecast"})
        assert pending(rep.id).due_at == datetime(2026, 11, 26, 14, 0, tzinfo=UTC)  # Thu 09:00 New York
        assert auth.login(rep).patch("/api/v1/me", json={"time_zone": "Asia/Tokyo"}).status_code == 200
    assert pending(rep.id).due_at == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)  # Thu 09:00 Tokyo

def test_push_disabled_keeps_the_inbox_but_schedules_no_push(client, auth, team):
    boss, rep, _ = team
    auth.login(rep).patch("/api/v1/me/notification-settings", json={"push_enabled": False})
    auth.login(boss).post("/api/v1/items", json={"owner_id": rep.id, "title": "Forecast"})
    assert pending(rep.id) is None
    assert kinds(rep.id) == [("added", boss.id)]


# --- inbox ----------------------------------------------------------------------------------

def test_inbox_lists_newest_first_with_unread_count_and_pages(client, auth, team):
    boss, rep, _ = team
    auth.login(boss)
    for n in range(3):
        client.post("/api/v1/items", json={"owner_id": rep.id, "title": f"Task {n}"})
    inbox = auth.login(rep).get("/api/v1/notifications?limit=2").json
    assert [n["item"]["title"] for n in inbox["items"]] == ["Task 2", "Task 1"]
    assert inbox["unread"] == 3
    assert inbox["items"][0]["actor"]["name"] == "Boss" and inbox["items"][0]["read"] is False
    rest = client.get(f"/api/v1/notifications?limit=2&cursor={inbox['next_cursor']}").json
    assert [n["item"]["title"] for n in rest["items"]] == ["Task 0"] and rest["next_cursor"] is None


def test_marking_read_by_ids_and_all(client, auth, team):
    boss, rep, _ = team
    auth.login(boss)
    for n in range(3):
        client.post("/api/v1/items", json={"owner_id": rep.id, "title": f"Task {n}"})
    auth.login(rep)
    newest = client.get("/api/v1/notifications").json["items"][0]["id"]
    assert client.post("/api/v1/notifications/read", json={"ids": [newest]}).json == {"unread": 2}
    assert client.post("/api/v1/notifications/read", json={"all": True}).json == {"unread": 0}
    assert client.post("/api/v1/notifications/read", json={}).status_code == 422


def test_nobody_reads_or_marks_another_persons_inbox(client, auth, team):
    boss, rep, peer = team
    auth.login(boss).post("/api/v1/items", json={"owner_id": rep.id, "title": "Forecast"})
    note_id = auth.login(rep).get("/api/v1/notifications").json["items"][0]["id"]
    assert auth.login(peer).get("/api/v1/notifications").json["items"] == []
    assert client.post("/api/v1/notifications/read", json={"ids": [note_id]}).json == {"unread": 0}
    assert auth.login(rep).get("/api/v1/notifications").json["unread"] == 1


# --- subscriptions --------------------------------------------------------------------------

def test_subscribing_twice_answers_201_then_200_without_a_duplicate(client, auth, team):
    _, rep, _ = team
    auth.login(rep)
    subscription = device()
    assert client.post("/api/v1/push/subscriptions", json=subscription).status_code == 201
    assert client.post("/api/v1/push/subscriptions", json=subscription).status_code == 200
    db.session.expire_all()
    assert db.session.query(PushSubscription).count() == 1
    assert client.delete("/api/v1/push/subscriptions", json={"endpoint": subscription["endpoint"]}).status_code == 204
    assert db.session.query(PushSubscription).count() == 0


def test_each_person_lists_only_their_own_devices_and_a_device_that_moved_leaves_the_old_list(client, auth, team):
    boss, rep, _ = team
    phone, laptop = device("https://fcm.googleapis.com/fcm/send/phone"), device("https://fcm.googleapis.com/fcm/send/laptop")
    auth.login(rep)
    client.post("/api/v1/push/subscriptions", json=phone)
    client.post("/api/v1/push/subscriptions", json=laptop)
    assert sorted(s["endpoint"] for s in client.get("/api/v1/push/subscriptions").json) == [
        laptop["endpoint"], phone["endpoint"]]

    auth.login(boss).post("/api/v1/push/subscriptions", json=laptop)  # the boss signs in on the rep's laptop

    assert [s["endpoint"] for s in client.get("/api/v1/push/subscriptions").json] == [laptop["endpoint"]]
    assert [s["endpoint"] for s in auth.login(rep).get("/api/v1/push/subscriptions").json] == [phone["endpoint"]]

@pytest.mark.parametrize("endpoint", [
    "https://evil.example/push/1",
    "http://fcm.googleapis.com/fcm/send/1",  # right host, wrong scheme
    "https://fcm.googleapis.com.evil.example/x",
    "https://fcm.googleapis.com@evil.example/x",
    "https://push.services.mozilla.com.evil.example/x",
])
def test_push_services_outside_the_allowed_origins_are_refused(client, auth, team, endpoint):
    _, rep, _ = team
    response = auth.login(rep).post("/api/v1/push/subscriptions", json=device(endpoint))
    assert response.status_code == 422 and "endpoint" in response.json["errors"]["json"]


def test_subdomain_wildcard_origin_is_allowed(client, auth, team):
    _, rep, _ = team
    response = auth.login(rep).post("/api/v1/push/subscriptions",
                                    json=device("https://updates.push.services.mozilla.com/wpush/v2/abc"))
    assert response.status_code == 201


@pytest.mark.parametrize("keys, field", [
    ({"p256dh": b64url(b"\x04" + b"\x01" * 64), "auth": b64url(b"0123456789abcdef")}, "keys.p256dh"),
    ({"p256dh": "not base64!", "auth": b64url(b"0123456789abcdef")}, "keys.p256dh"),
    (None, "keys.auth"),
])
def test_subscription_keys_are_validated(client, auth, team, keys, field):
    _, rep, _ = team
    subscription = device()
    subscription["keys"] = keys or {**subscription["keys"], "auth": b64url(b"short")}
    response = auth.login(rep).post("/api/v1/push/subscriptions", json=subscription)
    assert response.status_code == 422 and field in response.json["errors"]["json"]


def test_public_key_is_a_p256_point_generated_once_into_instance(client, auth, team, app):
    _, rep, _ = team
    auth.login(rep)
    first = client.get("/api/v1/push/public-key").json["public_key"]
    raw = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4))
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)  # raises if not a P-256 point
    assert client.get("/api/v1/push/public-key").json["public_key"] == first
    app.extensions.pop("plate_vapid")  # a restarted server reads the same key back from instance/
    assert client.get("/api/v1/push/public-key").json["public_key"] == first


def test_configured_vapid_key_is_used(client, auth, team, app):
    _, rep, _ = team
    private = ec.generate_private_key(ec.SECP256R1())
    app.config["PLATE_VAPID_PRIVATE_KEY"] = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    expected = b64url(private.public_key().public_bytes(serialization.Encoding.X962,
                                                        serialization.PublicFormat.UncompressedPoint))
    assert auth.login(rep).get("/api/v1/push/public-key").json == {"public_key": expected}


def test_configured_vapid_key_may_be_the_raw_base64url_private_key(client, auth, team, app):
    _, rep, _ = team
    private = ec.generate_private_key(ec.SECP256R1())
    app.config["PLATE_VAPID_PRIVATE_KEY"] = b64url(private.private_numbers().private_value.to_bytes(32, "big"))
    expected = b64url(private.public_key().public_bytes(serialization.Encoding.X962,
                                                        serialization.PublicFormat.UncompressedPoint))
    assert auth.login(rep).get("/api/v1/push/public-key").json == {"public_key": expected}
