"""One error shape for the whole API: {code, status, message, errors?}; pages keep HTML errors."""
import logging

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


class PlateApi(Api):
    """flask-smorest's Api, with its error handler limited to /api and a human message on every error."""

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
