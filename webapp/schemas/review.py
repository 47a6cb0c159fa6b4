"""Schemas of the "Still needed?" review."""
from marshmallow import Schema, fields, validate

from webapp.schemas import InSchema, ItemOut, String, not_blank


class ReviewEntryOut(Schema):
    item = fields.Nested(ItemOut)
    reasons = fields.List(fields.String(), metadata={"description": '"old" and/or "overdue"'})
    age_days = fields.Integer(metadata={"description": "days since the item was made, or last kept"})
    overdue_days = fields.Integer(metadata={"description": "days past its due date in the owner's zone; 0 if not"})


class ReviewOut(Schema):
    count = fields.Integer()
    items = fields.List(fields.Nested(ReviewEntryOut))


class KeepIn(InSchema):
    due_on = fields.Date(required=True, metadata={"description": "today or later in the owner's zone"})


class DropIn(InSchema):
    reason = String(required=True, validate=[validate.Length(min=1, max=500), not_blank])


class ReviewSettingsIn(InSchema):
    review_after_days = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=365))


class ReviewSettingsOut(Schema):
    review_after_days = fields.Integer()
