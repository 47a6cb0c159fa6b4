"""Web Push in the browser: the page subscribes after a tap and posts the subscription; a push shows a notification.

Headless Chromium cannot reach a real push service, so an init script replaces PushManager's subscribe and
getSubscription with a subscription at a loopback push service of this test, and pushes reach the service
worker through the DevTools protocol (ServiceWorker.deliverPushMessage).
"""
import json

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete, select

from tests.browser.conftest import TIMEOUT_MS, dana_and_ravi
from tests.factories import make_item
from tests.loopback_push import LoopbackPushService
from webapp.extensions import db
from webapp.models import PushSubscription

pytestmark = pytest.mark.browser


# Replaces the browser's push subscription with the test device's. The endpoint in use is kept in
# localStorage, so a test can make "the browser" change its subscription between two page loads.
FAKE_PUSH = """
(() => {
  const device = %s;
  const subscribed = () => localStorage.getItem("fake-push-endpoint");
  const subscription = (endpoint) => ({
    endpoint, expirationTime: null, options: { userVisibleOnly: true, applicationServerKey: null },
    toJSON: () => ({ endpoint, expirationTime: null, keys: { p256dh: device.p256dh, auth: device.auth } }),
    unsubscribe: async () => { localStorage.removeItem("fake-push-endpoint"); return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = new Uint8Array(options.applicationServerKey);
    localStorage.setItem("fake-push-options", JSON.stringify({
      userVisibleOnly: options.userVisibleOnly,
      applicationServerKey: btoa(String.fromCharCode(...key)).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, ""),
    }));
    if (!subscribed()) localStorage.setItem("fake-push-endpoint", device.endpoint);
    return subscription(subscribed());
  };
  PushManager.prototype.getSubscription = async function () {
    return subscribed() ? subscription(subscribed()) : null;
  };
})();
"""


@pytest.fixture
def push_service(app):
    with LoopbackPushService() as service:
        app.config["PLATE_PUSH_ALLOWED_ORIGINS"] = [service.origin]  # the server only posts to allowed origins
        yield service


@pytest.fixture
def ravi(ctx):
    org, dana, ravi = dana_and_ravi(ravi_zone="Europe/Berlin", dana_is_admin=True)
    db.session.commit()
    return ravi


@pytest.fixture
def device(push_service, context, site):
    device = push_service.device("ravi-phone")
    context.grant_permissions(["notifications"], origin=site.url)
    context.add_init_script(FAKE_PUSH % json.dumps({"endpoint": device.endpoint, "p256dh": device.p256dh, "auth": device.auth}))
    return device


def subscriptions() -> list[tuple[int, str, str, str]]:
    db.session.rollback()  # see what the server committed since
    return [(s.user_id, s.endpoint, s.p256dh, s.auth) for s in db.session.scalars(select(PushSubscription))]


def wait_for(page, condition, what: str, timeout_ms: int = TIMEOUT_MS):
    """Poll a Python condition, letting the browser's events run in between (never time.sleep)."""
    for _ in range(timeout_ms // 50):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"timed out waiting for {what}")


def turn_on_notifications(site, context, page):
    site.log_in(context, "ravi@example.test")
    site.open(page, "/settings")
    site.wait_for_worker(page)
    page.get_by_role("button", name="Turn on notifications").click()
    expect(page.get_by_text("Digests arrive on this device.")).to_be_visible()


def push_registration_id(cdp, page, scope: str) -> str:
    """The service worker registration's id, from the ServiceWorker domain's events.

    Waits until the worker is active: a push delivered to a worker still installing is lost.
    """
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    registrations = {}
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda event: registrations.update({r["scopeURL"]: r["registrationId"] for r in event["registrations"]}))
    cdp.send("ServiceWorker.enable")
    wait_for(page, lambda: scope in registrations, "the service worker registration")
    return registrations[scope]


def shown_notifications(page, title: str | None = None) -> list[dict]:
    """What the service worker shows, once it shows something (titled `title`, when given)."""
    return page.evaluate("""async (title) => {
        const registration = await navigator.serviceWorker.ready;
        for (let i = 0; i < 200; i++) {
          const shown = await registration.getNotifications();
          if (shown.some((n) => title === null || n.title === title)) {
            return shown.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return [];
    }""", title)


def test_turning_on_notifications_posts_this_devices_subscription(site, context, page, ravi, device):
    turn_on_notifications(site, context, page)
    wait_for(page, lambda: subscriptions(), "the subscription on the server")
    assert subscriptions() == [(ravi.id, device.endpoint, device.p256dh, device.auth)]
    options = json.loads(page.evaluate("localStorage.getItem('fake-push-options')"))
    public_key = page.request.get(f"{site.url}/api/v1/push/public-key").json()["public_key"]
    assert options == {"userVisibleOnly": True, "applicationServerKey": public_key}
    assert page.evaluate(f"localStorage.getItem('plate-push-endpoint-{ravi.id}')") == device.endpoint


def test_a_subscription_the_browser_changed_is_posted_again_on_the_next_visit(site, context, page, ravi, device):
    turn_on_notifications(site, context, page)
    wait_for(page, lambda: subscriptions(), "the first subscription on the server")
    renewed = f"{device.endpoint}-renewed"
    page.evaluate(f"localStorage.setItem('fake-push-endpoint', {json.dumps(renewed)})")  # no pushsubscriptionchange
    site.open(page, "/")
    wait_for(page, lambda: renewed in [s[1] for s in subscriptions()], "the renewed subscription on the server")


def test_a_subscription_the_server_forgot_is_posted_again_on_the_next_visit(site, context, page, ravi, device):
    turn_on_notifications(site, context, page)
    wait_for(page, lambda: subscriptions(), "the first subscription on the server")
    db.session.execute(delete(PushSubscription))  # as after the push service answered 410 once
    db.session.commit()

    site.open(page, "/")

    wait_for(page, lambda: subscriptions() == [(ravi.id, device.endpoint, device.p256dh, device.auth)],
             "the same subscription on the server again")

def test_turning_notifications_off_forgets_this_device(site, context, page, ravi, device):
    turn_on_notifications(site, context, page)
    wait_for(page, lambda: subscriptions(), "the subscription on the server")
    page.get_by_role("button", name="Turn off").click()
    expect(page.get_by_role("button", name="Turn on notifications")).to_be_visible()
    assert subscriptions() == []


def test_a_digest_push_shows_one_notification_that_a_newer_digest_replaces(site, context, page, ravi, device):
    turn_on_notifications(site, context, page)
    cdp = context.new_cdp_session(page)
    registration = push_registration_id(cdp, page, f"{site.url}/")
    digest = {"title": "2 updates on your plate", "body": "Dana added “Call Siemens”\nDana completed “Send quote”",
              "url": "/items/7", "count": 2, "tag": "plate-ravi-tag",
              "items": [{"id": 7, "title": "Call Siemens", "what": "added by Dana"},
                        {"id": 8, "title": "Send quote", "what": "completed by Dana"}]}
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": site.url, "registrationId": registration, "data": json.dumps(digest)})
    [shown] = shown_notifications(page)
    assert (shown["title"], shown["body"], shown["tag"]) == (digest["title"], digest["body"], "plate-ravi-tag")
    assert shown["data"]["url"] == "/items/7" and shown["data"]["count"] == 2

    newer = {**digest, "title": "1 update on your plate", "body": "Dana marked “Call Siemens” urgent", "count": 1}
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": site.url, "registrationId": registration, "data": json.dumps(newer)})
    shown = shown_notifications(page, "1 update on your plate")
    assert [n["title"] for n in shown] == ["1 update on your plate"]  # replaced, not shown beside the older one


def test_digests_of_two_people_sharing_a_device_do_not_replace_each_other(site, context, page, ravi, device):
    turn_on_notifications(site, context, page)
    cdp = context.new_cdp_session(page)
    registration = push_registration_id(cdp, page, f"{site.url}/")
    for title, tag in (("Ravi: 1 update", "plate-ravi-tag"), ("Sam: 2 updates", "plate-sam-tag")):
        digest = {"title": title, "body": "Dana added “Call Siemens”", "url": "/", "count": 1, "items": [], "tag": tag}
        cdp.send("ServiceWorker.deliverPushMessage", {"origin": site.url, "registrationId": registration, "data": json.dumps(digest)})
        shown_notifications(page, title)
    shown = sorted((n["title"], n["tag"]) for n in shown_notifications(page, "Sam: 2 updates"))
    assert shown == [("Ravi: 1 update", "plate-ravi-tag"), ("Sam: 2 updates", "plate-sam-tag")]  # both on screen


def test_a_digest_without_a_tag_replaces_the_last_untagged_one(site, context, page, ravi, device):
    turn_on_notifications(site, context, page)
    cdp = context.new_cdp_session(page)
    registration = push_registration_id(cdp, page, f"{site.url}/")
    for title in ("First digest", "Second digest"):
        digest = {"title": title, "body": "Dana added “Call Siemens”", "url": "/", "count": 1, "items": []}
        cdp.send("ServiceWorker.deliverPushMessage", {"origin": site.url, "registrationId": registration, "data": json.dumps(digest)})
        shown_notifications(page, title)
    shown = [(n["title"], n["tag"]) for n in shown_notifications(page, "Second digest")]
    assert shown == [("Second digest", "plate-digest")]  # a server that sends no tag: one digest per device


def test_tapping_a_notification_opens_its_item_in_the_open_app(site, context, page, ravi, device):
    item = make_item(ravi, title="Call Siemens")
    db.session.commit()
    turn_on_notifications(site, context, page)
    cdp = context.new_cdp_session(page)
    registration = push_registration_id(cdp, page, f"{site.url}/")
    digest = {"title": "1 update on your plate", "body": "Dana added “Call Siemens”", "url": f"/items/{item.id}",
              "count": 1, "items": [{"id": item.id, "title": "Call Siemens", "what": "added by Dana"}]}
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": site.url, "registrationId": registration, "data": json.dumps(digest)})
    shown_notifications(page)

    # The tap, as the browser delivers it to the worker (no CDP command clicks a notification).
    [worker] = context.service_workers
    worker.evaluate("""async () => {
        const [notification] = await self.registration.getNotifications();
        self.dispatchEvent(new NotificationEvent("notificationclick", { notification }));
    }""")

    page.wait_for_url(f"{site.url}/items/{item.id}")
    expect(page.get_by_role("heading", name="Call Siemens")).to_be_visible()
    assert page.evaluate("navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((n) => n.length)") == 0  # closed


def test_a_malformed_push_still_shows_a_notification(site, context, page, ravi, device):
    turn_on_notifications(site, context, page)
    cdp = context.new_cdp_session(page)
    registration = push_registration_id(cdp, page, f"{site.url}/")
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": site.url, "registrationId": registration, "data": "not json"})
    [shown] = shown_notifications(page)
    assert (shown["title"], shown["tag"], shown["data"]["url"]) == ("Plate", "plate-digest", "/")


def test_send_a_test_reaches_the_push_service_and_shows_on_the_device(site, context, page, ravi, device, push_service):
    turn_on_notifications(site, context, page)
    page.get_by_role("button", name="Send a test").click()
    expect(page.locator("#toast")).to_contain_text("Sent to 1 of 1 device")
    [message] = push_service.received  # VAPID-checked and decrypted with the device's key
    assert push_service.rejected == [] and message.device == "ravi-phone"
    payload = message.payload  # what the push service would hand the browser

    cdp = context.new_cdp_session(page)
    registration = push_registration_id(cdp, page, f"{site.url}/")
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": site.url, "registrationId": registration, "data": json.dumps(payload)})
    [shown] = shown_notifications(page)
    assert payload["tag"] and (shown["title"], shown["tag"]) == (payload["title"], payload["tag"])  # this person's tag
