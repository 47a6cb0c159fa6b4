"""Settings (name, time zone, password, notifications) and the inbox, in a phone-sized Chromium."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import dana_and_ravi
from tests.factories import PASSWORD, make_item
from webapp.extensions import db
from webapp.models import Notification, NotificationPreferences, User

pytestmark = pytest.mark.browser


@pytest.fixture
def people(ctx):
    org, dana, ravi = dana_and_ravi(ravi_zone="Europe/Berlin", dana_is_admin=True)
    db.session.commit()
    return {"dana": dana, "ravi": ravi}


def fresh(model, key):
    db.session.rollback()  # see what the server committed since
    return db.session.get(model, key)


def test_name_and_time_zone_are_saved_and_the_notification_times_follow_the_zone(site, context, page, people):
    site.log_in(context, "ravi@example.test")
    site.open(page, "/settings")
    status = page.locator("#notify-status")
    expect(status).to_contain_text("(Europe/Berlin)")
    page.get_by_label("Name", exact=True).fill("Ravi K. Menon")
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    page.locator("#profile-form").get_by_role("button", name="Save").click()
    expect(page.locator("#toast")).to_have_text("Saved.")
    expect(status).to_contain_text("(Asia/Tokyo)")
    user = fresh(User, people["ravi"].id)
    assert (user.name, user.time_zone) == ("Ravi K. Menon", "Asia/Tokyo")


def test_changing_the_password_keeps_the_page_working(site, context, page, people):
    site.log_in(context, "ravi@example.test")
    site.open(page, "/settings")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password").fill("a brand new passphrase")
    page.get_by_role("button", name="Change password").click()
    expect(page.locator("#toast")).to_contain_text("Password changed.")
    page.get_by_label("Name", exact=True).fill("Ravi Menon-Iyer")  # the same page can still write (it took the new CSRF token)
    page.locator("#profile-form").get_by_role("button", name="Save").click()
    expect(page.locator("#toast")).to_have_text("Saved.")
    assert fresh(User, people["ravi"].id).name == "Ravi Menon-Iyer"
    response = page.request.post(f"{site.url}/api/v1/session",
                                 data={"email": "ravi@example.test", "password": "a brand new passphrase"})
    assert response.ok


def test_notification_settings_show_local_time_and_next_digest_and_save(site, context, page, people):
    site.log_in(context, "ravi@example.test")
    site.open(page, "/settings")
    status = page.locator("#notify-status")
    expect(status).to_contain_text(re.compile(r"It is \d\d:\d\d for you \(Europe/Berlin\) · next digest: \w{3} \d\d:\d\d"))
    form = page.locator("#notify-form")
    digest_times = form.get_by_label(re.compile(r"^Digest time \d$"))
    expect(digest_times).to_have_count(3)  # 09:00, 13:00, 16:30 by default
    form.get_by_role("button", name="Remove digest time 3").click()
    form.get_by_role("button", name="Remove digest time 2").click()
    form.get_by_label("Digest time 1", exact=True).fill("08:30")
    form.get_by_label("From").fill("20:00")
    form.get_by_label("to", exact=True).fill("07:00")
    form.get_by_text("Sat", exact=True).click()  # Saturday is no longer a quiet day
    form.get_by_role("button", name="Save notification settings").click()
    expect(page.locator("#toast")).to_contain_text("Next digest:")
    expect(page.locator("#notify-status")).to_contain_text(re.compile(r"next digest: \w{3} 08:30"))
    preferences = fresh(NotificationPreferences, people["ravi"].id)
    assert (preferences.digest_times, preferences.quiet_start, preferences.quiet_end, preferences.quiet_days) == (
        ["08:30"], "20:00", "07:00", [7])


def test_a_rejected_notification_setting_is_named_next_to_its_field(site, context, page, people):
    site.log_in(context, "ravi@example.test")
    site.open(page, "/settings")
    form = page.locator("#notify-form")
    form.get_by_role("button", name="+ Add a time").click()  # left empty: the server says what is wrong
    form.get_by_role("button", name="Save notification settings").click()
    error = form.locator("#error-digest_times")
    expect(error).to_contain_text("24-hour time")
    expect(form.get_by_label("Digest time 4", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Digest time 1", exact=True)).not_to_have_attribute("aria-invalid", "true")
    expect(form.locator("#error-quiet_hours")).to_be_hidden()
    assert fresh(NotificationPreferences, people["ravi"].id) is None  # nothing was saved


def test_the_bell_counts_unread_news_and_the_inbox_lists_it(site, context, page, people):
    make_item(people["ravi"], people["dana"], "Prepare the Bosch visit")
    make_item(people["ravi"], people["dana"], "Renew the Wipro contract", urgent=True)
    db.session.commit()
    site.log_in(context, "ravi@example.test")
    site.open(page)
    bell = page.get_by_role("link", name="Notifications, 2 unread")
    expect(bell).to_contain_text("2")
    bell.click()
    page.wait_for_selector("body[data-ready='true']")
    entries = page.locator(".inbox li")
    expect(entries).to_have_text([re.compile("Dana added “Renew the Wipro contract” to your plate.*Urgent"),
                                  re.compile("Dana added “Prepare the Bosch visit” to your plate")])
    entries.first.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Renew the Wipro contract")).to_be_visible()
    expect(page.get_by_role("link", name="Notifications, 1 unread")).to_be_visible()

    site.open(page, "/inbox")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_role("link", name="Notifications", exact=True)).to_be_visible()
    db.session.rollback()
    assert db.session.scalars(select(Notification.read_at).where(Notification.user_id == people["ravi"].id)).all()
    assert all(db.session.scalars(select(Notification.read_at).where(Notification.user_id == people["ravi"].id)))
