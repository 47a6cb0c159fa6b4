"""One digest as a Web Push payload: one line per item, small enough for any push service.

The payload is {title, body, url, count, items: [{id, title, what}], tag}; `tag` is the same for all of a
person's digests, so the service worker shows one notification per person and a newer one replaces it. Several events on one item
collapse into one line whose `what` summarizes them ("added · due Fri", "completed by Dana").
The weekly Monday digest may start with a line that is no item: {id: null, title: "Still needed?",
what: "3 items wait for your review", url: "/review"}.
`count` is the number of lines before truncation; `items` keeps as many lines as fit in
MAX_PAYLOAD_BYTES of UTF-8 JSON (aes128gcm allows 3,993 bytes of plaintext in a 4,096-byte
message; Plate keeps a margin), and the body says "and 7 more" for what it does not show.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import orjson

MAX_PAYLOAD_BYTES = 3072
TITLE_CHARS = 100        # an item title in `items`
BODY_TITLE_CHARS = 60    # an item title in the notification body
BODY_LINES = 4           # lines a notification body shows before "and N more"
WHAT_CHARS = 120         # one line's summary
TOPIC_CHARS = 32         # RFC 8030: at most 32 characters of base64url
REVIEW_URL = "/review"

STATUS_KINDS = ("completed", "dropped", "reopened")
PHRASES = {
    "added": "added",
    "reassigned": "moved to you",
    "urgent": "urgent",
    "completed": "completed",
    "dropped": "dropped",
    "reopened": "reopened",
    "due_today": "due today",
    "reminder": "reminder",
}


class DigestEvent(NamedTuple):
    """One thing that happened to an item, as the recipient will read it; oldest first in a digest.

    A NamedTuple: a pass at 09:00 makes one per event of every digest it sends.
    """

    item_id: int
    title: str
    kind: str                   # added, reassigned, urgent, completed, dropped, reopened, due_changed, priority_changed,
                                # due_today, reminder
    actor: str | None = None    # who did it (None for "due today")
    due_on: date | None = None  # the item's due date after the event
    priority: str | None = None
    urgent: bool = False


@dataclass
class _Line:
    item_id: int
    title: str
    urgent: bool
    slots: dict[str, str]       # slot -> phrase, in order of first appearance
    actors: list[str]


def topic_for(person_id: int, secret: str | bytes) -> str:
    """The push `Topic` for a person: 32 base64url characters that do not reveal who it is."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, f"plate-push-topic:{person_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode("ascii")  # 24 bytes -> exactly 32 characters


def encode_payload(payload: dict) -> bytes:
    """The plaintext that is encrypted and pushed: compact UTF-8 JSON (orjson: a fifth of the json module's time)."""
    return orjson.dumps(payload)


def build_digest_payload(
    events: Iterable[DigestEvent],
    *,
    today: date,
    url: str = "/",
    urgent: bool = False,
    max_items: int | None = None,
    max_bytes: int = MAX_PAYLOAD_BYTES,
    review_waiting: int = 0,
    tag: str | None = None,
) -> dict:
    """The payload of one digest; `today` is the recipient's local date; `max_items` lowers the cut after a 413.

    `review_waiting` (the weekly Monday digest) adds a first line saying how many items wait for "Still needed?".
    `tag` names the recipient's notification, so that their newer digest replaces the older on a device.
    """
    return _fitted(events, today, url, urgent, max_items, max_bytes, review_waiting, tag)[0]


def encode_digest_payload(events: Iterable[DigestEvent], *, today: date, url: str = "/", urgent: bool = False,
                          max_items: int | None = None, max_bytes: int = MAX_PAYLOAD_BYTES, review_waiting: int = 0,
                          tag: str | None = None) -> bytes:
    """build_digest_payload's payload as the plaintext to push: the bytes its size was checked on, not encoded again."""
    return _fitted(events, today, url, urgent, max_items, max_bytes, review_waiting, tag)[1]


def _fitted(events, today, url, urgent, max_items, max_bytes, review_waiting, tag) -> tuple[dict, bytes]:
    """The payload with as many lines as fit in max_bytes, and its encoding."""
    lines = digest_lines(events, today)
    if review_waiting:
        lines.insert(0, review_line(review_waiting))
        if len(lines) == 1:
            url = REVIEW_URL
    limit = len(lines) if max_items is None else max(0, min(max_items, len(lines)))

    def fitting(shown: int) -> tuple[dict, bytes] | None:
        payload = _payload(lines, shown, url, urgent, tag)
        encoded = encode_payload(payload)
        return (payload, encoded) if len(encoded) <= max_bytes else None

    if found := fitting(limit):  # the usual digest: everything fits
        return found
    if not (found := fitting(0)):
        raise ValueError("The digest does not fit in a push even without items; is the url too long?")
    lo, hi = 0, limit - 1  # the largest number of lines that fits (size grows with every line)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if candidate := fitting(mid):
            lo, found = mid, candidate
        else:
            hi = mid - 1
    return found


def review_line(waiting: int) -> dict:
    """The line of the weekly digest that points to the "Still needed?" review (it has no item id)."""
    what = "1 item waits for your review" if waiting == 1 else f"{waiting} items wait for your review"
    return {"id": None, "title": "Still needed?", "what": what, "url": REVIEW_URL}


def build_test_payload(url: str = "/", tag: str | None = None) -> dict:
    """The payload of the push a person asks for to check their device."""
    payload = {"title": "Plate notifications work", "body": "This is the test you asked for.",
               "url": url, "count": 0, "items": []}
    return {**payload, "tag": tag} if tag else payload


def tag_for(topic: str) -> str:
    """The notification tag of a person's digests (from their opaque Topic): one on screen per person."""
    return f"plate-{topic}"


def digest_lines(events: Iterable[DigestEvent], today: date) -> list[dict]:
    """One {id, title, what} per item, urgent items first, otherwise in the order they first changed."""
    lines: dict[int, _Line] = {}
    for event in events:
        line = lines.get(event.item_id)
        if line is None:
            line = lines[event.item_id] = _Line(event.item_id, event.title, False, {}, [])
        line.title = event.title  # the newest title wins
        line.urgent = line.urgent or event.urgent or event.kind == "urgent"
        _apply(line, event, today)
        if event.actor and event.actor not in line.actors and event.kind != "reminder":
            line.actors.append(event.actor)
    ordered = sorted(lines.values(), key=lambda line: not line.urgent)  # stable: first change order kept
    return [{"id": line.item_id, "title": _clip(line.title, TITLE_CHARS), "what": _clip(_what(line), WHAT_CHARS)} for line in ordered]


def _apply(line: _Line, event: DigestEvent, today: date) -> None:
    """Fold one event into its item's line: each slot holds its newest phrase, in first-seen order."""
    kind = event.kind
    if kind in STATUS_KINDS:
        line.slots["status"] = PHRASES[kind]
    elif kind == "due_changed":
        line.slots["due"] = describe_due(event.due_on, today)
    elif kind == "priority_changed":
        line.slots["priority"] = f"priority {event.priority}" if event.priority else "priority changed"
    elif kind == "due_today":
        line.slots["due"] = describe_due(event.due_on or today, today)
    elif kind == "reminder":  # names its sender itself: "reminder from Dana", not "... by Dana"
        line.slots["reminder"] = f"{PHRASES[kind]} from {event.actor}" if event.actor else PHRASES[kind]
    elif kind in PHRASES:
        line.slots[kind] = PHRASES[kind]
        if kind in ("added", "reassigned") and event.due_on is not None:
            line.slots.setdefault("due", describe_due(event.due_on, today))
    else:
        line.slots[kind] = kind.replace("_", " ")
    if event.urgent:
        line.slots.setdefault("urgent", PHRASES["urgent"])


def _what(line: _Line) -> str:
    phrases = list(line.slots.values()) or ["changed"]
    if line.actors:
        phrases[0] = f"{phrases[0]} by {_people(line.actors)}"
    return " · ".join(phrases)


def _people(names: list[str]) -> str:
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} and {len(names) - 1} others"


def describe_due(due_on: date | None, today: date) -> str:
    """A due date as a person reads it next to today: 'due today', 'due tomorrow', 'due Fri', 'due 3 Mar'."""
    if due_on is None:
        return "no due date"
    days = (due_on - today).days
    if days == 0:
        return "due today"
    if days == 1:
        return "due tomorrow"
    if 1 < days < 7:
        return f"due {due_on:%a}"
    if due_on.year != today.year:
        return f"due {due_on.day} {due_on:%b %Y}"
    return f"due {due_on.day} {due_on:%b}"


def _payload(lines: list[dict], shown: int, url: str, urgent: bool, tag: str | None = None) -> dict:
    count = len(lines)
    items = lines[:shown]
    prefix = "Urgent: " if urgent else ""
    if count == 1 and shown == 1:
        title, body = prefix + items[0]["title"], items[0]["what"]
    else:
        title = prefix + (f"{count} updates on Plate" if count != 1 else "1 update on Plate")
        in_body = items[:BODY_LINES]
        body_lines = [f"{_clip(i['title'], BODY_TITLE_CHARS)} — {i['what']}" for i in in_body]
        if count > len(in_body):
            body_lines.append(f"and {count - len(in_body)} more")
        body = "\n".join(body_lines)
    payload = {"title": title, "body": body, "url": url, "count": count, "items": items}
    return {**payload, "tag": tag} if tag else payload


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())  # runs of whitespace as one space, none at the ends
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"

