"""Interruptions saved."""
from flask_smorest import Blueprint

from webapp.auth.caller import actor
from webapp.extensions import db
from webapp.schemas.team import InterruptionsOut, InterruptionsQuery
from webapp.services import team

blp = Blueprint("stats", __name__, url_prefix="/api/v1/stats", description="Interruptions saved")


@blp.get("/interruptions")
@blp.arguments(InterruptionsQuery(), location="query", unknown=None)
@blp.response(200, InterruptionsOut)
def interruptions(query):
    """Items others added to the plates of everyone below you in the last `days` days (1-90), and the pushes that carried them."""
    return team.interruptions(db.session, actor(), query["days"])
