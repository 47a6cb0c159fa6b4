"""The server's VAPID key pair: PLATE_VAPID_PRIVATE_KEY (PEM or base64url), else instance/vapid_private.pem."""
import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from flask import Flask
from py_vapid import Vapid02

KEY_FILE = "vapid_private.pem"


def ensure_instance_key(instance_path: str) -> Path:
    """Create the instance key file (owner-only) unless it exists; returns its path."""
    path = Path(instance_path) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        vapid = Vapid02()
        vapid.generate_keys()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as key_file:
            key_file.write(vapid.private_pem())
    return path


def load_vapid(app: Flask) -> Vapid02:
    """The app's VAPID key, loaded once."""
    vapid = app.extensions.get("plate_vapid")
    if vapid is None:
        configured = app.config.get("PLATE_VAPID_PRIVATE_KEY")
        if configured and configured.lstrip().startswith("-----BEGIN"):
            vapid = Vapid02.from_pem(configured.encode())
        elif configured:
            vapid = Vapid02.from_string(configured)
        else:
            vapid = Vapid02.from_file(str(ensure_instance_key(app.instance_path)))
        app.extensions["plate_vapid"] = vapid
    return vapid


def application_server_key(vapid: Vapid02) -> str:
    """The public key as browsers want it for pushManager.subscribe: base64url of the raw P-256 point."""
    point = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(point).decode().rstrip("=")
