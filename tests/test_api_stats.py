"""Interruptions saved: what reached the team below you, and how few pushes carried it."""
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.factories import make_item
from webapp.extensions import db
from webapp.models import Digest

INSTANT = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)


def added(owner, creator, days_ago: float):
    with time_machine.travel(INSTANT - timedelta(days=days_ago), tick=False):
        make_item(owner, creator)


def pushed(person, days_ago: float, urgent=False, kind="digest"):
    db.session.add(Digest(user_id=person.id, created_at=INSTANT - timedelta(days=days_ago), urgent=urgent, kind=kind,
                          payload={}, ttl=3600))


def interruptions(auth, person, query=""):
    with time_machine.travel(INSTANT, tick=False):
        return auth.login(person).get(f"/api/v1/stats/interruptions{query}")


def test_counts_what_others_added_below_you_and_the_pushes_that_carried_it(client, auth, team):
    added(team.rep, team.manager, 1)
    added(team.junior, team.manager, 2)
    added(team.rep, team.junior, 3)      # a request up from Jo reached Rita too
    added(team.peer, team.manager, 6.9)
    added(team.rep, team.rep, 1)         # her own item interrupted nobody
    added(team.rep, team.manager, 7.5)   # before the window
    added(team.manager, team.boss, 1)    # on Max's own plate, not his team's
    pushed(team.rep, 1)
    pushed(team.rep, 2, urgent=True)
    pushed(team.junior, 3)
    pushed(team.peer, 6)
    pushed(team.rep, 8)                  # before the window
    pushed(team.rep, 1, kind="test")     # a test push she asked for
    pushed(team.manager, 1, urgent=True)  # Max's own
    db.session.commit()

    response = interruptions(auth, team.manager)

    assert response.status_code == 200
    assert response.json == {"days": 7, "people": 3, "items": 4, "digests": 4, "urgent_pushes": 1,
                             "text": "4 items reached your team in 4 digests and 1 urgent push"}


def test_a_longer_window_counts_more(client, auth, team):
    added(team.rep, team.manager, 1)
    added(team.rep, team.manager, 20)
    pushed(team.rep, 1, urgent=True)
    pushed(team.rep, 20, urgent=True)
    db.session.commit()

    body = interruptions(auth, team.manager, "?days=30").json

    assert (body["days"], body["items"], body["digests"], body["urgent_pushes"]) == (30, 2, 2, 2)
    assert body["text"] == "2 items reached your team in 2 digests and 2 urgent pushes"


def test_text_is_singular_for_one_and_says_no_for_none(client, auth, team):
    added(team.junior, team.rep, 1)
    pushed(team.junior, 1)
    db.session.commit()

    body = interruptions(auth, team.rep).json

    assert (body["people"], body["items"], body["digests"], body["urgent_pushes"]) == (1, 1, 1, 0)
    assert body["text"] == "1 item reached your team in 1 digest and no urgent pushes"


def test_items_without_any_push_say_so(client, auth, team):
    added(team.junior, team.rep, 1)
    added(team.junior, team.rep, 2)
    db.session.commit()

    assert interruptions(auth, team.rep).json["text"] == "2 items reached your team without a single push"


def test_nobody_below_means_nothing_reached(client, auth, team):
    body = interruptions(auth, team.junior, "?days=1").json

    assert body == {"days": 1, "people": 0, "items": 0, "digests": 0, "urgent_pushes": 0,
                    "text": "No items reached your team in the last day"}


@pytest.mark.parametrize("days", ["0", "91", "seven", ""])
def test_days_must_be_1_to_90(client, auth, team, days):
    response = interruptions(auth, team.manager, f"?days={days}")

    assert response.status_code == 422
    assert "days" in response.json["errors"]["query"]
