"""Marshmallow schemas: *In validates requests (unknown fields rejected), *Out shapes responses."""
from datetime import UTC

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

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
    """A JSON string without NUL characters or lone surrogates ("\\ud800"): neither can be stored or hashed."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in value:
            raise ValidationError("Must not contain NUL characters.")
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                raise ValidationError("Must be valid Unicode text.") from None
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
    high_items = fields.Integer(allow_none=True, metadata={"description": "open high-priority items"})


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


class InvitationPreviewOut(Schema):
    email = fields.String()
    name = fields.String()
    organization = fields.Nested(OrganizationOut)
    invited_by = fields.Nested(PersonRef)
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


# --- notifications ------------------------------------------------------------------------

HHMM = lambda **kw: fields.String(  # noqa: E731
    validate=validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="Use a 24-hour time such as 08:30."), **kw)


class QuietHoursIn(InSchema):
    start = HHMM(required=True)
    end = HHMM(required=True)


class NotificationSettingsIn(InSchema):
    time_zone = TimeZone()
    quiet_hours = fields.Nested(QuietHoursIn)
    quiet_days = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1, max=7)),
                             validate=validate.Length(max=7))
    digest_times = fields.List(HHMM(), validate=validate.Length(min=1, max=6))
    push_enabled = Boolean()


class QuietHoursOut(Schema):
    start = fields.String()
    end = fields.String()


class NotificationSettingsOut(Schema):
    time_zone = fields.String()
    quiet_hours = fields.Nested(QuietHoursOut)
    quiet_days = fields.List(fields.Integer())
    digest_times = fields.List(fields.String())
    push_enabled = fields.Boolean()
    local_time = fields.String(metadata={"description": "the person's wall-clock time now, HH:MM"})
    next_digest = fields.String(allow_none=True, metadata={"description": "e.g. 'Thu 09:00'; null if never"})
    next_digest_at = UTCInstant(allow_none=True)


class ItemRef(Schema):
    id = fields.Integer()
    title = fields.String()


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "added, reassigned, urgent, completed, dropped, reopened, "
                                                  "due_changed, priority_changed, due_today or reminder"})
    urgent = fields.Boolean()
    item = fields.Nested(ItemRef)
    actor = fields.Nested(PersonRef, allow_none=True)
    created_at = UTCInstant()
    read = fields.Method("_read")

    def _read(self, notification) -> bool:
        return notification.read_at is not None


class InboxQuery(InSchema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class InboxOut(Schema):
    items = fields.List(fields.Nested(NotificationOut))
    unread = fields.Integer()
    next_cursor = fields.Integer(allow_none=True)


class MarkReadIn(InSchema):
    ids = fields.List(Id(), validate=validate.Length(min=1, max=1000))
    all = Boolean()

    @validates_schema
    def _one_of(self, data, **kwargs):
        if ("ids" in data) == bool(data.get("all")):
            raise ValidationError("Send either ids or all: true.", "ids")


class UnreadOut(Schema):
    unread = fields.Integer()


class PublicKeyOut(Schema):
    public_key = fields.String()


class SubscriptionKeysIn(InSchema):
    p256dh = String(required=True, validate=validate.Length(min=1, max=128))
    auth = String(required=True, validate=validate.Length(min=1, max=64))


class SubscriptionIn(InSchema):
    endpoint = fields.Url(required=True, schemes={"https", "http"}, require_tld=False, validate=validate.Length(max=1024))
    expirationTime = fields.Integer(strict=True, allow_none=True)  # noqa: N815 - the browser's own name
    keys = fields.Nested(SubscriptionKeysIn, required=True)


class SubscriptionOut(Schema):
    id = fields.Integer()
    endpoint = fields.String()
    created_at = UTCInstant()


class EndpointIn(InSchema):
    endpoint = String(required=True, validate=validate.Length(min=1, max=1024))


class PushTestOut(Schema):
    devices = fields.Integer()
    delivered = fields.Integer()


class ErrorOut(Schema):
    """The one error shape of the API."""

    code = fields.Integer(required=True)
    status = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict()
    current = fields.Nested(ItemOut)
