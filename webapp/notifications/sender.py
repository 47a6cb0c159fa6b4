"""Sending Web Push messages: pywebpush encryption, VAPID per push service, pooled concurrent POSTs.

pywebpush encrypts and posts but does no retry, 429 handling or VAPID caching: that is done here.
Nothing here logs keys, tokens or payloads.
"""
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from pywebpush import WebPusher
from requests.adapters import HTTPAdapter

from webapp.clock import now
from webapp.notifications.payload import encode_payload

log = logging.getLogger(__name__)

VAPID_LIFETIME = timedelta(hours=12)  # the JWT's exp; push services accept at most 24 h
VAPID_REUSE = timedelta(hours=11)     # re-sign before the cached header gets near its exp
BACKOFF_BASE, BACKOFF_CAP = 30, 3600  # seconds, for failures without Retry-After
DELIVERED = {200, 201, 202}


@dataclass(frozen=True)
class Message:
    subscription_info: dict
    data: bytes
    headers: dict[str, str]
    ttl: int
    attempt: int


@dataclass(frozen=True)
class Outcome:
    """What a push service said: delivered, gone (404/410), too_large (413), retry (429/5xx/network) or rejected."""

    kind: str
    status_code: int | None
    retry_at: datetime | None = None
    detail: str | None = None


def retry_at_from(retry_after: str | None, at: datetime, attempt: int) -> datetime:
    """Honour Retry-After (seconds or an HTTP date); otherwise exponential backoff with jitter."""
    if retry_after:
        value = retry_after.strip()
        if value.isdigit():
            return at + timedelta(seconds=int(value))
        try:
            return max(at, parsedate_to_datetime(value))
        except (TypeError, ValueError):
            pass
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempt - 1))
    return at + timedelta(seconds=delay * random.uniform(0.5, 1.0))


def outcome_of(status: int, retry_after: str | None, at: datetime, attempt: int) -> Outcome:
    if status in DELIVERED:
        return Outcome("delivered", status)
    if status in (404, 410):
        return Outcome("gone", status)
    if status == 413:
        return Outcome("too_large", status)
    if status == 429 or status >= 500:
        return Outcome("retry", status, retry_at_from(retry_after, at, attempt))
    return Outcome("rejected", status, detail=f"push service answered {status}")


class PushSender:
    """Sends to many devices at once over one pooled requests.Session."""

    def __init__(self, vapid, subject: str, concurrency: int = 16, timeout: float = 10.0):
        self._vapid = vapid
        self._subject = subject
        self._timeout = timeout
        self._http = requests.Session()
        adapter = HTTPAdapter(pool_connections=concurrency, pool_maxsize=concurrency, max_retries=0)
        self._http.mount("https://", adapter)
        self._http.mount("http://", adapter)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="plate-push")
        self._vapid_headers: dict[str, tuple[dict[str, str], datetime]] = {}
        self._lock = threading.Lock()

    def vapid_header(self, endpoint: str) -> dict[str, str]:
        """The signed VAPID Authorization header for the endpoint's push service, reused for hours."""
        parts = urlsplit(endpoint)
        origin = f"{parts.scheme}://{parts.netloc}"
        at = now()
        with self._lock:
            cached = self._vapid_headers.get(origin)
            if cached and cached[1] > at:
                return cached[0]
        # A fresh claims dict per origin: py_vapid writes into the dict it is given.
        claims = {"aud": origin, "sub": self._subject, "exp": int((at + VAPID_LIFETIME).timestamp())}
        header = {"Authorization": self._vapid.sign(claims)["Authorization"]}
        with self._lock:
            self._vapid_headers[origin] = (header, at + VAPID_REUSE)
        return header

    def message(self, subscription, payload: dict, ttl: int, topic: str, urgency: str, attempt: int = 1) -> Message:
        info = {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
        headers = {**self.vapid_header(subscription.endpoint), "Topic": topic, "Urgency": urgency}
        return Message(info, encode_payload(payload), headers, ttl, attempt)

    def encrypt(self, message: Message) -> bytes:
        """The aes128gcm body alone (what the benchmark compares sending with)."""
        return WebPusher(message.subscription_info).encode(message.data, "aes128gcm")["body"]

    def send(self, message: Message) -> Outcome:
        at = now()
        try:
            response = WebPusher(message.subscription_info, requests_session=self._http).send(
                message.data, headers=dict(message.headers), ttl=message.ttl, content_encoding="aes128gcm",
                timeout=self._timeout)
        except requests.RequestException as error:
            return Outcome("retry", None, retry_at_from(None, at, message.attempt), detail=type(error).__name__)
        except ValueError as error:  # keys the encryption cannot use
            return Outcome("rejected", None, detail=f"cannot encrypt for this device: {type(error).__name__}")
        return outcome_of(response.status_code, response.headers.get("Retry-After"), at, message.attempt)

    def send_all(self, messages: list[Message]) -> list[Outcome]:
        """Send concurrently; outcomes come back in the order of `messages`."""
        started = time.monotonic()
        outcomes = list(self._pool.map(self.send, messages))
        if messages:
            log.debug("sent %d pushes in %.3f s", len(messages), time.monotonic() - started)
        return outcomes
