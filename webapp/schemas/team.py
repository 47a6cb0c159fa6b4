"""Schemas of team requests ("ask everyone"), the team's workload and interruptions saved."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from webapp.models import PRIORITIES
from webapp.schemas import Boolean, Id, InSchema, ItemOut, Name, PersonRef, String, UTCInstant

MAX_ASSIGNEES = 500


# --- team requests ------------------------------------------------------------------------

class TeamRequestIn(InSchema):
    title = Name(required=True)
    notes = String(validate=validate.Length(max=10_000))
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    urgent = Boolean()
    due_on = fields.Date(allow_none=True)
    placement = fields.String(validate=validate.OneOf(("top", "default")),
                              metadata={"description": '"top": before the first open item; "default": the usual place'})
    assignee_ids = fields.List(Id(), validate=validate.Length(min=1, max=MAX_ASSIGNEES),
                               metadata={"description": "people below you, each once"})
    all_reports = Boolean(metadata={"description": "true: everyone who reports directly to you"})
    all_below = Boolean(metadata={"description": "true: everyone below you, at every level"})

    @validates_schema
    def _one_way_to_choose(self, data, **kwargs):
        chosen = [name for name in ("assignee_ids", "all_reports", "all_below") if data.get(name) not in (None, False)]
        if len(chosen) != 1:
            raise ValidationError("Send exactly one of assignee_ids, all_reports: true or all_below: true.",
                                  "assignee_ids")
        ids = data.get("assignee_ids") or []
        if len(set(ids)) != len(ids):
            raise ValidationError("Name each person once.", "assignee_ids")


class TeamRequestPatchIn(InSchema):
    title = Name()
    notes = String(validate=validate.Length(max=10_000))
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    due_on = fields.Date(allow_none=True)


class TeamRequestQuery(InSchema):
    mine = fields.Boolean(load_default=False, metadata={"description": "true: only requests you made"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class CountsOut(Schema):
    open = fields.Integer()
    done = fields.Integer()
    dropped = fields.Integer()


class AssigneeOut(Schema):
    person = fields.Nested(PersonRef)
    item_id = fields.Integer()
    status = fields.String()
    completed_at = UTCInstant(allow_none=True)
    due_on = fields.Date(allow_none=True)
    on_time = fields.Boolean(allow_none=True, metadata={
        "description": "done on or before its due date in the assignee's zone; null until done or without due date"})


class TeamRequestOut(Schema):
    id = fields.Integer(attribute="request.id")
    title = fields.String(attribute="request.title")
    notes = fields.String(attribute="request.notes")
    priority = fields.String(attribute="request.priority")
    urgent = fields.Boolean(attribute="request.urgent")
    created_by = fields.Nested(PersonRef, attribute="request.created_by")
    created_at = UTCInstant(attribute="request.created_at")
    updated_at = UTCInstant(attribute="request.updated_at")
    due_on = fields.Date(attribute="request.due_on", allow_none=True)
    counts = fields.Nested(CountsOut)
    overdue = fields.Integer(metadata={"description": "open items past their due date in their owner's zone"})
    assignees = fields.List(fields.Nested(AssigneeOut))


class TeamRequestCreatedOut(TeamRequestOut):
    items = fields.List(fields.Nested(ItemOut))


class RemindedOut(Schema):
    reminded = fields.Integer(metadata={"description": "assignees whose item is still open, told in their next digest"})


# --- workload -----------------------------------------------------------------------------

class TeamQuery(InSchema):
    depth = fields.String(load_default="1", validate=validate.OneOf(("1", "all")),
                          metadata={"description": '"1": your direct reports; "all": everyone below you'})


class TeamPersonOut(Schema):
    id = fields.Integer()
    name = fields.String()
    manager_id = fields.Integer(allow_none=True)


class OpenByPriorityOut(Schema):
    high = fields.Integer()
    normal = fields.Integer()
    low = fields.Integer()


class WorkloadOut(Schema):
    person = fields.Nested(TeamPersonOut)
    local_time = fields.String(metadata={"description": "their wall-clock time now, ISO 8601 with their UTC offset"})
    in_quiet_hours = fields.Boolean(metadata={"description": "whether it is quiet time for them now (hours or days)"})
    next_digest_at = UTCInstant(allow_none=True)
    open = fields.Nested(OpenByPriorityOut)
    overdue = fields.Integer()
    due_this_week = fields.Integer(metadata={"description": "open, due from their today to their Sunday"})
    done_last_7_days = fields.Integer()
    oldest_open_days = fields.Integer(allow_none=True, metadata={"description": "null with nothing open"})


# --- interruptions ------------------------------------------------------------------------

class InterruptionsQuery(InSchema):
    days = fields.Integer(load_default=7, validate=validate.Range(min=1, max=90))


class InterruptionsOut(Schema):
    days = fields.Integer()
    people = fields.Integer(metadata={"description": "people below you"})
    items = fields.Integer(metadata={"description": "items others added to their plates in the window"})
    digests = fields.Integer(metadata={
        "description": "digests (not urgent) that brought any of those items to their owners, each counted once"})
    urgent_pushes = fields.Integer(metadata={
        "description": "urgent pushes that brought any of those items to their owners, each counted once"})
    items_per_push = fields.Float(allow_none=True, metadata={
        "description": "items / (digests + urgent_pushes), to two decimals; null when no push carried any"})
    text = fields.String(metadata={"description": 'e.g. "42 items reached your team in 9 digests and 1 urgent push"'})
