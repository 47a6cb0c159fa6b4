"""Team requests: ask several people at once, follow their progress, edit what is open, remind."""
from flask import url_for

from webapp.api import Blueprint
from webapp.api.idempotency import IDEMPOTENCY_KEY, idempotent
from webapp.auth.caller import actor
from webapp.extensions import db
from webapp.schemas.team import (
    RemindedOut,
    TeamRequestCreatedOut,
    TeamRequestIn,
    TeamRequestOut,
    TeamRequestPatchIn,
    TeamRequestQuery,
)
from webapp.services import team_requests

blp = Blueprint("team_requests", __name__, url_prefix="/api/v1/team-requests", description="Team requests: ask several people at once")


@blp.post("")
@idempotent
@blp.arguments(TeamRequestIn())
@blp.response(201, TeamRequestCreatedOut)
@blp.headers(IDEMPOTENCY_KEY)
def create_request(data):
    """One item on each chosen plate (assignee_ids, all_reports or all_below), all or none; honours Idempotency-Key."""
    progress = team_requests.create_request(db.session, actor(), data)
    return progress, {"Location": url_for("team_requests.get_request", request_id=progress.request.id)}


@blp.get("")
@blp.arguments(TeamRequestQuery(), location="query", unknown=None)
@blp.response(200, TeamRequestOut(many=True))
def list_requests(query):
    """Newest first: your requests, and those of everyone below you unless mine=true."""
    return team_requests.list_requests(db.session, actor(), query["mine"], query["limit"])


@blp.get("/<int:request_id>")
@blp.response(200, TeamRequestOut)
def get_request(request_id):
    """Progress of a request: counts, overdue and each assignee; for the requester and their managers."""
    return team_requests.request_progress(db.session, actor(), request_id)


@blp.patch("/<int:request_id>")
@blp.arguments(TeamRequestPatchIn())
@blp.response(200, TeamRequestOut)
def update_request(data, request_id):
    """Edit the request; its open items change with it (each in its own history), finished ones do not."""
    progress = team_requests.update_request(db.session, actor(), request_id, data)
    db.session.commit()
    return progress


@blp.post("/<int:request_id>/remind")
@blp.response(200, RemindedOut)
def remind(request_id):
    """A reminder line in the next digest of each assignee still open; never an immediate push."""
    reminded = team_requests.remind(db.session, actor(), request_id)
    db.session.commit()
    return {"reminded": reminded}
