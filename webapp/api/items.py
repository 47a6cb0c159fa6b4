"""Items: add, read, edit (If-Match), move and history."""
from flask import request, url_for

from webapp.api import Blueprint
from webapp.api.idempotency import IDEMPOTENCY_KEY, idempotent
from webapp.auth.caller import actor
from webapp.extensions import db
from webapp.schemas import EventOut, ItemIn, ItemOut, ItemPatchIn, MoveIn
from webapp.services import items

blp = Blueprint("items", __name__, url_prefix="/api/v1/items", description="Items on plates")

IF_MATCH = {
    "in": "header", "name": "If-Match", "required": True,
    "description": 'The ETag of the copy being edited, e.g. "3" (or * to overwrite whatever is there). '
                   "Without it the answer is 428; if the item changed since, 412 with the current item.",
    "schema": {"type": "string"},
}


def _headers(item) -> dict:
    return {"ETag": f'"{item.version}"'}


def _if_match() -> list[str] | None:
    if "If-Match" not in request.headers:
        return None
    return ["*"] if request.if_match.star_tag else list(request.if_match.as_set(include_weak=True))


@blp.post("")
@idempotent
@blp.arguments(ItemIn())
@blp.response(201, ItemOut)
@blp.headers(IDEMPOTENCY_KEY)
def create_item(data):
    """Add an item to a plate. Send `Idempotency-Key` so a retried request creates it only once."""
    item = items.add_item(db.session, actor(), data)
    return item, {**_headers(item), "Location": url_for("items.get_item", item_id=item.id)}


@blp.get("/<int:item_id>")
@blp.response(200, ItemOut)
def get_item(item_id):
    item = items.get_item(db.session, actor(), item_id)
    return item, _headers(item)


@blp.patch("/<int:item_id>")
@blp.arguments(ItemPatchIn())
@blp.response(200, ItemOut)
@blp.alt_response(412, response="DEFAULT_ERROR", description="The item changed since that ETag; `current` holds it as it is now")
@blp.alt_response(428, response="DEFAULT_ERROR", description="If-Match is missing")
@blp.headers(IF_MATCH)
def update_item(data, item_id):
    """Edit, complete, drop (with drop_reason), reopen or reassign; needs If-Match with the ETag."""
    item = items.update_item(db.session, actor(), item_id, _if_match(), data)
    db.session.commit()
    return item, _headers(item)


@blp.post("/<int:item_id>/move")
@idempotent
@blp.arguments(MoveIn())
@blp.response(200, ItemOut)
@blp.headers(IDEMPOTENCY_KEY)
def move_item(data, item_id):
    """Place the item directly before or after another open item of the same plate.

    Send `Idempotency-Key` so a retried move (such as one queued offline) is made only once.
    """
    item = items.move_item(db.session, actor(), item_id, data)
    return item, _headers(item)


@blp.get("/<int:item_id>/history")
@blp.response(200, EventOut(many=True))
def item_history(item_id):
    """Every change to the item, oldest first."""
    return items.history(db.session, actor(), item_id)
