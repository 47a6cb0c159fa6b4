"""A digest's push payload: one line per item, a count, and always small enough to push."""
import json
import re
from datetime import date, timedelta

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from webapp.notifications.payload import (
    MAX_PAYLOAD_BYTES,
    DigestEvent,
    build_digest_payload,
    build_test_payload,
    describe_due,
    digest_lines,
    encode_payload,
    topic_for,
)

TODAY = date(2026, 3, 10)  # a Tuesday
FRIDAY = date(2026, 3, 13)


def event(item_id=1, kind="added", title="Call Siemens", **fields) -> DigestEvent:
    return DigestEvent(item_id=item_id, title=title, kind=kind, **fields)


def whats(*events: DigestEvent) -> list[str]:
    return [line["what"] for line in digest_lines(events, TODAY)]


def test_payload_has_the_issues_shape():
    payload = build_digest_payload([event(actor="Dana", due_on=FRIDAY)], today=TODAY, url="/items/1")
    assert set(payload) == {"title", "body", "url", "count", "items"}
    assert payload["items"] == [{"id": 1, "title": "Call Siemens", "what": "added by Dana · due Fri"}]
    assert payload["count"] == 1 and payload["url"] == "/items/1"


def test_one_item_is_titled_by_the_item():
    payload = build_digest_payload([event(kind="completed", actor="Dana")], today=TODAY)
    assert (payload["title"], payload["body"]) == ("Call Siemens", "completed by Dana")


def test_a_title_pasted_with_line_breaks_and_tabs_reads_as_one_line():
    lines = digest_lines([event(title="  Call\tSiemens\n\nabout the\u00a0renewal  ")], TODAY)
    assert lines[0]["title"] == "Call Siemens about the renewal"


def test_several_changes_to_one_item_collapse_into_one_line():
    assert whats(
        event(kind="added", actor="Dana"),
        event(kind="due_changed", actor="Dana", due_on=FRIDAY),
        event(kind="due_changed", actor="Dana", due_on=TODAY + timedelta(days=1)),
    ) == ["added by Dana · due tomorrow"]


def test_the_newest_status_wins():
    assert whats(event(kind="completed", actor="Dana"), event(kind="reopened", actor="Dana")) == ["reopened by Dana"]


def test_several_actors_are_named_once():
    assert whats(event(kind="completed", actor="Dana"), event(kind="priority_changed", actor="Eli", priority="high")) \
        == ["completed by Dana and Eli · priority high"]
    three = [event(kind="due_changed", actor=name, due_on=FRIDAY) for name in ("Dana", "Eli", "Fay")]
    assert whats(*three) == ["due Fri by Dana and 2 others"]


def test_urgent_items_come_first_and_say_so():
    lines = digest_lines([event(1, title="Slides"), event(2, "reassigned", title="Outage", actor="Dana", urgent=True)],
                         TODAY)
    assert [(line["id"], line["what"]) for line in lines] == [(2, "moved to you by Dana · urgent"), (1, "added")]


def test_due_today_reminder_has_no_actor():
    assert whats(event(kind="due_today", due_on=TODAY)) == ["due today"]


@pytest.mark.parametrize(("due_on", "text"), [
    (TODAY, "due today"), (TODAY + timedelta(days=1), "due tomorrow"), (FRIDAY, "due Fri"),
    (date(2026, 3, 17), "due 17 Mar"), (date(2026, 3, 2), "due 2 Mar"), (date(2027, 1, 4), "due 4 Jan 2027"),
    (None, "no due date"),
])
def test_due_dates_read_relative_to_the_recipients_today(due_on, text):
    assert describe_due(due_on, TODAY) == text


def test_many_items_are_counted_and_the_body_says_how_many_more():
    events = [event(i, title=f"Item {i}") for i in range(1, 12)]
    payload = build_digest_payload(events, today=TODAY)
    assert payload["count"] == 11 and len(payload["items"]) == 11
    assert payload["title"] == "11 updates on Plate"
    assert payload["body"].splitlines() == ["Item 1 — added", "Item 2 — added", "Item 3 — added", "Item 4 — added",
                                            "and 7 more"]


def test_an_urgent_digest_says_so_in_the_title():
    payload = build_digest_payload([event(1, urgent=True), event(2)], today=TODAY, urgent=True)
    assert payload["title"].startswith("Urgent: ")


@pytest.mark.parametrize("title", ["x" * 200, "Überprüfung der Änderungsanträge " * 6, "会議の議事録を共有する" * 20,
                                   "🚀🔥" * 100, 'quote " and \\ backslash\n\ttab' * 10])
def test_long_and_multibyte_titles_stay_under_3_kb(title):
    events = [event(i, title=f"{i} {title}", actor="Dana Żółć-Ñandú", due_on=FRIDAY) for i in range(60)]
    payload = build_digest_payload(events, today=TODAY)
    encoded = encode_payload(payload)
    assert len(encoded) <= MAX_PAYLOAD_BYTES
    assert payload["count"] == 60 and 0 < len(payload["items"]) < 60
    assert payload["body"].endswith("and 56 more")
    assert json.loads(encoded.decode("utf-8")) == payload
    assert all(len(item["title"]) <= 100 for item in payload["items"])


def test_truncation_keeps_as_many_items_as_fit():
    events = [event(i, title=f"Item number {i} " + "é" * 60) for i in range(100)]
    payload = build_digest_payload(events, today=TODAY)
    shown = len(payload["items"])
    bigger = build_digest_payload(events, today=TODAY, max_bytes=10**6, max_items=shown + 1)
    assert len(encode_payload(bigger)) > MAX_PAYLOAD_BYTES


def test_fewer_items_after_a_413():
    events = [event(i) for i in range(10)]
    payload = build_digest_payload(events, today=TODAY, max_items=3)
    assert payload["count"] == 10 and [i["id"] for i in payload["items"]] == [0, 1, 2]
    assert payload["body"].endswith("and 7 more")
    assert build_digest_payload(events, today=TODAY, max_items=0)["items"] == []


def test_a_url_too_long_for_any_payload_is_an_error():
    with pytest.raises(ValueError):
        build_digest_payload([event()], today=TODAY, url="/" + "a" * 4000)


def test_the_test_push_payload():
    payload = build_test_payload("/settings")
    assert payload["count"] == 0 and payload["url"] == "/settings" and payload["items"] == []


@hypothesis_settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 30), st.text(min_size=1, max_size=200),
                          st.sampled_from(["added", "reassigned", "urgent", "completed", "dropped", "reopened",
                                           "due_changed", "priority_changed", "due_today"])), max_size=80))
def test_any_digest_fits_and_counts_each_item_once(raw):
    events = [event(i, kind, title, actor="Dana", due_on=FRIDAY, priority="high") for i, title, kind in raw]
    payload = build_digest_payload(events, today=TODAY)
    assert len(encode_payload(payload)) <= MAX_PAYLOAD_BYTES
    assert payload["count"] == len({i for i, _, _ in raw})
    assert len({item["id"] for item in payload["items"]}) == len(payload["items"])


# --- topic ---------------------------------------------------------------------------------

def test_topic_is_32_base64url_characters():
    topic = topic_for(42, "secret")
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", topic)


def test_topic_is_stable_per_person_and_differs_between_people():
    assert topic_for(42, "secret") == topic_for(42, b"secret")
    assert topic_for(42, "secret") != topic_for(43, "secret")


def test_topic_does_not_reveal_the_person_without_the_secret():
    assert topic_for(42, "secret") != topic_for(42, "another secret")
