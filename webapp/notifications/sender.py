"""Sending Web Push messages: pywebpush encryption, VAPID per push service, pooled concurrent POSTs.

pywebpush encrypts and posts but does no retry, 429 handling or VAPID caching: that is done here.
Sends run on one asyncio loop in a background thread with a pooled aiohttp session (about three
times the throughput of requests in a thread pool); callers stay synchronous.
Nothing here logs keys, tokens or payloads.
"""
import asyncio
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import aiohttp
from pywebpush import WebPusher

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
    """Sends to many devices at once over one pooled aiohttp session, on its own event loop thread."""

    def __init__(self, vapid, subject: str, concurrency: int = 32, timeout: float = 10.0):
        self._vapid = vapid
        self._subject = subject
        self._concurrency = concurrency
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._vapid_headers: dict[str, tuple[dict[str, str], datetime]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._http: aiohttp.ClientSession | None = None

    def __enter__(self) -> "PushSender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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

    def send_all(self, messages: list[Message]) -> list[Outcome]:
        """Send concurrently; outcomes come back in the order of `messages`. Safe from any thread."""
        if not messages:
            return []
        started = time.monotonic()
        outcomes = asyncio.run_coroutine_threadsafe(self._send_all(messages), self._running_loop()).result()
        log.debug("sent %d pushes in %.3f s", len(messages), time.monotonic() - started)
        return outcomes

    def close(self) -> None:
        """Close the pooled connections and stop the loop thread."""
        with self._lock:
            loop, thread, http = self._loop, self._thread, self._http
            self._loop = self._thread = self._http = None
        if loop is None:
            return
        if http is not None:
            asyncio.run_coroutine_threadsafe(http.close(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="plate-push", daemon=True)
                self._thread.start()
            return self._loop

    async def _send_all(self, messages: list[Message]) -> list[Outcome]:
        if self._http is None:  # created on the loop that uses it
            self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._concurrency),
                                               timeout=self._timeout)
        return await asyncio.gather(*(self._send(message) for message in messages))

    async def _send(self, message: Message) -> Outcome:
        at = now()
        try:
            response = await WebPusher(message.subscription_info, aiohttp_session=self._http).send_async(
                message.data, headers=dict(message.headers), ttl=message.ttl, content_encoding="aes128gcm")
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            return Outcome("retry", None, retry_at_from(None, at, message.attempt), detail=type(error).__name__)
        except ValueError as error:  # keys the encryption cannot use
            return Outcome("rejected", None, detail=f"cannot encrypt for this device: {type(error).__name__}")
        return outcome_of(response.status, response.headers.get("Retry-After"), at, message.attempt)
