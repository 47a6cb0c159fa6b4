/* The outbox: writes made on this device, kept in IndexedDB until the server has them.
 *
 * A classic script on purpose: the service worker loads it with importScripts() and the page
 * imports it as a module, so both replay with the same code. It defines self.PlateOutbox.
 * Replays run under a Web Lock, so a page and the worker never send the same write twice.
 */
(function (scope) {
  "use strict";
  const DB_NAME = "plate";
  const OUTBOX = "outbox";
  const VERSIONS = "versions"; // the newest version of each item this device has seen from its own writes
  const channel = "BroadcastChannel" in scope ? new BroadcastChannel("plate-outbox") : null;
  const listeners = new Set();
  let dbPromise = null;

  function openDb() {
    dbPromise ??= new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(OUTBOX, { keyPath: "seq", autoIncrement: true });
        request.result.createObjectStore(VERSIONS, { keyPath: "id" });
      };
      request.onsuccess = () => {
        const db = request.result;
        db.onversionchange = () => { db.close(); dbPromise = null; };
        resolve(db);
      };
      request.onerror = () => { dbPromise = null; reject(request.error); };
    });
    return dbPromise;
  }

  const done = (request) => new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const committed = (tx) => new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = tx.onabort = () => reject(tx.error);
  });

  function notify(detail) {
    const message = { type: "changed", ...detail };
    listeners.forEach((listener) => listener(message));
    channel?.postMessage(message);
  }
  channel?.addEventListener("message", (event) => listeners.forEach((listener) => listener(event.data)));

  async function all(user) {
    const db = await openDb();
    const ops = await done(db.transaction(OUTBOX).objectStore(OUTBOX).getAll());
    return ops.filter((op) => op.user === user); // keys ascend, so this is the order they were made in
  }

  async function add(op) {
    const db = await openDb();
    const tx = db.transaction([OUTBOX, VERSIONS], "readwrite");
    const pending = (await done(tx.objectStore(OUTBOX).getAll())).filter((o) => o.user === op.user);
    // An edit made on top of a write still queued is based on that write's result, not on what we saw.
    op.chained = pending.some((o) => o.itemId === op.itemId || o.tempId === op.itemId);
    if (op.kind === "edit" && !op.chained) {
      const seen = await done(tx.objectStore(VERSIONS).get(op.itemId));
      if (seen && seen.version > op.ifMatch) op.ifMatch = seen.version;
    }
    op.seq = await done(tx.objectStore(OUTBOX).add(op));
    await committed(tx);
    notify({ op: op.seq });
    return op;
  }

  async function put(op) {
    const db = await openDb();
    const tx = db.transaction(OUTBOX, "readwrite");
    tx.objectStore(OUTBOX).put(op);
    await committed(tx);
    notify({ op: op.seq });
  }

  /** Remove a write, and every later write that depends on an item it would have created. */
  async function remove(op) {
    const db = await openDb();
    const tx = db.transaction(OUTBOX, "readwrite");
    const store = tx.objectStore(OUTBOX);
    store.delete(op.seq);
    if (op.kind === "add") {
      for (const other of await done(store.getAll())) {
        if (other.user === op.user && references(other, op.tempId)) store.delete(other.seq);
      }
    }
    await committed(tx);
    notify({ op: op.seq });
  }

  function references(op, id) {
    return op.itemId === id || op.body?.before_id === id || op.body?.after_id === id;
  }

  async function clearUser(user) {
    const db = await openDb();
    const tx = db.transaction([OUTBOX, VERSIONS], "readwrite");
    for (const op of await done(tx.objectStore(OUTBOX).getAll())) {
      if (op.user === user) tx.objectStore(OUTBOX).delete(op.seq);
    }
    tx.objectStore(VERSIONS).clear();
    await committed(tx);
    notify({});
  }

  /** After a write succeeded: give later writes the real id of a created item and the item's new version. */
  async function settle(op, item) {
    const db = await openDb();
    const tx = db.transaction([OUTBOX, VERSIONS], "readwrite");
    const store = tx.objectStore(OUTBOX);
    store.delete(op.seq);
    if (item?.id) tx.objectStore(VERSIONS).put({ id: item.id, version: item.version });
    for (const other of await done(store.getAll())) {
      if (other.user !== op.user || other.seq === op.seq) continue;
      let changed = false;
      if (op.kind === "add") {
        if (other.itemId === op.tempId) { other.itemId = item.id; changed = true; }
        for (const field of ["before_id", "after_id"]) {
          if (other.body?.[field] === op.tempId) { other.body[field] = item.id; changed = true; }
        }
      }
      if (item && other.itemId === item.id && other.kind === "edit" && other.chained) {
        other.ifMatch = item.version;
        changed = true;
      }
      if (changed) store.put(other);
    }
    await committed(tx);
    notify({ op: op.seq, settled: true, kind: op.kind, item: item?.id, tempId: op.tempId });
  }

  function send(op, csrf) {
    const headers = { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf };
    let url = "/api/v1/items";
    let method = "POST";
    if (op.key) headers["Idempotency-Key"] = op.key; // adds and moves: a replay after a lost answer does nothing twice
    if (op.kind === "edit") {
      url += `/${op.itemId}`;
      method = "PATCH";
      headers["If-Match"] = `"${op.ifMatch}"`;
    } else if (op.kind === "move") {
      url += `/${op.itemId}/move`;
    }
    return fetch(url, { method, headers, body: JSON.stringify(op.body), credentials: "same-origin", cache: "no-store" });
  }

  const RETRY_LATER = new Set([408, 425, 429]);

  /** The server's item already holds every field this edit sets, as it sets it. */
  function alreadyApplied(op, current) {
    if (op.kind !== "edit" || !current) return false;
    return Object.entries(op.body).every(([field, value]) =>
      (field === "owner_id" ? current.owner?.id : (current[field] ?? null)) === (value ?? null));
  }

  /** Send this person's queued writes in order; stop at the first one that did not go through. */
  async function replayLocked(user, csrf) {
    let sent = 0;
    for (;;) {
      const [op] = await all(user);
      if (!op) return { status: "empty", sent };
      if (op.state !== "pending") return { status: op.state, op, sent };
      let response;
      try {
        response = await send(op, csrf);
      } catch (error) {
        return { status: "offline", sent };
      }
      const body = await response.json().catch(() => null);
      if (response.ok) {
        await settle(op, body);
        sent += 1;
        continue;
      }
      if (response.status >= 500 || RETRY_LATER.has(response.status)) return { status: "offline", sent };
      if (response.status === 401) return { status: "logged-out", sent };
      if (response.status === 403 && /CSRF/.test(body?.message || "")) return { status: "csrf", sent };
      if (response.status === 412 && alreadyApplied(op, body?.current)) {
        // Most often our own write: its first attempt arrived and only the answer was lost. Nothing clashes.
        await settle(op, body.current);
        sent += 1;
        continue;
      }
      op.state = response.status === 412 ? "conflict" : "failed";
      op.error = { code: response.status, message: body?.message || response.statusText,
                   errors: body?.errors || null, current: body?.current || null };
      await put(op);
      return { status: op.state, op, sent };
    }
  }

  function withLock(user, fn, options = {}) {
    if (scope.navigator?.locks) return navigator.locks.request(`plate-outbox-${user}`, options, fn);
    return fn(true);
  }

  function replay(user, csrf) {
    return withLock(user, () => replayLocked(user, csrf));
  }

  scope.PlateOutbox = { all, add, put, remove, clearUser, replay, withLock, subscribe: (f) => listeners.add(f) };
})(self);
