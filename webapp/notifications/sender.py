"""Sending Web Push messages: pywebpush encryption, VAPID per push service, pooled concurrent POSTs.

pywebpush encrypts (aes128gcm) but does no retry, 429 handling or VAPID caching: that is done here.
The POSTs go out concurrently through one libcurl multi handle per process (pycurl: pooled
connections, HTTP/2 where the push service offers it, a fifth of the CPU per request that aiohttp
took), driven by one thread, so callers stay synchronous. Encryption is the expensive part and
holds the GIL, so a dispatcher may spread its sends over worker processes (`processes`); the web
app sends its few test pushes in its own process. A dispatcher hands each new batch over before the
transaction that leases it commits (`submit(..., release=)`): it is encrypted meanwhile and posted
only once released, so nothing leaves before the lease holds. Nothing here logs keys, tokens or payloads.
"""
import logging
import multiprocessing
import multiprocessing.util
import os
import random
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import pycurl
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
    plaintext: bytes  # the encoded payload: a worker process is handed bytes, not a dict to encode again
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
    """Encrypts and POSTs many messages at once through one libcurl multi handle: pooled keep-alive
    connections (HTTP/2 multiplexed where the push service offers it), no event loop, no thread.

    Encryption runs between transfers, so a batch's first POSTs are on the wire while the rest are
    encrypted. One batch at a time per transport: libcurl handles are not shared between threads.
    """

    def __init__(self, concurrency: int, timeout: float):
        self._concurrency = concurrency
        self._timeout_ms = int(timeout * 1000)
        self._lock = threading.Lock()
        self._multi: pycurl.CurlMulti | None = None
        self._idle: list[pycurl.Curl] = []  # easy handles to reuse: each keeps its connection warm

    def send_all(self, messages: list["Message"], bodies: list[bytes | Outcome] | None = None) -> list[Outcome]:
        """The outcome of each message, in order; `bodies`: their encryption, when done beforehand (_encrypt_all)."""
        with self._lock:
            if self._multi is None:
                self._multi = pycurl.CurlMulti()
                self._multi.setopt(pycurl.M_MAX_TOTAL_CONNECTIONS, self._concurrency)
            outcomes: list[Outcome | None] = [None] * len(messages)
            waiting = iter(enumerate(messages))
            in_flight: dict[pycurl.Curl, tuple[int, datetime, list[bytes]]] = {}
            more = True
            while more or in_flight:
                while more and len(in_flight) < self._concurrency:
                    index, message = next(waiting, (None, None))
                    if message is None:
                        more = False
                        break
                    at = now()
                    body = self._encrypt(message) if bodies is None else bodies[index]
                    if isinstance(body, Outcome):
                        outcomes[index] = body
                        continue
                    handle = self._idle.pop() if self._idle else self._new_handle()
                    in_flight[handle] = (index, at, self._prepare(handle, message, body))
                    self._multi.add_handle(handle)
                    if len(in_flight) % 8 == 1:
                        self._perform()  # the first POSTs go on the wire while the next are encrypted
                self._perform()
                self._collect(messages, in_flight, outcomes)
                if in_flight and not (more and len(in_flight) < self._concurrency):
                    if self._multi.select(0.05) <= 0:
                        time.sleep(0.001)  # no socket to wait on yet (say, a name being resolved): no spinning
            return outcomes

    def close(self) -> None:
        with self._lock:
            multi, idle = self._multi, self._idle
            self._multi, self._idle = None, []
        for handle in idle:
            handle.close()
        if multi is not None:
            multi.close()

    @staticmethod
    def _encrypt(message: "Message") -> bytes | Outcome:
        try:
            return WebPusher(message.subscription_info).encode(message.plaintext, "aes128gcm")["body"]
        except (ValueError, TypeError) as error:  # keys the encryption cannot use
            return Outcome("rejected", None, detail=f"cannot encrypt for this device: {type(error).__name__}")

    def _new_handle(self) -> pycurl.Curl:
        handle = pycurl.Curl()
        handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        handle.setopt(pycurl.FOLLOWLOCATION, 0)  # a push service never redirects a POST elsewhere
        handle.setopt(pycurl.WRITEFUNCTION, _discard)
        handle.setopt(pycurl.TIMEOUT_MS, self._timeout_ms)
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.PIPEWAIT, 1)  # HTTP/2: wait to share a connection rather than open another
        return handle

    @staticmethod
    def _prepare(handle: pycurl.Curl, message: "Message", body: bytes) -> list[bytes]:
        """Set `handle` up to POST `body`; returns the list the response's header lines arrive in."""
        header_lines: list[bytes] = []
        headers = {**message.headers, "TTL": str(message.ttl), "Content-Encoding": "aes128gcm"}
        handle.setopt(pycurl.URL, message.subscription_info["endpoint"])
        handle.setopt(pycurl.POSTFIELDS, body)
        # No "Expect: 100-continue" wait on bodies over 1 KB, and no form content type.
        handle.setopt(pycurl.HTTPHEADER, [f"{name}: {value}" for name, value in headers.items()]
                      + ["Content-Type: application/octet-stream", "Expect:", "Accept:"])
        handle.setopt(pycurl.HEADERFUNCTION, header_lines.append)
        return header_lines

    def _perform(self) -> None:
        while self._multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass

    def _collect(self, messages, in_flight, outcomes) -> None:
        """Record the transfers that finished and put their handles back for reuse."""
        while True:
            queued, succeeded, failed = self._multi.info_read()
            for handle in succeeded:
                index, at, header_lines = in_flight.pop(handle)
                outcomes[index] = outcome_of(handle.getinfo(pycurl.RESPONSE_CODE), _retry_after(header_lines), at,
                                             messages[index].attempt)
                self._release(handle)
            for handle, _code, error in failed:
                index, at, _ = in_flight.pop(handle)
                outcomes[index] = Outcome("retry", None, retry_at_from(None, at, messages[index].attempt),
                                          detail=f"push service unreachable: {error}")
                self._release(handle)
            if not queued:
                return

    def _release(self, handle: pycurl.Curl) -> None:
        self._multi.remove_handle(handle)
        self._idle.append(handle)


def _encrypt_all(messages: list[Message]) -> list[bytes | Outcome]:
    """Each message's encrypted body (or why it cannot be encrypted), for posting later."""
    return [_Transport._encrypt(message) for message in messages]


def _discard(_data: bytes) -> None:
    """Push services answer with empty or tiny bodies that say nothing the status does not."""


def _retry_after(header_lines: list[bytes]) -> str | None:
    """The last Retry-After among the response's header lines (a 100 Continue may come first)."""
    found = None
    for line in header_lines:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"retry-after":
            found = value.strip().decode("latin-1")
    return found


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


def _send_in_worker(messages: list["Message"], bodies: list[bytes | Outcome] | None = None) -> list[Outcome]:
    return _worker_transport.send_all(messages, bodies)


class PushSender:
    """Signs VAPID once per push service for hours and sends many messages at once.

    With `processes` > 0 the encryption and POSTs of each batch are shared out to that many worker
    processes (each with its own pooled connections); otherwise they run on one thread of this process.
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
        self._sending: ThreadPoolExecutor | None = None  # the thread that drives self._transport
        self._pool: ProcessPoolExecutor | None = None
        self._relaying: ThreadPoolExecutor | None = None  # posts what was encrypted once it may go

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

    def message(self, subscription, payload: dict | bytes, ttl: int, topic: str, urgency: str, attempt: int = 1) -> Message:
        """A push of `payload` (a dict, or already encoded by encode_payload: one digest to several devices)."""
        info = {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
        headers = {**self.vapid_header(subscription.endpoint), "Topic": topic, "Urgency": urgency}
        plaintext = payload if isinstance(payload, bytes) else encode_payload(payload)
        return Message(info, plaintext, headers, ttl, attempt)

    def send_all(self, messages: list[Message]) -> list[Outcome]:
        """Send concurrently and wait; outcomes come back in the order of `messages`. Safe from any thread."""
        started = time.monotonic()
        outcomes = self.submit(messages).result()
        log.debug("sent %d pushes in %.3f s", len(messages), time.monotonic() - started)
        return outcomes

    def submit(self, messages: list[Message], release: Future | None = None) -> Future:
        """Start sending; the future's result is the outcomes in the order of `messages`.

        With `release`, the messages are encrypted at once but posted only when `release` resolves to True,
        say once the transaction that leased them has committed: encryption, most of a push's cost, then
        runs while the database writes, and nothing leaves before the lease holds. If `release` resolves
        to anything else, nothing is posted and the returned future is cancelled.
        """
        if not messages:
            done: Future = Future()
            done.set_result([])
            return done
        shares = self._shares(messages)
        if release is None:
            return self._post(shares, None)
        if self._processes <= 0:
            _, thread = self._local_transport()
            encrypting = [thread.submit(_encrypt_all, share) for share in shares]
        else:
            pool = self._worker_pool()
            encrypting = [pool.submit(_encrypt_all, share) for share in shares]
        return _when_all_done([*encrypting, release], self._relay(), self._post_encrypted, shares, encrypting, release)

    def _shares(self, messages: list[Message]) -> list[list[Message]]:
        if self._processes <= 0:
            return [messages]
        size = -(-len(messages) // self._processes)  # one contiguous share per worker process
        return [messages[start:start + size] for start in range(0, len(messages), size)]

    def _post(self, shares: list[list[Message]], bodies: list[list[bytes | Outcome]] | None) -> Future:
        bodies = bodies or [None] * len(shares)
        if self._processes <= 0:
            transport, thread = self._local_transport()
            [share], [share_bodies] = shares, bodies
            return thread.submit(transport.send_all, share, share_bodies)
        pool = self._worker_pool()
        return _all_of([pool.submit(_send_in_worker, share, share_bodies) for share, share_bodies in zip(shares, bodies)],
                       shares, self._reset_pool)

    def _post_encrypted(self, shares: list[list[Message]], encrypting: list[Future], release: Future) -> Future | None:
        """Once encryption and release are done: post what was encrypted, or nothing if not released."""
        if release.cancelled() or release.exception() is not None or release.result() is not True:
            return None
        bodies = []
        for future, share in zip(encrypting, shares, strict=True):
            try:
                bodies.append(future.result())
            except Exception as error:  # noqa: BLE001 - a worker process died while encrypting
                self._reset_pool()
                at = now()
                bodies.append([Outcome("retry", None, retry_at_from(None, at, message.attempt),
                                       detail=f"sender process failed: {type(error).__name__}") for message in share])
        return self._post(shares, bodies)

    def start(self) -> None:
        """Start the worker processes now rather than with the first batch (a dispatcher does at start-up)."""
        if self._processes > 0:
            pool = self._worker_pool()
            for future in [pool.submit(_send_in_worker, []) for _ in range(self._processes)]:
                future.result()

    def close(self) -> None:
        """Close the pooled connections, stop the sending thread and the worker processes."""
        with self._lock:
            transport, thread, pool, relay = self._transport, self._sending, self._pool, self._relaying
            self._transport = self._sending = self._pool = self._relaying = None
        if relay is not None:
            relay.shutdown(wait=True)
        if thread is not None:
            thread.shutdown(wait=True)
        if transport is not None:
            transport.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _local_transport(self) -> tuple[_Transport, ThreadPoolExecutor]:
        with self._lock:
            if self._transport is None:
                self._transport = _Transport(self._concurrency, self._timeout)
                self._sending = ThreadPoolExecutor(1, thread_name_prefix="plate-push")
            return self._transport, self._sending

    def _relay(self) -> ThreadPoolExecutor:
        """A thread that starts the posting of encrypted messages: never the process pool's own thread, which
        runs the done-callbacks of its futures and must not be made to submit from inside one."""
        with self._lock:
            if self._relaying is None:
                self._relaying = ThreadPoolExecutor(1, thread_name_prefix="plate-push-relay")
            return self._relaying

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


def _when_all_done(futures: list[Future], relay: ThreadPoolExecutor, then, *args) -> Future:
    """A future for what `then(*args)` starts (a future, or None: nothing), run on `relay` once `futures` are done."""
    result: Future = Future()
    remaining = [len(futures)]
    lock = threading.Lock()

    def started(step: Future) -> None:
        try:
            inner = step.result()
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits for the result
            result.set_exception(error)
            return
        if inner is None:
            result.cancel()
        else:
            inner.add_done_callback(lambda done: _copy(done, result))

    def one_done(_future) -> None:
        with lock:
            remaining[0] -= 1
            if remaining[0]:
                return
        try:
            relay.submit(then, *args).add_done_callback(started)
        except RuntimeError as error:  # the sender was closed meanwhile
            result.set_exception(error)

    for future in futures:
        future.add_done_callback(one_done)
    return result


def _copy(source: Future, target: Future) -> None:
    if source.cancelled():
        target.cancel()
    elif source.exception() is not None:
        target.set_exception(source.exception())
    else:
        target.set_result(source.result())


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
