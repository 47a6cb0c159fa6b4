"""The pages on a small phone (360x640): every tap target is at least 44 px each way, nothing scrolls sideways."""
from datetime import timedelta

import pytest
import time_machine
from playwright.sync_api import expect

from tests.browser.conftest import TIMEOUT_MS
from tests.factories import make_invitation, make_item, make_org, make_user, set_status
from webapp.clock import local_today, now
from webapp.extensions import db
from webapp.services import team_requests

pytestmark = pytest.mark.browser
SMALL_PHONE = {"width": 360, "height": 640}

# What a finger can tap. A radio button or checkbox is tapped through its label (the app draws most of them as
# chips or switches over a hidden input), so the label is what is measured.
SMALL_TARGETS = """() => {
  const seen = new Set();
  const small = [];
  for (const element of document.querySelectorAll("a[href], button, input, select, textarea, summary")) {
    const choice = element.matches('input[type="radio"], input[type="checkbox"]');
    const target = (choice && element.closest("label")) || element;
    if (seen.has(target)) continue;
    seen.add(target);
    if (!target.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true })) continue;
    const { width, height } = target.getBoundingClientRect();
    if (!width || !height || (width >= 43.99 && height >= 43.99)) continue;
    const name = (target.getAttribute("aria-label") || target.textContent || target.name || target.type).trim().replace(/\\s+/g, " ");
    small.push(`${target.tagName.toLowerCase()} "${name.slice(0, 40)}" ${Math.round(width)}x${Math.round(height)}`);
  }
  return small;
}"""


@pytest.fixture
def phone(phone):
    """The Pixel-class emulation of the other browser tests, on the smallest screen the app is made for."""
    return {**phone, "viewport": SMALL_PHONE, "screen": SMALL_PHONE}


@pytest.fixture
def org(ctx):
    """Dana manages Ravi and Lucía; Jonas reports to Ravi. Ravi's plate has every kind of item, old ones too."""
    org = make_org("Northwind Field Sales")
    dana = make_user(org, "Dana Whitfield", email="dana@example.test", time_zone="Europe/London", is_admin=True)
    ravi = make_user(org, "Ravi Menon", dana, email="ravi@example.test", time_zone="Asia/Kolkata")
    lucia = make_user(org, "Lucía Ortega", dana, email="lucia@example.test", time_zone="America/Mexico_City")
    make_user(org, "Jonas Becker", ravi, email="jonas@example.test")
    today = local_today("Asia/Kolkata")
    with time_machine.travel(now() - timedelta(days=40), tick=False):
        make_item(ravi, dana, "Call the Lyon distributor about the spring order and the new price list")
    make_item(ravi, dana, "Update Q4 pipeline", priority="high", due_on=today, urgent=True)
    make_item(ravi, title="Follow up with Tata Motors", due_on=today - timedelta(days=9))
    make_item(ravi, title="Log expenses", priority="low")
    done = make_item(ravi, dana, "Renew the Wipro contract")
    set_status(done)
    set_status(make_item(ravi, title="Book the offsite"), status="dropped", drop_reason="Offsite cancelled")
    make_item(lucia, dana, "Visit the Monterrey plant", priority="high")
    make_item(dana, title="Quarterly review deck")
    request = team_requests.create_request(db.session, dana, {"title": "Update your pipeline", "priority": "normal",
                                                              "all_reports": True})
    token = make_invitation(dana)
    db.session.commit()
    return {"ravi": ravi.id, "done": done.id, "request": request.request.id, "token": token}


# (who is logged in, the page); ids come from the `org` fixture.
PAGES = {
    "my plate": ("dana", "/"),
    "my plate with a review waiting": ("ravi", "/"),
    "a report's plate": ("dana", "/people/{ravi}"),
    "a report's done items": ("dana", "/people/{ravi}?tab=done"),
    "item with history": ("dana", "/items/{done}"),
    "team": ("dana", "/team"),
    "settings": ("dana", "/settings"),
    "record": ("dana", "/people/{ravi}/record"),
    "review": ("dana", "/review"),
    "inbox": ("ravi", "/inbox"),
    "team request": ("dana", "/requests/{request}"),
}


def assert_fits_a_small_phone(page):
    small = page.evaluate(SMALL_TARGETS)
    assert not small, "smaller than 44 px: " + "; ".join(small)
    assert page.evaluate("document.documentElement.scrollWidth") <= SMALL_PHONE["width"], "the page scrolls sideways"


def test_every_tap_target_of_every_page_is_at_least_44_px(site, browser, phone, org, subtests):
    """One page at a time as a subtest, each person logged in once."""
    pages = {}
    for who in sorted({who for who, _path in PAGES.values()}):
        context = browser.new_context(**phone)
        context.set_default_timeout(TIMEOUT_MS)
        site.log_in(context, f"{who}@example.test")
        pages[who] = context.new_page()
    try:
        for name, (who, path) in PAGES.items():
            with subtests.test(page=name):
                site.open(pages[who], path.format(**org))
                assert_fits_a_small_phone(pages[who])
    finally:
        for page in pages.values():
            page.context.close()


def test_every_tap_target_of_the_sign_in_pages_is_at_least_44_px(site, page, org, subtests):
    for path in ("/login", "/signup", "/invite/{token}"):
        with subtests.test(page=path):
            page.goto(f"{site.url}{path.format(**org)}")
            expect(page.get_by_label("Password")).to_be_visible()
            assert_fits_a_small_phone(page)


def test_every_tap_target_of_the_sheets_is_at_least_44_px(site, context, page, org):
    site.log_in(context, "dana@example.test")
    site.open(page, f"/people/{org['ravi']}")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_text("Above “Follow up with Tata Motors”")).to_be_visible()  # the placement list is in
    assert_fits_a_small_phone(page)

    page.get_by_text("Ask my team", exact=True).click()
    page.get_by_text("Pick people").click()
    expect(page.locator("#ask-people").get_by_text("Jonas Becker")).to_be_visible()
    assert_fits_a_small_phone(page)
    page.keyboard.press("Escape")

    page.get_by_role("button", name="More for Follow up with Tata Motors").click()
    assert_fits_a_small_phone(page)
    page.get_by_role("button", name="Drop…").click()
    expect(page.get_by_label("Why is it no longer needed?")).to_be_visible()
    assert_fits_a_small_phone(page)
