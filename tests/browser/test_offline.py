"""Offline-first: the plate opens without a network, writes wait in the outbox and arrive exactly once."""
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

import webapp.pwa
from tests.browser.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.browser.conftest import dana_and_ravi
from tests.factories import PASSWORD, make_item, make_user
from webapp.extensions import db
from webapp.models import Item, ItemEvent
from webapp.services import items

pytestmark = pytest.mark.browser


@pytest.fixture
def rep(ctx):
    org, dana, ravi = dana_and_ravi(dana_is_admin=True)
    for title in ("Call Siemens", "Book Hamburg travel", "Log expenses", "Renew Wipro contract"):
        make_item(ravi, title=title)
    db.session.commit()
    return {"dana": dana, "ravi": ravi}


def titles(page):
    return page.locator("li.item .item-title")


def events(action: str) -> int:
    db.session.rollback()  # see what the server committed since
    return db.session.scalar(select(func.count()).select_from(ItemEvent).where(ItemEvent.action == action))


def open_plate_online(site, context, page, ravi):
    site.log_in(context, "ravi@example.test")
    site.open(page)
    site.wait_for_worker(page)
    site.wait_until_cached(page, f"/api/v1/people/{ravi.id}/plate?status=open")
    site.wait_until_cached(page, "/api/v1/session")


def test_offline_plate_opens_and_queued_writes_arrive_exactly_once(site, context, page, rep):
    open_plate_online(site, context, page, rep["ravi"])
    context.set_offline(True)
    page.reload()
    expect(titles(page)).to_have_text(["Call Siemens", "Book Hamburg travel", "Log expenses", "Renew Wipro contract"])
    expect(page.locator('[data-banner="offline"]')).to_contain_text("Offline · last updated")

    page.get_by_label("Done: Call Siemens").click()  # not check(): the row leaves at once
    page.get_by_role("button", name="More for Log expenses").click()
    page.get_by_role("button", name="Drop…").click()
    page.get_by_label("Why is it no longer needed?").fill("Finance does it now")
    page.get_by_role("button", name="Drop it").click()
    page.get_by_role("button", name="More for Renew Wipro contract").click()
    page.get_by_role("button", name="Move up").click()
    page.get_by_role("button", name="Add").click()
    page.get_by_label("What needs doing").fill("Visit Bosch on Friday")
    page.get_by_role("button", name="Add", exact=True).last.click()
    expected = ["Renew Wipro contract", "Book Hamburg travel", "Visit Bosch on Friday"]
    expect(titles(page)).to_have_text(expected)
    expect(page.locator("#sync-state")).to_have_text("4 to sync")

    page.close()  # nothing is lost with the tab: a new one, still offline, shows the queued writes
    page = context.new_page()
    page.goto(f"{site.url}/")
    expect(titles(page)).to_have_text(expected)
    assert len(site.outbox(page)) == 4
    assert events("completed") == events("dropped") == events("moved") == 0

    context.set_offline(False)
    site.wait_until_synced(page)
    page.reload()  # a second replay trigger must not send anything twice
    site.wait_until_synced(page)
    expect(titles(page)).to_have_text(expected)
    assert (events("completed"), events("dropped"), events("moved"), events("created")) == (1, 1, 1, 5)
    db.session.rollback()
    open_titles = db.session.scalars(
        select(Item.title).where(Item.owner_id == rep["ravi"].id, Item.status == "open").order_by(Item.position)).all()
    assert open_titles == expected
    assert db.session.scalar(select(Item.drop_reason).where(Item.title == "Log expenses")) == "Finance does it now"


def test_an_item_completed_offline_is_in_the_done_tab_at_once(site, context, page, rep):
    open_plate_online(site, context, page, rep["ravi"])
    context.set_offline(True)
    page.get_by_label("Done: Book Hamburg travel").click()  # not check(): the row leaves at once
    page.get_by_role("tab", name="Done").click()  # never opened online: only this device's change is known
    expect(titles(page)).to_have_text(["Book Hamburg travel"])
    expect(page.locator("li.item", has_text="Book Hamburg travel")).to_contain_text("waiting to sync")

    context.set_offline(False)
    site.wait_until_synced(page)
    expect(titles(page)).to_have_text(["Book Hamburg travel"])
    expect(page.locator("li.item", has_text="Book Hamburg travel")).not_to_contain_text("waiting to sync")


def test_a_refused_write_is_shown_and_dropped_only_when_dismissed(site, context, page, rep):
    open_plate_online(site, context, page, rep["ravi"])
    context.set_offline(True)
    page.get_by_role("button", name="More for Log expenses").click()
    page.get_by_role("button", name="Move up").click()  # above "Book Hamburg travel"...
    anchor = db.session.scalar(select(Item).where(Item.title == "Book Hamburg travel"))
    items.update_item(db.session, rep["dana"], anchor.id, ["*"], {"status": "done"})  # ...which Dana completes
    db.session.commit()

    context.set_offline(False)
    banner = page.locator('[data-banner="outbox"]')
    expect(banner).to_contain_text("Not saved:")  # a 422: the person decides, nothing is retried or lost silently
    expect(page.locator("li.item", has_text="Log expenses")).to_contain_text("not saved")
    page.reload()
    expect(banner).to_contain_text("Not saved:")  # still there after a reload
    assert len(site.outbox(page)) == 1
    banner.get_by_role("button", name="Dismiss").click()
    site.wait_until_synced(page)
    expect(banner).to_be_hidden()
    expect(titles(page)).to_have_text(["Call Siemens", "Log expenses", "Renew Wipro contract"])
    assert events("moved") == 0


def test_a_write_to_an_item_taken_away_meanwhile_is_shown_not_lost(site, context, page, rep):
    """A 404 on replay: Dana moved the item to someone else's plate while Ravi was offline."""
    sam = make_user(rep["dana"].organization, "Sam Carter", rep["dana"])
    prepare = make_item(rep["ravi"], rep["dana"], "Prepare the Q1 plan")
    db.session.commit()
    open_plate_online(site, context, page, rep["ravi"])
    context.set_offline(True)
    page.get_by_label("Done: Prepare the Q1 plan").click()
    items.update_item(db.session, rep["dana"], prepare.id, ["*"], {"owner_id": sam.id})
    db.session.commit()

    context.set_offline(False)
    banner = page.locator('[data-banner="outbox"]')
    expect(banner).to_contain_text("Not saved:")  # shown, not retried for ever nor dropped silently
    assert len(site.outbox(page)) == 1
    banner.get_by_role("button", name="Dismiss").click()
    site.wait_until_synced(page)
    expect(banner).to_be_hidden()
    db.session.rollback()
    assert db.session.get(Item, prepare.id).status == "open"  # the refused completion did not happen


def test_a_new_version_is_offered_and_taken_on_request(site, context, page, rep, monkeypatch):
    open_plate_online(site, context, page, rep["ravi"])
    old_caches = page.evaluate("caches.keys()")
    monkeypatch.setattr(webapp.pwa, "shell_version", lambda: "next-deploy")  # a deploy changes the shell's hash
    page.reload()  # the navigation makes the browser check /sw.js
    banner = page.locator('[data-banner="update"]')
    expect(banner).to_contain_text("A new version of Plate is ready.")
    expect(titles(page)).to_have_count(4)  # the old version keeps working until the person chooses
    with page.expect_navigation():  # the new worker takes over and the page reloads into it
        banner.get_by_role("button", name="Update").click()
    page.wait_for_selector("body[data-ready='true']")
    expect(banner).to_be_hidden()
    names = page.evaluate("""async () => {
        for (let i = 0; i < 200; i++) {
          const names = await caches.keys();
          if (names.filter((n) => n.startsWith('plate-shell-')).length === 1) return names;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return caches.keys();
    }""")
    assert [n for n in names if n.startswith("plate-shell-")] == ["plate-shell-next-deploy"]  # the old one is deleted
    assert [n for n in old_caches if n.startswith("plate-shell-")] != ["plate-shell-next-deploy"]


def test_a_page_loaded_on_demand_still_opens_offline_after_an_update(site, context, page, rep, monkeypatch):
    """The record's module is not precached: kept once used, and carried into the next version of the shell."""
    open_plate_online(site, context, page, rep["ravi"])
    site.open(page, f"/people/{rep['ravi'].id}/record")
    expect(page.get_by_role("heading", name="My record")).to_be_visible()
    found = page.evaluate("""async () => {
        for (let i = 0; i < 200; i++) {
          const reads = await (await caches.open('plate-api')).keys();
          if (reads.some((request) => request.url.includes('/record?'))) return true;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return false;
    }""")
    assert found, "the record read never reached the service worker's cache"

    monkeypatch.setattr(webapp.pwa, "shell_version", lambda: "next-deploy")
    site.open(page)
    banner = page.locator('[data-banner="update"]')
    with page.expect_navigation():
        banner.get_by_role("button", name="Update").click()
    page.wait_for_selector("body[data-ready='true']")

    context.set_offline(True)
    site.open(page, f"/people/{rep['ravi'].id}/record")
    expect(page.get_by_role("heading", name="My record")).to_be_visible()
    expect(page.locator("#record-summary")).to_be_visible()


def test_a_conflicting_edit_shows_both_versions_and_keeps_mine(site, context, page, rep, browser, phone):
    site.log_in(context, "ravi@example.test")
    item_id = db.session.scalar(select(Item.id).where(Item.title == "Call Siemens"))
    site.open(page, f"/items/{item_id}")
    expect(page.get_by_label("Title")).to_have_value("Call Siemens")

    other = browser.new_context(**phone)  # Dana edits the same item meanwhile
    try:
        token = site.log_in(other, "dana@example.test")["csrf_token"]
        response = other.request.patch(f"{site.url}/api/v1/items/{item_id}", data={"title": "Call Siemens (Dana)"},
                                       headers={"If-Match": '"1"', "X-CSRF-Token": token})
        assert response.ok, response.text()
    finally:
        other.close()

    page.get_by_label("Title").fill("Call Siemens Healthineers")
    page.get_by_role("button", name="Save changes").click()
    sheet = page.locator("#conflict-sheet")
    expect(sheet).to_be_visible()
    expect(sheet).to_contain_text("Call Siemens Healthineers")
    expect(sheet).to_contain_text("Call Siemens (Dana)")
    sheet.get_by_role("button", name="Keep mine").click()
    site.wait_until_synced(page)
    expect(page.get_by_role("heading", name="Call Siemens Healthineers")).to_be_visible()
    db.session.rollback()
    item = db.session.get(Item, item_id)
    assert (item.title, item.version) == ("Call Siemens Healthineers", 3)


def test_a_conflict_can_be_resolved_by_taking_the_servers_version(site, context, page, rep):
    site.log_in(context, "ravi@example.test")
    item_id = db.session.scalar(select(Item.id).where(Item.title == "Log expenses"))
    site.open(page, f"/items/{item_id}")
    expect(page.get_by_label("Title")).to_have_value("Log expenses")  # the page holds version 1 before it changes
    token = page.request.get(f"{site.url}/api/v1/session").json()["csrf_token"]
    page.request.patch(f"{site.url}/api/v1/items/{item_id}", data={"priority": "high"},
                       headers={"If-Match": '"1"', "X-CSRF-Token": token})
    page.get_by_label("Title").fill("Log expenses from Monterrey")
    page.get_by_role("button", name="Save changes").click()
    page.locator("#conflict-sheet").get_by_role("button", name="Take theirs").click()
    site.wait_until_synced(page)
    db.session.rollback()
    item = db.session.get(Item, item_id)
    assert (item.title, item.priority, item.version) == ("Log expenses", "high", 2)
    expect(page.get_by_role("heading", name="Log expenses")).to_be_visible()


def test_logging_out_clears_cached_data_and_the_outbox(site, context, page, rep):
    open_plate_online(site, context, page, rep["ravi"])
    context.set_offline(True)
    page.get_by_label("Done: Call Siemens").click()  # not check(): the row leaves at once
    expect(page.locator("#sync-state")).to_have_text("1 to sync")

    site.open(page, "/settings")
    page.get_by_role("button", name="Log out of this device").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.evaluate("caches.has('plate-api')") is False
    assert site.outbox(page) == []

    context.set_offline(False)
    page.goto(f"{site.url}/")  # the next open with a connection ends the session the offline logout could not
    expect(page).to_have_url(re.compile(r"/login\b"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.request.get(f"{site.url}/api/v1/session").status == 401
    assert events("completed") == 0


def test_opening_logout_offline_logs_out_and_the_next_online_open_does_not_sign_back_in(site, context, page, rep):
    open_plate_online(site, context, page, rep["ravi"])
    context.set_offline(True)
    page.get_by_label("Done: Call Siemens").click()
    expect(page.locator("#sync-state")).to_have_text("1 to sync")

    page.goto(f"{site.url}/logout")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()  # the logged-out page, not the app
    expect(page.locator("#add-button")).to_have_count(0)
    assert page.evaluate("caches.has('plate-api')") is False
    assert site.outbox(page) == []

    context.set_offline(False)
    page.goto(f"{site.url}/")
    expect(page).to_have_url(re.compile(r"/login\b"))
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.request.get(f"{site.url}/api/v1/session").status == 401
    page.goto(f"{site.url}/settings")  # and stays logged out
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    page.get_by_label("Email").fill("ravi@example.test")  # logging in again works, and sends nothing cleared
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector("body[data-ready='true']")
    expect(page.get_by_role("heading", name="Settings")).to_be_visible()
    assert page.request.get(f"{site.url}/api/v1/session").ok
    assert events("completed") == 0


def test_logging_out_after_the_session_ended_still_clears_this_device(site, context, page, rep):
    open_plate_online(site, context, page, rep["ravi"])
    context.set_offline(True)
    page.get_by_label("Done: Call Siemens").click()
    expect(page.locator("#sync-state")).to_have_text("1 to sync")
    context.clear_cookies()  # the session ends elsewhere (it expired, or the password was changed)
    context.set_offline(False)
    expect(page.locator('[data-banner="outbox"]')).to_contain_text("Log in again to send your changes")

    page.goto(f"{site.url}/logout")  # someone else will use this phone
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.evaluate("caches.has('plate-api')") is False
    assert site.outbox(page) == []

    site.log_in(context, "ravi@example.test")
    site.open(page)
    expect(titles(page)).to_have_text(["Call Siemens", "Book Hamburg travel", "Log expenses", "Renew Wipro contract"])
    expect(page.locator("#sync-state")).to_have_text("")
    assert events("completed") == 0


def csrf(page, site) -> str:
    return page.request.get(f"{site.url}/api/v1/session").json()["csrf_token"]


def open_item_then_go_offline(site, context, page, title: str) -> tuple[int, str]:
    """Ravi opens the item with `title` until the worker has cached it, then loses signal: its id and a CSRF token."""
    site.log_in(context, "ravi@example.test")
    item_id = db.session.scalar(select(Item.id).where(Item.title == title))
    site.open(page, f"/items/{item_id}")
    site.wait_for_worker(page)
    site.wait_until_cached(page, f"/api/v1/items/{item_id}")
    site.wait_until_cached(page, "/api/v1/session")
    token = csrf(page, site)
    context.set_offline(True)
    return item_id, token


def test_an_edit_that_arrived_before_its_answer_was_lost_replays_without_a_conflict(site, context, page, rep):
    """The first attempt reached the server, the answer did not: the replay meets the person's own write as a 412."""
    item_id, token = open_item_then_go_offline(site, context, page, "Call Siemens")
    page.get_by_label("Title").fill("Call Siemens Healthineers")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_role("button", name="Mark done").click()  # queued on top of the edit
    expect(page.locator("#sync-state")).to_have_text("2 to sync")

    edit = site.outbox(page)[0]
    response = page.request.patch(f"{site.url}/api/v1/items/{item_id}", data=edit["body"],
                                  headers={"If-Match": f'"{edit["ifMatch"]}"', "X-CSRF-Token": token})
    assert response.ok, response.text()  # what the lost first attempt did

    context.set_offline(False)
    site.wait_until_synced(page)  # both went: the edit counted as applied, the completion on its version
    expect(page.locator("#conflict-sheet")).to_be_hidden()
    expect(page.locator('[data-banner="outbox"]')).to_be_hidden()
    expect(page.get_by_role("heading", name="Call Siemens Healthineers")).to_be_visible()
    expect(page.locator(".item-card .badge.status-done")).to_have_text("Done")
    db.session.rollback()
    item = db.session.get(Item, item_id)
    assert (item.title, item.status, item.version) == ("Call Siemens Healthineers", "done", 3)
    assert events("completed") == 1


def test_a_412_that_differs_from_the_queued_edit_is_still_a_conflict(site, context, page, rep):
    item_id, token = open_item_then_go_offline(site, context, page, "Call Siemens")
    page.get_by_label("Title").fill("Call Siemens Healthineers")
    page.locator("#edit-form").get_by_text("Urgent", exact=True).click()  # the switch, as a thumb taps it
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#sync-state")).to_have_text("1 to sync")
    # Someone set the same title meanwhile, but not urgent: half of the write is not on the server.
    response = page.request.patch(f"{site.url}/api/v1/items/{item_id}", data={"title": "Call Siemens Healthineers"},
                                  headers={"If-Match": '"1"', "X-CSRF-Token": token})
    assert response.ok, response.text()

    context.set_offline(False)
    sheet = page.locator("#conflict-sheet")
    expect(sheet).to_be_visible()
    expect(sheet).to_contain_text("Urgent")
    sheet.get_by_role("button", name="Keep mine").click()
    site.wait_until_synced(page)
    db.session.rollback()
    assert db.session.get(Item, item_id).urgent is True


def test_a_queued_move_whose_answer_was_lost_is_made_only_once(site, context, page, rep):
    open_plate_online(site, context, page, rep["ravi"])
    token = csrf(page, site)
    context.set_offline(True)
    page.get_by_role("button", name="More for Renew Wipro contract").click()
    page.get_by_role("button", name="Move up").click()
    expect(page.locator("#sync-state")).to_have_text("1 to sync")

    [move] = site.outbox(page)
    response = page.request.post(f"{site.url}/api/v1/items/{move['itemId']}/move", data=move["body"],
                                 headers={"Idempotency-Key": move["key"], "X-CSRF-Token": token})
    assert response.ok, response.text()  # what the lost first attempt did, with the key it carried

    context.set_offline(False)
    site.wait_until_synced(page)
    expect(titles(page)).to_have_text(["Call Siemens", "Book Hamburg travel", "Renew Wipro contract", "Log expenses"])
    assert events("moved") == 1
    site.open(page, f"/items/{move['itemId']}")
    expect(page.locator(".history li", has_text="moved it")).to_have_count(1)  # once in its history, too


def test_writes_queued_after_a_refused_one_wait_for_it_then_go_in_order(site, context, page, rep):
    open_plate_online(site, context, page, rep["ravi"])
    context.set_offline(True)
    page.get_by_role("button", name="More for Log expenses").click()
    page.get_by_role("button", name="Move up").click()  # above "Book Hamburg travel", which Dana completes below
    page.get_by_label("Done: Call Siemens").click()
    page.get_by_role("button", name="More for Renew Wipro contract").click()
    page.get_by_role("button", name="Drop…").click()
    page.get_by_label("Why is it no longer needed?").fill("Wipro renewed without us")
    page.get_by_role("button", name="Drop it").click()
    expect(page.locator("#sync-state")).to_have_text("3 to sync")
    anchor = db.session.scalar(select(Item).where(Item.title == "Book Hamburg travel"))
    items.update_item(db.session, rep["dana"], anchor.id, ["*"], {"status": "done"})
    db.session.commit()

    context.set_offline(False)
    banner = page.locator('[data-banner="outbox"]')
    expect(banner).to_contain_text("Not saved:")
    page.reload()  # another replay trigger: the later writes still wait behind the refused one
    expect(banner).to_contain_text("Not saved:")
    expect(page.locator("#sync-state")).to_have_text("3 to sync")
    assert (events("moved"), events("completed"), events("dropped")) == (0, 1, 0)  # only Dana's completion

    banner.get_by_role("button", name="Dismiss").click()
    site.wait_until_synced(page)
    expect(titles(page)).to_have_text(["Log expenses"])
    db.session.rollback()
    ravis = db.session.execute(
        select(ItemEvent.action, Item.title).join(Item, Item.id == ItemEvent.item_id)
        .where(ItemEvent.actor_id == rep["ravi"].id, ItemEvent.action.in_(["moved", "completed", "dropped"]))
        .order_by(ItemEvent.id)).all()
    assert ravis == [("completed", "Call Siemens"), ("dropped", "Renew Wipro contract")]  # in the order they were made


def test_queued_writes_survive_a_browser_restart_and_arrive_once(site, playwright, phone, tmp_path, rep):
    def launch():
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, **phone)
        context.set_default_timeout(10_000)
        return context, (context.pages[0] if context.pages else context.new_page())

    expected = ["Book Hamburg travel", "Renew Wipro contract", "Visit Bosch on Friday"]
    context, page = launch()
    try:
        open_plate_online(site, context, page, rep["ravi"])
        context.set_offline(True)
        page.get_by_label("Done: Call Siemens").click()
        page.get_by_role("button", name="More for Log expenses").click()
        page.get_by_role("button", name="Drop…").click()
        page.get_by_label("Why is it no longer needed?").fill("Finance does it now")
        page.get_by_role("button", name="Drop it").click()
        page.get_by_role("button", name="Add").click()
        page.get_by_label("What needs doing").fill("Visit Bosch on Friday")
        page.get_by_role("button", name="Add", exact=True).last.click()
        expect(page.locator("#sync-state")).to_have_text("3 to sync")
    finally:
        context.close()  # the whole browser: the phone restarts
    assert (events("completed"), events("dropped"), events("created")) == (0, 0, 4)

    context, page = launch()  # with a connection again: whoever starts first, page or worker, sends them
    try:
        page.goto(f"{site.url}/")
        site.wait_until_synced(page)
        page.reload()
        site.wait_until_synced(page)
        expect(titles(page)).to_have_text(expected)
    finally:
        context.close()
    assert (events("completed"), events("dropped"), events("created")) == (1, 1, 5)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Item).where(Item.title == "Visit Bosch on Friday")) == 1


def test_chromium_finds_the_app_installable(site, playwright, phone, tmp_path):
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, **phone)
    try:
        page = context.new_page()
        page.goto(f"{site.url}/login")
        site.wait_for_worker(page)
        cdp = context.new_cdp_session(page)
        errors = None
        for _ in range(50):  # the manifest and icons load after the page; ask until they have
            errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
            if not errors:
                break
            page.wait_for_timeout(100)
        assert errors == []
        manifest = cdp.send("Page.getAppManifest")
        assert not manifest.get("errors"), manifest["errors"]
    finally:
        context.close()
