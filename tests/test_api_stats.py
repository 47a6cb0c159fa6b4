"""Interruptions saved: what reached the team below you, and how few pushes carried it."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import update

from tests.factories import make_item
from tests.test_worker import FakeSender, subscribe
from webapp.extensions import db
from webapp.models import Digest, Notification
from webapp.notifications import worker

INSTANT = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)  # Tuesday, 11:30 in Berlin, where the team works


def added(owner, creator, days_ago: float):
    with time_machine.travel(INSTANT - timedelta(days=days_ago), tick=False):
        return make_item(owner, creator)


def pushed(person, days_ago: float, *carrying, urgent=False, kind="digest"):
    """A push to the person that carried the lines about `carrying` (items someone added to their plate)."""
    digest = Digest(user_id=person.id, created_at=INSTANT - timedelta(days=days_ago), urgent=urgent, kind=kind,
                    payload={}, ttl=3600)
    db.session.add(digest)
    db.session.flush()
    lines = db.session.execute(
        update(Notification)
        .where(Notification.user_id == person.id, Notification.item_id.in_([item.id for item in carrying]))
        .values(digest_id=digest.id)
    )
    assert lines.rowcount == len(carrying), "each carried item needs a line for this person"


def interruptions(auth, person, query=""):
    with time_machine.travel(INSTANT, tick=False):
        return auth.login(person).get(f"/api/v1/stats/interruptions{query}")


def test_counts_what_others_added_below_you_and_each_push_that_carried_it_once(client, auth, team):
    for_rita = added(team.rep, team.manager, 1)
    for_jo = added(team.junior, team.manager, 2)
    request_up = added(team.rep, team.junior, 3)    # a request up from Jo reached Rita too
    for_jo_too = added(team.junior, team.rep, 1.5)
    for_pat = added(team.peer, team.manager, 6.9)
    added(team.rep, team.rep, 1)                    # her own item interrupted nobody
    older = added(team.rep, team.manager, 7.5)      # before the window
    max_own = added(team.manager, team.boss, 1)     # on Max's own plate, not his team's
    pushed(team.rep, 2.9, request_up, urgent=True)
    pushed(team.rep, 0.9, for_rita)
    pushed(team.junior, 1.4, for_jo, for_jo_too)   # one digest, two items: one push
    pushed(team.peer, 6.8, for_pat)
    pushed(team.rep, 6, older)                      # in the window, but it carried only an older item
    pushed(team.peer, 0.5)                          # a digest with none of these items in it
    pushed(team.rep, 8)                             # before the window
    pushed(team.rep, 1, kind="test")                # a test push she asked for
    pushed(team.manager, 1, max_own, urgent=True)   # Max's own
    db.session.commit()

    response = interruptions(auth, team.manager)

    assert response.status_code == 200
    assert response.json == {"days": 7, "people": 3, "items": 5, "digests": 3, "urgent_pushes": 1,
                             "items_per_push": 1.25,
                             "text": "5 items reached your team in 3 digests and 1 urgent push"}


def test_urgent_pushes_are_not_counted_as_digests_too(client, auth, team):
    first = added(team.rep, team.manager, 1)
    second = added(team.rep, team.manager, 20)
    pushed(team.rep, 1, first, urgent=True)
    pushed(team.rep, 20, second, urgent=True)
    db.session.commit()

    body = interruptions(auth, team.manager, "?days=30").json

    assert (body["days"], body["items"], body["digests"], body["urgent_pushes"], body["items_per_push"]) == (
        30, 2, 0, 2, 1.0)
    assert body["text"] == "2 items reached your team in 2 urgent pushes"


def test_text_is_singular_for_one_and_says_no_for_none(client, auth, team):
    item = added(team.junior, team.rep, 1)
    pushed(team.junior, 1, item)
    db.session.commit()

    body = interruptions(auth, team.rep).json

    assert (body["people"], body["items"], body["digests"], body["urgent_pushes"], body["items_per_push"]) == (
        1, 1, 1, 0, 1.0)
    assert body["text"] == "1 item reached your team in 1 digest and no urgent pushes"


def test_items_per_push_is_rounded_to_two_decimals(client, auth, team):
    first, second, third, fourth = (added(team.junior, team.rep, days) for days in (3, 2.5, 2, 1))
    pushed(team.junior, 2.4, first, second)
    pushed(team.junior, 1.9, third)
    pushed(team.junior, 0.9, fourth, urgent=True)
    db.session.commit()

    body = interruptions(auth, team.rep).json

    assert (body["items"], body["digests"], body["urgent_pushes"], body["items_per_push"]) == (4, 2, 1, 1.33)
    assert body["text"] == "4 items reached your team in 2 digests and 1 urgent push"


def test_items_without_any_push_say_so_and_have_no_ratio(client, auth, team):
    added(team.junior, team.rep, 1)
    added(team.junior, team.rep, 2)
    pushed(team.junior, 0.5)  # a push about something else
    db.session.commit()

    body = interruptions(auth, team.rep).json

    assert (body["items"], body["digests"], body["urgent_pushes"], body["items_per_push"]) == (2, 0, 0, None)
    assert body["text"] == "2 items reached your team without a single push"


def test_nobody_below_means_nothing_reached(client, auth, team):
    body = interruptions(auth, team.junior, "?days=1").json

    assert body == {"days": 1, "people": 0, "items": 0, "digests": 0, "urgent_pushes": 0, "items_per_push": None,
                    "text": "No items reached your team in the last day"}


def test_counts_the_pushes_the_dispatcher_sent(client, auth, team):
    subscribe(team.rep)
    db.session.commit()
    sender = FakeSender()
    with time_machine.travel(datetime(2026, 3, 10, 9, 30, tzinfo=UTC), tick=False):  # 10:30 in Berlin
        make_item(team.rep, team.manager, title="Call the fleet buyer")
        make_item(team.rep, team.manager, title="Send the forecast")
        db.session.commit()
    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False):  # the 13:00 digest
        worker.tick(db.session, sender, "test")
    with time_machine.travel(datetime(2026, 3, 10, 12, 30, tzinfo=UTC), tick=False):
        make_item(team.rep, team.manager, title="The customer is waiting", urgent=True)
        db.session.commit()
        worker.tick(db.session, sender, "test")  # urgent: pushed at once
    assert len(sender.sent) == 2

    with time_machine.travel(datetime(2026, 3, 10, 14, 0, tzinfo=UTC), tick=False):
        body = auth.login(team.manager).get("/api/v1/stats/interruptions").json

    assert (body["items"], body["digests"], body["urgent_pushes"], body["items_per_push"]) == (3, 1, 1, 1.5)
    assert body["text"] == "3 items reached your team in 1 digest and 1 urgent push"


@pytest.mark.parametrize("days", ["0", "91", "seven", ""])
def test_days_must_be_1_to_90(client, auth, team, days):
    response = interruptions(auth, team.manager, f"?days={days}")

    assert response.status_code == 422
    assert "days" in response.json["errors"]["query"]
