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
        # A liveness ping per checkout only where the server can go away under us (not SQLite).
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": not database_url.startswith("sqlite")},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
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
        # flask-smorest / OpenAPI
        "API_TITLE": "Plate API",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
    }
