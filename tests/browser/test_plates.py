"""A manager and a report using their plates in a phone-sized Chromium."""
import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser.conftest import dana_and_ravi
from tests.factories import make_item, make_org, make_user, set_status
from webapp.extensions import db
from webapp.models import Item, ItemEvent

pytestmark = pytest.mark.browser


@pytest.fixture
def team(ctx):
    """Dana manages Ravi; Ravi's plate holds three open items."""
    org, dana, ravi = dana_and_ravi(dana_zone="Europe/London", ravi_zone="Asia/Kolkata", dana_is_admin=True)
    items = [make_item(ravi, dana, "Update Q4 pipeline", priority="high"),
             make_item(ravi, title="Follow up with Tata Motors"),
             make_item(ravi, title="Send revised quote")]
    db.session.commit()
    return {"dana": dana, "ravi": ravi, "items": [item.id for item in items]}


def titles(page):
    return page.locator("li.item .item-title")


def server_items(owner_id, status="open"):
    db.session.rollback()  # end the test's read transaction, so it sees what the server committed since
    query = select(Item).where(Item.owner_id == owner_id, Item.status == status).order_by(Item.position)
    return list(db.session.scalars(query))


def test_signing_up_starts_an_organization_with_an_empty_plate(site, page):
    page.goto(f"{site.url}/signup")
    page.get_by_label("Team or company name").fill("Northwind")
    page.get_by_label("Your name").fill("Ana Lima")
    page.get_by_label("Work email").fill("ana@example.test")
    page.get_by_label("Password").fill("a long password")
    expect(page.get_by_label("Your time zone")).to_have_value("Europe/Berlin")  # from the browser's Intl zone
    page.get_by_role("button", name="Create my team").click()
    expect(page.get_by_role("heading", name="My plate")).to_be_visible()
    expect(page.get_by_text("Nothing on this plate.")).to_be_visible()


def test_invited_person_sets_a_password_and_sees_their_plate(site, context, page, team, browser, phone):
    site.log_in(context, "dana@example.test")
    site.open(page, "/team")
    expect(page.locator(".team-row", has_text="Ravi Menon")).to_contain_text("1 high")  # the team view has settled
    page.get_by_label("Name").fill("Lucía Ortega")
    page.get_by_label("Email").fill("lucia@example.test")
    page.get_by_role("button", name="Create invitation link").click()
    link = page.get_by_label("Invitation link")
    expect(link).to_have_value(f"{site.url}/invite/" + link.input_value().rsplit("/", 1)[-1])

    invited = browser.new_context(**{**phone, "timezone_id": "America/Mexico_City"})
    try:
        newcomer = invited.new_page()
        newcomer.goto(link.input_value())
        expect(newcomer.locator("#invite-preview")).to_contain_text("Dana Whitfield invited you (lucia@example.test)")
        expect(newcomer.get_by_label("Your name")).to_have_value("Lucía Ortega")
        expect(newcomer.get_by_label("Your time zone")).to_have_value("America/Mexico_City")
        newcomer.get_by_label("Password").fill("a long password")
        newcomer.get_by_role("button", name="Join").click()
        expect(newcomer.get_by_role("heading", name="My plate")).to_be_visible()
        session = newcomer.request.get(f"{site.url}/api/v1/session").json()
        assert session["user"]["name"] == "Lucía Ortega"
        assert session["user"]["manager_id"] == team["dana"].id
        assert session["user"]["time_zone"] == "America/Mexico_City"
    finally:
        invited.close()


def test_a_dead_invitation_link_says_so_before_asking_for_a_password(site, page):
    page.goto(f"{site.url}/invite/no-such-token")
    expect(page.get_by_text("This invitation link is not valid.")).to_be_visible()
    expect(page.get_by_label("Password")).to_be_hidden()


def test_manager_places_a_new_item_among_the_reports_open_items(site, context, page, team):
    site.log_in(context, "dana@example.test")
    site.open(page, f"/people/{team['ravi'].id}")
    expect(titles(page)).to_have_text(["Update Q4 pipeline", "Follow up with Tata Motors", "Send revised quote"])

    page.get_by_role("button", name="Add").click()
    expect(page.get_by_label("Whose plate")).to_have_value(str(team["ravi"].id))
    page.get_by_label("What needs doing").fill("Call the Pune office")
    page.get_by_text("Above “Send revised quote”").click()
    page.get_by_text("Tomorrow", exact=True).click()
    page.get_by_role("button", name="Add", exact=True).last.click()

    expect(titles(page)).to_have_text(
        ["Update Q4 pipeline", "Follow up with Tata Motors", "Call the Pune office", "Send revised quote"])
    site.wait_until_synced(page)
    assert [i.title for i in server_items(team["ravi"].id)] == [
        "Update Q4 pipeline", "Follow up with Tata Motors", "Call the Pune office", "Send revised quote"]
    added = server_items(team["ravi"].id)[2]
    assert added.created_by_id == team["dana"].id and added.due_on is not None


def test_a_completed_item_never_flashes_back_while_its_completion_syncs(site, context, page, team):
    site.log_in(context, "ravi@example.test")
    site.open(page)
    # Every list the page ever draws, however briefly, from here on.
    page.evaluate("""() => {
        window.drawn = [];
        const record = () => window.drawn.push([...document.querySelectorAll('li.item .item-title')].map((n) => n.textContent));
        new MutationObserver(record).observe(document.getElementById('main'), { childList: true, subtree: true });
    }""")
    page.get_by_label("Done: Follow up with Tata Motors").click()
    expect(titles(page)).to_have_text(["Update Q4 pipeline", "Send revised quote"])
    site.wait_until_synced(page)
    assert [i.title for i in server_items(team["ravi"].id, "done")] == ["Follow up with Tata Motors"]

    drawn = page.evaluate("window.drawn")
    gone = next(n for n, titles_then in enumerate(drawn) if "Follow up with Tata Motors" not in titles_then)
    assert all("Follow up with Tata Motors" not in titles_then for titles_then in drawn[gone:]), drawn


def test_ticking_an_item_completes_it_and_undo_brings_it_back(site, context, page, team):
    site.log_in(context, "ravi@example.test")
    site.open(page)
    page.get_by_label("Done: Follow up with Tata Motors").click()  # not check(): the row leaves at once
    expect(titles(page)).to_have_text(["Update Q4 pipeline", "Send revised quote"])
    site.wait_until_synced(page)
    assert [i.title for i in server_items(team["ravi"].id, "done")] == ["Follow up with Tata Motors"]

    page.get_by_label("Done: Send revised quote").click()  # not check(): the row leaves at once
    page.get_by_role("button", name="Undo").click()
    # Undo queues its reopen after the click returns: wait for it to show before waiting for the sync.
    expect(titles(page)).to_have_text(["Update Q4 pipeline", "Send revised quote"])
    site.wait_until_synced(page)
    expected = ["Update Q4 pipeline", "Send revised quote"]
    for _ in range(50):  # if the completion was in flight, the outbox empties once before the reopen is queued
        if [i.title for i in server_items(team["ravi"].id)] == expected:
            break
        page.wait_for_timeout(100)
    assert [i.title for i in server_items(team["ravi"].id)] == expected

    page.get_by_role("tab", name="Done").click()
    expect(titles(page)).to_have_text(["Follow up with Tata Motors"])


def test_undo_after_the_completion_synced_puts_the_item_back_where_it_was(site, context, page, team):
    site.log_in(context, "ravi@example.test")
    site.open(page)
    page.get_by_label("Done: Follow up with Tata Motors").click()  # not check(): the row leaves at once
    expect(titles(page)).to_have_text(["Update Q4 pipeline", "Send revised quote"])  # queued, so "synced" means sent
    site.wait_until_synced(page)
    assert [i.title for i in server_items(team["ravi"].id, "done")] == ["Follow up with Tata Motors"]
    page.get_by_role("button", name="Undo").click()  # reopening alone would put it below "Send revised quote"
    expect(titles(page)).to_have_text(["Update Q4 pipeline", "Follow up with Tata Motors", "Send revised quote"])
    site.wait_until_synced(page)
    assert [i.title for i in server_items(team["ravi"].id)] == [
        "Update Q4 pipeline", "Follow up with Tata Motors", "Send revised quote"]
    page.reload()
    expect(titles(page)).to_have_text(["Update Q4 pipeline", "Follow up with Tata Motors", "Send revised quote"])


def test_dropping_asks_why_and_records_the_reason(site, context, page, team):
    site.log_in(context, "ravi@example.test")
    site.open(page)
    page.get_by_role("button", name="More for Send revised quote").click()
    page.get_by_role("button", name="Drop…").click()
    page.get_by_role("button", name="Drop it").click()
    expect(page.get_by_text("Say why")).to_be_visible()
    page.get_by_label("Why is it no longer needed?").fill("Customer went with a competitor")
    page.get_by_role("button", name="Drop it").click()
    expect(titles(page)).to_have_text(["Update Q4 pipeline", "Follow up with Tata Motors"])
    site.wait_until_synced(page)
    dropped = server_items(team["ravi"].id, "dropped")
    assert [(i.title, i.drop_reason) for i in dropped] == [("Send revised quote", "Customer went with a competitor")]
    page.get_by_role("tab", name="Dropped").click()
    expect(page.get_by_text("Customer went with a competitor")).to_be_visible()


def test_moving_items_up_and_down_reorders_the_plate(site, context, page, team):
    site.log_in(context, "ravi@example.test")
    site.open(page)
    page.get_by_role("button", name="More for Send revised quote").click()
    page.get_by_role("button", name="Move up").click()
    expect(titles(page)).to_have_text(["Update Q4 pipeline", "Send revised quote", "Follow up with Tata Motors"])
    site.wait_until_synced(page)
    assert [i.title for i in server_items(team["ravi"].id)] == [
        "Update Q4 pipeline", "Send revised quote", "Follow up with Tata Motors"]
    page.reload()
    expect(titles(page)).to_have_text(["Update Q4 pipeline", "Send revised quote", "Follow up with Tata Motors"])
    db.session.rollback()
    moved = db.session.scalars(select(ItemEvent).where(ItemEvent.action == "moved")).all()
    assert len(moved) == 1

    page.get_by_role("link", name="Send revised quote").click()
    expect(page.locator(".history")).to_contain_text("You moved it above “Follow up with Tata Motors”")


def test_team_shows_counts_and_local_time(site, context, page, team):
    site.log_in(context, "dana@example.test")
    site.open(page, "/team")
    row = page.locator(".team-row", has_text="Ravi Menon")
    expect(row).to_contain_text("3 open")
    expect(row).to_contain_text("1 high")
    expect(row).to_contain_text("0 overdue")
    expect(row).to_contain_text("Kolkata")
    row.click()
    expect(page.get_by_role("heading", name="Ravi's plate")).to_be_visible()


def test_adding_to_a_report_offers_places_only_among_items_of_the_chosen_priority(site, context, page, team):
    site.log_in(context, "dana@example.test")
    site.open(page, f"/people/{team['ravi'].id}")
    page.get_by_role("button", name="Add").click()
    places = page.locator("[data-placement-list] .slot")
    expect(places).to_have_text(["Above “Follow up with Tata Motors”", "Above “Send revised quote”",
                                 "Below the other normal items · where its priority puts it"])
    expect(page.locator("[data-placement-others]")).to_have_text("Also on the plate: 1 high above.")

    page.get_by_text("High", exact=True).click()
    expect(places).to_have_text(["Above “Update Q4 pipeline”", "Below the other high items · where its priority puts it"])
    expect(page.get_by_label("Below the other high items")).to_be_checked()  # the default again, not a stale choice
    page.get_by_text("Low", exact=True).click()
    expect(places).to_have_text(["Where low priority puts it · no other low items there"])


def test_a_new_high_item_placed_above_another_high_one_leads_the_plate(site, context, page, team):
    site.log_in(context, "dana@example.test")
    site.open(page, f"/people/{team['ravi'].id}")
    page.get_by_role("button", name="Add").click()
    page.get_by_label("What needs doing").fill("Call the Pune office")
    page.get_by_text("High", exact=True).click()
    page.get_by_text("Above “Update Q4 pipeline”").click()
    page.get_by_role("button", name="Add", exact=True).last.click()

    high = page.locator(".group-high .item-title")
    expect(high).to_have_text(["Call the Pune office", "Update Q4 pipeline"])
    site.wait_until_synced(page)
    assert [i.title for i in server_items(team["ravi"].id)] == [
        "Call the Pune office", "Update Q4 pipeline", "Follow up with Tata Motors", "Send revised quote"]
    page.reload()
    expect(high).to_have_text(["Call the Pune office", "Update Q4 pipeline"])


def test_moving_an_item_never_takes_it_out_of_its_priority_group(site, context, page, team):
    site.log_in(context, "ravi@example.test")
    site.open(page)
    page.get_by_role("button", name="More for Follow up with Tata Motors").click()  # the first normal item
    expect(page.get_by_role("button", name="Move up")).to_be_disabled()  # the high item above is another group
    page.get_by_role("button", name="Move down").click()
    expect(page.locator(".group-normal .item-title")).to_have_text(["Send revised quote", "Follow up with Tata Motors"])
    page.get_by_role("button", name="More for Update Q4 pipeline").click()  # the only high item
    expect(page.get_by_role("button", name="Move up")).to_be_disabled()
    expect(page.get_by_role("button", name="Move down")).to_be_disabled()
    page.keyboard.press("Escape")
    site.wait_until_synced(page)
    assert [i.title for i in server_items(team["ravi"].id)] == [
        "Update Q4 pipeline", "Send revised quote", "Follow up with Tata Motors"]


@pytest.fixture
def long_plate(ctx):
    """Ravi has 260 open items (more than a page of 50 and one of 200 after it) and 60 done ones."""
    org = make_org()
    ravi = make_user(org, "Ravi Menon", email="ravi@example.test")
    for n in range(1, 261):
        make_item(ravi, title=f"Open {n:03}")
    for n in range(1, 61):
        set_status(make_item(ravi, title=f"Done {n:02}"))
    db.session.commit()
    return ravi


def test_every_open_item_of_a_long_plate_shows_and_done_items_come_a_page_at_a_time(site, context, page, long_plate):
    site.log_in(context, "ravi@example.test")
    site.open(page)
    expect(titles(page)).to_have_count(260)
    expect(titles(page).last).to_have_text("Open 260")

    page.get_by_role("tab", name="Done").click()
    expect(titles(page)).to_have_count(50)
    expect(titles(page).first).to_have_text("Done 60")  # newest first
    page.get_by_role("button", name="Show more").click()
    expect(titles(page)).to_have_count(60)
    expect(titles(page).last).to_have_text("Done 01")
    expect(page.get_by_role("button", name="Show more")).to_have_count(0)  # nothing older


def test_a_long_plate_opened_once_shows_all_its_open_items_offline(site, context, page, long_plate):
    site.log_in(context, "ravi@example.test")
    site.open(page)
    site.wait_for_worker(page)
    path = f"/api/v1/people/{long_plate.id}/plate?status=open"
    site.wait_until_cached(page, path)
    cursor = page.request.get(f"{site.url}{path}").json()["next_cursor"]
    while cursor:  # the pages after the first, as the plate read them
        next_page = f"{path}&limit=200&cursor={cursor}"
        site.wait_until_cached(page, next_page)
        cursor = page.request.get(f"{site.url}{next_page}").json()["next_cursor"]

    context.set_offline(True)
    page.reload()
    expect(titles(page)).to_have_count(260)
    expect(page.locator('[data-banner="offline"]')).to_contain_text("Offline · last updated")
