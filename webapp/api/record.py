"""The record of finished work, for reviews."""
from flask_smorest import Blueprint

from webapp.auth.caller import actor
from webapp.extensions import db
from webapp.schemas.record import RecordOut, RecordQuery
from webapp.services import record

blp = Blueprint("record", __name__, url_prefix="/api/v1/people", description="The record of finished work, for reviews")


@blp.get("/<int:person_id>/record")
@blp.arguments(RecordQuery(), location="query", unknown=None)  # None: the schema's RAISE, as for bodies
@blp.response(200, RecordOut)
def get_record(query, person_id):
    """What a person finished between two local dates (default: their current quarter; at most 5 years).

    For the person and anyone above them. Items finished (done or dropped) in the period, newest first,
    a summary of those items, and the number done in each week (Mondays in the person's zone, empty weeks
    included; the first Monday may fall before `from`).
    """
    person = record.record_person(db.session, actor(), person_id)
    return record.record(db.session, person, query.get("start"), query.get("end"))
