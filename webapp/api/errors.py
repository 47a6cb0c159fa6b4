"""One error shape for the whole API: {code, status, message, errors?}; pages keep HTML errors.

The OpenAPI document lists, per operation, the errors it can answer, all with that one shape. They
come from the rules in ERROR_RULES, applied by ErrorResponsesPlugin to every operation as the spec
is built, rather than from decorators on each view: a new view gets its errors from what it is
(needs a session, unsafe, ids in its path, a JSON body, If-Match, a rate-limited door) and from
SERVICE_ERRORS, the statuses its service raises.
"""
import http
import logging
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass

from apispec import BasePlugin
from flask import render_template, request
from flask_smorest import Api
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from webapp.services.errors import DomainError

log = logging.getLogger(__name__)

SHORT_MESSAGES = {
    400: "The request could not be read.",
    401: "Log in first.",
    403: "You are not allowed to do that.",
    404: "Not found.",
    405: "That method is not allowed here.",
    409: "That conflicts with something that already exists.",
    413: "The request is too large.",
    415: "Send JSON with Content-Type: application/json.",
    500: "Something went wrong on our side; nothing was changed.",
}


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def _fields_message(errors: dict) -> str:
    """A sentence naming the rejected fields, e.g. 'Check these fields: title, due_on.'."""
    names = []
    for location, fields in errors.items():
        if isinstance(fields, dict):
            names.extend(str(name) for name in fields if name != "_schema")  # _schema: not an object at all
        else:
            names.append(location)
    if names:
        return f"Check these fields: {', '.join(names)}."
    return "Send a JSON object with the documented fields." if "json" in errors else "The input is not valid."


def error_payload(code: int, status: str, message: str, errors: dict | None = None, **extra) -> dict:
    payload = {"code": code, "status": status, "message": message}
    if errors:
        payload["errors"] = errors
    payload.update(extra)
    return payload


# --- the errors each operation documents ----------------------------------------------------

@dataclass(frozen=True)
class Operation:
    """One operation of the OpenAPI document as it is built: its endpoint, method, path and its doc so far."""

    endpoint: str
    method: str  # upper case
    path_parameters: tuple[str, ...]
    doc: dict

    def parameters(self, location: str) -> set[str]:
        return {p["name"] for p in self.doc.get("parameters", []) if isinstance(p, dict) and p.get("in") == location}

    @property
    def json_body(self) -> bool:
        return "requestBody" in self.doc

    @property
    def needs_session(self) -> bool:
        from webapp.auth.guard import PUBLIC_ENDPOINTS

        return self.endpoint not in PUBLIC_ENDPOINTS

    @property
    def checks_csrf(self) -> bool:
        from webapp.auth.guard import CSRF_EXEMPT_ENDPOINTS, UNSAFE_METHODS

        return self.method in UNSAFE_METHODS and self.endpoint not in CSRF_EXEMPT_ENDPOINTS

    @property
    def rate_limited(self) -> bool:
        from webapp.ratelimits import DOORS

        return self.endpoint in {door.endpoint for door in DOORS}


@dataclass(frozen=True)
class ErrorRule:
    """An error status an operation documents when `applies` says so, for the reason `reason` gives."""

    status: int
    applies: Callable[[Operation], bool]
    reason: str | Callable[[Operation], str]
    headers: dict | None = None


RETRY_AFTER = {
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer", "minimum": 1}},
}
NOT_FOUND_IN_PATH = {
    "person_id": "No such person in your organization.",
    "item_id": "No such item among those you may see (ids of other organizations answer 404 too).",
    "request_id": "No such team request in your organization.",
    "token": "No such invitation.",
}
# What services raise beyond the rules below, by endpoint: status -> reason.
SERVICE_ERRORS: dict[str, dict[int, str]] = {
    "accounts.create_organization": {409: "An account with this email already exists."},
    "accounts.get_session": {401: "Nobody is logged in."},
    "accounts.log_in": {401: "The email or the password is wrong."},
    "invitations.create_invitation": {
        403: "You may invite people to report to you or to someone below you; admins may invite anyone.",
        404: "manager_id names nobody in your organization.",
        409: "An account with this email already exists.",
    },
    "invitations.preview_invitation": {410: "The invitation has been used or has expired."},
    "invitations.accept_invitation": {
        409: "An account with the invitation's email already exists.",
        410: "The invitation has been used or has expired.",
    },
    "people.update_person": {
        403: "Only admins may change managers and admin rights.",
        404: "manager_id names nobody in your organization.",
    },
    "people.get_plate": {403: "Only the person and their managers may see this plate."},
    "items.create_item": {
        403: "You may not add items to that plate.",
        404: "owner_id names nobody in your organization.",
    },
    "items.update_item": {403: "You may not move the item to that plate, or mark it urgent there."},
    "team_requests.create_request": {
        403: "Someone in the request is not below you.",
        404: "An id in assignee_ids names nobody in your organization.",
    },
    "team_requests.get_request": {403: "Only the requester and their managers may follow this request."},
    "team_requests.update_request": {403: "Only the requester and their managers may edit this request."},
    "team_requests.remind": {403: "Only the requester and their managers may remind."},
    "record.get_record": {403: "Only the person and their managers may see this record."},
    "review.keep_item": {403: "Only the owner and their managers may keep or drop this item."},
    "review.drop_item": {403: "Only the owner and their managers may keep or drop this item."},
    "review.update_settings": {403: "Only admins may change when items come up for review."},
}


def _raised_by_service(status: int) -> ErrorRule:
    return ErrorRule(status, lambda op: status in SERVICE_ERRORS.get(op.endpoint, {}),
                     lambda op: SERVICE_ERRORS[op.endpoint][status])


ERROR_RULES: tuple[ErrorRule, ...] = (
    ErrorRule(400, lambda op: op.json_body, "The body is not valid JSON, or it is nested too deeply."),
    ErrorRule(401, lambda op: op.needs_session, "Not logged in, or the session has ended."),
    _raised_by_service(401),
    ErrorRule(403, lambda op: op.checks_csrf, "The X-CSRF-Token header is missing or not this session's."),
    _raised_by_service(403),
    ErrorRule(404, lambda op: bool(op.path_parameters),
              lambda op: " ".join(NOT_FOUND_IN_PATH.get(name, f"No such {name}.") for name in op.path_parameters)),
    _raised_by_service(404),
    _raised_by_service(409),
    _raised_by_service(410),
    ErrorRule(412, lambda op: "If-Match" in op.parameters("header"),
              "The item changed since that ETag; `current` holds it as it is now."),
    ErrorRule(413, lambda op: op.json_body, "The body is larger than 1 MB."),
    ErrorRule(415, lambda op: op.json_body, "The body is not JSON: send Content-Type: application/json."),
    ErrorRule(422, lambda op: op.json_body or bool(op.parameters("query") | op.parameters("header")),
              "Check the fields named in `errors`."),
    ErrorRule(428, lambda op: "If-Match" in op.parameters("header"), "If-Match is missing."),
    ErrorRule(429, lambda op: op.rate_limited, "Too many attempts: try again after Retry-After seconds.",
              headers=RETRY_AFTER),
)


def error_responses(operation: Operation, schema) -> dict[str, dict]:
    """The error responses the rules give the operation, by status: each reason once, in one error schema."""
    reasons: dict[int, list[str]] = {}
    headers: dict[int, dict] = {}
    for rule in ERROR_RULES:
        if rule.applies(operation):
            reason = rule.reason(operation) if callable(rule.reason) else rule.reason
            if reason not in reasons.setdefault(rule.status, []):
                reasons[rule.status].append(reason)
            headers.setdefault(rule.status, {}).update(rule.headers or {})
    responses = {}
    for status, texts in sorted(reasons.items()):
        response = {"description": " ".join(texts), "content": {"application/json": {"schema": schema}}}
        if headers[status]:
            response["headers"] = deepcopy(headers[status])  # apispec resolves them in place
        responses[str(status)] = response
    return responses


class ErrorResponsesPlugin(BasePlugin):
    """Adds the error responses of ERROR_RULES to each operation; what a view documents itself is kept."""

    def __init__(self, api: "PlateApi"):
        super().__init__()
        self.api = api

    def operation_helper(self, path=None, operations=None, **kwargs):
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        for method, doc in operations.items():
            if method.upper() not in http.HTTPMethod.__members__:
                continue
            operation = Operation(rule.endpoint, method.upper(), tuple(sorted(rule.arguments)), doc)
            responses = doc.setdefault("responses", {})
            # Codes are ints, HTTPStatus or strings so far; a view's own response is kept unless it is only
            # flask-smorest's generic one (DEFAULT_ERROR, or the status's reason phrase alone).
            documented = {_status_key(code) for code, response in responses.items() if not _generic(response)}
            for status, response in error_responses(operation, self.api.ERROR_SCHEMA).items():
                if status not in documented:
                    self.api.ma_plugin.resolver.resolve_response(response)
                    for code in [code for code in responses if _status_key(code) == status]:
                        del responses[code]
                    responses[status] = response
            doc["responses"] = dict(sorted(responses.items(), key=lambda kv: _status_order(kv[0])))


def _generic(response) -> bool:
    name = response.get("$ref", "").rpartition("/")[2] if isinstance(response, dict) and len(response) == 1 else response
    return isinstance(name, str) and (name == "DEFAULT_ERROR" or name in http.HTTPStatus.__members__)


def _status_key(code) -> str:
    try:
        return str(int(code))
    except (TypeError, ValueError):
        return str(code)  # "default"


def _status_order(code) -> int:
    key = _status_key(code)
    return int(key) if key.isdigit() else 1000


class PlateApi(Api):
    """flask-smorest's Api, with its error handler limited to /api, a human message on every error, and every
    operation's error responses documented by ERROR_RULES."""

    def _init_spec(self, *, extra_plugins=None, **kwargs):
        super()._init_spec(extra_plugins=[*(extra_plugins or ()), ErrorResponsesPlugin(self)], **kwargs)

    # The document is written when it is first read (GET /api/v1/openapi.json), not while the app is made:
    # writing it is most of what create_app costs, and a worker, a CLI command or a test rarely reads it.

    def init_app(self, app, *, spec_kwargs=None):
        self._undocumented = []
        super().init_app(app, spec_kwargs=spec_kwargs)

    def register_blueprint(self, blp, *, parameters=None, **options):
        """Register the blueprint's views now and document them when the document is first read."""
        name = options.get("name", blp.name)
        self._app.extensions["flask-smorest"]["blp_name_to_api"][name] = self
        self._app.register_blueprint(blp, **options)
        self._undocumented.append((blp, name, parameters))

    @property
    def spec(self):
        spec = self.__dict__.get("_spec")
        while spec is not None and self.__dict__.get("_undocumented"):
            blp, name, parameters = self._undocumented.pop(0)
            blp.register_views_in_doc(self, self._app, spec, name=name, parameters=parameters)
            spec.tag({"name": name, "description": blp.description})
        return spec

    @spec.setter
    def spec(self, value):
        self.__dict__["_spec"] = value

    @property
    def ERROR_SCHEMA(self):  # noqa: N802 - flask-smorest's name; documents every operation's error responses
        from webapp.schemas import ErrorOut  # here: the schemas import the models, which import this module

        return ErrorOut

    def _register_error_handlers(self):
        self._app.register_error_handler(HTTPException, self.handle_http_exception)
        self._app.register_error_handler(DomainError, self.handle_domain_error)
        self._app.register_error_handler(Exception, self.handle_unexpected)

    def handle_http_exception(self, error: HTTPException):
        if not is_api_request():
            return render_template("error.html", error=error), error.code
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages")
        if error.code == 400 and errors == {"json": ["Invalid JSON body."]}:
            message = "The body is not valid JSON."
        elif errors and error.code == 422:
            message = _fields_message(errors)
        else:
            custom = error.description if error.description != type(error).description else None
            message = data.get("message") or custom or SHORT_MESSAGES.get(error.code) or error.description
        headers = dict(data.get("headers") or {})
        headers.update({k: v for k, v in error.get_headers() if k.lower() in ("allow", "retry-after")})
        return error_payload(error.code, error.name, message, errors), error.code, headers

    def handle_domain_error(self, error: DomainError):
        from werkzeug.http import HTTP_STATUS_CODES

        if not is_api_request():
            return render_template("error.html", error=error), error.status
        extra = dict(error.extra)
        if "current" in extra:  # a 412 carries the item as it is now
            from webapp.schemas import ItemOut

            extra["current"] = ItemOut().dump(extra["current"])
        payload = error_payload(error.status, HTTP_STATUS_CODES[error.status], error.message, error.errors, **extra)
        return payload, error.status

    def handle_unexpected(self, error: Exception):
        if isinstance(error, HTTPException):
            return self.handle_http_exception(error)
        if isinstance(error, RecursionError) and "decoding a JSON" in str(error):  # json raises it, not ValueError
            return self.handle_http_exception(BadRequest("The body is not valid JSON: it is nested too deeply."))
        log.exception("unhandled error on %s %s", request.method, request.path)
        return self.handle_http_exception(InternalServerError())
