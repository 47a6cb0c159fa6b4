"""People of the organization, the reporting line and their plates."""
from flask import Response, request

from webapp.api import Blueprint, plate_cache
from webapp.auth.caller import actor, caller
from webapp.extensions import db
from webapp.schemas import PersonPatchIn, PersonRowOut, PlateOut, PlateQuery
from webapp.services import items, people

blp = Blueprint("people", __name__, url_prefix="/api/v1/people", description="People and plates")


@blp.get("")
@blp.response(200, PersonRowOut(many=True))
def list_people():
    """Everyone in your organization; plate counts only for plates you may see (else null)."""
    return people.list_people(db.session, actor())


@blp.patch("/<int:person_id>")
@blp.arguments(PersonPatchIn())
@blp.response(200, PersonRowOut)
def update_person(data, person_id):
    """Admins: set someone's manager (no cycles) or admin right."""
    person = people.update_person(db.session, actor(), person_id, data)
    db.session.commit()
    return next(row for row in people.list_people(db.session, actor()) if row.person.id == person.id)


@blp.get("/<int:person_id>/plate")
@blp.arguments(PlateQuery(), location="query", unknown=None)  # None: the schema's RAISE, as for bodies
@blp.response(200, PlateOut)
@blp.alt_response(304, description="Not modified: the plate still matches If-None-Match")
@blp.headers({"in": "header", "name": "If-None-Match", "required": False, "schema": {"type": "string"},
                      "description": "The ETag of the copy this device holds: 304 while the plate is unchanged"})
def get_plate(query, person_id):
    """A person's plate: open items in plate order, done/dropped newest first; paginated by cursor.

    Answers with an ETag; send it back in If-None-Match to get 304 when nothing changed.
    """
    access = items.plate_access(db.engine, caller(), person_id)
    key = plate_cache.plate_key(access, query)
    etag = plate_cache.etag_for(key)
    if etag in request.if_none_match:
        return Response(status=304, headers={"ETag": f'"{etag}"'})

    def render():
        owner = people.get_person(db.session, actor(), person_id)
        page = items.plate(db.session, owner, query["status"], query["limit"], query.get("cursor"))
        return PlateOut().dump(page)

    body = plate_cache.rendered_plate(key, render)
    return Response(body, content_type="application/json", headers={"ETag": f'"{etag}"'})
