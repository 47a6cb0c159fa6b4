"""A manager asks the whole team from a phone, watches it get done, and sees who is loaded before adding more."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import dana_and_ravi, screenshots
from tests.factories import make_item, make_user, set_status
from webapp.clock import local_today
from webapp.extensions import db
from webapp.models import Item, Notification

pytestmark = pytest.mark.browser
POLL_MS = 20_000  # the request page reads again every 12 s while it is visible


@pytest.fixture
def team(ctx):
    """Dana manages Ravi, Lucía and Sam; Jo reports to Sam. Ravi is the busiest, Sam has overdue work."""
    org, dana, ravi = dana_and_ravi(dana_zone="Europe/London", ravi_zone="Asia/Kolkata")
    lucia = make_user(org, "Lucía Ortega", dana, email="lucia@example.test", time_zone="America/Mexico_City")
    sam = make_user(org, "Sam Carter", dana, email="sam@example.test", time_zone="Europe/London")
    jo = make_user(org, "Jo Junior", sam, email="jo@example.test", time_zone="Europe/London")
    for n in range(4):
        make_item(ravi, dana, f"Ravi's work {n}", priority="high" if n == 0 else "normal")
    make_item(lucia, title="Lucía's call")
    past = local_today("Europe/London") - timedelta(days=2)
    make_item(sam, dana, "Late report", due_on=past)
    make_item(sam, dana, "Later report", due_on=past, priority="low")
    db.session.commit()
    return {"dana": dana, "ravi": ravi, "lucia": lucia, "sam": sam, "jo": jo}


def request_items(request_id):
    db.session.rollback()  # see what the server committed since
    return list(db.session.scalars(select(Item).where(Item.team_request_id == request_id).order_by(Item.owner_id)))


def ask_direct_reports(site, page, title):
    site.open(page)
    page.get_by_role("button", name="Add").click()
    page.get_by_text("Ask my team", exact=True).click()
    expect(page.get_by_role("heading", name="Ask my team")).to_be_visible()
    page.get_by_label("What needs doing").fill(title)
    page.locator("#add-form").get_by_text("High", exact=True).click()
    page.get_by_text("End of week", exact=True).click()
    expect(page.get_by_label("My direct reports (3)")).to_be_checked()


def test_ask_all_direct_reports_and_watch_two_complete_without_a_reload(site, context, page, team):
    page.clock.install()  # runs in real time; the test jumps it past the page's 12 s poll instead of waiting
    site.log_in(context, "dana@example.test")
    ask_direct_reports(site, page, "Update your pipeline for the forecast")
    screenshots(page, "ask-my-team")
    page.get_by_role("button", name="Ask 3 people").click()

    expect(page).to_have_url(re.compile(r"/requests/\d+$"))
    page.wait_for_selector("body[data-ready='true']")
    request_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("heading", name="Update your pipeline for the forecast")).to_be_visible()
    expect(page.locator("#progress-text")).to_have_text("0 of 3 done")
    expect(page.locator("#still-open .assignee-name")).to_have_text(["Lucía Ortega", "Ravi Menon", "Sam Carter"])
    items = request_items(request_id)
    assert [(i.owner_id, i.priority, i.created_by_id) for i in items] == [
        (team[name].id, "high", team["dana"].id) for name in ("ravi", "lucia", "sam")]
    assert all(i.due_on is not None for i in items)

    page.evaluate("window.__sameDocument = true")  # gone if the page reloads
    set_status(items[0], team["ravi"])  # Ravi finishes on his phone while Dana's page stays open
    db.session.commit()
    page.evaluate("window.dispatchEvent(new Event('focus'))")  # coming back to the tab reads at once
    expect(page.locator("#progress-text")).to_have_text("1 of 3 done")
    set_status(items[2], team["sam"])
    db.session.commit()
    page.clock.run_for(POLL_MS)
    expect(page.locator("#progress-text")).to_have_text("2 of 3 done")  # the page polls
    assert page.evaluate("window.__sameDocument") is True
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "2")
    expect(page.locator("#still-open .assignee-name")).to_have_text(["Lucía Ortega"])
    expect(page.locator("#finished .assignee")).to_have_count(2)
    expect(page.locator("#finished")).to_contain_text("on time")

    page.get_by_role("button", name="Remind the one still open").click()
    expect(page.locator("#toast")).to_contain_text("it goes into their next digest")
    db.session.rollback()
    reminders = db.session.scalars(select(Notification).where(Notification.kind == "reminder")).all()
    assert [note.item_id for note in reminders] == [items[1].id]
    screenshots(page, "request")


def test_the_request_is_listed_on_the_team_page_and_its_title_and_due_date_can_be_edited(site, context, page, team):
    site.log_in(context, "dana@example.test")
    ask_direct_reports(site, page, "Send me your expense reports")
    page.get_by_role("button", name="Ask 3 people").click()
    expect(page.locator("#progress-text")).to_have_text("0 of 3 done")
    request_id = int(page.url.rsplit("/", 1)[1])
    set_status(request_items(request_id)[0], team["ravi"])
    db.session.commit()

    page.get_by_text("Edit the request").click()
    edit = page.locator("#request-edit")
    edit.get_by_label("Title").fill("Send me your October expense reports")
    edit.get_by_label("Due date").fill("2030-01-31")
    screenshots(page, "request-edit")
    edit.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("heading", name="Send me your October expense reports")).to_be_visible()
    items = {i.owner_id: i for i in request_items(request_id)}
    assert items[team["ravi"].id].title == "Send me your expense reports"  # finished: left as it was
    assert {(i.title, str(i.due_on)) for i in items.values() if i.status == "open"} == {
        ("Send me your October expense reports", "2030-01-31")}

    page.get_by_role("link", name="Back").click()
    mine = page.locator("#my-requests li", has_text="Send me your October expense reports")
    expect(mine).to_contain_text("1 of 3 done")
    mine.scroll_into_view_if_needed()
    screenshots(page, "team-with-request")
    mine.click()
    expect(page).to_have_url(f"{site.url}/requests/{request_id}")


def test_an_opened_request_can_be_read_offline(site, context, page, team):
    site.log_in(context, "dana@example.test")
    ask_direct_reports(site, page, "Confirm your holiday dates")
    page.get_by_role("button", name="Ask 3 people").click()
    expect(page.locator("#progress-text")).to_have_text("0 of 3 done")
    request_id = int(page.url.rsplit("/", 1)[1])
    site.wait_for_worker(page)
    page.reload()  # now through the service worker, which keeps a copy of each read
    site.wait_until_cached(page, f"/api/v1/team-requests/{request_id}")
    site.wait_until_cached(page, "/api/v1/session")

    context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", name="Confirm your holiday dates")).to_be_visible()
    expect(page.locator("#progress-text")).to_have_text("0 of 3 done")
    expect(page.locator('[data-banner="offline"]')).to_contain_text("Offline")
    page.get_by_role("button", name="Remind those still open (3)").click()
    expect(page.locator("#toast")).to_have_text("Reminding needs a connection.")


def test_picking_people_shows_their_load_and_asks_only_them(site, context, page, team):
    site.log_in(context, "dana@example.test")
    site.open(page, "/team")
    page.get_by_role("button", name="Ask my team").click()
    page.get_by_label("What needs doing").fill("Check the new price list")
    page.get_by_text("Pick people", exact=True).click()
    expect(page.locator(".pick", has_text="Ravi Menon")).to_contain_text("4 open")
    expect(page.locator(".pick", has_text="Sam Carter")).to_contain_text("2 open · 2 overdue")
    expect(page.locator(".pick", has_text="Jo Junior")).to_contain_text("0 open")
    page.get_by_label(re.compile("Lucía Ortega")).check()
    page.get_by_label(re.compile("Jo Junior")).check()
    screenshots(page, "ask-pick-people")
    page.get_by_role("button", name="Ask 2 people").click()
    expect(page.locator("#still-open .assignee-name")).to_have_text(["Jo Junior", "Lucía Ortega"])


def test_asking_offline_says_it_needs_a_connection_and_sends_nothing(site, context, page, team):
    site.log_in(context, "dana@example.test")
    ask_direct_reports(site, page, "Update your pipeline")
    context.set_offline(True)
    page.get_by_role("button", name="Ask 3 people").click()
    expect(page.locator("#add-form .form-error")).to_contain_text("Asking your team needs a connection")
    db.session.rollback()
    assert db.session.scalars(select(Item).where(Item.team_request_id.is_not(None))).all() == []


def test_team_workload_sorts_by_load_overdue_and_name(site, context, page, team):
    site.log_in(context, "dana@example.test")
    site.open(page, "/team")
    names = page.locator("#workload .team-name")
    expect(names).to_have_text([re.compile("^Ravi Menon"), re.compile("^Sam Carter"), re.compile("^Lucía Ortega")])
    expect(page.locator(".team-row", has_text="Ravi Menon")).to_contain_text("4 open: 1 high · 3 normal · 0 low")
    expect(page.locator(".team-row", has_text="Sam Carter")).to_contain_text("2 overdue")
    expect(page.locator("#interruptions")).to_contain_text("items reached your team")
    screenshots(page, "team")

    page.get_by_text("Overdue", exact=True).click()
    expect(names).to_have_text([re.compile("^Sam Carter"), re.compile("^Lucía Ortega"), re.compile("^Ravi Menon")])
    page.get_by_text("A–Z", exact=True).click()
    expect(names).to_have_text([re.compile("^Lucía Ortega"), re.compile("^Ravi Menon"), re.compile("^Sam Carter")])
    page.get_by_text("Everyone", exact=True).click()
    expect(names).to_have_count(4)
    expect(page.locator(".team-row", has_text="Jo Junior")).to_contain_text("reports to Sam Carter")
    page.reload()  # the choice is in the address, so it survives
    expect(page.locator("#workload .team-name")).to_have_count(4)
    expect(page.get_by_label("A–Z")).to_be_checked()

    page.locator(".team-row", has_text="Ravi Menon").get_by_role("link", name="Record").click()
    expect(page.get_by_role("heading", name="Ravi's record")).to_be_visible()


def filled_share(page, name: str) -> float:
    """How much of a person's load bar is coloured in, as a share of the bar's width."""
    bar = page.locator(".team-row", has_text=name).locator(".load-bar")
    return bar.evaluate("""(bar) => [...bar.children].reduce((sum, part) => sum + part.getBoundingClientRect().width, 0)
                                    / bar.getBoundingClientRect().width""")


def test_team_workload_bars_show_each_persons_open_items_against_the_busiest(site, context, page, team):
    site.log_in(context, "dana@example.test")
    site.open(page, "/team")
    ravi = page.locator(".team-row", has_text="Ravi Menon")
    expect(ravi.get_by_role("img")).to_have_attribute("aria-label", "4 open: 1 high, 3 normal, 0 low")
    expect(page.locator(".team-row", has_text="Sam Carter")).to_contain_text("2 open: 0 high · 1 normal · 1 low")
    shares = {name: filled_share(page, name) for name in ("Ravi Menon", "Sam Carter", "Lucía Ortega")}
    assert shares == pytest.approx({"Ravi Menon": 1.0, "Sam Carter": 0.5, "Lucía Ortega": 0.25}, abs=0.02)
    width = lambda locator: locator.evaluate("(node) => node.getBoundingClientRect().width")  # noqa: E731
    assert width(ravi.locator(".load-bar .high")) / width(ravi.locator(".load-bar")) == pytest.approx(0.25, abs=0.02)

    for item in db.session.scalars(select(Item).where(Item.owner_id == team["ravi"].id, Item.priority == "normal")
                                   .order_by(Item.id).limit(2)):
        set_status(item, team["ravi"])  # Ravi finishes two, and Lucía gets two more: she is the busiest now
    make_item(team["lucia"], team["dana"], "Lucía's second call")
    make_item(team["lucia"], team["dana"], "Lucía's third call")
    db.session.commit()
    page.reload()
    page.wait_for_selector("body[data-ready='true']")
    expect(ravi).to_contain_text("2 open: 1 high · 1 normal · 0 low")
    expect(page.locator("#workload .team-name").first).to_contain_text("Lucía Ortega")
    shares = {name: filled_share(page, name) for name in ("Ravi Menon", "Sam Carter", "Lucía Ortega")}
    assert shares == pytest.approx({"Ravi Menon": 2 / 3, "Sam Carter": 2 / 3, "Lucía Ortega": 1.0}, abs=0.02)
