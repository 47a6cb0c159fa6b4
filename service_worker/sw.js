/* Plate's service worker: the app shell offline, last-known API reads, and replay of queued writes.
 * /sw.js fills in the shell's version (a hash of its files) and its URLs when it serves this file.
 */
"use strict";
const SHELL_VERSION = "__SHELL_VERSION__";
const SHELL_URLS = ["__SHELL_URLS__"];
const SHELL_CACHE = `plate-shell-${SHELL_VERSION}`;
const API_CACHE = "plate-api"; // survives deploys; the page deletes it on logout
const API_TIMEOUT_MS = 5000; // one bar of signal: after this, show the last known copy
const APP_PAGES = /^\/(people\/\d+|items\/\d+|team|settings)?\/?$/;
const CACHED_READS = [
  /^\/api\/v1\/session$/,
  /^\/api\/v1\/people$/,
  /^\/api\/v1\/people\/\d+\/plate$/,
  /^\/api\/v1\/items\/\d+$/,
  /^\/api\/v1\/items\/\d+\/history$/,
];

importScripts("/static/js/outbox-core.js");

self.addEventListener("install", (event) => {
  // cache: "reload" skips the HTTP cache, so the new version never stores an old file.
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) =>
    cache.addAll(SHELL_URLS.map((url) => new Request(url, { cache: "reload", credentials: "same-origin" })))));
  // No skipWaiting(): a new version waits until the page says "update" (or every tab has closed).
});

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
    event.respondWith(caches.match(request, { cacheName: SHELL_CACHE, ignoreSearch: true })
      .then((hit) => hit || fetch(request)));
  }
});

/** App pages come from the precached shell (instant, and offline); its script reads the data. */
async function page(request, url) {
  const shellUrl = APP_PAGES.test(url.pathname) ? "/shell"
    : ["/login", "/signup"].includes(url.pathname) ? url.pathname : null;
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
