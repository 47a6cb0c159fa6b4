// The signed-in app: pick the page's view from the path, keep it in step with the outbox and the network.
import { openAddSheet } from "./addsheet.js";
import { clockIn } from "./format.js";
import { get, readAgainThroughWorker } from "./api.js";
import { dismiss, onChange, pending, replay, resolveConflict, useAccount } from "./outbox.js";
import { keepSubscriptionCurrent } from "./push.js";
import { endPendingLogout, loadPeople, loadSession, session } from "./store.js";
import { banner, h, openSheet } from "./ui.js";
import { inboxView } from "./views/inbox.js";
import { itemView } from "./views/item.js";
import { plateView } from "./views/plate.js";
import { settingsView } from "./views/settings.js";
import { teamView } from "./views/team.js";

const main = document.getElementById("main");
let view = null;

/** The page's view; pages visited seldom load their module only when opened. */
async function route(path) {
  let match;
  if ((match = path.match(/^\/people\/(\d+)\/?$/))) return plateView(Number(match[1]));
  if ((match = path.match(/^\/people\/(\d+)\/record\/?$/))) return (await import("./views/record.js")).recordView(Number(match[1]));
  if ((match = path.match(/^\/requests\/(\d+)\/?$/))) return (await import("./views/request.js")).requestView(Number(match[1]));
  if (path.startsWith("/review")) return (await import("./views/review.js")).reviewView();
  if ((match = path.match(/^\/items\/(\d+)\/?$/))) return itemView(Number(match[1]));
  if (path.startsWith("/team")) return teamView();
  if (path.startsWith("/settings")) return settingsView();
  if (path.startsWith("/inbox")) return inboxView();
  return plateView(session.user.id);
}

async function render() {
  if (!view) return;
  const ops = await pending();
  view.render(main, ops);
  document.body.dataset.outbox = String(ops.length); // what is still to be sent, for tests and styling
  document.getElementById("page-title").textContent = view.title;
  document.title = `${view.title} · Plate`;
  const back = document.getElementById("back-link");
  back.hidden = !view.back;
  if (view.back) back.href = view.back;
  main.setAttribute("aria-busy", "false");
  document.body.dataset.ready = "true";
}

async function reload() {
  await Promise.all([loadPeople().catch(() => {}), view.load()]);
  await render();
}

function markNavigation() {
  const path = location.pathname;
  const section = path === `/people/${session.user.id}/record` || path.startsWith("/review") ? "plate"
    : path.startsWith("/team") || path.startsWith("/people/") || path.startsWith("/requests/") ? "team"
    : location.pathname.startsWith("/settings") ? "settings"
    : location.pathname.startsWith("/items/") || location.pathname.startsWith("/inbox") ? "" : "plate";
  document.querySelectorAll("[data-nav]").forEach((link) => {
    if (link.dataset.nav === section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  });
  if (location.pathname.startsWith("/inbox")) document.getElementById("bell").setAttribute("aria-current", "page");
}

// --- the bell: unread notifications --------------------------------------------------------

function showUnread(unread) {
  const count = document.getElementById("bell-count");
  count.textContent = unread > 99 ? "99+" : String(unread);
  count.hidden = !unread;
  document.getElementById("bell").setAttribute("aria-label", unread ? `Notifications, ${unread} unread` : "Notifications");
}

async function refreshUnread() {
  if (view?.notes) return view.load().then(render); // the inbox itself: its list and the count together
  try {
    showUnread((await get("/notifications?limit=1")).unread);
  } catch (error) {
    // offline and never read: the bell stays as it is
  }
}

window.addEventListener("plate:unread", ({ detail }) => showUnread(detail));
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible" && view) refreshUnread(); });
navigator.serviceWorker?.addEventListener("message", (event) => { if (event.data?.type === "pushed") refreshUnread(); });

// --- "Still needed?": a badge on My plate while items wait for review -----------------------

function showReviewCount(count) {
  session.reviewCount = count;
  const badge = document.getElementById("review-count");
  badge.textContent = count > 99 ? "99+" : String(count);
  badge.hidden = !count;
  badge.closest("a").setAttribute("aria-label", count ? `My plate, ${count} to review` : "My plate");
  if (document.body.dataset.ready) render(); // the plate links to the review; before the first render, it just waits
}

async function refreshReview() {
  try {
    showReviewCount((await get("/review")).count);
  } catch (error) {
    // offline and never read: no badge
  }
}

window.addEventListener("plate:review", ({ detail }) => showReviewCount(detail));

// --- live pages: a request's progress updates while it is on screen -----------------------

function refreshLive() {
  if (view?.refreshEvery && document.visibilityState === "visible") view.load().then(render);
}

document.addEventListener("visibilitychange", refreshLive);
window.addEventListener("focus", refreshLive);

// --- freshness: "offline · last updated 10:42" ---------------------------------------------

let oldestCopy = null;
window.addEventListener("plate:freshness", ({ detail }) => {
  if (detail.fromCache) {
    oldestCopy = Math.min(oldestCopy ?? Infinity, detail.fetchedAt ?? Infinity);
    const at = Number.isFinite(oldestCopy) ? ` · last updated ${clockIn(undefined, new Date(oldestCopy))}` : "";
    banner("offline", `Offline${at}`, "offline");
  } else if (navigator.onLine) {
    oldestCopy = null;
    banner("offline", null);
  }
});
window.addEventListener("offline", () => { if (!document.querySelector('[data-banner="offline"]')) banner("offline", "Offline", "offline"); });
window.addEventListener("online", async () => {
  banner("offline", null);
  oldestCopy = null;
  await replay();
  if (view) await reload();
  if (view) refreshUnread();
});

// --- the outbox: state in the app bar, conflicts and refusals shown to the person ----------

async function showSyncState() {
  const ops = await pending();
  const waiting = ops.length;
  document.getElementById("sync-state").textContent = waiting ? `${waiting} to sync` : "";
  const stuck = ops.find((op) => op.state !== "pending");
  if (!stuck) {
    banner("outbox", null);
    return;
  }
  if (stuck.state === "conflict") {
    showConflict(stuck);
    banner("outbox", h("span", {}, "An edit clashed with someone else's. ",
      h("button", { type: "button", class: "link", onclick: () => showConflict(stuck) }, "Choose a version")), "warning");
  } else {
    banner("outbox", h("span", {}, `Not saved: ${stuck.error.message} `,
      h("button", { type: "button", class: "link", onclick: () => dismiss(stuck) }, "Dismiss")), "error");
  }
}

const FIELD_LABELS = { title: "Title", notes: "Notes", priority: "Priority", urgent: "Urgent", due_on: "Due",
                       status: "Status", drop_reason: "Drop reason", owner_id: "Owner" };
const show = (value) => (value === null || value === undefined || value === "" ? "—" : value === true ? "yes" : value === false ? "no" : String(value));

function showConflict(op) {
  const sheet = document.getElementById("conflict-sheet");
  const current = op.error.current || {};
  const rows = Object.keys(op.body).map((field) => h("tr", {},
    h("th", { scope: "row" }, FIELD_LABELS[field] || field),
    h("td", {}, show(op.body[field])),
    h("td", {}, show(field === "owner_id" ? current.owner?.id : current[field]))));
  sheet.querySelector("[data-compare]").replaceChildren(
    h("p", { class: "compare-title" }, current.title || ""),
    h("table", {}, h("thead", {}, h("tr", {}, h("td"), h("th", { scope: "col" }, "Yours"), h("th", { scope: "col" }, "Now on the server"))),
      h("tbody", {}, rows)));
  sheet.querySelectorAll("[data-keep]").forEach((button) => {
    button.onclick = async () => {
      sheet.close();
      await resolveConflict(op, button.dataset.keep);
      await reload();
    };
  });
  openSheet(sheet);
}

window.addEventListener("plate:replayed", async ({ detail }) => {
  await showSyncState();
  if (detail?.sent && view) await reload();
  if (detail?.status === "logged-out") {
    banner("outbox", h("span", {}, "Log in again to send your changes. ", h("a", { href: `/login?next=${encodeURIComponent(location.pathname)}` }, "Log in")), "warning");
  }
});

onChange(async (message) => {
  if (message.settled && view) {
    // Sent (from here, another tab or the service worker): draw what the server now holds. Drawing first
    // would show the old copy without the queued change, e.g. a completed item back on the list.
    await reload().catch(render);
  } else {
    await render();
  }
  await showSyncState();
});
window.addEventListener("plate:rerender", render);

// --- the service worker: offline shell, and "update available" ----------------------------

function offerUpdate(registration) {
  banner("update", h("span", {}, "A new version of Plate is ready. ",
    h("button", { type: "button", class: "link", onclick: () => registration.waiting?.postMessage({ type: "skip-waiting" }) }, "Update")), "info");
}

async function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  const hadController = Boolean(navigator.serviceWorker.controller);
  const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  if (registration.waiting && hadController) offerUpdate(registration);
  registration.addEventListener("updatefound", () => {
    const worker = registration.installing;
    worker?.addEventListener("statechange", () => {
      if (worker.state === "installed" && navigator.serviceWorker.controller) offerUpdate(registration);
    });
  });
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (hadController) location.reload(); // the person asked for the update
    // First install: read again through the worker so it works offline, without re-rendering under the person's finger.
    else readAgainThroughWorker();
  });
}

// --- start ----------------------------------------------------------------------------------

async function start() {
  // Logged out while offline: end that session on the server before anything can sign back in with it.
  if (!(await endPendingLogout().catch(() => false))) {
    location.replace(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    return;
  }
  registerServiceWorker().catch(() => {});
  let user;
  try {
    user = await loadSession();
  } catch (error) {
    main.replaceChildren(h("div", { class: "empty" }, h("p", {}, "You are offline, and this device has no copy of your plate yet."),
      h("p", { class: "hint" }, "Open Plate once with a connection; after that it works offline.")));
    main.setAttribute("aria-busy", "false");
    return;
  }
  if (!user) {
    location.replace(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    return;
  }
  useAccount(user.id);
  markNavigation();
  try {
    view = await route(location.pathname);
  } catch (error) { // a page loaded on demand that this device has not opened online since the last update
    main.replaceChildren(h("div", { class: "empty" }, h("p", {}, "You are offline, and this page has not been opened on this device yet."),
      h("p", { class: "hint" }, "Open it once with a connection; after that it works offline.")));
    main.setAttribute("aria-busy", "false");
    return;
  }
  document.getElementById("add-button").addEventListener("click", () => openAddSheet(view?.ownerId));
  if (view.refreshEvery) setInterval(refreshLive, view.refreshEvery);
  if (!location.pathname.startsWith("/review")) refreshReview(); // not awaited: the page does not wait for the badge
  await Promise.all([loadPeople().catch(() => {}), view.load(), view.notes ? null : refreshUnread()]);
  await render();
  await showSyncState();
  keepSubscriptionCurrent(user.id).catch(() => {}); // pushsubscriptionchange is unreliable outside Firefox
  if (!navigator.onLine && !document.querySelector('[data-banner="offline"]')) banner("offline", "Offline", "offline");
  await replay(); // whatever is left from last time goes out now
}

start();
