"""Idempotency-Key on POST /items and POST /items/<id>/move: a retry answers as the first did and does nothing again."""
import hashlib
import threading
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from tests.conftest import Auth
from webapp.extensions import db
from webapp.models import IdempotentRequest


def create(client, owner, key, title="Call Siemens", **body):
    return client.post("/api/v1/items", json={"owner_id": owner.id, "title": title, **body},
                       headers={"Idempotency-Key": key})


def open_titles(client, owner):
    return [item["title"] for item in client.get(f"/api/v1/people/{owner.id}/plate").json["items"]]


def test_repeating_a_create_returns_the_original_response_and_creates_nothing(client, auth, team):
    client = auth.login(team.rep)
    first = create(client, team.rep, "key-1")

    again = create(client, team.rep, "key-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json == first.json
    assert (again.headers["Location"], again.headers["ETag"]) == (first.headers["Location"], first.headers["ETag"])
    assert open_titles(client, team.rep) == ["Call Siemens"]


def test_the_same_key_with_a_different_body_is_422(client, auth, team):
    client = auth.login(team.rep)
    create(client, team.rep, "key-1", title="Call Siemens")

    response = create(client, team.rep, "key-1", title="Call Bosch")

    assert response.status_code == 422
    assert "Idempotency-Key" in response.json["errors"]["headers"]
    assert open_titles(client, team.rep) == ["Call Siemens"]


def test_a_failed_attempt_is_not_remembered(client, auth, team):
    client = auth.login(team.rep)
    denied = create(client, team.peer, "key-1")  # Rita may not add to her peer's plate

    retried = create(client, team.rep, "key-1")

    assert denied.status_code == 403
    assert retried.status_code == 201
    assert open_titles(client, team.rep) == ["Call Siemens"]


def test_an_invalid_attempt_is_not_remembered(client, auth, team):
    client = auth.login(team.rep)
    assert create(client, team.rep, "key-1", title="").status_code == 422

    assert create(client, team.rep, "key-1").status_code == 201


def test_keys_are_per_user(app, client, auth, team):
    rita = auth.login(team.rep)
    max_ = Auth(app.test_client()).login(team.manager)

    by_rita = create(rita, team.rep, "shared-key")
    by_max = create(max_, team.rep, "shared-key")

    assert (by_rita.status_code, by_max.status_code) == (201, 201)
    assert by_rita.json["id"] != by_max.json["id"]
    assert by_max.json["created_by"]["id"] == team.manager.id
    assert len(open_titles(rita, team.rep)) == 2


def test_a_key_may_be_reused_after_24_hours(client, auth, team):
    client = auth.login(team.rep)
    first = create(client, team.rep, "key-1", title="Monday call")

    with time_machine.travel(datetime.now(UTC) + timedelta(hours=24, minutes=1), tick=False):
        later = create(client, team.rep, "key-1", title="Tuesday call")
        titles = open_titles(client, team.rep)

    assert later.status_code == 201
    assert later.json["id"] != first.json["id"]
    assert titles == ["Monday call", "Tuesday call"]


def test_a_key_is_still_remembered_just_before_24_hours(client, auth, team):
    client = auth.login(team.rep)
    first = create(client, team.rep, "key-1")

    with time_machine.travel(datetime.now(UTC) + timedelta(hours=23, minutes=59), tick=False):
        again = create(client, team.rep, "key-1")

    assert again.json["id"] == first.json["id"]


def test_a_key_longer_than_255_characters_is_422(client, auth, team):
    response = create(auth.login(team.rep), team.rep, "k" * 256)

    assert response.status_code == 422


def test_without_a_key_every_request_creates(client, auth, team):
    client = auth.login(team.rep)

    client.post("/api/v1/items", json={"owner_id": team.rep.id, "title": "Same"})
    client.post("/api/v1/items", json={"owner_id": team.rep.id, "title": "Same"})

    assert open_titles(client, team.rep) == ["Same", "Same"]


def test_concurrent_repeats_create_one_item(app, client, auth, team):
    clients = [Auth(app.test_client()).login(team.rep) for _ in range(6)]
    start = threading.Barrier(len(clients))
    responses = [None] * len(clients)

    def send(n):
        start.wait()
        responses[n] = create(clients[n], team.rep, "tapped-twice")

    threads = [threading.Thread(target=send, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert [r.status_code for r in responses] == [201] * len(clients)
    assert len({r.json["id"] for r in responses}) == 1
    assert open_titles(auth.login(team.rep), team.rep) == ["Call Siemens"]


def test_the_key_is_stored_only_as_its_sha256(client, auth, team):
    client = auth.login(team.rep)
    key = "3f1c2a9e-4b7d-4e0a-9c61-only-once"
    first = create(client, team.rep, key)

    stored = [dict(row._mapping) for row in db.session.execute(select(IdempotentRequest.__table__))]
    again = create(client, team.rep, key)

    assert len(stored) == 1
    assert not any(isinstance(value, str) and key in value for value in stored[0].values())
    assert stored[0]["key_hash"] == hashlib.sha256(key.encode()).hexdigest()
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == first.json


def test_the_same_key_on_another_operation_is_422(client, auth, team):
    client = auth.login(team.rep)
    first = create(client, team.rep, "key-1", title="First")
    second = create(client, team.rep, "key-2", title="Second")

    response = move(client, second.json["id"], "key-1", before_id=first.json["id"])

    assert response.status_code == 422
    assert "Idempotency-Key" in response.json["errors"]["headers"]
    assert open_titles(client, team.rep) == ["First", "Second"]


# --- moves -----------------------------------------------------------------------------------

def move(client, item_id, key, **body):
    return client.post(f"/api/v1/items/{item_id}/move", json=body, headers={"Idempotency-Key": key})


def three_items(client, owner):
    return [create(client, owner, f"setup-{title}", title=title).json for title in ("A", "B", "C")]


def moves_of(client, item_id):
    return [event for event in client.get(f"/api/v1/items/{item_id}/history").json if event["action"] == "moved"]


def test_repeating_a_move_returns_the_original_response_and_moves_nothing_again(client, auth, team):
    client = auth.login(team.rep)
    a, b, c = three_items(client, team.rep)
    first = move(client, c["id"], "move-1", before_id=a["id"])
    client.post(f"/api/v1/items/{c['id']}/move", json={"after_id": b["id"]})  # moved on since, without a key

    again = move(client, c["id"], "move-1", before_id=a["id"])  # the first move's answer was lost: retried

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json == first.json and again.headers["ETag"] == first.headers["ETag"] == '"2"'
    assert again.headers["Idempotent-Replayed"] == "true"
    assert open_titles(client, team.rep) == ["A", "B", "C"]
    assert client.get(f"/api/v1/items/{c['id']}").json["version"] == 3
    assert len(moves_of(client, c["id"])) == 2


def test_the_same_move_key_with_a_different_body_is_422_and_moves_nothing(client, auth, team):
    client = auth.login(team.rep)
    a, _, c = three_items(client, team.rep)
    move(client, c["id"], "move-1", before_id=a["id"])

    response = move(client, c["id"], "move-1", after_id=a["id"])

    assert response.status_code == 422
    assert "Idempotency-Key" in response.json["errors"]["headers"]
    assert open_titles(client, team.rep) == ["C", "A", "B"]
    assert len(moves_of(client, c["id"])) == 1


def test_a_failed_move_is_not_remembered(client, auth, team):
    client = auth.login(team.rep)
    a, _, c = three_items(client, team.rep)
    client.patch(f"/api/v1/items/{c['id']}", json={"status": "done"}, headers={"If-Match": '"1"'})
    refused = move(client, c["id"], "move-1", before_id=a["id"])  # only open items move
    client.patch(f"/api/v1/items/{c['id']}", json={"status": "open"}, headers={"If-Match": '"2"'})

    retried = move(client, c["id"], "move-1", before_id=a["id"])

    assert refused.status_code == 422
    assert retried.status_code == 200 and "Idempotent-Replayed" not in retried.headers
    assert open_titles(client, team.rep) == ["C", "A", "B"]


def test_move_keys_are_per_user(app, client, auth, team):
    rita = auth.login(team.rep)
    a, _, c = three_items(rita, team.rep)
    max_ = Auth(app.test_client()).login(team.manager)

    by_rita = move(rita, c["id"], "shared-key", before_id=a["id"])
    by_max = move(max_, a["id"], "shared-key", before_id=c["id"])

    assert (by_rita.status_code, by_max.status_code) == (200, 200)
    assert "Idempotent-Replayed" not in by_max.headers
    assert open_titles(rita, team.rep) == ["A", "C", "B"]


def test_the_move_documents_the_header_like_the_creates(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]

    for path in ("/api/v1/items", "/api/v1/items/{item_id}/move", "/api/v1/team-requests"):
        headers = [p for p in paths[path]["post"].get("parameters", []) if p["in"] == "header"]
        assert [p["name"] for p in headers] == ["Idempotency-Key"], path
