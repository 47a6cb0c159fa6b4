"""Settings read from the environment, with defaults that make `make run` work on a fresh machine."""
import os
import secrets
from pathlib import Path


DEFAULT_PUSH_ORIGINS = ",".join([
    "https://fcm.googleapis.com",  # Chrome, Edge, Android
    "https://*.push.services.mozilla.com",  # Firefox
    "https://web.push.apple.com",  # Safari, iOS home-screen apps
    "https://*.notify.windows.com",  # legacy Edge
])


def _split(value: str) -> list[str]:
    return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("0", "false", "no", "off", "")


def _secret_key(instance_path: str) -> str:
    """Keep a generated secret key in instance/ so sessions survive restarts."""
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(instance_path: str, secret_key: str | None = None) -> dict:
    """Everything configurable, in one place; PLATE_* and DATABASE_URL come from the environment."""
    env = os.environ
    database_url = env.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'plate.db'}"
    return {
        "SECRET_KEY": secret_key or env.get("PLATE_SECRET_KEY") or _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # Errors never carry their SQL parameters into logs (password hashes, push keys). The liveness
        # ping (only where the server can go away under us) is added for the final URL in create_app.
        "SQLALCHEMY_ENGINE_OPTIONS": {"hide_parameters": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Secure is added per request whenever it came over https (security.py), so http://127.0.0.1 works.
        "SESSION_COOKIE_SECURE": False,
        "PERMANENT_SESSION_LIFETIME": 60 * 60 * 24 * 30,
        # The 30 days slide once a day (auth/guard.py), not by re-signing the cookie on every response.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # Web Push: the server only ever posts to these push services (a leading *. allows subdomains).
        "PLATE_PUSH_ALLOWED_ORIGINS": _split(env.get("PLATE_PUSH_ALLOWED_ORIGINS", DEFAULT_PUSH_ORIGINS)),
        "PLATE_VAPID_PRIVATE_KEY": env.get("PLATE_VAPID_PRIVATE_KEY"),  # PEM or base64url; else instance/vapid_private.pem
        "PLATE_VAPID_SUBJECT": env.get("PLATE_VAPID_SUBJECT", "mailto:admin@plate.invalid"),
        # `make run` sets PLATE_DISPATCH_IN_PROCESS=1: its server then also dispatches pushes.
        "PLATE_DISPATCH_IN_PROCESS": env.get("PLATE_DISPATCH_IN_PROCESS") == "1",
        "PLATE_DISPATCH_INTERVAL": float(env.get("PLATE_DISPATCH_INTERVAL", "15")),
        # The dispatcher encrypts and posts in this many worker processes (0: in its own process).
        "PLATE_PUSH_PROCESSES": int(env.get("PLATE_PUSH_PROCESSES", str(min(os.cpu_count() or 1, 4)))),
        # Behind a reverse proxy: how many proxies set X-Forwarded-For/-Proto/-Host (0 trusts none of them).
        "PLATE_PROXY_FIX": int(env.get("PLATE_PROXY_FIX", "0")),
        # Rate limits per client IP and per account (limits syntax: "10 per minute; 100 per hour").
        "PLATE_RATELIMIT_ENABLED": _flag(env.get("PLATE_RATELIMIT_ENABLED", "1")),
        "PLATE_RATELIMIT_STORAGE_URI": env.get("PLATE_RATELIMIT_STORAGE_URI", "memory://"),
        "PLATE_RATELIMIT_KEY_PREFIX": env.get("PLATE_RATELIMIT_KEY_PREFIX", "plate"),
        "PLATE_RATELIMIT_LOGIN": env.get("PLATE_RATELIMIT_LOGIN", "10 per minute; 100 per hour"),
        "PLATE_RATELIMIT_LOGIN_ACCOUNT": env.get("PLATE_RATELIMIT_LOGIN_ACCOUNT", "5 per minute; 30 per hour"),
        "PLATE_RATELIMIT_SIGNUP": env.get("PLATE_RATELIMIT_SIGNUP", "5 per minute; 20 per hour"),
        "PLATE_RATELIMIT_SIGNUP_ACCOUNT": env.get("PLATE_RATELIMIT_SIGNUP_ACCOUNT", "5 per minute"),
        "PLATE_RATELIMIT_ACCEPT": env.get("PLATE_RATELIMIT_ACCEPT", "10 per minute; 100 per hour"),
        "PLATE_RATELIMIT_ACCEPT_ACCOUNT": env.get("PLATE_RATELIMIT_ACCEPT_ACCOUNT", "5 per minute"),
        "PLATE_RATELIMIT_PASSWORD": env.get("PLATE_RATELIMIT_PASSWORD", "10 per minute; 100 per hour"),
        "PLATE_RATELIMIT_PASSWORD_ACCOUNT": env.get("PLATE_RATELIMIT_PASSWORD_ACCOUNT", "5 per minute"),
        # PostgreSQL: workers remember who is calling, told of changes by LISTEN/NOTIFY (auth/caller_cache.py).
        "PLATE_CALLER_CACHE": _flag(env.get("PLATE_CALLER_CACHE", "1")),
        # /healthz answers 503 when no dispatcher finished a pass for this long (seconds; 0: never judge it).
        "PLATE_HEALTH_MAX_DISPATCHER_AGE": float(env.get("PLATE_HEALTH_MAX_DISPATCHER_AGE", "0")),
        # werkzeug's password hash method; not read from the environment: only tests pass a cheaper one.
        "PLATE_PASSWORD_HASH": "scrypt",
        # Logs: "json" (one object per line) or "text"; `make serve` uses json, `make run` text.
        "PLATE_LOG_FORMAT": env.get("PLATE_LOG_FORMAT", "text"),
        "PLATE_LOG_LEVEL": env.get("PLATE_LOG_LEVEL", "INFO"),
        # flask-smorest / OpenAPI
        "API_TITLE": "Plate API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
    }
