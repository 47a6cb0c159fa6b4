"""`flask demo`: what a new user runs first (the push commands: tests/test_dispatch_loopback.py)."""
from sqlalchemy import func, select

from webapp.cli import DEMO_PASSWORD
from webapp.extensions import db
from webapp.models import Item, Organization, User


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
