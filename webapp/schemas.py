"""Marshmallow schemas: *In validates requests (unknown fields rejected), *Out shapes responses."""
from datetime import UTC

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from webapp.clock import local_today
from webapp.models import PRIORITIES, STATUSES
from webapp.models.types import MAX_ID


class UTCInstant(fields.DateTime):
    """ISO 8601 in UTC with a trailing Z, e.g. 2026-11-25T09:14:00Z."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


class InSchema(Schema):
    class Meta:
        unknown = RAISE


class String(fields.String):
    """A JSON string without NUL characters (PostgreSQL cannot store them)."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in value:
            raise ValidationError("Must not contain NUL characters.")
        return value


class Boolean(fields.Boolean):
    """JSON true or false only: "yes", 1 or "false" are mistakes, not booleans."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


Name = lambda **kw: String(validate=[validate.Length(min=1, max=200), not_blank], **kw)  # noqa: E731
Email = lambda **kw: fields.Email(validate=validate.Length(max=254), **kw)  # noqa: E731
Password = lambda **kw: String(validate=validate.Length(max=1024), **kw)  # noqa: E731
TimeZone = lambda **kw: String(validate=validate.Length(min=1, max=64), **kw)  # noqa: E731
Id = lambda **kw: fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kw)  # noqa: E731


# --- people -------------------------------------------------------------------------------

class PersonRef(Schema):
    id = fields.Integer()
    name = fields.String()


class OrganizationOut(Schema):
    id = fields.Integer()
    name = fields.String()


class UserOut(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()
    manager_id = fields.Integer(allow_none=True)
    time_zone = fields.String()
    is_admin = fields.Boolean()
    organization = fields.Nested(OrganizationOut)


class PersonRowOut(Schema):
    id = fields.Integer(attribute="person.id")
    name = fields.String(attribute="person.name")
    email = fields.String(attribute="person.email")
    manager_id = fields.Integer(attribute="person.manager_id", allow_none=True)
    time_zone = fields.String(attribute="person.time_zone")
    is_admin = fields.Boolean(attribute="person.is_admin")
    open_items = fields.Integer(allow_none=True)
    overdue_items = fields.Integer(allow_none=True)


class AdminIn(InSchema):
    name = Name(required=True)
    email = Email(required=True)
    password = Password(required=True)
    time_zone = TimeZone(required=True)


class OrganizationIn(InSchema):
    name = Name(required=True)
    admin = fields.Nested(AdminIn, required=True)


class OrganizationCreatedOut(Schema):
    organization = fields.Nested(OrganizationOut)
    user = fields.Nested(UserOut)
    csrf_token = fields.String()


class LoginIn(InSchema):
    email = String(required=True, validate=validate.Length(max=254))
    password = Password(required=True)


class SessionOut(Schema):
    user = fields.Nested(UserOut)
    csrf_token = fields.String()


class MeIn(InSchema):
    name = Name()
    time_zone = TimeZone()
    password = Password()
    current_password = Password()


class InvitationIn(InSchema):
    email = Email(required=True)
    name = Name(required=True)
    manager_id = Id(allow_none=True)
    is_admin = Boolean()


class InvitationOut(Schema):
    id = fields.Integer()
    token = fields.String()
    url = fields.String()
    expires_at = UTCInstant()


class AcceptIn(InSchema):
    name = Name()
    password = Password(required=True)
    time_zone = TimeZone(required=True)


class UserEnvelopeOut(Schema):
    user = fields.Nested(UserOut)
    csrf_token = fields.String()


class PersonPatchIn(InSchema):
    manager_id = Id(allow_none=True)
    is_admin = Boolean()


# --- items --------------------------------------------------------------------------------

class ItemOut(Schema):
    id = fields.Integer()
    title = fields.String()
    notes = fields.String()
    owner = fields.Nested(PersonRef)
    created_by = fields.Nested(PersonRef)
    priority = fields.String()
    urgent = Boolean()
    due_on = fields.Date(allow_none=True)
    overdue = fields.Method("_overdue")
    status = fields.String()
    drop_reason = fields.String(allow_none=True)
    position = fields.Float()
    version = fields.Integer()
    created_at = UTCInstant()
    updated_at = UTCInstant()
    completed_at = UTCInstant(allow_none=True)
    dropped_at = UTCInstant(allow_none=True)

    def _overdue(self, item) -> bool:
        return item.status == "open" and item.due_on is not None and item.due_on < local_today(item.owner.time_zone)


class PlacementIn(InSchema):
    before_id = Id(allow_none=True)
    after_id = Id(allow_none=True)


class ItemIn(PlacementIn):
    owner_id = Id(required=True)
    title = Name(required=True)
    notes = String(validate=validate.Length(max=10_000))
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    urgent = Boolean()
    due_on = fields.Date(allow_none=True)


class ItemPatchIn(InSchema):
    title = Name()
    notes = String(validate=validate.Length(max=10_000))
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    urgent = Boolean()
    due_on = fields.Date(allow_none=True)
    status = fields.String(validate=validate.OneOf(STATUSES))
    drop_reason = String(validate=validate.Length(max=500))
    owner_id = Id()


class MoveIn(PlacementIn):
    pass


class PlateQuery(InSchema):
    status = fields.String(load_default="open", validate=validate.OneOf((*STATUSES, "all")))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = String(validate=validate.Length(max=500))


class PlateOut(Schema):
    person = fields.Nested(PersonRef)
    items = fields.List(fields.Nested(ItemOut))
    next_cursor = fields.String(allow_none=True)


class EventOut(Schema):
    at = UTCInstant()
    actor = fields.Nested(PersonRef)
    action = fields.String()
    changes = fields.Dict()


class ErrorOut(Schema):
    """The one error shape of the API."""

    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict()
    current = fields.Nested(ItemOut)
