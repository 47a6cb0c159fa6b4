"""The flask commands a new user and an operator run: `demo`, `push keys` and `push tick`."""
from datetime import UTC, datetime

import time_machine
from sqlalchemy import func, select

from tests.factories import make_item, make_org, make_user
from tests.loopback_push import LoopbackPushService
from webapp.cli import DEMO_PASSWORD
from webapp.extensions import db
from webapp.models import Item, Organization, PushSubscription, User
from webapp.notifications import dispatcher


def test_demo_loads_a_manager_and_three_reps_in_three_zones_once(app, client, ctx):
    first = app.test_cli_runner().invoke(args=["demo"])
    again = app.test_cli_runner().invoke(args=["demo"])

    assert first.exit_code == 0 and "Loaded the demo organization" in first.output
    assert "already loaded" in again.output
    assert db.session.scalar(select(func.count()).select_from(Organization)) == 1
    people = db.session.scalars(select(User).order_by(User.id)).all()
    manager, *reps = people
    assert len(reps) == 3 and all(rep.manager_id == manager.id for rep in reps)
    assert len({rep.time_zone for rep in reps}) == 3
    assert all(db.session.scalar(select(func.count()).where(Item.owner_id == rep.id)) >= 2 for rep in reps)
    login = client.post("/api/v1/session", json={"email": manager.email, "password": DEMO_PASSWORD})
    assert login.status_code == 200  # the printed credentials work
    assert f"{manager.email} / {DEMO_PASSWORD}" in first.output


def test_push_tick_delivers_a_due_digest_and_says_what_it_did(app, ctx):
    keys = app.test_cli_runner().invoke(args=["push", "keys"])
    assert keys.exit_code == 0 and "VAPID public key:" in keys.output
    org = make_org()
    boss = make_user(org, "Dana", time_zone="Europe/London")
    rep = make_user(org, "Ravi", boss, time_zone="Asia/Kolkata")
    with LoopbackPushService() as service:
        phone = service.device("ravi-phone").subscription()
        db.session.add(PushSubscription(user_id=rep.id, endpoint=phone["endpoint"], p256dh=phone["keys"]["p256dh"],
                                        auth=phone["keys"]["auth"]))
        with time_machine.travel(datetime(2026, 11, 25, 5, 0, tzinfo=UTC), tick=False):  # 10:30 in Kolkata
            make_item(rep, boss, "Update the Q4 pipeline")
            db.session.commit()
        with time_machine.travel(datetime(2026, 11, 25, 7, 30, tzinfo=UTC), tick=False):  # the 13:00 digest
            result = app.test_cli_runner().invoke(args=["push", "tick"])

        assert result.exit_code == 0, result.output
        assert "1 digests, 1 sends {'delivered': 1}" in result.output
        assert service.rejected == []
        [received] = service.received
        assert received.payload["items"][0]["title"] == "Update the Q4 pipeline"


def test_on_sqlite_a_dispatcher_waits_while_another_is_in_a_pass(app, ctx, database_url):
    org = make_org()
    boss = make_user(org, "Dana", time_zone="Europe/London")
    rep = make_user(org, "Ravi", boss, time_zone="Asia/Kolkata")
    with LoopbackPushService() as service:
        phone = service.device("ravi-phone").subscription()
        db.session.add(PushSubscription(user_id=rep.id, endpoint=phone["endpoint"], p256dh=phone["keys"]["p256dh"],
                                        auth=phone["keys"]["auth"]))
        with time_machine.travel(datetime(2026, 11, 25, 5, 0, tzinfo=UTC), tick=False):
            make_item(rep, boss, "Update the Q4 pipeline")
            db.session.commit()
        with time_machine.travel(datetime(2026, 11, 25, 7, 30, tzinfo=UTC), tick=False):
            with dispatcher.sqlite_pass_lock(app) as first:  # another dispatcher is in a pass
                assert first
                during = dispatcher.tick(app, name="second")
            after = dispatcher.tick(app, name="second")

    if database_url.startswith("sqlite"):
        assert (during.digests, during.sent) == (0, 0)
        assert (after.digests, after.sent) == (1, 1)
    else:  # PostgreSQL dispatchers share the work through SKIP LOCKED instead
        assert (during.digests, during.sent) == (1, 1)
    assert len(service.received) == 1
