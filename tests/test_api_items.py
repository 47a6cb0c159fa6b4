"""Items: adding and placing them, reading, editing with If-Match, completing, dropping, moving and history."""
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from tests.factories import make_item, make_org, make_user, set_status
from webapp.extensions import db
from webapp.models import Item
from webapp.services import items

ITEM_KEYS = {"id", "title", "notes", "owner", "created_by", "priority", "urgent", "due_on", "overdue", "status",
             "drop_reason", "position", "version", "created_at", "updated_at", "completed_at", "dropped_at"}
# 10:30 UTC on 10 March: already 11 March on Kiritimati (UTC+14), still 9 March in Pago Pago (UTC-11).
INSTANT = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)


def plate_titles(client, person):
    return [item["title"] for item in client.get(f"/api/v1/people/{person.id}/plate?limit=200").json["items"]]


def patch(client, item, etag='"1"', **changes):
    return client.patch(f"/api/v1/items/{item.id}", json=changes, headers={"If-Match": etag})


# --- POST /items ----------------------------------------------------------------------------------

def test_new_item_answers_201_with_location_etag_and_the_item(client, auth, team):
    with time_machine.travel(INSTANT, tick=False):
        response = auth.login(team.manager).post("/api/v1/items", json={
            "owner_id": team.rep.id, "title": "  Update the Siemens pipeline ", "notes": "Before Friday's call",
            "priority": "high", "urgent": True, "due_on": "2026-03-12",
        })

    assert response.status_code == 201
    item = response.json
    assert response.headers["Location"].endswith(f"/api/v1/items/{item['id']}")
    assert response.headers["ETag"] == '"1"'
    assert set(item) == ITEM_KEYS
    assert item == {
        "id": item["id"], "title": "Update the Siemens pipeline", "notes": "Before Friday's call",
        "owner": {"id": team.rep.id, "name": "Rita Rep"}, "created_by": {"id": team.manager.id, "name": "Max Manager"},
        "priority": "high", "urgent": True, "due_on": "2026-03-12", "overdue": False, "status": "open",
        "drop_reason": None, "position": item["position"], "version": 1,
        "created_at": "2026-03-10T10:30:00Z", "updated_at": "2026-03-10T10:30:00Z",
        "completed_at": None, "dropped_at": None,
    }


def test_new_item_defaults(client, auth, team):
    response = auth.login(team.rep).post("/api/v1/items", json={"owner_id": team.rep.id, "title": "Expenses"})

    item = response.json
    assert (item["notes"], item["priority"], item["urgent"], item["due_on"], item["overdue"]) == (
        "", "normal", False, None, False)


def test_location_of_a_new_item_serves_it(client, auth, team):
    client = auth.login(team.rep)
    created = client.post("/api/v1/items", json={"owner_id": team.rep.id, "title": "Expenses"})

    assert client.get(created.headers["Location"]).json == created.json


@pytest.mark.parametrize(("priority", "expected"), [
    ("high", ["High 1", "High 2", "New", "Normal 1", "Low 1"]),
    ("normal", ["High 1", "High 2", "Normal 1", "New", "Low 1"]),
    ("low", ["High 1", "High 2", "Normal 1", "Low 1", "New"]),
])
def test_new_item_goes_after_the_last_open_item_of_same_or_higher_priority(client, auth, team, priority, expected):
    for title, prio in (("High 1", "high"), ("Normal 1", "normal"), ("Low 1", "low"), ("High 2", "high")):
        make_item(team.rep, title=title, priority=prio)
    set_status(make_item(team.rep, title="Done high", priority="high"))
    db.session.commit()
    client = auth.login(team.rep)

    client.post("/api/v1/items", json={"owner_id": team.rep.id, "title": "New", "priority": priority})

    assert plate_titles(client, team.rep) == expected


def test_new_item_goes_to_the_top_when_nothing_open_is_as_important(client, auth, team):
    make_item(team.rep, title="Low 1", priority="low")
    make_item(team.rep, title="Normal 1")
    db.session.commit()
    client = auth.login(team.rep)

    client.post("/api/v1/items", json={"owner_id": team.rep.id, "title": "New", "priority": "high"})

    assert plate_titles(client, team.rep) == ["New", "Normal 1", "Low 1"]


def test_default_placement_keeps_working_after_many_inserts_at_the_same_spot(client, auth, team):
    make_item(team.rep, title="High", priority="high")
    make_item(team.rep, title="Low", priority="low")
    for n in range(60):  # halves the same gap 60 times: more than a float can split
        make_item(team.rep, title=f"Normal {n}")
    db.session.commit()

    titles = plate_titles(auth.login(team.rep), team.rep)

    assert titles == ["High", *(f"Normal {n}" for n in range(60)), "Low"]


def test_new_item_placed_before_another(client, auth, team):
    make_item(team.rep, title="First")
    second = make_item(team.rep, title="Second")
    db.session.commit()
    client = auth.login(team.rep)

    response = client.post("/api/v1/items", json={"owner_id": team.rep.id, "title": "New", "before_id": second.id})

    assert response.status_code == 201
    assert plate_titles(client, team.rep) == ["First", "New", "Second"]


def test_new_item_placed_after_another(client, auth, team):
    first = make_item(team.rep, title="First")
    make_item(team.rep, title="Second")
    db.session.commit()
    client = auth.login(team.rep)

    client.post("/api/v1/items", json={"owner_id": team.rep.id, "title": "New", "after_id": first.id})

    assert plate_titles(client, team.rep) == ["First", "New", "Second"]


def test_new_item_cannot_be_placed_both_before_and_after(client, auth, team):
    first, second = make_item(team.rep), make_item(team.rep)
    db.session.commit()

    response = auth.login(team.rep).post("/api/v1/items", json={
        "owner_id": team.rep.id, "title": "New", "before_id": second.id, "after_id": first.id})

    assert response.status_code == 422


def test_new_item_cannot_be_placed_next_to_an_item_on_another_plate(client, auth, team):
    elsewhere = make_item(team.junior)
    db.session.commit()

    response = auth.login(team.rep).post(
        "/api/v1/items", json={"owner_id": team.rep.id, "title": "New", "before_id": elsewhere.id})

    assert response.status_code == 422
    assert "before_id" in response.json["errors"]["json"]


def test_new_item_cannot_be_placed_next_to_a_done_item(client, auth, team):
    done = set_status(make_item(team.rep))
    db.session.commit()

    response = auth.login(team.rep).post(
        "/api/v1/items", json={"owner_id": team.rep.id, "title": "New", "after_id": done.id})

    assert response.status_code == 422


def test_new_item_on_an_unknown_person_is_404(client, auth, team):
    response = auth.login(team.rep).post("/api/v1/items", json={"owner_id": 999_999, "title": "New"})

    assert response.status_code == 404


# --- GET /items/<id> -------------------------------------------------------------------------------

def test_item_answers_with_its_version_as_etag(client, auth, team):
    item = make_item(team.rep, title="Call Bosch")
    db.session.commit()
    client = auth.login(team.rep)
    patch(client, item, title="Call Bosch back")

    response = client.get(f"/api/v1/items/{item.id}")

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert (response.json["title"], response.json["version"]) == ("Call Bosch back", 2)


def test_unknown_item_is_404(client, auth, team):
    response = auth.login(team.rep).get("/api/v1/items/999999")

    assert response.status_code == 404
    assert response.json["code"] == 404


# --- overdue, in the owner's time zone ---------------------------------------------------------------

@pytest.mark.parametrize(("time_zone", "due_on", "overdue"), [
    ("Pacific/Kiritimati", "2026-03-10", True),   # it is 11 March there
    ("UTC", "2026-03-10", False),
    ("UTC", "2026-03-09", True),
    ("Pacific/Pago_Pago", "2026-03-09", False),   # it is still 9 March there
    ("Pacific/Pago_Pago", "2026-03-08", True),
])
def test_overdue_means_due_before_today_in_the_owners_time_zone(client, auth, ctx, time_zone, due_on, overdue):
    boss = make_user(make_org(), time_zone="UTC")
    owner = make_user(boss.organization, manager=boss, time_zone=time_zone)
    item = make_item(owner, due_on=date.fromisoformat(due_on))
    db.session.commit()

    with time_machine.travel(INSTANT, tick=False):
        client = auth.login(boss)
        single = client.get(f"/api/v1/items/{item.id}").json
        on_plate = client.get(f"/api/v1/people/{owner.id}/plate").json["items"][0]

    assert single["overdue"] is on_plate["overdue"] is overdue


def test_done_items_are_never_overdue(client, auth, team):
    item = set_status(make_item(team.rep, due_on=date(2020, 1, 1)))
    db.session.commit()

    assert auth.login(team.rep).get(f"/api/v1/items/{item.id}").json["overdue"] is False


# --- PATCH /items/<id> ----------------------------------------------------------------------------------

def test_edit_without_if_match_is_428(client, auth, team):
    item = make_item(team.rep)
    db.session.commit()

    response = auth.login(team.rep).patch(f"/api/v1/items/{item.id}", json={"title": "New title"})

    assert response.status_code == 428
    assert response.json["message"]


def test_edit_from_a_stale_copy_is_412_with_the_current_item(client, auth, team):
    item = make_item(team.rep, title="Original")
    db.session.commit()
    client = auth.login(team.rep)
    assert patch(client, item, title="First edit").status_code == 200

    response = patch(client, item, etag='"1"', title="Second edit")

    assert response.status_code == 412
    assert response.json["code"] == 412 and response.json["status"] == "Precondition Failed"
    assert response.json["current"]["title"] == "First edit"
    assert response.json["current"]["version"] == 2
    assert client.get(f"/api/v1/items/{item.id}").json["title"] == "First edit"


def test_every_successful_edit_increments_the_version(client, auth, team):
    item = make_item(team.rep)
    db.session.commit()
    client = auth.login(team.rep)

    first = patch(client, item, '"1"', title="One")
    second = patch(client, item, '"2"', priority="high", urgent=True)

    assert (first.json["version"], first.headers["ETag"]) == (2, '"2"')
    assert (second.json["version"], second.headers["ETag"]) == (3, '"3"')


def test_edit_changes_each_editable_field(client, auth, team):
    item = make_item(team.rep, due_on=date(2026, 5, 1))
    db.session.commit()

    response = patch(auth.login(team.manager), item, title="Renamed", notes="Some notes", priority="low",
                     urgent=True, due_on=None)

    assert response.status_code == 200
    changed = {k: response.json[k] for k in ("title", "notes", "priority", "urgent", "due_on")}
    assert changed == {"title": "Renamed", "notes": "Some notes", "priority": "low", "urgent": True, "due_on": None}


def test_completing_an_item_sets_completed_at(client, auth, team):
    item = make_item(team.rep)
    db.session.commit()

    with time_machine.travel(INSTANT, tick=False):
        response = patch(auth.login(team.rep), item, status="done")

    assert response.status_code == 200
    assert (response.json["status"], response.json["completed_at"]) == ("done", "2026-03-10T10:30:00Z")
    assert response.json["updated_at"] == "2026-03-10T10:30:00Z"


def test_dropping_needs_a_drop_reason(client, auth, team):
    item = make_item(team.rep)
    db.session.commit()

    response = patch(auth.login(team.rep), item, status="dropped")

    assert response.status_code == 422
    assert "drop_reason" in response.json["errors"]["json"]


def test_dropping_with_a_reason_records_it_and_dropped_at(client, auth, team):
    item = make_item(team.rep)
    db.session.commit()

    with time_machine.travel(INSTANT, tick=False):
        response = patch(auth.login(team.rep), item, status="dropped", drop_reason="Customer went with a competitor")

    assert (response.json["status"], response.json["drop_reason"], response.json["dropped_at"]) == (
        "dropped", "Customer went with a competitor", "2026-03-10T10:30:00Z")


def test_a_drop_reason_without_dropping_is_422(client, auth, team):
    item = make_item(team.rep)
    db.session.commit()

    response = patch(auth.login(team.rep), item, drop_reason="Why not")

    assert response.status_code == 422


@pytest.mark.parametrize("status", ["done", "dropped"])
def test_reopening_clears_completion_and_drop(client, auth, team, status):
    reason = {"drop_reason": "Not needed"} if status == "dropped" else {}
    item = set_status(make_item(team.rep), status=status, **reason)
    db.session.commit()

    response = patch(auth.login(team.rep), item, etag='"2"', status="open")

    assert response.status_code == 200
    reopened = response.json
    assert (reopened["status"], reopened["completed_at"], reopened["dropped_at"], reopened["drop_reason"]) == (
        "open", None, None, None)


def test_reopened_item_goes_back_by_the_default_placement(client, auth, team):
    item = make_item(team.rep, title="Reopened", priority="high")
    set_status(item)
    make_item(team.rep, title="Low", priority="low")
    make_item(team.rep, title="High", priority="high")
    make_item(team.rep, title="Normal")
    db.session.commit()
    client = auth.login(team.rep)

    patch(client, item, etag='"2"', status="open")

    assert plate_titles(client, team.rep) == ["High", "Reopened", "Normal", "Low"]


def test_reassigned_item_moves_to_the_new_owners_plate(client, auth, team):
    item = make_item(team.rep, title="Visit Bosch")
    make_item(team.peer, title="Peer's own")
    db.session.commit()
    client = auth.login(team.manager)

    response = patch(client, item, owner_id=team.peer.id)

    assert response.status_code == 200
    assert response.json["version"] == 2
    assert plate_titles(client, team.rep) == []
    assert plate_titles(client, team.peer) == ["Peer's own", "Visit Bosch"]


def test_an_edit_that_changes_nothing_keeps_the_version(client, auth, team):
    item = make_item(team.rep, title="Same")
    db.session.commit()

    response = patch(auth.login(team.rep), item, title="Same")

    assert (response.status_code, response.json["version"]) == (200, 1)


def test_if_match_star_edits_any_version(client, auth, team):
    item = make_item(team.rep)
    db.session.commit()

    assert patch(auth.login(team.rep), item, etag="*", title="Whatever").status_code == 200


# --- POST /items/<id>/move -------------------------------------------------------------------------------

@pytest.fixture
def three(team):
    items = [make_item(team.rep, title=t) for t in ("A", "B", "C")]
    db.session.commit()
    return items


def test_move_before_another_item(client, auth, team, three):
    a, b, c = three
    client = auth.login(team.rep)

    response = client.post(f"/api/v1/items/{c.id}/move", json={"before_id": a.id})

    assert response.status_code == 200
    assert plate_titles(client, team.rep) == ["C", "A", "B"]


def test_move_after_another_item(client, auth, team, three):
    a, b, c = three
    client = auth.login(team.rep)

    client.post(f"/api/v1/items/{a.id}/move", json={"after_id": b.id})

    assert plate_titles(client, team.rep) == ["B", "A", "C"]


def test_move_needs_no_if_match_and_increments_the_version(client, auth, team, three):
    a, b, c = three

    response = auth.login(team.rep).post(f"/api/v1/items/{a.id}/move", json={"after_id": c.id}, headers={})

    assert (response.json["version"], response.headers["ETag"]) == (2, '"2"')


def test_move_leaves_the_neighbours_unchanged(client, auth, team, three):
    a, b, c = three
    client = auth.login(team.rep)
    before = {i.id: client.get(f"/api/v1/items/{i.id}").json for i in (a, b)}

    client.post(f"/api/v1/items/{c.id}/move", json={"before_id": b.id})

    assert {i.id: client.get(f"/api/v1/items/{i.id}").json for i in (a, b)} == before


def test_move_is_recorded_in_history(client, auth, team, three):
    a, b, c = three
    client = auth.login(team.manager)

    client.post(f"/api/v1/items/{c.id}/move", json={"before_id": a.id})

    last = client.get(f"/api/v1/items/{c.id}/history").json[-1]
    assert (last["action"], last["actor"]["id"], last["changes"]["before_id"]) == ("moved", team.manager.id, [None, a.id])
    assert last["changes"]["position"][1] < last["changes"]["position"][0]


@pytest.mark.parametrize("body", [{}, {"before_id": 1, "after_id": 2}, {"before_id": None}], ids=["neither", "both", "null"])
def test_move_needs_exactly_one_of_before_id_and_after_id(client, auth, team, three, body):
    a, b, c = three
    body = {k: (b.id if k == "before_id" and v else c.id if v else None) for k, v in body.items()}

    response = auth.login(team.rep).post(f"/api/v1/items/{a.id}/move", json=body)

    assert response.status_code == 422


def test_move_next_to_itself_is_422(client, auth, team, three):
    a, b, c = three

    assert auth.login(team.rep).post(f"/api/v1/items/{a.id}/move", json={"before_id": a.id}).status_code == 422


def test_a_done_item_cannot_be_moved(client, auth, team, three):
    a, b, c = three
    set_status(a)
    db.session.commit()

    assert auth.login(team.rep).post(f"/api/v1/items/{a.id}/move", json={"before_id": b.id}).status_code == 422


def test_moving_an_item_you_may_not_see_is_404(client, auth, team, three):
    a, b, c = three

    assert auth.login(team.peer).post(f"/api/v1/items/{a.id}/move", json={"before_id": b.id}).status_code == 404


def test_many_moves_into_the_same_gap_keep_the_order(client, auth, team, three):
    a, b, c = three
    client = auth.login(team.rep)

    for _ in range(60):  # each move halves the gap after A: floats run out and the plate is renumbered
        client.post(f"/api/v1/items/{c.id}/move", json={"after_id": a.id})
        client.post(f"/api/v1/items/{b.id}/move", json={"after_id": a.id})

    assert plate_titles(client, team.rep) == ["A", "B", "C"]


# --- GET /items/<id>/history -------------------------------------------------------------------------------

def test_history_lists_every_change_oldest_first_with_actor_and_old_and_new_values(client, auth, team):
    item = make_item(team.rep, creator=team.manager, title="Call Siemens")
    db.session.commit()
    client = auth.login(team.rep)
    start = datetime.now(UTC)
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        patch(client, item, '"1"', title="Call Siemens today", priority="high")
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        patch(client, item, '"2"', status="done")
        response = client.get(f"/api/v1/items/{item.id}/history")

    assert response.status_code == 200
    created, edited, completed = response.json
    assert (created["action"], created["actor"]) == ("created", {"id": team.manager.id, "name": "Max Manager"})
    assert created["changes"]["title"] == [None, "Call Siemens"]
    assert (edited["action"], edited["actor"]) == ("updated", {"id": team.rep.id, "name": "Rita Rep"})
    assert edited["changes"] == {"title": ["Call Siemens", "Call Siemens today"], "priority": ["normal", "high"]}
    assert completed["action"] == "completed"
    assert completed["changes"]["status"] == ["open", "done"]
    assert created["at"] < edited["at"] < completed["at"]
    assert all(event["at"].endswith("Z") for event in response.json)


def test_history_times_in_changes_are_utc_with_z(client, auth, team):
    item = make_item(team.rep)
    db.session.commit()
    with time_machine.travel(INSTANT, tick=False):
        client = auth.login(team.rep)
        patch(client, item, status="done")
        completed = client.get(f"/api/v1/items/{item.id}/history").json[-1]

    assert completed["changes"]["completed_at"] == [None, "2026-03-10T10:30:00Z"]


def test_reassignment_is_recorded_in_history(client, auth, team):
    item = make_item(team.rep)
    db.session.commit()
    client = auth.login(team.manager)
    patch(client, item, owner_id=team.peer.id)

    last = client.get(f"/api/v1/items/{item.id}/history").json[-1]

    assert (last["action"], last["changes"]) == ("reassigned", {"owner_id": [team.rep.id, team.peer.id]})


def test_history_of_an_item_you_may_not_see_is_404(client, auth, team):
    item = make_item(team.rep)
    db.session.commit()

    assert auth.login(team.peer).get(f"/api/v1/items/{item.id}/history").status_code == 404


def test_a_dropped_items_reason_can_be_changed(client, auth, team):
    item = set_status(make_item(team.rep), status="dropped", drop_reason="Budget cut")
    db.session.commit()

    response = patch(auth.login(team.rep), item, etag='"2"', drop_reason="Customer cancelled")

    assert (response.status_code, response.json["drop_reason"], response.json["version"]) == (
        200, "Customer cancelled", 3)


def test_a_dropped_items_reason_cannot_be_blanked(client, auth, team):
    item = set_status(make_item(team.rep), status="dropped", drop_reason="Budget cut")
    db.session.commit()
    client = auth.login(team.rep)

    response = patch(client, item, etag='"2"', drop_reason="   ")

    assert response.status_code == 422
    assert client.get(f"/api/v1/items/{item.id}").json["drop_reason"] == "Budget cut"


def test_notes_given_when_adding_are_in_the_created_event(client, auth, team):
    client = auth.login(team.manager)
    added = client.post("/api/v1/items", json={"owner_id": team.rep.id, "title": "Quote for Bosch",
                                               "notes": "Ask for the 3-year price"}).json

    [created] = client.get(f"/api/v1/items/{added['id']}/history").json

    assert created["changes"]["notes"] == [None, "Ask for the 3-year price"]


def test_a_move_made_from_a_stale_copy_still_ends_at_a_version_of_its_own(client, auth, team):
    # The move read version 1, then an edit committed version 2: the move must end at 3, or a client
    # holding the move's ETag could overwrite the edit without a 412.
    item = make_item(team.rep, title="Call Siemens")
    anchor = make_item(team.rep, title="Quote Bosch")
    db.session.commit()
    assert item.version == 1  # loaded into this session's identity map
    with db.engine.begin() as connection:  # someone else's edit, committed meanwhile
        connection.execute(update(Item).where(Item.id == item.id).values(version=Item.version + 1))

    moved = items.move_item(db.session, team.rep, item.id, {"before_id": anchor.id})
    db.session.commit()

    assert moved.version == 3
    assert db.session.scalar(select(Item.version).where(Item.id == item.id)) == 3
