"""Workload of everyone below you."""
from flask_smorest import Blueprint

from webapp.auth.caller import actor
from webapp.extensions import db
from webapp.schemas.team import TeamQuery, WorkloadOut
from webapp.services import team

blp = Blueprint("team", __name__, url_prefix="/api/v1/team", description="Workload of everyone below you")


@blp.get("")
@blp.arguments(TeamQuery(), location="query", unknown=None)
@blp.response(200, WorkloadOut(many=True))
def workload(query):
    """Each person below you (depth=1: direct reports, the default; depth=all: every level), by name.

    Their local time and quiet time now, their next digest, and their open, overdue, due-this-week
    and recently done items, so you see who is overloaded before adding more.
    """
    return team.workload(db.session, actor(), query["depth"])
