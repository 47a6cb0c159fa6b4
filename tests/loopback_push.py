"""A push service on 127.0.0.1 for tests: checks VAPID, decrypts aes128gcm, answers as programmed."""
import base64
import json
import secrets
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.serving import POLL_SECONDS


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Device:
    """A browser's side of a subscription: its key pair and auth secret."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth_secret: bytes = field(default_factory=lambda: secrets.token_bytes(16))

    @property
    def p256dh(self) -> str:
        point = self.private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                          serialization.PublicFormat.UncompressedPoint)
        return b64url(point)

    @property
    def auth(self) -> str:
        return b64url(self.auth_secret)

    def subscription(self) -> dict:
        """What PushSubscription.toJSON() gives the page."""
        return {"endpoint": self.endpoint, "expirationTime": None, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass
class Received:
    device: str
    headers: dict[str, str]
    payload: dict | None
    vapid_claims: dict


def verify_vapid(authorization: str, audience: str) -> tuple[dict, str]:
    """Check `vapid t=<ES256 JWT>, k=<key>` as a push service does; returns the claims and the key."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid", f"not a VAPID Authorization header: {scheme!r}"
    values = dict(part.strip().split("=", 1) for part in params.split(","))
    token, key = values["t"], values["k"]
    signing_input, _, signature = token.rpartition(".")
    public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public_key.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    header = json.loads(unb64url(signing_input.split(".")[0]))
    claims = json.loads(unb64url(signing_input.split(".")[1]))
    assert header["alg"] == "ES256", header
    assert claims["aud"] == audience, (claims["aud"], audience)
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600, claims
    assert claims.get("sub"), claims
    return claims, key


class LoopbackPushService:
    """Use as a context manager; `endpoint(name)` gives a device endpoint; `answers[name]` programs replies."""

    def __init__(self, decrypt: bool = True):
        self.decrypt = decrypt
        self.devices: dict[str, Device] = {}
        self.received: list[Received] = []
        self.rejected: list[str] = []
        self.answers: dict[str, list[tuple[int, dict]]] = defaultdict(list)
        self.server_keys: set[str] = set()
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received = {name.lower(): value for name, value in self.headers.items()}  # names are case-insensitive
                status, headers = service._handle(self.path, received, body)
                self.send_response(status)
                for name, value in {**headers, "Content-Length": "0"}.items():
                    self.send_header(name, value)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self._server.serve_forever, args=(POLL_SECONDS,), daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def device(self, name: str) -> Device:
        device = self.devices[name] = Device(f"{self.origin}/push/{name}")
        return device

    def _handle(self, path: str, headers: dict, body: bytes) -> tuple[int, dict]:
        """`headers` has lower-case names."""
        name = path.rsplit("/", 1)[-1]
        with self._lock:
            if self.answers[name]:
                return self.answers[name].pop(0)
        if self.decrypt:
            try:
                claims, key = verify_vapid(headers.get("authorization", ""), self.origin)
                device = self.devices[name]
                plaintext = http_ece.decrypt(body, private_key=device.private_key, auth_secret=device.auth_secret,
                                             version=headers.get("content-encoding", "aes128gcm"))
                payload = json.loads(plaintext)
            except (AssertionError, KeyError, ValueError, InvalidSignature) as error:
                with self._lock:
                    self.rejected.append(f"{name}: {type(error).__name__}: {error}")
                return 400, {}
            with self._lock:
                self.server_keys.add(key)
                kept = {"TTL": headers.get("ttl"), "Topic": headers.get("topic"), "Urgency": headers.get("urgency")}
                self.received.append(Received(name, {k: v for k, v in kept.items() if v is not None}, payload, claims))
        else:
            with self._lock:
                self.received.append(Received(name, {}, None, {}))
        return 201, {}
