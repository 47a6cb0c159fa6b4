"""Simultaneous requests through a real threaded server and connection pool: no lost update, no double create."""
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from tests.factories import PASSWORD, make_item, make_team
from tests.serving import served
from webapp.extensions import db
from webapp.models import IdempotentRequest, Item, ItemEvent, Notification, TeamRequest

CLIENTS = 20


def logged_in(base: str, email: str) -> requests.Session:
    http = requests.Session()
    answer = http.post(f"{base}/api/v1/session", json={"email": email, "password": PASSWORD}, timeout=30)
    assert answer.status_code == 200, answer.text
    http.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return http


def all_at_once(send) -> list[requests.Response]:
    """Call send() from CLIENTS threads released together by a barrier."""
    barrier = threading.Barrier(CLIENTS)

    def one(_):
        barrier.wait(timeout=30)
        return send()

    with ThreadPoolExecutor(CLIENTS) as pool:
        return list(pool.map(one, range(CLIENTS)))


def test_simultaneous_edits_of_one_version_keep_exactly_one(app):
    with app.app_context():
        team = make_team()
        item = make_item(team.rep, title="Call the fleet buyer")
        db.session.commit()
        item_id, email = item.id, team.rep.email
    with served(app) as base:
        http = logged_in(base, email)
        answers = all_at_once(lambda: http.patch(
            f"{base}/api/v1/items/{item_id}", json={"title": "Call the fleet buyer today"},
            headers={"If-Match": '"1"'}, timeout=60))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] + [412] * (CLIENTS - 1), [a.text for a in answers if a.status_code not in (200, 412)]
    assert all(a.json()["current"]["version"] == 2 for a in answers if a.status_code == 412)
    with app.app_context():
        assert db.session.get(Item, item_id).version == 2
        actions = db.session.scalars(select(ItemEvent.action).where(ItemEvent.item_id == item_id)
                                     .order_by(ItemEvent.id)).all()
        assert actions == ["created", "updated"]


def test_simultaneous_creates_with_one_idempotency_key_make_one_item(app):
    with app.app_context():
        team = make_team()
        db.session.commit()
        rep_id, email = team.rep.id, team.rep.email
    with served(app) as base:
        http = logged_in(base, email)
        answers = all_at_once(lambda: http.post(
            f"{base}/api/v1/items", json={"owner_id": rep_id, "title": "Book the trade fair"},
            headers={"Idempotency-Key": "3f1c2a9e-only-once"}, timeout=60))

    assert [a.status_code for a in answers] == [201] * CLIENTS, [a.text for a in answers if a.status_code != 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == CLIENTS - 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Item)) == 1
        assert db.session.scalar(select(func.count()).select_from(IdempotentRequest)) == 1


def test_simultaneous_team_requests_with_one_idempotency_key_ask_once(app):
    with app.app_context():
        team = make_team()
        db.session.commit()
        email, reports = team.manager.email, sorted([team.rep.id, team.peer.id])  # Max's two direct reports
    with served(app) as base:
        http = logged_in(base, email)
        answers = all_at_once(lambda: http.post(
            f"{base}/api/v1/team-requests", json={"title": "Update your pipeline", "priority": "high", "all_reports": True},
            headers={"Idempotency-Key": "7c0e-ask-the-team-once"}, timeout=60))

    assert [a.status_code for a in answers] == [201] * CLIENTS, [a.text for a in answers if a.status_code != 201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert all(a.json() == answers[0].json() for a in answers)
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == CLIENTS - 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TeamRequest)) == 1
        owners = db.session.scalars(select(Item.owner_id).order_by(Item.owner_id)).all()
        assert owners == reports  # one item each
        assert db.session.scalar(select(func.count()).select_from(Notification)) == 2
        assert db.session.scalar(select(func.count()).select_from(IdempotentRequest)) == 1
