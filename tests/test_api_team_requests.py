"""Team requests ("ask everyone"): one item per assignee, all or none, followed, edited and reminded as a whole."""
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import event, func, select

from tests.factories import make_item, make_user
from tests.test_worker import FakeSender, subscribe
from webapp.extensions import db
from webapp.models import Digest, Item, ItemEvent, Notification, PendingDigest, TeamRequest
from webapp.notifications import worker

REQUEST_KEYS = {"id", "title", "notes", "priority", "urgent", "created_by", "created_at", "updated_at", "due_on",
                "counts", "overdue", "assignees"}
# Tuesday 10 March 2026, 10:30 UTC: 11:30 in Berlin, where the team works.
INSTANT = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)


def ask(client, key=None, **body):
    body = {"title": "Update your pipeline", "priority": "high", **body}
    return client.post("/api/v1/team-requests", json=body, headers={"Idempotency-Key": key})


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


def plate_titles(client, person):
    return [item["title"] for item in client.get(f"/api/v1/people/{person.id}/plate").json["items"]]


def complete(client, item_id, status="done", **fields):
    version = client.get(f"/api/v1/items/{item_id}").headers["ETag"]
    response = client.patch(f"/api/v1/items/{item_id}", json={"status": status, **fields}, headers={"If-Match": version})
    assert response.status_code == 200
    return response


def item_of(progress, person):
    return next(a["item_id"] for a in progress["assignees"] if a["person"]["id"] == person.id)


# --- asking ---------------------------------------------------------------------------------------

def test_asking_chosen_people_puts_one_item_on_each_plate(client, auth, team):
    with time_machine.travel(INSTANT, tick=False):
        response = ask(auth.login(team.manager), assignee_ids=[team.rep.id, team.junior.id], notes="For finance",
                       due_on="2026-03-13", urgent=False)

    assert response.status_code == 201
    body = response.json
    assert set(body) == REQUEST_KEYS | {"items"}
    assert response.headers["Location"].endswith(f"/api/v1/team-requests/{body['id']}")
    assert (body["title"], body["notes"], body["priority"], body["urgent"], body["due_on"]) == (
        "Update your pipeline", "For finance", "high", False, "2026-03-13")
    assert body["created_by"] == {"id": team.manager.id, "name": "Max Manager"}
    assert body["created_at"] == body["updated_at"] == "2026-03-10T10:30:00Z"
    assert body["counts"] == {"open": 2, "done": 0, "dropped": 0} and body["overdue"] == 0
    assert [item["owner"]["name"] for item in body["items"]] == ["Jo Junior", "Rita Rep"]
    assert all(item["created_by"]["id"] == team.manager.id and item["priority"] == "high"
               and item["due_on"] == "2026-03-13" and item["notes"] == "For finance" for item in body["items"])
    assert body["assignees"] == [
        {"person": {"id": item["owner"]["id"], "name": item["owner"]["name"]}, "item_id": item["id"], "status": "open",
         "completed_at": None, "due_on": "2026-03-13", "on_time": None} for item in body["items"]]
    linked = db.session.scalars(select(Item.id).where(Item.team_request_id == body["id"]).order_by(Item.id)).all()
    assert linked == sorted(item["id"] for item in body["items"])
    assert plate_titles(auth.login(team.rep), team.rep) == ["Update your pipeline"]


def test_each_assignee_is_told_and_has_the_history_of_a_normal_add(client, auth, team):
    body = ask(auth.login(team.manager), assignee_ids=[team.rep.id, team.peer.id]).json

    notes = db.session.execute(select(Notification.user_id, Notification.kind, Notification.actor_id)).all()
    assert sorted(notes) == sorted([(team.rep.id, "added", team.manager.id), (team.peer.id, "added", team.manager.id)])
    history = client.get(f"/api/v1/items/{body['items'][0]['id']}/history").json
    assert [(e["action"], e["actor"]["id"]) for e in history] == [("created", team.manager.id)]


def test_all_reports_asks_the_direct_reports_only(client, auth, team):
    body = ask(auth.login(team.manager), all_reports=True).json

    assert [a["person"]["name"] for a in body["assignees"]] == ["Pat Peer", "Rita Rep"]


def test_all_below_asks_everyone_below_at_every_level(client, auth, team):
    body = ask(auth.login(team.manager), all_below=True).json

    assert [a["person"]["name"] for a in body["assignees"]] == ["Jo Junior", "Pat Peer", "Rita Rep"]


@pytest.mark.parametrize("choice", [{"all_reports": True}, {"all_below": True}])
def test_asking_with_nobody_below_is_422_saying_so(client, auth, team, choice):
    response = ask(auth.login(team.junior), **choice)

    assert response.status_code == 422
    assert "nobody to ask" in response.json["message"]
    assert list(response.json["errors"]["json"]) == list(choice)
    assert count(TeamRequest) == 0


@pytest.mark.parametrize("choice", [
    {},
    {"assignee_ids": [], "all_reports": True},
    {"all_reports": True, "all_below": True},
    {"all_reports": False},
    {"assignee_ids": []},
    {"assignee_ids": [1, 1]},
    {"assignee_ids": ["2"]},
])
def test_the_assignees_are_chosen_exactly_one_way_and_each_once(client, auth, team, choice):
    body = {"title": "Update your pipeline", "priority": "high", **choice}

    response = auth.login(team.manager).post("/api/v1/team-requests", json=body)

    assert response.status_code == 422
    assert count(TeamRequest) == 0 and count(Item) == 0


def test_title_and_priority_are_required(client, auth, team):
    response = auth.login(team.manager).post("/api/v1/team-requests", json={"all_reports": True})

    assert response.status_code == 422
    assert set(response.json["errors"]["json"]) == {"title", "priority"}


# --- placement --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("placement", "expected"), [
    (None, ["Urgent call", "Normal work", "Ask", "Someday"]),
    ("default", ["Urgent call", "Normal work", "Ask", "Someday"]),
    ("top", ["Ask", "Urgent call", "Normal work", "Someday"]),
])
def test_placement_default_follows_priority_and_top_goes_first(client, auth, team, placement, expected):
    make_item(team.rep, title="Urgent call", priority="high")
    make_item(team.rep, title="Normal work")
    make_item(team.rep, title="Someday", priority="low")
    db.session.commit()
    body = {"title": "Ask", "priority": "normal", "assignee_ids": [team.rep.id]}
    if placement:
        body["placement"] = placement

    auth.login(team.manager).post("/api/v1/team-requests", json=body)

    assert plate_titles(client, team.rep) == expected


# --- all or none ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("who", "status"), [
    ("boss", 403),      # above the requester
    ("peer_of_manager", 403),
    ("manager", 403),   # the requester is not below themselves
    ("outsider", 404),  # another organization
    ("unknown", 404),
])
def test_one_assignee_out_of_reach_creates_nothing(client, auth, team, who, status):
    make_item(team.rep, title="Already there")
    other = make_user(team.org, "Olli Other", team.boss)
    db.session.commit()
    ids = {"boss": team.boss.id, "peer_of_manager": other.id, "manager": team.manager.id,
           "outsider": team.outsider.id, "unknown": 99_999}
    items_before = count(Item)

    response = ask(auth.login(team.manager), assignee_ids=[team.rep.id, team.junior.id, ids[who]])

    assert response.status_code == status
    assert count(Item) == items_before and count(TeamRequest) == 0 and count(Notification) == 0
    assert plate_titles(client, team.rep) == ["Already there"]


def test_a_report_may_not_ask_a_peer(client, auth, team):
    response = ask(auth.login(team.rep), assignee_ids=[team.peer.id])

    assert response.status_code == 403
    assert "Pat Peer" in response.json["message"]
    assert count(Item) == 0


def test_idempotency_key_replays_the_answer_and_creates_nothing_more(client, auth, team):
    client = auth.login(team.manager)
    first = ask(client, key="ask-1", all_reports=True)

    again = ask(client, key="ask-1", all_reports=True)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert count(TeamRequest) == 1 and count(Item) == 2


def test_the_same_idempotency_key_with_a_different_body_is_422_and_asks_nobody(client, auth, team):
    client = auth.login(team.manager)
    first = ask(client, key="ask-1", all_reports=True)

    response = ask(client, key="ask-1", all_below=True)  # would reach Jo too

    assert (first.status_code, response.status_code) == (201, 422)
    assert "Idempotency-Key" in response.json["errors"]["headers"]
    assert count(TeamRequest) == 1 and count(Item) == 2 and count(Notification) == 2
    assert plate_titles(auth.login(team.junior), team.junior) == []


# --- who may follow -------------------------------------------------------------------------------

@pytest.mark.parametrize(("viewer", "status"), [
    ("manager", 200), ("boss", 200), ("peer", 403), ("rep", 403), ("outsider", 404),
])
def test_a_request_is_visible_to_the_requester_and_their_managers(client, auth, team, viewer, status):
    request_id = ask(auth.login(team.manager), all_reports=True).json["id"]

    response = auth.login(getattr(team, viewer)).get(f"/api/v1/team-requests/{request_id}")

    assert response.status_code == status
    if status == 200:
        assert set(response.json) == REQUEST_KEYS


def test_an_unknown_request_is_404(client, auth, team):
    assert auth.login(team.manager).get("/api/v1/team-requests/12345").status_code == 404


def test_list_shows_own_requests_and_those_below_newest_first(client, auth, team):
    first = ask(auth.login(team.manager), title="Pipeline", all_reports=True).json["id"]
    second = ask(auth.login(team.rep), title="Expenses", assignee_ids=[team.junior.id]).json["id"]
    third = ask(auth.login(team.boss), title="Forecast", assignee_ids=[team.manager.id]).json["id"]

    boss_all = auth.login(team.boss).get("/api/v1/team-requests").json
    boss_mine = client.get("/api/v1/team-requests?mine=true").json
    manager_all = auth.login(team.manager).get("/api/v1/team-requests").json
    manager_mine = client.get("/api/v1/team-requests?mine=true").json
    peer_all = auth.login(team.peer).get("/api/v1/team-requests").json

    assert [r["id"] for r in boss_all] == [third, second, first]
    assert [r["id"] for r in boss_mine] == [third]
    assert [r["id"] for r in manager_all] == [second, first]
    assert [r["id"] for r in manager_mine] == [first]
    assert peer_all == []
    assert set(manager_mine[0]) == REQUEST_KEYS
    assert manager_mine[0]["counts"] == {"open": 2, "done": 0, "dropped": 0}


# --- progress ---------------------------------------------------------------------------------------

def test_progress_follows_the_reports_completing_their_items(client, auth, team):
    with time_machine.travel(INSTANT, tick=False):
        body = ask(auth.login(team.manager), all_below=True, due_on="2026-03-12").json
        complete(auth.login(team.rep), item_of(body, team.rep))
        complete(auth.login(team.peer), item_of(body, team.peer), status="dropped", drop_reason="No pipeline")

        progress = auth.login(team.manager).get(f"/api/v1/team-requests/{body['id']}").json

    assert progress["counts"] == {"open": 1, "done": 1, "dropped": 1}
    by_name = {a["person"]["name"]: a for a in progress["assignees"]}
    assert by_name["Rita Rep"]["status"] == "done"
    assert by_name["Rita Rep"]["completed_at"] == "2026-03-10T10:30:00Z"
    assert by_name["Rita Rep"]["on_time"] is True
    assert (by_name["Pat Peer"]["status"], by_name["Pat Peer"]["on_time"]) == ("dropped", None)
    assert (by_name["Jo Junior"]["status"], by_name["Jo Junior"]["on_time"]) == ("open", None)


def test_late_completion_is_not_on_time_in_the_owners_zone(client, auth, team):
    team.rep.time_zone = "Pacific/Kiritimati"  # UTC+14
    team.peer.time_zone = "Pacific/Pago_Pago"  # UTC-11
    db.session.commit()
    with time_machine.travel(datetime(2026, 3, 10, 9, 0, tzinfo=UTC), tick=False):
        body = ask(auth.login(team.manager), all_reports=True, due_on="2026-03-10").json
    # 11:00 UTC on 10 March: already 11 March in Kiritimati, still 10 March in Pago Pago.
    with time_machine.travel(datetime(2026, 3, 10, 11, 0, tzinfo=UTC), tick=False):
        complete(auth.login(team.rep), item_of(body, team.rep))
        complete(auth.login(team.peer), item_of(body, team.peer))
        progress = auth.login(team.manager).get(f"/api/v1/team-requests/{body['id']}").json

    assert {a["person"]["name"]: a["on_time"] for a in progress["assignees"]} == {"Rita Rep": False, "Pat Peer": True}


def test_open_items_past_their_due_date_in_the_owners_zone_are_overdue(client, auth, team):
    team.rep.time_zone = "Pacific/Kiritimati"
    team.peer.time_zone = "Pacific/Pago_Pago"
    db.session.commit()
    with time_machine.travel(datetime(2026, 3, 10, 9, 0, tzinfo=UTC), tick=False):
        body = ask(auth.login(team.manager), all_reports=True, due_on="2026-03-10").json
    with time_machine.travel(datetime(2026, 3, 10, 11, 0, tzinfo=UTC), tick=False):
        progress = client.get(f"/api/v1/team-requests/{body['id']}").json  # only Kiritimati is past 10 March
        complete(auth.login(team.rep), item_of(body, team.rep))
        after = auth.login(team.manager).get(f"/api/v1/team-requests/{body['id']}").json

    assert progress["overdue"] == 1
    assert after["overdue"] == 0


# --- editing --------------------------------------------------------------------------------------

def test_editing_a_request_changes_its_open_items_only_with_history(client, auth, team):
    body = ask(auth.login(team.manager), all_reports=True, due_on="2026-03-13", notes="Q1").json
    done_id, open_id = item_of(body, team.rep), item_of(body, team.peer)
    complete(auth.login(team.rep), done_id)

    response = auth.login(team.manager).patch(f"/api/v1/team-requests/{body['id']}", json={
        "title": "Update your pipeline and forecast", "notes": "Q1 and Q2", "priority": "normal", "due_on": "2026-03-20"})

    assert response.status_code == 200
    assert set(response.json) == REQUEST_KEYS
    assert (response.json["title"], response.json["notes"], response.json["priority"], response.json["due_on"]) == (
        "Update your pipeline and forecast", "Q1 and Q2", "normal", "2026-03-20")
    still_open = client.get(f"/api/v1/items/{open_id}")
    assert (still_open.json["title"], still_open.json["notes"], still_open.json["priority"],
            still_open.json["due_on"], still_open.json["version"]) == (
        "Update your pipeline and forecast", "Q1 and Q2", "normal", "2026-03-20", 2)
    assert still_open.headers["ETag"] == '"2"'
    done = client.get(f"/api/v1/items/{done_id}").json
    assert (done["title"], done["priority"], done["due_on"]) == ("Update your pipeline", "high", "2026-03-13")
    history = client.get(f"/api/v1/items/{open_id}/history").json
    assert history[-1]["action"] == "updated" and history[-1]["actor"]["id"] == team.manager.id
    assert history[-1]["changes"] == {"title": ["Update your pipeline", "Update your pipeline and forecast"],
                                      "notes": ["Q1", "Q1 and Q2"], "priority": ["high", "normal"],
                                      "due_on": ["2026-03-13", "2026-03-20"]}
    done_history = client.get(f"/api/v1/items/{done_id}/history").json
    assert [e["action"] for e in done_history] == ["created", "completed"]
    assert {a["person"]["name"]: a["due_on"] for a in response.json["assignees"]} == {
        "Pat Peer": "2026-03-20", "Rita Rep": "2026-03-13"}


def test_editing_a_request_tells_the_open_assignees_and_changes_their_plates(client, auth, team):
    body = ask(auth.login(team.manager), assignee_ids=[team.rep.id]).json
    etag = auth.login(team.rep).get(f"/api/v1/people/{team.rep.id}/plate").headers["ETag"]

    auth.login(team.manager).patch(f"/api/v1/team-requests/{body['id']}", json={"due_on": "2026-03-20"})

    plate = auth.login(team.rep).get(f"/api/v1/people/{team.rep.id}/plate", headers={"If-None-Match": etag})
    assert plate.status_code == 200 and plate.json["items"][0]["due_on"] == "2026-03-20"
    kinds = db.session.scalars(select(Notification.kind).where(Notification.user_id == team.rep.id)
                               .order_by(Notification.id)).all()
    assert kinds == ["added", "due_changed"]


@pytest.mark.parametrize(("editor", "status"), [("boss", 200), ("peer", 403), ("rep", 403), ("outsider", 404)])
def test_only_the_requester_and_their_managers_edit_a_request(client, auth, team, editor, status):
    body = ask(auth.login(team.manager), all_reports=True).json

    response = auth.login(getattr(team, editor)).patch(f"/api/v1/team-requests/{body['id']}", json={"title": "Other"})

    assert response.status_code == status
    events = db.session.scalar(select(func.count()).select_from(ItemEvent).where(ItemEvent.action == "updated"))
    assert events == (2 if status == 200 else 0)


def test_editing_rejects_unknown_and_blank_fields(client, auth, team):
    body = ask(auth.login(team.manager), all_reports=True).json

    unknown = client.patch(f"/api/v1/team-requests/{body['id']}", json={"assignee_ids": [team.rep.id]})
    blank = client.patch(f"/api/v1/team-requests/{body['id']}", json={"title": "  "})

    assert (unknown.status_code, blank.status_code) == (422, 422)


# --- reminding ------------------------------------------------------------------------------------

def test_remind_puts_one_line_in_the_next_digest_of_those_still_open_never_a_push_now(client, auth, team):
    for person in (team.rep, team.peer):
        subscribe(person)
    db.session.commit()
    # Tuesday 10 March, 09:30 UTC = 10:30 in Berlin: the next digest slot is 13:00 Berlin (12:00 UTC).
    with time_machine.travel(datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tick=False):
        body = ask(auth.login(team.manager), all_reports=True).json
        sender = FakeSender()
        worker.tick(db.session, sender, "test")  # nothing due yet: the "added" lines wait for 13:00
        complete(auth.login(team.rep), item_of(body, team.rep))

        response = auth.login(team.manager).post(f"/api/v1/team-requests/{body['id']}/remind")

        assert response.status_code == 200 and response.json == {"reminded": 1}
        worker.tick(db.session, sender, "test")
    db.session.expire_all()
    assert sender.sent == [] and count(Digest) == 0
    reminders = db.session.execute(select(Notification.user_id, Notification.urgent, Notification.actor_id)
                                   .where(Notification.kind == "reminder")).all()
    assert reminders == [(team.peer.id, False, team.manager.id)]
    pending = db.session.get(PendingDigest, team.peer.id)
    assert pending.due_at == datetime(2026, 3, 10, 12, 0, tzinfo=UTC) and not pending.urgent

    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False):
        worker.tick(db.session, sender, "test")

    peer_pushes = [m["payload"] for m in sender.sent if m["endpoint"].endswith(f"/{team.peer.id}-phone")]
    assert len(peer_pushes) == 1
    assert peer_pushes[0]["items"] == [{"id": item_of(body, team.peer), "title": "Update your pipeline",
                                        "what": "added by Max Manager · reminder from Max Manager"}]


def test_a_reminder_alone_reads_reminder_from_the_requester(client, auth, team):
    subscribe(team.rep)
    db.session.commit()
    with time_machine.travel(datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tick=False):
        body = ask(auth.login(team.manager), assignee_ids=[team.rep.id]).json
    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False):
        worker.tick(db.session, FakeSender(), "test")  # the "added" digest
    with time_machine.travel(datetime(2026, 3, 11, 8, 0, tzinfo=UTC), tick=False):
        auth.login(team.manager).post(f"/api/v1/team-requests/{body['id']}/remind")
        sender = FakeSender()
        worker.tick(db.session, sender, "test")  # 09:00 Berlin: the next slot has come
    assert [m["payload"]["body"] for m in sender.sent] == ["reminder from Max Manager"]


def test_remind_with_everything_finished_reminds_nobody(client, auth, team):
    body = ask(auth.login(team.manager), assignee_ids=[team.rep.id]).json
    complete(auth.login(team.rep), item_of(body, team.rep))

    response = auth.login(team.manager).post(f"/api/v1/team-requests/{body['id']}/remind")

    assert response.json == {"reminded": 0}
    assert count(Notification) == 2  # "added" to Rita, "completed" to Max: no reminder


@pytest.mark.parametrize(("who", "status"), [("boss", 200), ("peer", 403), ("outsider", 404)])
def test_only_the_requester_and_their_managers_remind(client, auth, team, who, status):
    body = ask(auth.login(team.manager), assignee_ids=[team.rep.id]).json

    response = auth.login(getattr(team, who)).post(f"/api/v1/team-requests/{body['id']}/remind")

    assert response.status_code == status


# --- reads cost the same whatever the number of assignees --------------------------------------------

@contextmanager
def statements():
    executed = []

    def record(conn, cursor, statement, *args):
        executed.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield executed
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_reading_requests_takes_the_same_queries_for_two_or_eight_assignees(client, auth, team):
    extra = [make_user(team.org, f"Extra {n}", team.manager) for n in range(6)]
    db.session.commit()
    client = auth.login(team.manager)
    small = ask(client, assignee_ids=[team.rep.id, team.peer.id]).json["id"]
    large = ask(client, assignee_ids=[team.rep.id, team.peer.id, *(p.id for p in extra)]).json["id"]

    counts = {}
    for name, request_id in (("small", small), ("large", large)):
        with statements() as executed:
            assert len(client.get(f"/api/v1/team-requests/{request_id}").json["assignees"]) in (2, 8)
        counts[name] = len(executed)
    with statements() as one_request:
        client.get("/api/v1/team-requests?limit=1")
    with statements() as two_requests:
        client.get("/api/v1/team-requests")

    assert counts["small"] == counts["large"]
    assert len(one_request) == len(two_requests)
