"""Sending Web Push messages: pywebpush encryption, VAPID per push service, pooled concurrent POSTs.

pywebpush encrypts (aes128gcm) but does no retry, 429 handling or VAPID caching: that is done here,
and the POST goes straight through one pooled aiohttp session per process, on its own event loop
thread, so callers stay synchronous. Encryption is the expensive part and holds the GIL, so a
dispatcher may spread its sends over worker processes (`processes`); the web app sends its few
test pushes in its own process. Nothing here logs keys, tokens or payloads.
"""
import asyncio
import logging
import multiprocessing
import multiprocessing.util
import os
import random
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

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
    payload: dict  # encoded to JSON where it is encrypted (in a worker process, when there are some)
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


class _Transport:
    """One pooled aiohttp session on its own event loop thread: encrypts and POSTs many messages at once."""

    def __init__(self, concurrency: int, timeout: float):
        self._concurrency = concurrency
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._http: aiohttp.ClientSession | None = None

    def submit(self, messages: list["Message"]) -> Future:
        """Send concurrently; the future's result is the outcomes in the order of `messages`."""
        return asyncio.run_coroutine_threadsafe(self._send_all(messages), self._running_loop())

    def close(self) -> None:
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

    async def _send_all(self, messages: list["Message"]) -> list[Outcome]:
        if self._http is None:  # created on the loop that uses it
            self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=self._concurrency),
                                               timeout=self._timeout)
        return await asyncio.gather(*(self._send(message) for message in messages))

    async def _send(self, message: "Message") -> Outcome:
        at = now()
        try:
            body = WebPusher(message.subscription_info).encode(encode_payload(message.payload), "aes128gcm")["body"]
        except (ValueError, TypeError) as error:  # keys the encryption cannot use
            return Outcome("rejected", None, detail=f"cannot encrypt for this device: {type(error).__name__}")
        headers = {**message.headers, "TTL": str(message.ttl), "Content-Encoding": "aes128gcm"}
        try:
            async with self._http.post(message.subscription_info["endpoint"], data=body, headers=headers) as response:
                await response.read()
                return outcome_of(response.status, response.headers.get("Retry-After"), at, message.attempt)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
            return Outcome("retry", None, retry_at_from(None, at, message.attempt), detail=type(error).__name__)


def _origin(endpoint: str) -> str:
    """scheme://host[:port] of a push endpoint (endpoints were checked against the allowed origins when stored)."""
    scheme, _, rest = endpoint.partition("://")
    return f"{scheme}://{rest.partition('/')[0]}"


# A worker process of a PushSender with processes > 0: its own transport, made by the pool's initializer.
_worker_transport: _Transport | None = None


def _start_worker(concurrency: int, timeout: float) -> None:
    global _worker_transport
    _worker_transport = _Transport(concurrency, timeout)
    multiprocessing.util.Finalize(None, _worker_transport.close, exitpriority=10)  # when the pool shuts down
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="plate-orphan-watch", daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """A dispatcher killed with SIGKILL cannot stop its pool: its worker processes leave on their own."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def _send_in_worker(messages: list["Message"]) -> list[Outcome]:
    return _worker_transport.submit(messages).result()


class PushSender:
    """Signs VAPID once per push service for hours and sends many messages at once.

    With `processes` > 0 the encryption and POSTs of each batch are shared out to that many worker
    processes (each with its own pooled connections); otherwise they run on this process's loop thread.
    """

    def __init__(self, vapid, subject: str, concurrency: int = 32, timeout: float = 10.0, processes: int = 0):
        self._vapid = vapid
        self._subject = subject
        self._concurrency = concurrency
        self._timeout = timeout
        self._processes = processes
        self._vapid_headers: dict[str, tuple[dict[str, str], datetime]] = {}
        self._lock = threading.Lock()
        self._transport: _Transport | None = None
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "PushSender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def vapid_header(self, endpoint: str) -> dict[str, str]:
        """The signed VAPID Authorization header for the endpoint's push service, reused for hours."""
        origin = _origin(endpoint)
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
        return Message(info, payload, headers, ttl, attempt)

    def send_all(self, messages: list[Message]) -> list[Outcome]:
        """Send concurrently and wait; outcomes come back in the order of `messages`. Safe from any thread."""
        started = time.monotonic()
        outcomes = self.submit(messages).result()
        log.debug("sent %d pushes in %.3f s", len(messages), time.monotonic() - started)
        return outcomes

    def submit(self, messages: list[Message]) -> Future:
        """Start sending; the future's result is the outcomes in the order of `messages`."""
        if not messages:
            done: Future = Future()
            done.set_result([])
            return done
        if self._processes <= 0:
            return self._local_transport().submit(messages)
        size = -(-len(messages) // self._processes)  # one contiguous share per worker process
        shares = [messages[start:start + size] for start in range(0, len(messages), size)]
        pool = self._worker_pool()
        return _all_of([pool.submit(_send_in_worker, share) for share in shares], shares, self._reset_pool)

    def start(self) -> None:
        """Start the worker processes now rather than with the first batch (a dispatcher does at start-up)."""
        if self._processes > 0:
            pool = self._worker_pool()
            for future in [pool.submit(_send_in_worker, []) for _ in range(self._processes)]:
                future.result()

    def close(self) -> None:
        """Close the pooled connections, stop the loop thread and the worker processes."""
        with self._lock:
            transport, pool = self._transport, self._pool
            self._transport = self._pool = None
        if transport is not None:
            transport.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _local_transport(self) -> _Transport:
        with self._lock:
            if self._transport is None:
                self._transport = _Transport(self._concurrency, self._timeout)
            return self._transport

    def _worker_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn: a fresh interpreter, never a fork of a process holding database connections and threads
                self._pool = ProcessPoolExecutor(self._processes, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_start_worker, initargs=(self._concurrency, self._timeout))
            return self._pool

    def _reset_pool(self) -> None:
        """A worker process died: the next batch gets a new pool."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


def _all_of(futures: list[Future], shares: list[list[Message]], on_failure) -> Future:
    """One future for the shares' outcomes, in order. A share whose process failed comes back as retries:
    nothing is lost, and the push service's Topic replaces any push of it that did go out."""
    combined: Future = Future()
    remaining = [len(futures)]
    lock = threading.Lock()

    def one_done(_future) -> None:
        with lock:
            remaining[0] -= 1
            if remaining[0]:
                return
        outcomes = []
        for future, share in zip(futures, shares, strict=True):
            try:
                outcomes.extend(future.result())
            except Exception as error:  # noqa: BLE001 - a dead worker process, reported per message
                on_failure()
                at = now()
                outcomes.extend(Outcome("retry", None, retry_at_from(None, at, message.attempt),
                                        detail=f"sender process failed: {type(error).__name__}") for message in share)
        combined.set_result(outcomes)

    for future in futures:
        future.add_done_callback(one_done)
    return combined
