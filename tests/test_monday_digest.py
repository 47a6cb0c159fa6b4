"""The weekly Monday digest says how many items wait for the "Still needed?" review, in each person's own zone."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from tests.factories import make_item, make_org, make_user, set_status
from tests.test_api_team_requests import statements
from tests.test_worker import FakeSender, subscribe
from webapp.extensions import db
from webapp.models import Digest, NotificationPreferences, PendingDigest
from webapp.notifications import worker
from webapp.notifications.payload import tag_for, topic_for

SECRET = "test"
# Monday 16 March 2026. Kolkata is UTC+05:30: its 09:00 digest is at 03:30 UTC. New York is on
# daylight time (UTC-4) since 8 March: its 09:00 digest is at 13:00 UTC.
KOLKATA_MONDAY_0900 = datetime(2026, 3, 16, 3, 30, tzinfo=UTC)
NEW_YORK_MONDAY_0900 = datetime(2026, 3, 16, 13, 0, tzinfo=UTC)
REVIEW_LINE = {"id": None, "title": "Still needed?", "what": "3 items wait for your review", "url": "/review"}


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def tick(sender, at):
    with time_machine.travel(at, tick=False):
        worker.tick(db.session, sender, SECRET, at=at)
        db.session.commit()


def pushes_to(sender, person):
    return [m["payload"] for m in sender.sent if m["endpoint"].rsplit("/", 1)[1].startswith(f"{person.id}-")]


@pytest.fixture
def team(ctx):
    """Dana in New York manages Ravi in Kolkata, whose plate holds three items open for three weeks."""
    org = make_org()
    dana = make_user(org, "Dana", time_zone="America/New_York")
    ravi = make_user(org, "Ravi", dana, time_zone="Asia/Kolkata")
    for person in (dana, ravi):
        subscribe(person)
    with time_machine.travel(KOLKATA_MONDAY_0900 - timedelta(days=21), tick=False):
        for n in range(3):
            make_item(ravi, ravi, f"Old {n}")
        set_status(make_item(ravi, ravi, "Old but done"))
    with time_machine.travel(KOLKATA_MONDAY_0900 - timedelta(days=2), tick=False):
        make_item(ravi, ravi, "Fresh")
    db.session.commit()
    return dana, ravi


def test_first_monday_digest_says_how_many_wait_even_with_nothing_else_to_tell(team):
    dana, ravi = team
    sender = FakeSender()

    tick(sender, KOLKATA_MONDAY_0900 - timedelta(minutes=1))  # 08:59 in Kolkata
    assert sender.sent == []
    tick(sender, KOLKATA_MONDAY_0900)

    assert pushes_to(sender, ravi) == [{"title": "Still needed?", "body": "3 items wait for your review",
                                        "url": "/review", "count": 1, "items": [REVIEW_LINE],
                                        "tag": tag_for(topic_for(ravi.id, SECRET))}]
    assert pushes_to(sender, dana) == []  # still Sunday night in New York


def test_a_manager_hears_of_their_reports_items_at_their_own_monday_morning(team):
    dana, _ravi = team
    sender = FakeSender()
    tick(sender, KOLKATA_MONDAY_0900)

    tick(sender, NEW_YORK_MONDAY_0900 - timedelta(minutes=1))
    assert pushes_to(sender, dana) == []
    tick(sender, NEW_YORK_MONDAY_0900)

    assert [p["items"] for p in pushes_to(sender, dana)] == [[REVIEW_LINE]]


def test_the_line_leads_the_first_monday_digest_and_only_that_one(team):
    dana, ravi = team
    with time_machine.travel(utc(2026, 3, 15, 16, 0), tick=False):  # Sunday 21:30 in Kolkata: quiet
        make_item(ravi, dana, "Call Tata Motors")
        db.session.commit()
    sender = FakeSender()

    tick(sender, KOLKATA_MONDAY_0900)
    with time_machine.travel(utc(2026, 3, 16, 5, 0), tick=False):
        make_item(ravi, dana, "Quote Bosch")
        db.session.commit()
    tick(sender, utc(2026, 3, 16, 7, 30))  # 13:00 in Kolkata

    first, second = pushes_to(sender, ravi)
    assert [line["title"] for line in first["items"]] == ["Still needed?", "Call Tata Motors"]
    assert first["url"] == "/" and first["count"] == 2
    assert first["body"] == "Still needed? — 3 items wait for your review\nCall Tata Motors — added by Dana"
    assert [line["title"] for line in second["items"]] == ["Quote Bosch"]


def test_an_urgent_push_before_the_first_slot_does_not_take_the_line(team):
    dana, ravi = team
    sender = FakeSender()
    with time_machine.travel(utc(2026, 3, 16, 2, 45), tick=False):  # 08:15 in Kolkata, after quiet hours
        make_item(ravi, dana, "Call the CFO now", urgent=True)
        db.session.commit()

    tick(sender, utc(2026, 3, 16, 2, 45))
    tick(sender, KOLKATA_MONDAY_0900)

    urgent, weekly = pushes_to(sender, ravi)
    assert [line["title"] for line in urgent["items"]] == ["Call the CFO now"]
    assert weekly["items"] == [REVIEW_LINE]


def test_no_line_and_no_push_when_nothing_waits(team):
    dana, ravi = team
    with time_machine.travel(KOLKATA_MONDAY_0900 - timedelta(days=1), tick=False):
        for item in ravi_open_old_items(ravi):
            set_status(item)
        make_item(ravi, dana, "Call Tata Motors")
        db.session.commit()
    sender = FakeSender()

    tick(sender, KOLKATA_MONDAY_0900)
    tick(sender, NEW_YORK_MONDAY_0900)

    assert [p["items"] for p in pushes_to(sender, ravi)] == [[
        {"id": p_id(ravi, "Call Tata Motors"), "title": "Call Tata Motors", "what": "added by Dana"}]]
    assert pushes_to(sender, dana) == []


def test_items_seven_days_overdue_in_the_owners_zone_count_too(team):
    dana, ravi = team
    for item in ravi_open_old_items(ravi):
        set_status(item)
    with time_machine.travel(KOLKATA_MONDAY_0900 - timedelta(days=3), tick=False):
        make_item(ravi, ravi, "Overdue a week", due_on=datetime(2026, 3, 9).date())
        make_item(ravi, ravi, "Overdue six days", due_on=datetime(2026, 3, 10).date())
    db.session.commit()
    sender = FakeSender()

    tick(sender, KOLKATA_MONDAY_0900)

    assert [p["items"] for p in pushes_to(sender, ravi)] == [[
        {**REVIEW_LINE, "what": "1 item waits for your review"}]]


def test_only_mondays(team):
    _dana, ravi = team
    sender = FakeSender()

    tick(sender, KOLKATA_MONDAY_0900 + timedelta(days=1) - timedelta(minutes=1))
    tick(sender, KOLKATA_MONDAY_0900 + timedelta(days=1))  # Tuesday 09:00 in Kolkata

    assert pushes_to(sender, ravi) == []


def test_the_first_monday_slot_follows_the_persons_own_settings(team):
    _dana, ravi = team
    db.session.add(NotificationPreferences(user_id=ravi.id, quiet_start="22:00", quiet_end="06:00",
                                           digest_times=["07:15", "12:00"]))
    db.session.commit()
    sender = FakeSender()

    tick(sender, utc(2026, 3, 16, 1, 44))  # 07:14 in Kolkata
    assert pushes_to(sender, ravi) == []
    tick(sender, utc(2026, 3, 16, 1, 45))  # 07:15

    assert [p["items"] for p in pushes_to(sender, ravi)] == [[REVIEW_LINE]]


def test_a_missed_first_slot_is_sent_when_the_dispatcher_comes_back(team):
    _dana, ravi = team
    sender = FakeSender()

    tick(sender, utc(2026, 3, 16, 3, 0))
    tick(sender, utc(2026, 3, 16, 5, 10))  # no pass from 08:30 to 10:40 in Kolkata

    assert [p["items"] for p in pushes_to(sender, ravi)] == [[REVIEW_LINE]]


def test_push_turned_off_means_no_monday_push(team):
    _dana, ravi = team
    db.session.add(NotificationPreferences(user_id=ravi.id, push_enabled=False))
    db.session.commit()
    sender = FakeSender()

    tick(sender, KOLKATA_MONDAY_0900)

    assert pushes_to(sender, ravi) == []
    assert db.session.scalar(select(func.count()).select_from(PendingDigest)) == 0


def test_two_passes_in_the_same_minute_send_it_once(team):
    _dana, ravi = team
    sender = FakeSender()

    tick(sender, KOLKATA_MONDAY_0900)
    tick(sender, KOLKATA_MONDAY_0900 + timedelta(seconds=15))
    tick(sender, KOLKATA_MONDAY_0900 + timedelta(minutes=1))

    assert len(pushes_to(sender, ravi)) == 1
    assert db.session.scalar(select(func.count()).select_from(Digest)) == 1


def test_looking_for_monday_slots_costs_the_same_for_a_larger_organization(team):
    dana, _ravi = team
    quiet_minute = utc(2026, 3, 16, 3, 10)  # a Monday minute that is nobody's first slot
    tick(FakeSender(), quiet_minute - timedelta(minutes=1))
    with statements() as small:
        with time_machine.travel(quiet_minute, tick=False):
            worker.schedule_monday_digests(db.session, quiet_minute)
    db.session.rollback()
    for n in range(30):
        person = make_user(dana.organization, f"Rep {n}", dana, time_zone="Asia/Kolkata")
        db.session.add(NotificationPreferences(user_id=person.id, digest_times=[f"{8 + n % 4:02d}:00"]))
        with time_machine.travel(KOLKATA_MONDAY_0900 - timedelta(days=30), tick=False):
            make_item(person, person)
    db.session.commit()

    with statements() as large:
        with time_machine.travel(quiet_minute, tick=False):
            worker.schedule_monday_digests(db.session, quiet_minute)

    assert len(large) == len(small)


# --- helpers ----------------------------------------------------------------------------------

def ravi_open_old_items(ravi):
    from webapp.models import Item

    return db.session.scalars(select(Item).where(Item.owner_id == ravi.id, Item.title.like("Old _"))).all()


def p_id(owner, title):
    from webapp.models import Item

    return db.session.scalar(select(Item.id).where(Item.owner_id == owner.id, Item.title == title))
