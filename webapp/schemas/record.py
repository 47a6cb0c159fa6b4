"""Schemas of the record of finished work."""
from datetime import date

from marshmallow import Schema, fields, validate

from webapp.schemas import Boolean, InSchema, PersonRef, UTCInstant

# Dates far outside these cannot name a period of Plate's and overflow when converted to instants.
RecordDate = lambda **kw: fields.Date(  # noqa: E731
    validate=validate.Range(min=date(1970, 1, 1), max=date(9998, 12, 31)), **kw)


class RecordQuery(InSchema):
    start = RecordDate(data_key="from", metadata={
        "description": "first day, YYYY-MM-DD in the person's zone; default: the first day of the quarter of `to`"})
    end = RecordDate(data_key="to", metadata={
        "description": "last day, included; default: the last day of the person's current quarter"})


class PeriodOut(Schema):
    start = fields.Date(data_key="from")
    end = fields.Date(data_key="to")


class SummaryOut(Schema):
    done = fields.Integer()
    done_on_time = fields.Integer()
    done_late = fields.Integer()
    dropped = fields.Integer()
    dropped_no_longer_needed = fields.Integer(metadata={"description": "dropped from the Still needed? review"})
    median_days_to_done = fields.Float(allow_none=True, metadata={"description": "one decimal; null if none done"})
    added_by_self = fields.Integer(metadata={"description": "of the items in the record"})
    added_by_others = fields.Integer(metadata={"description": "of the items in the record"})


class WeekDoneOut(Schema):
    week_start = fields.Date(metadata={"description": "a Monday in the person's zone"})
    done = fields.Integer()


class RecordItemOut(Schema):
    id = fields.Integer()
    title = fields.String()
    priority = fields.String()
    status = fields.String()
    created_by = fields.Nested(PersonRef)
    created_at = UTCInstant()
    due_on = fields.Date(allow_none=True)
    completed_at = UTCInstant(allow_none=True)
    dropped_at = UTCInstant(allow_none=True)
    drop_reason = fields.String(allow_none=True)
    on_time = Boolean(allow_none=True, metadata={"description": "done by its due date (owner's zone); null "
                                                                "without a due date or when dropped"})


class RecordOut(Schema):
    person = fields.Nested(PersonRef)
    period = fields.Nested(PeriodOut)
    summary = fields.Nested(SummaryOut)
    weekly_done = fields.List(fields.Nested(WeekDoneOut))
    items = fields.List(fields.Nested(RecordItemOut), metadata={"description": "finished in the period, newest first"})
