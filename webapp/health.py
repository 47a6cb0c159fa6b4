"""GET /healthz for load balancers: is the database reachable, and when did a dispatcher last finish a pass.

A stale dispatcher does not make this node unhealthy by default: the web nodes still serve people, and
taking them all out of rotation because pushes stopped would turn a partial outage into a total one.
Set PLATE_HEALTH_MAX_DISPATCHER_AGE (seconds) to answer 503 when no pass finished for that long.
"""
import logging

from flask import Blueprint, current_app
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from webapp.clock import now
from webapp.extensions import db
from webapp.models import DispatcherHeartbeat

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


def _dispatcher() -> dict:
    """The latest pass of any dispatcher (its own process, or the thread of `make run`)."""
    last = db.session.scalar(select(func.max(DispatcherHeartbeat.beat_at)))
    if last is None:
        return {"last_beat_at": None, "age_seconds": None}
    age = max(0.0, (now() - last).total_seconds())
    return {"last_beat_at": last.isoformat().replace("+00:00", "Z"), "age_seconds": round(age, 1)}


@bp.get("/healthz")
def healthz():
    """200 when the database answers; 503 when it does not (or the dispatcher is stale, if so configured)."""
    try:
        db.session.execute(text("SELECT 1"))
        dispatcher = _dispatcher()
    except SQLAlchemyError as error:
        db.session.rollback()
        log.warning("health check: database unreachable: %s", type(error).__name__)
        return {"status": "unavailable", "database": "unreachable", "dispatcher": None}, 503, _no_store()
    max_age = current_app.config["PLATE_HEALTH_MAX_DISPATCHER_AGE"]
    if max_age:
        dispatcher["max_age_seconds"] = max_age
        if dispatcher["age_seconds"] is None or dispatcher["age_seconds"] > max_age:
            return {"status": "degraded", "database": "ok", "dispatcher": dispatcher}, 503, _no_store()
    return {"status": "ok", "database": "ok", "dispatcher": dispatcher}, 200, _no_store()


def _no_store() -> dict:
    return {"Cache-Control": "no-store"}
