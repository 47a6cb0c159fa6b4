"""Idempotency-Key on POST /items: a retried create answers as the first did and creates nothing."""
import threading
from datetime import UTC, datetime, timedelta

import time_machine

from tests.conftest import Auth


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
