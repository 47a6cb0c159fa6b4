"""Workload: for each person below you, their local time, next digest and the load on their plate."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.factories import make_item, make_org, make_user, set_status
from tests.test_api_team_requests import statements
from webapp.extensions import db
from webapp.models import NotificationPreferences

# Sunday 15 March 2026, 20:00 UTC: 14:00 Sunday in Mexico City, already 01:30 Monday in Kolkata.
INSTANT = datetime(2026, 3, 15, 20, 0, tzinfo=UTC)
ROW_KEYS = {"person", "local_time", "in_quiet_hours", "next_digest_at", "open", "overdue", "due_this_week",
            "done_last_7_days", "oldest_open_days"}


def at(days_before: float):
    return time_machine.travel(INSTANT - timedelta(days=days_before), tick=False)


@pytest.fixture
def team(ctx):
    org = make_org()
    boss = make_user(org, "Bea Boss", time_zone="Europe/London")
    max_ = make_user(org, "Max Manager", boss, time_zone="Europe/London")
    ana = make_user(org, "Ana", max_, time_zone="America/Mexico_City")
    ravi = make_user(org, "Ravi", max_, time_zone="Asia/Kolkata")
    jo = make_user(org, "Jo", ana, time_zone="Europe/Berlin")
    # Ravi works nights: quiet only 23:00-01:00, one digest at 02:00. Jo has pushes off.
    db.session.add(NotificationPreferences(user_id=ravi.id, quiet_start="23:00", quiet_end="01:00",
                                           quiet_days=[6, 7], digest_times=["02:00"], push_enabled=True))
    db.session.add(NotificationPreferences(user_id=jo.id, push_enabled=False))
    db.session.commit()
    return boss, max_, ana, ravi, jo


def load_plates(max_, ana, ravi):
    with at(20):
        make_item(ana, max_, "Oldest: low, no due date", priority="low")
    with at(12):
        make_item(ana, max_, "Overdue since Saturday", priority="high", due_on=INSTANT.date() - timedelta(days=1))
        make_item(ana, ana, "Due today, her Sunday", due_on=INSTANT.date())
        make_item(ana, ana, "Due Monday, next week for her", due_on=INSTANT.date() + timedelta(days=1))
        done_recently = make_item(ana, ana, "Done three days ago")
        done_long_ago = make_item(ana, ana, "Done ten days ago")
        dropped = make_item(ana, ana, "Dropped")
    with at(10):
        set_status(done_long_ago)
    with at(3):
        set_status(done_recently)
        set_status(dropped, status="dropped", drop_reason="Not needed")
    with at(2):
        make_item(ravi, max_, "Due Sunday 15: overdue on his Monday", due_on=INSTANT.date())
        make_item(ravi, max_, "Due Monday 16: his today", priority="high", due_on=INSTANT.date() + timedelta(days=1))
        make_item(ravi, max_, "Due Sunday 22: his week", priority="high", due_on=INSTANT.date() + timedelta(days=7))
        make_item(ravi, max_, "Due Monday 23", due_on=INSTANT.date() + timedelta(days=8))
    db.session.commit()


def test_workload_of_direct_reports_in_their_own_zones(client, auth, team):
    _boss, max_, ana, ravi, _jo = team
    load_plates(max_, ana, ravi)

    with time_machine.travel(INSTANT, tick=False):
        response = auth.login(max_).get("/api/v1/team")

    assert response.status_code == 200
    rows = response.json
    assert [set(row) for row in rows] == [ROW_KEYS, ROW_KEYS]
    assert rows[0] == {
        "person": {"id": ana.id, "name": "Ana", "manager_id": max_.id},
        "local_time": "2026-03-15T14:00:00-06:00",
        "in_quiet_hours": True,  # Sunday is a quiet day
        "next_digest_at": "2026-03-16T15:00:00Z",  # Monday 09:00 in Mexico City
        "open": {"high": 1, "normal": 2, "low": 1},
        "overdue": 1,
        "due_this_week": 1,  # her week ends today, Sunday
        "done_last_7_days": 1,
        "oldest_open_days": 20,
    }
    assert rows[1] == {
        "person": {"id": ravi.id, "name": "Ravi", "manager_id": max_.id},
        "local_time": "2026-03-16T01:30:00+05:30",
        "in_quiet_hours": False,  # his quiet hours ended at 01:00
        "next_digest_at": "2026-03-15T20:30:00Z",  # 02:00 Monday in Kolkata
        "open": {"high": 2, "normal": 2, "low": 0},
        "overdue": 1,
        "due_this_week": 2,  # Monday 16 and Sunday 22
        "done_last_7_days": 0,
        "oldest_open_days": 2,
    }


def test_depth_all_reaches_every_level_and_depth_1_only_direct_reports(client, auth, team):
    boss, max_, _ana, _ravi, _jo = team
    with time_machine.travel(INSTANT, tick=False):  # local_time must not cross a second between calls
        client = auth.login(boss)
        direct = client.get("/api/v1/team?depth=1").json
        default = client.get("/api/v1/team").json
        everyone = client.get("/api/v1/team?depth=all").json

    assert [row["person"]["name"] for row in direct] == ["Max Manager"]
    assert default == direct
    assert [row["person"]["name"] for row in everyone] == ["Ana", "Jo", "Max Manager", "Ravi"]


def test_someone_with_an_empty_plate_and_pushes_off_shows_zeros_and_no_next_digest(client, auth, team):
    _boss, _max, ana, _ravi, jo = team

    with time_machine.travel(INSTANT, tick=False):
        rows = auth.login(ana).get("/api/v1/team").json

    assert rows == [{
        "person": {"id": jo.id, "name": "Jo", "manager_id": ana.id},
        "local_time": "2026-03-15T21:00:00+01:00", "in_quiet_hours": True, "next_digest_at": None,
        "open": {"high": 0, "normal": 0, "low": 0}, "overdue": 0, "due_this_week": 0, "done_last_7_days": 0,
        "oldest_open_days": None,
    }]


def test_nobody_below_is_an_empty_team(client, auth, team):
    *_, jo = team

    assert auth.login(jo).get("/api/v1/team?depth=all").json == []


@pytest.mark.parametrize("query", ["depth=2", "depth=", "everyone=1"])
def test_unknown_depth_or_parameter_is_422(client, auth, team, query):
    _boss, max_, *_ = team

    assert auth.login(max_).get(f"/api/v1/team?{query}").status_code == 422


def test_the_workload_takes_the_same_queries_for_three_or_thirteen_people(client, auth, team):
    boss, max_, ana, ravi, _jo = team
    load_plates(max_, ana, ravi)
    client = auth.login(boss)
    with statements() as small:
        assert len(client.get("/api/v1/team?depth=all").json) == 4
    for n in range(10):
        person = make_user(max_.organization, f"Zed {n}", max_, time_zone="Asia/Tokyo")
        db.session.add(NotificationPreferences(user_id=person.id, digest_times=["07:00"]))
        make_item(person, max_, due_on=INSTANT.date())
        set_status(make_item(person, person))
    db.session.commit()

    with statements() as large:
        assert len(client.get("/api/v1/team?depth=all").json) == 14

    assert len(large) == len(small)
