"""Still needed?: old and long-overdue items wait for a decision, one tap keeps (with a new date) or drops each."""
from datetime import timedelta

import pytest
import time_machine
from playwright.sync_api import expect

from tests.browser.conftest import dana_and_ravi, screenshots
from tests.factories import make_item
from webapp.clock import local_today, now
from webapp.extensions import db
from webapp.models import Item

pytestmark = pytest.mark.browser
ZONE = "Europe/Berlin"


@pytest.fixture
def waiting(ctx):
    """Ravi has an item from a month ago, one 10 days overdue, and a fresh one that does not wait."""
    org, dana, ravi = dana_and_ravi(dana_zone=ZONE, ravi_zone=ZONE)
    with time_machine.travel(now() - timedelta(days=30), tick=False):
        old = make_item(ravi, dana, "Call the Lyon distributor")
    overdue = make_item(ravi, title="Renew the trade show booth", due_on=local_today(ZONE) - timedelta(days=10))
    make_item(ravi, title="Fresh work")
    db.session.commit()
    return {"dana": dana, "ravi": ravi, "old": old.id, "overdue": overdue.id}


def item(item_id) -> Item:
    db.session.rollback()  # see what the server committed since
    return db.session.get(Item, item_id)


def test_the_badge_leads_to_the_review_where_items_are_kept_and_dropped(site, context, page, waiting):
    site.log_in(context, "ravi@example.test")
    site.open(page)
    expect(page.locator("#review-count")).to_have_text("2")
    screenshots(page, "plate-with-review")
    page.get_by_role("link", name="Still needed?").click()
    expect(page.get_by_role("heading", name="Still needed?")).to_be_visible()
    cards = page.locator(".review-card")
    expect(cards).to_have_count(2)
    expect(cards.filter(has_text="Call the Lyon distributor")).to_contain_text("open 30 days")
    expect(cards.filter(has_text="Renew the trade show booth")).to_contain_text("10 days overdue")
    screenshots(page, "review")

    new_due = (local_today(ZONE) + timedelta(days=9)).isoformat()
    old = cards.filter(has_text="Call the Lyon distributor")
    old.get_by_label("New due date").fill(new_due)
    old.get_by_role("button", name="Keep").click()
    expect(cards).to_have_count(1)
    expect(page.locator("#toast")).to_contain_text("Kept: Call the Lyon distributor")
    expect(page.locator("#review-count")).to_have_text("1")
    kept = item(waiting["old"])
    assert (kept.status, kept.due_on.isoformat(), kept.kept_at is not None) == ("open", new_due, True)

    cards.filter(has_text="Renew the trade show booth").get_by_role("button", name="Drop…").click()
    page.get_by_label("Why is it no longer needed?").fill("We skip the show this year")
    page.get_by_role("button", name="Drop it").click()
    expect(page.get_by_text("Nothing to review.")).to_be_visible()
    expect(page.locator("#review-count")).to_be_hidden()
    dropped = item(waiting["overdue"])
    assert (dropped.status, dropped.drop_kind, dropped.drop_reason) == ("dropped", "no_longer_needed", "We skip the show this year")


def test_a_manager_reviews_a_reports_items_and_a_past_date_is_refused(site, context, page, waiting):
    site.log_in(context, "dana@example.test")
    site.open(page, "/review")
    card = page.locator(".review-card", has_text="Call the Lyon distributor")
    expect(card).to_contain_text("Ravi Menon's plate")
    card.get_by_label("New due date").fill((local_today(ZONE) - timedelta(days=1)).isoformat())
    card.get_by_role("button", name="Keep").click()
    expect(card.locator(".form-error")).to_be_visible()
    assert item(waiting["old"]).kept_at is None
