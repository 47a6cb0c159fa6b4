"""gunicorn settings for `make serve` and deployments: `gunicorn -c gunicorn.conf.py 'webapp:create_app()'`.

Every value can be overridden from the environment (PLATE_BIND, PLATE_WORKERS, PLATE_THREADS,
PLATE_TIMEOUT) or with gunicorn's own GUNICORN_CMD_ARGS. Logs are JSON lines on stdout: the app
writes one line per request (method, path without query, status, duration, user, request id),
which is the access log; gunicorn's own messages are JSON too.
"""
import multiprocessing
import os

from gunicorn.glogging import Logger

os.environ.setdefault("PLATE_LOG_FORMAT", "json")

bind = os.environ.get("PLATE_BIND", "127.0.0.1:8000")
# Plate's requests wait mostly on the database: 2 x cores + 1 processes, capped so a big machine
# does not open more database connections than PostgreSQL's default max_connections allows.
workers = int(os.environ.get("PLATE_WORKERS", min(2 * multiprocessing.cpu_count() + 1, 12)))
threads = int(os.environ.get("PLATE_THREADS", "1"))  # more than 1 switches to the gthread worker
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("PLATE_TIMEOUT", "30"))  # a worker silent this long is killed and replaced
graceful_timeout = 30  # on SIGTERM, requests in flight get this long to finish
keepalive = 5  # seconds; behind a proxy that keeps connections open, keep this above nothing

# X-Forwarded-* are trusted only through PLATE_PROXY_FIX (Flask's ProxyFix), never by gunicorn itself,
# so one setting decides whether a request came over https.
forwarded_allow_ips = ""
proxy_allow_ips = ""

accesslog = None  # the app's request lines are the access log (with request id and user, tokens redacted)


class NoAccessLogger(Logger):
    """gunicorn's logger, minus the access log: with a logconfig_dict gunicorn would build every request's
    access-log fields (for a logger with no handlers) however it is configured."""

    def access(self, resp, req, environ, request_time):
        pass


logger_class = NoAccessLogger
errorlog = "-"
loglevel = os.environ.get("PLATE_LOG_LEVEL", "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "INFO", "handlers": []},  # the app adds its own stdout handler (webapp/logs.py)
    "formatters": {"json": {"()": "webapp.logs.formatter", "kind": os.environ["PLATE_LOG_FORMAT"]}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        # Off: the app's own line per request replaces it (gunicorn's would show invitation tokens in paths).
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
    },
}
