"""The record: who may read it, which items it holds (local dates of the person's zone), its summary and weeks."""
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from tests.factories import make_item, make_org, make_team, make_user, set_status
from webapp.extensions import db
from webapp.models import Item
from webapp.services import review

ZONE = "America/Los_Angeles"  # UTC-8 in winter, UTC-7 from 8 March 2026
Q1 = "from=2026-01-01&to=2026-03-31"
RECORD_KEYS = {"person", "period", "summary", "weekly_done", "items"}
ITEM_KEYS = {"id", "title", "priority", "status", "created_by", "created_at", "due_on", "completed_at", "dropped_at",
             "drop_reason", "on_time"}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def finished(owner, created_at, finished_at, creator=None, status="done", **fields) -> Item:
    """An item made at one instant and completed (or dropped, with drop_reason) at another."""
    with time_machine.travel(created_at, tick=False):
        item = make_item(owner, creator, **fields)
    with time_machine.travel(finished_at, tick=False):
        extra = {"drop_reason": "Customer moved it to Q2"} if status == "dropped" else {}
        return set_status(item, owner, status, **extra)


@dataclass
class Crafted:
    team: object
    items: dict


@pytest.fixture
def crafted(ctx):
    """Rita's first quarter of 2026 in Los Angeles, with items just inside and just outside it."""
    team = make_team(time_zone=ZONE)
    rep, manager = team.rep, team.manager
    items = {
        "new year": finished(rep, utc(2025, 12, 29, 20), utc(2026, 1, 1, 8), title="First minute of 1 Jan"),  # 2.5 d
        "old year": finished(rep, utc(2025, 12, 20), utc(2026, 1, 1, 7, 59), title="Last minute of 31 Dec"),
        "on time": finished(rep, utc(2026, 2, 8, 23, 18), utc(2026, 2, 11, 7, 30), manager,  # 2.3 days; 10 Feb there
                            title="Done late on its due day", due_on=date(2026, 2, 10), priority="high"),
        "late": finished(rep, utc(2026, 2, 10, 8, 30), utc(2026, 2, 11, 8, 30), manager,  # 1 day; 11 Feb there
                         title="Done just after its due day", due_on=date(2026, 2, 10)),
        "last minute": finished(rep, utc(2026, 3, 21, 6, 59), utc(2026, 4, 1, 6, 59),  # 11 days; 31 Mar, PDT
                                title="Last minute of 31 Mar", due_on=date(2026, 3, 31)),
        "april": finished(rep, utc(2026, 3, 30), utc(2026, 4, 1, 7), title="First minute of 1 Apr"),
        "dropped": finished(rep, utc(2026, 1, 5), utc(2026, 1, 20, 18), manager, "dropped",
                            title="Dropped by manager", due_on=date(2026, 1, 10)),
    }
    with time_machine.travel(utc(2026, 1, 5), tick=False):
        items["no longer needed"] = make_item(rep, title="Stopped mattering")
    with time_machine.travel(utc(2026, 3, 2, 17), tick=False):
        review.drop(db.session, manager, items["no longer needed"].id, "The trade show was cancelled")
    with time_machine.travel(utc(2026, 2, 1), tick=False):
        items["open"] = make_item(rep, title="Still open")
    items["peer's"] = finished(team.peer, utc(2026, 2, 1), utc(2026, 2, 2), title="Peer's work")
    db.session.commit()
    return Crafted(team, items)


def get_record(client, person, query=""):
    return client.get(f"/api/v1/people/{person.id}/record" + (f"?{query}" if query else ""))


# --- what the record holds ----------------------------------------------------------------------

def test_record_holds_the_items_finished_in_the_period_newest_first(client, auth, crafted):
    response = get_record(auth.login(crafted.team.manager), crafted.team.rep, Q1)

    assert response.status_code == 200
    assert set(response.json) == RECORD_KEYS
    assert [item["title"] for item in response.json["items"]] == [
        "Last minute of 31 Mar", "Stopped mattering", "Done just after its due day", "Done late on its due day",
        "Dropped by manager", "First minute of 1 Jan",
    ]


def test_record_summary_counts_in_the_persons_zone(client, auth, crafted):
    response = get_record(auth.login(crafted.team.rep), crafted.team.rep, Q1)

    assert response.json["summary"] == {
        "done": 4, "done_on_time": 2, "done_late": 1, "dropped": 2, "dropped_no_longer_needed": 1,
        "median_days_to_done": 2.4,  # of 2.5, 2.3, 1 and 11 days
        "added_by_self": 3, "added_by_others": 3,
    }


def test_record_items_say_who_added_them_and_whether_they_were_on_time(client, auth, crafted):
    response = get_record(auth.login(crafted.team.rep), crafted.team.rep, Q1)

    items = {item["title"]: item for item in response.json["items"]}
    assert set(items["Done late on its due day"]) == ITEM_KEYS
    assert items["Done late on its due day"] == {
        "id": crafted.items["on time"].id, "title": "Done late on its due day", "priority": "high", "status": "done",
        "created_by": {"id": crafted.team.manager.id, "name": "Max Manager"}, "created_at": "2026-02-08T23:18:00Z",
        "due_on": "2026-02-10", "completed_at": "2026-02-11T07:30:00Z", "dropped_at": None, "drop_reason": None,
        "on_time": True,
    }
    assert items["Done just after its due day"]["on_time"] is False
    assert items["Last minute of 31 Mar"]["on_time"] is True
    assert items["First minute of 1 Jan"]["on_time"] is None  # no due date
    dropped = items["Dropped by manager"]
    assert (dropped["status"], dropped["on_time"], dropped["completed_at"]) == ("dropped", None, None)
    assert (dropped["dropped_at"], dropped["drop_reason"]) == ("2026-01-20T18:00:00Z", "Customer moved it to Q2")
    assert items["Stopped mattering"]["drop_reason"] == "The trade show was cancelled"


def test_weekly_done_counts_every_monday_of_the_period_including_empty_weeks(client, auth, crafted):
    response = get_record(auth.login(crafted.team.rep), crafted.team.rep, Q1)

    weeks = response.json["weekly_done"]
    assert [week["week_start"] for week in weeks] == [
        (date(2025, 12, 29) + timedelta(weeks=n)).isoformat() for n in range(14)]
    assert {week["week_start"]: week["done"] for week in weeks if week["done"]} == {
        "2025-12-29": 1, "2026-02-09": 2, "2026-03-30": 1}


def test_a_period_without_finished_work_has_zeros_and_no_median(client, auth, crafted):
    response = get_record(auth.login(crafted.team.rep), crafted.team.rep, "from=2025-06-02&to=2025-06-15")

    assert response.json["items"] == []
    assert response.json["summary"] == {
        "done": 0, "done_on_time": 0, "done_late": 0, "dropped": 0, "dropped_no_longer_needed": 0,
        "median_days_to_done": None, "added_by_self": 0, "added_by_others": 0,
    }
    assert response.json["weekly_done"] == [
        {"week_start": "2025-06-02", "done": 0}, {"week_start": "2025-06-09", "done": 0}]


def test_one_day_periods_split_at_local_midnight(client, auth, crafted):
    client = auth.login(crafted.team.rep)

    def titles(day: str) -> list[str]:
        return [item["title"] for item in get_record(client, crafted.team.rep, f"from={day}&to={day}").json["items"]]

    assert titles("2025-12-31") == ["Last minute of 31 Dec"]
    assert titles("2026-04-01") == ["First minute of 1 Apr"]


def test_reopened_items_leave_the_record_and_a_plain_drop_is_not_counted_as_no_longer_needed(client, auth, crafted):
    item = crafted.items["no longer needed"]
    with time_machine.travel(utc(2026, 3, 3), tick=False):
        set_status(item, crafted.team.rep, "open")
        set_status(crafted.items["late"], crafted.team.rep, "open")
    with time_machine.travel(utc(2026, 3, 4), tick=False):
        set_status(item, crafted.team.rep, "dropped", drop_reason="Nobody asked again")
    db.session.commit()

    summary = get_record(auth.login(crafted.team.rep), crafted.team.rep, Q1).json["summary"]

    assert (summary["done"], summary["done_late"]) == (3, 0)
    assert (summary["dropped"], summary["dropped_no_longer_needed"]) == (2, 0)


# --- the period ---------------------------------------------------------------------------------

def test_the_period_defaults_to_the_current_quarter_in_the_persons_zone(client, auth, ctx):
    org = make_org()
    west = make_user(org, time_zone=ZONE)
    east = make_user(org, time_zone="Europe/Berlin")
    db.session.commit()

    with time_machine.travel(utc(2026, 4, 1, 3), tick=False):  # still 31 March in Los Angeles
        west_period = get_record(auth.login(west), west).json["period"]
        east_period = get_record(auth.login(east), east).json["period"]

    assert west_period == {"from": "2026-01-01", "to": "2026-03-31"}
    assert east_period == {"from": "2026-04-01", "to": "2026-06-30"}


def test_from_alone_runs_to_the_end_of_the_current_quarter_and_to_alone_starts_its_quarter(client, auth, ctx):
    person = make_user(make_org(), time_zone=ZONE)
    db.session.commit()

    with time_machine.travel(utc(2026, 11, 25, 12), tick=False):  # log in then too: a session signed later is refused
        client = auth.login(person)
        from_alone = get_record(client, person, "from=2026-02-14").json["period"]
        to_alone = get_record(client, person, "to=2026-05-20").json["period"]

    assert from_alone == {"from": "2026-02-14", "to": "2026-12-31"}
    assert to_alone == {"from": "2026-04-01", "to": "2026-05-20"}


@pytest.mark.parametrize(("query", "field"), [
    ("from=2026-03-02&to=2026-03-01", "from"),
    ("from=2020-01-01&to=2025-01-01", "to"),  # five years and a day
    ("from=2026-02-30", "from"),
    ("to=tomorrow", "to"),
    ("from=2026-1-5", "from"),
    ("from=0001-01-01&to=0001-12-31", "from"),
    ("from=2026-01-01&to=9999-12-31", "to"),
    ("from=2026-01-01&quarter=1", "quarter"),
])
def test_a_bad_period_is_422_with_the_field_named(client, auth, crafted, query, field):
    response = get_record(auth.login(crafted.team.rep), crafted.team.rep, query)

    assert response.status_code == 422
    assert (response.json["code"], response.json["status"]) == (422, "Unprocessable Entity")
    assert field in response.json["errors"]["query"]
    assert response.json["message"]


def test_a_period_of_exactly_five_years_is_allowed(client, auth, crafted):
    response = get_record(auth.login(crafted.team.rep), crafted.team.rep, "from=2021-04-01&to=2026-03-31")

    assert response.status_code == 200
    assert response.json["summary"]["done"] == 5  # Q1 and the last minute of 2025
    assert len(response.json["weekly_done"]) == 262


# --- who may read it ----------------------------------------------------------------------------

@pytest.mark.parametrize(("who", "status"), [
    ("rep", 200), ("manager", 200), ("boss", 200), ("junior", 403), ("peer", 403), ("outsider", 404),
])
def test_a_record_is_for_the_person_and_those_above_them(client, auth, crafted, who, status):
    response = get_record(auth.login(getattr(crafted.team, who)), crafted.team.rep, Q1)

    assert response.status_code == status
    if status == 200:
        assert response.json["person"] == {"id": crafted.team.rep.id, "name": "Rita Rep"}
        assert len(response.json["items"]) == 6
    else:
        assert "items" not in response.json
        assert response.json["code"] == status


def test_record_of_an_unknown_person_is_404(client, auth, crafted):
    client = auth.login(crafted.team.rep)

    assert client.get("/api/v1/people/999999/record").status_code == 404
    assert client.get("/api/v1/people/99999999999/record").status_code == 404


def test_record_needs_a_login(client, crafted):
    assert get_record(client, crafted.team.rep).status_code == 401
