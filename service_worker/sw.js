/* Plate's service worker: the app shell offline, last-known API reads, replay of queued writes, and digests by push.
 * /sw.js fills in the shell's version (a hash of its files) and its URLs when it serves this file.
 */
"use strict";
const SHELL_VERSION = "__SHELL_VERSION__";
const PRECACHE = ["__PRECACHE__"]; // [url, integrity or null]: what the offline shell needs, installed up front
const ON_DEMAND = ["__ON_DEMAND__"]; // [url, integrity]: modules loaded with import(), kept once a page has used them
const ON_DEMAND_INTEGRITY = new Map(ON_DEMAND);
const SHELL_CACHE = `plate-shell-${SHELL_VERSION}`;
const API_CACHE = "plate-api"; // survives deploys; the page deletes it on logout
const API_TIMEOUT_MS = 5000; // one bar of signal: after this, show the last known copy
const APP_PAGES = /^\/(people\/\d+(\/record)?|items\/\d+|requests\/\d+|team|settings|inbox|review)?\/?$/;
const CACHED_READS = [
  /^\/api\/v1\/session$/,
  /^\/api\/v1\/people$/,
  /^\/api\/v1\/people\/\d+\/plate$/,
  /^\/api\/v1\/items\/\d+$/,
  /^\/api\/v1\/items\/\d+\/history$/,
  /^\/api\/v1\/notifications$/,
  /^\/api\/v1\/me\/notification-settings$/,
  /^\/api\/v1\/team$/, // with ?depth: the search is part of the cache key
  /^\/api\/v1\/stats\/interruptions$/,
  /^\/api\/v1\/team-requests(\/\d+)?$/,
  /^\/api\/v1\/people\/\d+\/record$/,
  /^\/api\/v1\/review$/,
];

importScripts("/static/js/outbox-core.js");

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(SHELL_CACHE);
    const used = await usedBefore(); // views an older version kept: still there offline after the update
    await Promise.all([...PRECACHE, ...ON_DEMAND.filter(([url]) => used.has(url))]
      .map(([url, integrity]) => precache(cache, url, integrity)));
  })());
  // No skipWaiting(): a new version waits until the page says "update" (or every tab has closed).
});

/** Store one shell file, through the HTTP cache: on a first visit the page has just downloaded most of them. */
async function precache(cache, url, integrity) {
  let response = null;
  if (integrity) {
    // force-cache takes the HTTP cache's copy without asking the server; the hash refuses one of another version.
    response = await fetch(url, { cache: "force-cache", integrity, credentials: "same-origin" }).catch(() => null);
  }
  // Otherwise revalidate: a 304 when the copy is current (static files and shell pages have ETags), the file if not.
  response ||= await fetch(url, { cache: "no-cache", integrity: integrity || "", credentials: "same-origin" });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  await cache.put(url, response);
}

async function usedBefore() {
  const used = new Set();
  for (const name of await caches.keys()) {
    if (!name.startsWith("plate-shell-") || name === SHELL_CACHE) continue;
    for (const request of await (await caches.open(name)).keys()) used.add(new URL(request.url).pathname);
  }
  return used;
}

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("plate-shell-") && name !== SHELL_CACHE) await caches.delete(name);
    }
    await self.clients.claim(); // the first visit works offline without a reload
  })());
});

self.addEventListener("message", (event) => {
  if (event.data?.type === "skip-waiting") self.skipWaiting();
  if (event.data?.type === "replay") event.waitUntil(replayOutbox());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(page(request, url));
  } else if (CACHED_READS.some((pattern) => pattern.test(url.pathname))) {
    event.respondWith(networkFirst(request));
  } else if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") {
    event.respondWith(shellFile(request, url));
  }
});

/** A static file from this version's cache; a module loaded on demand is kept there the first time it is used. */
async function shellFile(request, url) {
  const hit = await caches.match(request, { cacheName: SHELL_CACHE, ignoreSearch: true });
  if (hit) return hit;
  const integrity = ON_DEMAND_INTEGRITY.get(url.pathname);
  if (!integrity) return fetch(request);
  let response;
  try {
    response = await fetch(url.pathname, { integrity, credentials: "same-origin" });
  } catch (error) {
    return fetch(request); // offline, or another version than this worker's (a deploy under way): keep nothing
  }
  if (response.ok) await (await caches.open(SHELL_CACHE)).put(url.pathname, response.clone());
  return response;
}

/** App pages come from the precached shell (instant, and offline); its script reads the data. */
async function page(request, url) {
  const shellUrl = APP_PAGES.test(url.pathname) ? "/shell"
    : ["/login", "/logout"].includes(url.pathname) ? url.pathname : null; // /logout clears the device, offline too
  if (shellUrl) {
    const hit = await caches.match(shellUrl, { cacheName: SHELL_CACHE });
    if (hit) return hit;
  }
  try {
    return await fetch(request);
  } catch (error) {
    return (await caches.match("/shell", { cacheName: SHELL_CACHE })) || Response.error();
  }
}

/** Fresh data when the network answers; else the last copy, marked so the page can say how old it is. */
async function networkFirst(request) {
  const cache = await caches.open(API_CACHE);
  const fromNetwork = fetch(request).then(async (response) => {
    if (response.ok) {
      const headers = new Headers(response.headers);
      headers.set("X-Plate-Fetched-At", String(Date.now()));
      const body = await response.clone().arrayBuffer();
      await cache.put(request, new Response(body, { status: response.status, headers }));
    } else if (response.status === 401 || response.status === 403 || response.status === 404) {
      await cache.delete(request); // no longer ours to see
    }
    return response;
  });
  const timeout = new Promise((resolve) => setTimeout(resolve, API_TIMEOUT_MS, null));
  try {
    const response = await Promise.race([fromNetwork, timeout]);
    if (response) return response;
  } catch (error) {
    // offline: fall through to the cache
  }
  const cached = await cache.match(request);
  if (cached) {
    const headers = new Headers(cached.headers);
    headers.set("X-Plate-From-Cache", "1");
    return new Response(cached.body, { status: cached.status, headers });
  }
  try {
    return await fromNetwork; // slow but not cached: keep waiting
  } catch (error) {
    return new Response(JSON.stringify({ code: 503, status: "Service Unavailable", message: "You are offline." }),
      { status: 503, headers: { "Content-Type": "application/json", "X-Plate-Offline": "1" } });
  }
}

/** Send the logged-in person's queued writes; a rejection asks Background Sync to try again later. */
async function replayOutbox() {
  const response = await fetch("/api/v1/session", { credentials: "same-origin", cache: "no-store" });
  if (!response.ok) return;
  const session = await response.json();
  const result = await self.PlateOutbox.replay(session.user.id, session.csrf_token);
  if (result.status === "offline") throw new Error("still offline");
}

self.addEventListener("sync", (event) => {
  if (event.tag === "plate-outbox") event.waitUntil(replayOutbox());
});

// Every start of the worker is a chance to deliver what was queued (Safari has no Background Sync).
replayOutbox().catch(() => {});

// --- Web Push: one notification per digest -------------------------------------------------

// A newer digest replaces the older of the same person: the server sends a tag per person, since two people
// may share a device and neither's digest should hide the other's. Older servers send none: one per device.
const DIGEST_TAG = "plate-digest";

function digestFrom(data) {
  let payload = null;
  try {
    payload = data?.json();
  } catch (error) {
    // not JSON: still show something (below)
  }
  const text = (value, fallback) => (typeof value === "string" && value.trim() ? value : fallback);
  payload = payload && typeof payload === "object" ? payload : {};
  let url = "/";
  try {
    const target = new URL(text(payload.url, "/"), self.location.origin);
    if (target.origin === self.location.origin) url = target.pathname + target.search; // never open another site
  } catch (error) {
    // a malformed url: open the plate
  }
  return {
    title: text(payload.title, "Plate"),
    body: text(payload.body, "There is news on your plate."),
    url,
    tag: text(payload.tag, DIGEST_TAG),
    count: Number.isInteger(payload.count) ? payload.count : null,
    items: Array.isArray(payload.items) ? payload.items.slice(0, 20) : [],
  };
}

self.addEventListener("push", (event) => {
  // Always show a notification, even for a malformed or repeated payload: Chrome otherwise shows
  // "This site has been updated in the background", and Safari revokes silent subscriptions.
  const digest = digestFrom(event.data);
  event.waitUntil((async () => {
    await self.registration.showNotification(digest.title, {
      body: digest.body,
      tag: digest.tag,
      renotify: false,
      icon: "/static/icons/icon-192.png",
      badge: "/static/icons/icon-192.png",
      timestamp: Date.now(),
      data: { url: digest.url, count: digest.count, items: digest.items },
    });
    for (const client of await self.clients.matchAll({ type: "window" })) client.postMessage({ type: "pushed" });
  })());
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || "/", self.location.origin).href;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const exact = windows.find((client) => client.url === url);
    if (exact) return exact.focus();
    const open = windows.find((client) => "navigate" in client);
    if (open) {
      try {
        const navigated = await open.navigate(url); // first: a refused focus must not cost the navigation
        return await (navigated || open).focus().catch(() => null);
      } catch (error) {
        // an uncontrolled window cannot be navigated from here: open a new one
      }
    }
    return self.clients.openWindow(url);
  })());
});

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")), (c) => c.charCodeAt(0));
}

/** The push service replaced the subscription: subscribe again with the same key and tell the server. */
async function resubscribe(oldSubscription, newSubscription) {
  let subscription = newSubscription;
  if (!subscription) {
    let key = oldSubscription?.options?.applicationServerKey;
    if (!key) {
      const response = await fetch("/api/v1/push/public-key", { credentials: "same-origin", cache: "no-store" });
      key = keyBytes((await response.json()).public_key);
    }
    subscription = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
  }
  const sessionResponse = await fetch("/api/v1/session", { credentials: "same-origin", cache: "no-store" });
  if (!sessionResponse.ok) return; // logged out: the page posts it after the next login
  const { csrf_token: csrf } = await sessionResponse.json();
  const send = (method, body) => fetch("/api/v1/push/subscriptions", {
    method, credentials: "same-origin", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
  });
  await send("POST", subscription.toJSON());
  if (oldSubscription?.endpoint && oldSubscription.endpoint !== subscription.endpoint) {
    await send("DELETE", { endpoint: oldSubscription.endpoint });
  }
}

self.addEventListener("pushsubscriptionchange", (event) => {
  // Reliable only in Firefox; the page also re-posts a changed subscription on every visit.
  event.waitUntil(resubscribe(event.oldSubscription, event.newSubscription));
});
