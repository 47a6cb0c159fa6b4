"""The record page: a period's summary, the weekly chart of items done, the list, and its CSV and print links."""
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from playwright.sync_api import expect

from tests.browser.conftest import dana_and_ravi, screenshots
from tests.factories import make_item, set_status
from webapp.clock import local_today
from webapp.extensions import db

pytestmark = pytest.mark.browser
ZONE = "Europe/Berlin"


@pytest.fixture
def ravi(ctx):
    """Ravi, Dana's report: three items done and one dropped this quarter, one done in January 2026."""
    org, dana, ravi = dana_and_ravi(dana_zone=ZONE, ravi_zone=ZONE)
    today = local_today(ZONE)
    set_status(make_item(ravi, dana, "Update Q4 pipeline", due_on=today + timedelta(days=1), priority="high"))
    set_status(make_item(ravi, dana, "Send the forecast", due_on=today - timedelta(days=3)))
    set_status(make_item(ravi, title="Tidy the CRM"))
    set_status(make_item(ravi, title="Book the offsite"), status="dropped", drop_reason="Offsite cancelled")
    with time_machine.travel(datetime(2026, 1, 14, 10, tzinfo=UTC), tick=False):
        set_status(make_item(ravi, title="January visit report"))
    db.session.commit()
    return ravi


def stat(page, label):
    return page.locator("#record-summary .stat").filter(has=page.get_by_text(label, exact=True)).locator("strong")


def test_manager_reads_a_reports_record_for_this_quarter_and_a_custom_period(site, context, page, ravi):
    site.log_in(context, "dana@example.test")
    site.open(page, f"/people/{ravi.id}")
    page.get_by_role("link", name="Record").click()
    expect(page.get_by_role("heading", name="Ravi's record")).to_be_visible()
    expect(page.get_by_label("This quarter")).to_be_checked()
    expect(stat(page, "done")).to_have_text("3")
    expect(stat(page, "on time")).to_have_text("1")
    expect(stat(page, "late")).to_have_text("1")
    expect(stat(page, "dropped")).to_have_text("1")
    expect(page.locator(".record-item")).to_have_count(4)
    expect(page.locator(".record-item", has_text="Book the offsite")).to_contain_text("“Offsite cancelled”")
    expect(page.locator(".record-item", has_text="Send the forecast")).to_contain_text("late")

    weeks = page.request.get(f"{site.url}/api/v1/people/{ravi.id}/record").json()["weekly_done"]
    chart = page.locator("#weekly-chart")
    expect(chart.locator("rect")).to_have_count(len(weeks))  # one bar per week, empty weeks included
    expect(chart.locator("title").filter(has_text=": 3 done")).to_have_count(1)  # this week's bar
    expect(chart).to_have_attribute("aria-label", re.compile(rf"^Items done per week, {len(weeks)} weeks; .*: 3\.$"))
    expect(page.locator(".chart-axis")).to_contain_text("busiest week: 3 done")  # the scale, in words
    screenshots(page, "record")

    page.get_by_text("Custom", exact=True).click()
    page.get_by_label("From").fill("2026-01-01")
    page.get_by_label("To", exact=True).fill("2026-01-31")
    page.get_by_role("button", name="Show").click()
    expect(stat(page, "done")).to_have_text("1")
    expect(page.locator(".record-item .item-title")).to_have_text(["January visit report"])
    expect(page.locator("#weekly-chart rect")).to_have_count(5)  # the Mondays of 29 Dec to 26 Jan
    expect(page.locator(".chart-axis")).to_contain_text("busiest week: 1 done")
    assert "from=2026-01-01&to=2026-01-31" in page.url
    csv = page.get_by_role("link", name="Download CSV")
    expect(csv).to_have_attribute("href", f"/people/{ravi.id}/record.csv?from=2026-01-01&to=2026-01-31")
    assert "January visit report" in page.request.get(site.url + csv.get_attribute("href")).text()
    expect(page.get_by_role("link", name="Print view")).to_have_attribute(
        "href", f"/people/{ravi.id}/record/print?from=2026-01-01&to=2026-01-31")


def test_my_record_is_linked_from_my_plate(site, context, page, ravi):
    site.log_in(context, "ravi@example.test")
    site.open(page)
    page.get_by_role("link", name="My record").click()
    expect(page.get_by_role("heading", name="My record")).to_be_visible()
    expect(stat(page, "done")).to_have_text("3")
    expect(page.get_by_text("2 added by me, 2 by others.")).to_be_visible()


def quarter_of(day: date) -> tuple[date, date]:
    start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    following = date(start.year + (start.month == 10), (start.month + 2) % 12 + 1, 1)
    return start, following - timedelta(days=1)


def test_the_last_quarter_preset_shows_last_quarters_period_and_items(site, context, page, ravi):
    this_start, _ = quarter_of(local_today(ZONE))
    last_start, last_end = quarter_of(this_start - timedelta(days=1))
    zone = ZoneInfo(ZONE)
    finished = {  # local times in Ravi's zone, at both edges of last quarter and just after it
        "Close the Lidl deal": datetime.combine(last_start, time(9, 0), zone),
        "Visit the Hamburg depot": datetime.combine(last_start + timedelta(days=40), time(14, 0), zone),
        "File the quarter's expenses": datetime.combine(last_end, time(23, 30), zone),
        "Start the new quarter": datetime.combine(this_start, time(0, 30), zone),
    }
    for title, at in finished.items():
        with time_machine.travel(at, tick=False):
            set_status(make_item(ravi, title=title))
    db.session.commit()

    site.log_in(context, "ravi@example.test")
    site.open(page, f"/people/{ravi.id}/record")
    expect(page.get_by_label("This quarter")).to_be_checked()
    page.get_by_text("Last quarter", exact=True).click()
    expect(page.get_by_label("Last quarter")).to_be_checked()
    expect(page.locator(".period-range")).to_have_text(
        re.compile(rf"^\w+ {last_start.day} \w+ {last_start.year} – \w+ {last_end.day} \w+ {last_end.year}$"))
    expect(page.locator(".record-item .item-title")).to_have_text(  # newest first; nothing of this quarter
        ["File the quarter's expenses", "Visit the Hamburg depot", "Close the Lidl deal"])
    expect(stat(page, "done")).to_have_text("3")
    expect(page).to_have_url(re.compile(rf"\?from={last_start}&to={last_end}$"))
    expect(page.get_by_role("link", name="Download CSV")).to_have_attribute(
        "href", f"/people/{ravi.id}/record.csv?from={last_start}&to={last_end}")

    page.reload()  # the period is in the address, and the preset is recognised from it
    expect(page.get_by_label("Last quarter")).to_be_checked()
    expect(page.locator(".record-item")).to_have_count(3)
    page.get_by_text("This quarter", exact=True).click()
    expect(page.locator(".record-item", has_text="Start the new quarter")).to_have_count(1)
