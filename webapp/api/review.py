"""Still needed? Old and overdue open items of the caller and their direct reports: keep or drop each."""
from flask_smorest import Blueprint

from webapp.auth.caller import actor
from webapp.extensions import db
from webapp.schemas import ItemOut
from webapp.schemas.review import (
    DropIn,
    KeepIn,
    ReviewOut,
    ReviewSettingsIn,
    ReviewSettingsOut,
)
from webapp.services import review

blp = Blueprint("review", __name__, url_prefix="/api/v1/review", description="Still needed? Old and overdue open items")


def _headers(item) -> dict:
    return {"ETag": f'"{item.version}"'}


@blp.get("")
@blp.response(200, ReviewOut)
def list_review():
    """Open items of yours and your direct reports' older than the organization's setting or 7+ days overdue."""
    entries = review.review_entries(db.session, actor())
    return {"count": len(entries), "items": entries}


@blp.post("/<int:item_id>/keep")
@blp.arguments(KeepIn())
@blp.response(200, ItemOut)
def keep_item(data, item_id):
    """Still needed: set a new due date (today or later); the item leaves the review until it is old again."""
    item = review.keep(db.session, actor(), item_id, data["due_on"])
    db.session.commit()
    return item, _headers(item)


@blp.post("/<int:item_id>/drop")
@blp.arguments(DropIn())
@blp.response(200, ItemOut)
def drop_item(data, item_id):
    """No longer needed: drop it with a reason; the record counts these drops apart."""
    item = review.drop(db.session, actor(), item_id, data["reason"])
    db.session.commit()
    return item, _headers(item)


@blp.get("/settings")
@blp.response(200, ReviewSettingsOut)
def get_settings():
    """After how many days an open item comes up for review, in your organization."""
    return {"review_after_days": review.review_after_days(db.session, actor())}


@blp.patch("/settings")
@blp.arguments(ReviewSettingsIn())
@blp.response(200, ReviewSettingsOut)
def update_settings(data):
    """Admins: change after how many days (1 to 365) open items come up for review."""
    organization = review.update_settings(db.session, actor(), data)
    db.session.commit()
    return organization
