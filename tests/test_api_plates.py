"""Reading a plate: status filters, ordering and cursor pagination."""
import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.factories import make_item, make_team, set_status
from webapp.extensions import db


def plate(client, person, **query):
    return client.get(f"/api/v1/people/{person.id}/plate", query_string=query)


def titles(response):
    return [item["title"] for item in response.json["items"]]


def test_plate_names_its_person(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = plate(auth.login(team.manager), team.rep)

    assert response.status_code == 200
    assert response.json == {"person": {"id": team.rep.id, "name": "Rita Rep"}, "items": [], "next_cursor": None}


def test_plate_shows_open_items_in_plate_order_by_default(client, auth, ctx):
    team = make_team()
    make_item(team.rep, title="Low", priority="low")
    make_item(team.rep, title="Normal")
    make_item(team.rep, title="High", priority="high")
    set_status(make_item(team.rep, title="Done"))
    db.session.commit()

    response = plate(auth.login(team.rep), team.rep)

    assert titles(response) == ["High", "Normal", "Low"]


def test_plate_shows_done_items_newest_first(client, auth, ctx):
    team = make_team()
    first, second, third = (make_item(team.rep, title=t) for t in ("First", "Second", "Third"))
    make_item(team.rep, title="Still open")
    start = datetime.now(UTC)
    for minutes, item in ((1, second), (2, first), (3, third)):
        with time_machine.travel(start + timedelta(minutes=minutes), tick=False):
            set_status(item)
    db.session.commit()

    response = plate(auth.login(team.rep), team.rep, status="done")

    assert titles(response) == ["Third", "First", "Second"]


def test_plate_shows_dropped_items_newest_first_with_their_reasons(client, auth, ctx):
    team = make_team()
    older, newer = make_item(team.rep, title="Older"), make_item(team.rep, title="Newer")
    start = datetime.now(UTC)
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        set_status(older, status="dropped", drop_reason="Budget cut")
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        set_status(newer, status="dropped", drop_reason="Duplicate")
    db.session.commit()

    response = plate(auth.login(team.rep), team.rep, status="dropped")

    assert [(i["title"], i["drop_reason"]) for i in response.json["items"]] == [
        ("Newer", "Duplicate"), ("Older", "Budget cut")]


def test_plate_with_status_all_shows_every_item(client, auth, ctx):
    team = make_team()
    make_item(team.rep, title="Open")
    set_status(make_item(team.rep, title="Done"))
    set_status(make_item(team.rep, title="Dropped"), status="dropped", drop_reason="Not needed")
    db.session.commit()

    response = plate(auth.login(team.rep), team.rep, status="all")

    assert sorted(titles(response)) == ["Done", "Dropped", "Open"]


@pytest.mark.parametrize("status", ["open", "done", "dropped", "all"])
def test_following_next_cursor_reads_every_item_exactly_once(client, auth, ctx, status):
    team = make_team()
    items = [make_item(team.rep, title=f"Item {n}") for n in range(7)]
    moment = datetime.now(UTC)
    with time_machine.travel(moment, tick=False):  # equal timestamps: the id must break the tie
        for item in items:
            if status == "done":
                set_status(item)
            elif status == "dropped":
                set_status(item, status="dropped", drop_reason="No longer needed")
    db.session.commit()
    client = auth.login(team.rep)
    everything = titles(plate(client, team.rep, status=status, limit=200))

    seen, cursor = [], None
    for _ in range(4):
        response = plate(client, team.rep, status=status, limit=3, **({"cursor": cursor} if cursor else {}))
        assert response.status_code == 200
        seen += titles(response)
        cursor = response.json["next_cursor"]
        if cursor is None:
            break

    assert len(everything) == 7
    assert seen == everything


def test_plate_limit_defaults_to_50(client, auth, ctx):
    team = make_team()
    for _ in range(51):
        make_item(team.rep)
    db.session.commit()

    response = plate(auth.login(team.rep), team.rep)

    assert len(response.json["items"]) == 50
    assert response.json["next_cursor"]


@pytest.mark.parametrize(("limit", "expected"), [(0, 422), (1, 200), (200, 200), (201, 422), ("ten", 422)])
def test_plate_limit_is_between_1_and_200(client, auth, ctx, limit, expected):
    team = make_team()
    db.session.commit()

    response = plate(auth.login(team.rep), team.rep, limit=limit)

    assert response.status_code == expected
    if expected == 422:
        assert "limit" in response.json["errors"]["query"]


def test_plate_rejects_an_unknown_status(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = plate(auth.login(team.rep), team.rep, status="archived")

    assert response.status_code == 422
    assert "status" in response.json["errors"]["query"]


def _cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


INVALID_CURSORS = {
    "not base64 json": ("open", "not a cursor"),
    "not base64 at all": ("open", "%%%"),
    "an object": ("open", _cursor({"a": 1})),
    "text position": ("open", _cursor(["x", 1])),
    "text id": ("open", _cursor([1.5, "x"])),
    "three values": ("open", _cursor([1.5, 2, 3])),
    "id beyond any row": ("open", _cursor([1.5, 10**30])),
    "time without zone": ("done", _cursor(["2026-03-10T10:30:00", 1])),
    "date for a time": ("done", _cursor(["2026-03-10", 1])),
    "open cursor on done list": ("done", _cursor([1024.0, 1])),
    "words for a time": ("done", _cursor(["yesterday", 1])),
    "null time": ("all", _cursor([None, 1])),
}


@pytest.mark.parametrize(("status", "cursor"), INVALID_CURSORS.values(), ids=INVALID_CURSORS.keys())
def test_plate_rejects_an_invalid_cursor_with_422(client, auth, ctx, status, cursor):
    team = make_team()
    make_item(team.rep)
    db.session.commit()

    response = plate(auth.login(team.rep), team.rep, status=status, cursor=cursor)

    assert response.status_code == 422, response.json
    assert "cursor" in response.json["errors"]["query"]


def test_plate_of_an_unknown_person_is_404(client, auth, ctx):
    team = make_team()
    db.session.commit()

    assert plate(auth.login(team.rep), type("Nobody", (), {"id": 999_999})).status_code == 404


def test_plate_rejects_unknown_query_parameters(client, auth, ctx):
    team = make_team()
    db.session.commit()

    response = plate(auth.login(team.rep), team.rep, statuses="done")  # a typo must not silently show open items

    assert response.status_code == 422
    assert "statuses" in response.json["errors"]["query"]


def test_a_query_string_means_what_each_endpoint_says_and_a_bad_one_fails_every_time(client, auth, ctx):
    # Parsed query strings are remembered per worker (webapp/api ApiParser): by schema, never across endpoints.
    team = make_team()
    for n in range(3):
        make_item(team.rep, title=f"Item {n}")
    db.session.commit()
    client = auth.login(team.rep)

    for _ in range(2):
        assert len(plate(client, team.rep, limit=2).json["items"]) == 2
        assert client.get("/api/v1/notifications?limit=2").status_code == 200
        assert client.get("/api/v1/team?limit=2").status_code == 422  # the team has no limit
        rejected = plate(client, team.rep, limit=0)
        assert rejected.status_code == 422 and "limit" in rejected.json["errors"]["query"]
