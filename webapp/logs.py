"""Logs: one line per request with a request id, as JSON lines (PLATE_LOG_FORMAT=json) or text.

Secrets stay out: paths are logged without their query string and with invitation tokens replaced,
SQL errors without their parameters (config.py), push deliveries by id, never by endpoint or key.
"""
import logging
import re
import sys
import time
import uuid

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.orjson import OrjsonFormatter

log = logging.getLogger("webapp.requests")

SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
# Path segments that are secrets: /invite/<token>, /api/v1/invitations/<token>[/accept].
TOKEN_IN_PATH = re.compile(r"(/invite/|/invitations/)(?!\?)[^/\s?\"']+")
REDACTED = "[redacted]"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = ["levelname", "name", "message", "request_id"]  # and "time", added in UTC by the formatter


def redact(text: str) -> str:
    return TOKEN_IN_PATH.sub(r"\1" + REDACTED, text)


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is at the time (gunicorn's, or a test's capture)."""

    def __init__(self):
        super().__init__(sys.stdout)

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value):
        pass


class RequestContext(logging.Filter):
    """Adds the request id to every record and takes invitation tokens out of every message."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):  # a request's own line brings it along
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        message = record.getMessage()
        if "/invit" in message:
            record.msg, record.args = redact(message), None
        return True


class UTCFormatter(logging.Formatter):
    """Text lines stamped in UTC (ISO 8601 with Z), never in the server's local time."""

    converter = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"


def formatter(kind: str) -> logging.Formatter:
    if kind == "json":  # "time": ISO 8601 in UTC; orjson writes a request's line in half the time the json module takes
        return OrjsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger"}, timestamp="time")
    return UTCFormatter(TEXT_FORMAT)


def configure(kind: str = "text", level: str = "INFO") -> None:
    """Send logs to stdout in the given format; safe to call again (replaces only its own handler)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "plate", False)]:
        root.removeHandler(handler)
        handler.close()
    handler = StdoutHandler()
    handler.setFormatter(formatter(kind))
    handler.plate = True
    handler.addFilter(RequestContext())
    root.addHandler(handler)
    root.setLevel(level)
    # Neither format shows threads, processes or source lines: a request's line need not look them up
    # (the switches of the logging HOWTO's "Optimization" section).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None


def start_request() -> None:
    sent = request.environ.get("HTTP_X_REQUEST_ID", "")
    context = g._get_current_object()
    context.request_id = sent if SANE_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
    context.request_started = time.perf_counter()


def _user_id(context) -> int | None:
    """The person, if this request already loaded them (never a query just to log)."""
    user = context.get("_login_user")
    return int(user.id) if user is not None and getattr(user, "is_authenticated", False) else None


def finish_request(response):
    context = g._get_current_object()  # the proxies would look these up again for every read
    request_id, started = context.get("request_id", ""), context.get("request_started")
    response.headers["X-Request-ID"] = request_id
    if log.isEnabledFor(logging.INFO):
        req = request._get_current_object()
        path, method, status = req.path, req.method, response.status_code
        if "/invit" in path:
            path = redact(path)  # never a token, and never the query string
        log.info("%s %s %s", method, path, status, extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
            "user_id": _user_id(context),
            "remote_addr": req.remote_addr,
            "request_id": request_id,
        })
    return response


def init_app(app: Flask) -> None:
    configure(app.config["PLATE_LOG_FORMAT"], app.config["PLATE_LOG_LEVEL"])
    app.before_request(start_request)
    app.after_request(finish_request)
