"""Still needed?: which open items come up for review and for whom, keeping and dropping them, and the setting."""
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from tests.factories import make_item, make_org, make_user, set_status
from webapp.extensions import db
from webapp.models import Item
from webapp.services.review import waiting_count

# 10:30 UTC on 10 March: already 11 March on Kiritimati (UTC+14), still 9 March in Pago Pago (UTC-11).
INSTANT = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)


@pytest.fixture
def at_instant():
    with time_machine.travel(INSTANT, tick=False):
        yield


def aged(owner, days: float, creator=None, **fields) -> Item:
    """An item put on `owner`'s plate `days` before INSTANT."""
    with time_machine.travel(INSTANT - timedelta(days=days), tick=False):
        return make_item(owner, creator, **fields)


def review_titles(client) -> list[str]:
    response = client.get("/api/v1/review")
    assert response.status_code == 200
    return [entry["item"]["title"] for entry in response.json["items"]]


def keep(client, item, due_on):
    return client.post(f"/api/v1/review/{item.id}/keep", json={"due_on": due_on})


def drop(client, item, reason="The customer signed elsewhere"):
    return client.post(f"/api/v1/review/{item.id}/drop", json={"reason": reason})


# --- GET /review: which items -------------------------------------------------------------------

def test_items_older_than_the_organizations_setting_come_up(client, auth, team, at_instant):
    aged(team.rep, 14.1, title="Fifteen days")
    aged(team.rep, 13.9, title="Thirteen days")
    db.session.commit()

    assert review_titles(auth.login(team.rep)) == ["Fifteen days"]


def test_the_organizations_setting_decides_what_is_old(client, auth, team, at_instant):
    aged(team.rep, 11, title="Eleven days")
    aged(team.rep, 9, title="Nine days")
    team.org.review_after_days = 10
    db.session.commit()

    assert review_titles(auth.login(team.rep)) == ["Eleven days"]


def test_keeping_an_item_counts_its_age_from_then(client, auth, team, at_instant):
    recently_kept = aged(team.rep, 60, title="Kept last week", due_on=date(2026, 3, 20))
    long_kept = aged(team.rep, 60, title="Kept a month ago", due_on=date(2026, 3, 20))
    recently_kept.kept_at = INSTANT - timedelta(days=7)
    long_kept.kept_at = INSTANT - timedelta(days=30)
    db.session.commit()

    response = auth.login(team.rep).get("/api/v1/review")

    assert [(e["item"]["title"], e["age_days"]) for e in response.json["items"]] == [("Kept a month ago", 30)]


def test_items_seven_days_overdue_in_the_owners_zone_come_up(client, auth, ctx, at_instant):
    org = make_org()
    manager = make_user(org, "Max Manager")
    east = make_user(org, "Kiri East", manager, time_zone="Pacific/Kiritimati")  # 11 March there
    west = make_user(org, "Pago West", manager, time_zone="Pacific/Pago_Pago")  # 9 March there
    make_item(east, title="East, due 4 March", due_on=date(2026, 3, 4))  # 7 days overdue
    make_item(east, title="East, due 5 March", due_on=date(2026, 3, 5))  # 6
    make_item(west, title="West, due 2 March", due_on=date(2026, 3, 2))  # 7
    make_item(west, title="West, due 3 March", due_on=date(2026, 3, 3))  # 6
    make_item(west, title="West, due 4 March", due_on=date(2026, 3, 4))  # 5
    db.session.commit()

    response = auth.login(manager).get("/api/v1/review")

    assert sorted((e["item"]["title"], e["reasons"], e["overdue_days"]) for e in response.json["items"]) == [
        ("East, due 4 March", ["overdue"], 7), ("West, due 2 March", ["overdue"], 7)]


def test_an_entry_names_every_reason_with_the_item(client, auth, team, at_instant):
    item = aged(team.rep, 20, team.manager, title="Old and late", due_on=date(2026, 2, 27), priority="high")
    db.session.commit()

    response = auth.login(team.rep).get("/api/v1/review")

    assert response.json["count"] == 1
    [entry] = response.json["items"]
    assert entry["reasons"] == ["old", "overdue"]
    assert (entry["age_days"], entry["overdue_days"]) == (20, 11)
    assert entry["item"]["id"] == item.id
    assert entry["item"]["created_by"] == {"id": team.manager.id, "name": "Max Manager"}
    assert (entry["item"]["priority"], entry["item"]["overdue"], entry["item"]["status"]) == ("high", True, "open")


def test_a_manager_reviews_their_direct_reports_items_too(client, auth, team, at_instant):
    aged(team.manager, 20, title="Manager's own")
    aged(team.rep, 20, title="Rep's")
    aged(team.peer, 20, title="Peer's")
    aged(team.junior, 20, title="Junior's")
    db.session.commit()

    assert review_titles(auth.login(team.manager)) == ["Manager's own", "Rep's", "Peer's"]
    assert review_titles(auth.login(team.rep)) == ["Rep's", "Junior's"]


def test_nobody_else_sees_an_item_in_their_review(client, auth, team, at_instant):
    aged(team.rep, 20, title="Rep's")
    db.session.commit()

    for person in (team.boss, team.peer, team.junior, team.outsider):  # skip-level, peer, report, other org
        assert review_titles(auth.login(person)) == []


def test_finished_items_never_come_up(client, auth, team, at_instant):
    set_status(aged(team.rep, 20, title="Done", due_on=date(2026, 2, 1)))
    set_status(aged(team.rep, 20, title="Dropped"), status="dropped", drop_reason="Moot")
    db.session.commit()

    assert review_titles(auth.login(team.rep)) == []


def test_review_is_oldest_first(client, auth, team, at_instant):
    aged(team.rep, 16, title="Sixteen")
    aged(team.rep, 40, title="Forty")
    aged(team.rep, 2, title="Two, overdue", due_on=date(2026, 3, 1))
    db.session.commit()

    assert review_titles(auth.login(team.rep)) == ["Forty", "Sixteen", "Two, overdue"]


def test_waiting_count_is_the_number_in_the_review(client, auth, team, at_instant):
    aged(team.rep, 20)
    aged(team.junior, 20)
    aged(team.junior, 1, due_on=date(2026, 2, 1))
    aged(team.rep, 1)
    db.session.commit()

    assert waiting_count(db.session, team.rep) == 3
    assert auth.login(team.rep).get("/api/v1/review").json["count"] == 3
    assert waiting_count(db.session, team.manager) == 1


# --- POST /review/<id>/keep ----------------------------------------------------------------------

def test_keeping_sets_the_due_date_and_takes_the_item_out_of_the_review(client, auth, team, at_instant):
    item = aged(team.rep, 20, title="Quote for Bosch", due_on=date(2026, 2, 27))
    db.session.commit()
    client = auth.login(team.manager)

    response = keep(client, item, "2026-03-13")

    assert response.status_code == 200
    assert response.headers["ETag"] == '"2"'
    assert (response.json["due_on"], response.json["version"], response.json["status"]) == ("2026-03-13", 2, "open")
    assert review_titles(client) == []
    history = client.get(f"/api/v1/items/{item.id}/history").json
    assert history[-1]["action"] == "kept"
    assert history[-1]["actor"] == {"id": team.manager.id, "name": "Max Manager"}
    assert history[-1]["changes"] == {"kept_at": [None, "2026-03-10T10:30:00Z"], "due_on": ["2026-02-27", "2026-03-13"]}


def test_a_kept_item_comes_up_again_when_old_again(client, auth, team, at_instant):
    item = aged(team.rep, 20, title="Quote for Bosch")
    db.session.commit()
    keep(auth.login(team.rep), item, "2026-06-01")

    with time_machine.travel(INSTANT + timedelta(days=14, hours=1), tick=False):
        assert review_titles(client) == ["Quote for Bosch"]


def test_keeping_tells_the_owner_of_the_new_due_date(client, auth, team, at_instant):
    item = aged(team.rep, 20)
    db.session.commit()

    keep(auth.login(team.manager), item, "2026-03-13")

    kinds = [n["kind"] for n in auth.login(team.rep).get("/api/v1/notifications").json["items"]]
    assert kinds == ["due_changed"]


def test_keeping_today_is_allowed_in_the_owners_zone(client, auth, ctx, at_instant):
    org = make_org()
    owner = make_user(org, time_zone="Pacific/Kiritimati")  # already 11 March there
    item = make_item(owner)
    db.session.commit()
    client = auth.login(owner)

    assert keep(client, item, "2026-03-10").status_code == 422
    assert keep(client, item, "2026-03-11").status_code == 200


@pytest.mark.parametrize(("body", "field"), [
    ({}, "due_on"),
    ({"due_on": None}, "due_on"),
    ({"due_on": "2026-03-09"}, "due_on"),  # yesterday in Berlin
    ({"due_on": "next week"}, "due_on"),
    ({"due_on": "2026-03-20", "note": "x"}, "note"),
])
def test_keeping_needs_a_due_date_from_today_on(client, auth, team, at_instant, body, field):
    item = aged(team.rep, 20)
    db.session.commit()

    response = auth.login(team.rep).post(f"/api/v1/review/{item.id}/keep", json=body)

    assert response.status_code == 422
    assert field in response.json["errors"]["json"]
    db.session.refresh(item)
    assert (item.version, item.kept_at) == (1, None)


# --- POST /review/<id>/drop ----------------------------------------------------------------------

def test_dropping_records_the_reason_as_no_longer_needed(client, auth, team, at_instant):
    item = aged(team.rep, 20, title="Quote for Bosch")
    db.session.commit()
    client = auth.login(team.manager)

    response = drop(client, item, "  Bosch chose another supplier ")

    assert response.status_code == 200
    assert (response.json["status"], response.json["drop_reason"]) == ("dropped", "Bosch chose another supplier")
    assert (response.json["dropped_at"], response.json["version"]) == ("2026-03-10T10:30:00Z", 2)
    db.session.refresh(item)
    assert item.drop_kind == "no_longer_needed"
    assert review_titles(client) == []
    history = client.get(f"/api/v1/items/{item.id}/history").json
    assert history[-1]["action"] == "dropped"
    assert history[-1]["changes"] == {
        "status": ["open", "dropped"], "drop_reason": [None, "Bosch chose another supplier"],
        "drop_kind": [None, "no_longer_needed"], "dropped_at": [None, "2026-03-10T10:30:00Z"],
    }
    kinds = [n["kind"] for n in auth.login(team.rep).get("/api/v1/notifications").json["items"]]
    assert kinds == ["dropped"]


def test_reopening_a_no_longer_needed_item_forgets_why_it_was_dropped(client, auth, team, at_instant):
    item = aged(team.rep, 20)
    db.session.commit()
    client = auth.login(team.rep)
    drop(client, item)

    client.patch(f"/api/v1/items/{item.id}", json={"status": "open"}, headers={"If-Match": '"2"'})

    db.session.refresh(item)
    assert (item.status, item.drop_kind, item.drop_reason) == ("open", None, None)


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": None}, {"reason": "x" * 501}])
def test_dropping_needs_a_reason(client, auth, team, at_instant, body):
    item = aged(team.rep, 20)
    db.session.commit()

    response = auth.login(team.rep).post(f"/api/v1/review/{item.id}/drop", json=body)

    assert response.status_code == 422
    assert "reason" in response.json["errors"]["json"]
    db.session.refresh(item)
    assert item.status == "open"


@pytest.mark.parametrize("answer", ["keep", "drop"])
def test_finished_items_cannot_be_kept_or_dropped(client, auth, team, at_instant, answer):
    item = set_status(aged(team.rep, 20))
    db.session.commit()
    client = auth.login(team.rep)

    response = keep(client, item, "2026-03-20") if answer == "keep" else drop(client, item)

    assert response.status_code == 422
    assert "status" in response.json["errors"]["json"]


# --- who may answer ------------------------------------------------------------------------------

@pytest.mark.parametrize("answer", ["keep", "drop"])
@pytest.mark.parametrize(("who", "status"), [
    ("rep", 200), ("manager", 200), ("boss", 200), ("peer", 404), ("junior", 404), ("outsider", 404),
])  # as for every item: one the caller may not see answers as if it did not exist
def test_only_the_owner_and_their_managers_answer(client, auth, team, at_instant, answer, who, status):
    item = aged(team.rep, 20)
    db.session.commit()
    client = auth.login(getattr(team, who))

    response = keep(client, item, "2026-03-20") if answer == "keep" else drop(client, item)

    assert response.status_code == status
    if status != 200:
        db.session.refresh(item)
        assert (item.status, item.version) == ("open", 1)


def test_the_creator_of_an_item_on_their_managers_plate_may_not_answer_for_it(client, auth, team, at_instant):
    item = aged(team.manager, 20, team.rep, title="Approve my travel")  # a request up the line
    db.session.commit()

    response = keep(auth.login(team.rep), item, "2026-03-20")

    assert response.status_code == 403
    assert response.json["message"] == "Only Max Manager and their managers may keep or drop this item."


def test_answering_about_an_unknown_item_is_404(client, auth, team):
    client = auth.login(team.rep)

    assert keep(client, type("Missing", (), {"id": 999_999})(), "2030-01-01").status_code == 404
    assert client.post("/api/v1/review/99999999999/drop", json={"reason": "x"}).status_code == 404


def test_review_needs_a_login(client, team):
    assert client.get("/api/v1/review").status_code == 401
    assert client.get("/api/v1/review/settings").status_code == 401


# --- the organization's setting -------------------------------------------------------------------

def test_anyone_in_the_organization_reads_the_setting(client, auth, team):
    response = auth.login(team.junior).get("/api/v1/review/settings")

    assert response.status_code == 200
    assert response.json == {"review_after_days": 14}


def test_an_admin_changes_the_setting_for_their_organization_only(client, auth, team, at_instant):
    aged(team.rep, 8, title="Eight days")
    other_org_admin = make_user(make_org("Other Corp"), is_admin=True)
    db.session.commit()

    response = auth.login(team.boss).patch("/api/v1/review/settings", json={"review_after_days": 7})

    assert response.status_code == 200
    assert response.json == {"review_after_days": 7}
    assert review_titles(auth.login(team.rep)) == ["Eight days"]
    assert auth.login(other_org_admin).get("/api/v1/review/settings").json == {"review_after_days": 14}


def test_only_admins_change_the_setting(client, auth, team):
    response = auth.login(team.manager).patch("/api/v1/review/settings", json={"review_after_days": 7})

    assert response.status_code == 403
    assert auth.login(team.boss).get("/api/v1/review/settings").json == {"review_after_days": 14}


@pytest.mark.parametrize("body", [
    {"review_after_days": 0}, {"review_after_days": 366}, {"review_after_days": "14"}, {"review_after_days": 1.5},
    {"review_after_days": None}, {}, {"review_after_days": 14, "extra": 1},
])
def test_the_setting_is_a_whole_number_of_days_from_1_to_365(client, auth, team, body):
    response = auth.login(team.boss).patch("/api/v1/review/settings", json=body)

    assert response.status_code == 422
    assert response.json["status"] == "Unprocessable Entity"
    assert response.json["errors"]["json"]


@pytest.mark.parametrize("days", [1, 365])
def test_the_setting_accepts_its_bounds(client, auth, team, days):
    response = auth.login(team.boss).patch("/api/v1/review/settings", json={"review_after_days": days})

    assert response.json == {"review_after_days": days}
