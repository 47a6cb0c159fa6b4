// The page's side of the outbox: queue a write, show it at once, replay, resolve what went wrong.
import "./outbox-core.js";
import { csrfToken, request, setCsrfToken } from "./api.js";

const core = self.PlateOutbox;
const PRIORITY_RANK = { high: 0, normal: 1, low: 2 };
let account = null;
let running = null;
let again = false;
let retryTimer = null;
let retryDelay = 5000;

export function useAccount(userId) {
  account = userId;
}

export const pending = () => (account ? core.all(account) : Promise.resolve([]));
export const onChange = (listener) => core.subscribe(listener);

function newKey() {
  return crypto.randomUUID?.() || `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

/** Queue a write ({kind: add|edit|move, itemId, body, ifMatch}) and start sending it. */
export async function enqueue(op) {
  op = { ...op, user: account, state: "pending", createdAt: Date.now() };
  if (op.kind === "add" || op.kind === "move") {
    op.key = newKey(); // the Idempotency-Key: a replay after a lost answer creates or moves nothing again
  }
  if (op.kind === "add") op.tempId = `tmp-${op.key}`;
  const saved = await core.add(op);
  navigator.serviceWorker?.ready.then((registration) => registration.sync?.register("plate-outbox")).catch(() => {});
  replay();
  return saved;
}

/** Send what is queued, one at a time and in order; the result says why it stopped. */
export function replay() {
  if (!account) return Promise.resolve(null);
  if (running) {
    again = true;
    return running;
  }
  running = (async () => {
    let result;
    do {
      again = false;
      result = await core.replay(account, currentCsrf());
      if (result.status === "csrf") {
        await refreshCsrf();
        result = await core.replay(account, currentCsrf());
      }
    } while (again && result.status === "empty");
    clearTimeout(retryTimer);
    if (result.status === "offline") {
      retryTimer = setTimeout(replay, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 120000);
    } else {
      retryDelay = 5000;
    }
    window.dispatchEvent(new CustomEvent("plate:replayed", { detail: result }));
    return result;
  })().finally(() => { running = null; });
  return running;
}

const currentCsrf = csrfToken;
async function refreshCsrf() {
  const data = await request("GET", "/session").catch(() => null);
  if (data) setCsrfToken(data.csrf_token);
}

/** Take back a write not yet sent; false when it is already on its way (then revert it instead). */
export function cancel(op) {
  return core.withLock(account, async (lock) => {
    if (!lock) return false;
    const queued = (await core.all(account)).find((o) => o.seq === op.seq);
    if (!queued) return false;
    await core.remove(queued);
    return true;
  }, { ifAvailable: true });
}

/** After a 412: send mine again on top of the server's version, or keep the server's. */
export async function resolveConflict(op, choice) {
  const current = op.error.current;
  if (choice === "mine") {
    await core.put({ ...op, state: "pending", error: null, ifMatch: current.version, chained: false });
  } else {
    await core.remove(op);
    for (const later of await core.all(account)) {
      if (later.itemId === op.itemId && later.kind === "edit" && later.chained) {
        await core.put({ ...later, ifMatch: current.version, chained: false });
      }
    }
  }
  return replay();
}

/** After a 403/404/422: the person has read why, so the write is let go. */
export async function dismiss(op) {
  await core.remove(op);
  return replay();
}

export async function forgetAccount(userId) {
  await core.clearUser(userId);
}

// --- showing queued writes before the server has them ---------------------------------------

function place(items, item, { before_id: beforeId, after_id: afterId } = {}) {
  const anchor = beforeId ?? afterId;
  const index = anchor == null ? -1 : items.findIndex((other) => other.id === anchor);
  if (index >= 0) {
    items.splice(beforeId != null ? index : index + 1, 0, item);
    return;
  }
  let at = 0; // by default after the last item of the same or a higher priority, as the server does
  items.forEach((other, i) => { if (PRIORITY_RANK[other.priority] <= PRIORITY_RANK[item.priority]) at = i + 1; });
  items.splice(at, 0, item);
}

const EDITABLE = ["title", "notes", "priority", "urgent", "due_on", "status", "drop_reason"];

function edited(item, op) {
  const next = { ...item, pending: true, problem: op.state === "pending" ? null : op.state };
  for (const field of EDITABLE) if (field in op.body) next[field] = op.body[field];
  if (next.status !== "open") next.overdue = false;
  if (op.body.status && op.body.status !== item.status) { // done or dropped "just now", on this device
    next.completed_at = op.body.status === "done" ? new Date(op.createdAt).toISOString() : null;
    next.dropped_at = op.body.status === "dropped" ? new Date(op.createdAt).toISOString() : null;
  }
  return next;
}

/** A plate's items as they will be once the queued writes arrive (one status tab of one owner). */
export function applyPending(serverItems, ops, { ownerId, status = "open" }) {
  const items = serverItems.map((item) => ({ ...item }));
  for (const op of ops) {
    if (op.kind === "add") {
      if (op.body.owner_id !== ownerId || status !== "open") continue;
      place(items, {
        id: op.tempId, title: op.body.title, notes: op.body.notes || "", priority: op.body.priority || "normal",
        urgent: Boolean(op.body.urgent), due_on: op.body.due_on || null, status: "open", overdue: false,
        owner: op.owner, created_by: op.createdBy, version: 0, pending: true,
        problem: op.state === "pending" ? null : op.state,
      }, op.body);
      continue;
    }
    const index = items.findIndex((item) => item.id === op.itemId);
    if (index < 0) {
      // An item this tab's list does not hold yet, e.g. completed offline while looking at Done:
      // the write carries the item as it was, so it can be shown here before the server has it.
      const arriving = op.kind === "edit" && op.snapshot?.owner?.id === ownerId && edited(op.snapshot, op);
      if (arriving?.status === status && !("owner_id" in op.body)) {
        if (status === "open") place(items, arriving);
        else items.unshift(arriving); // closed lists are newest first
      }
      continue;
    }
    const [item] = items.splice(index, 1);
    if (op.kind === "move") {
      place(items, { ...item, pending: true, problem: op.state === "pending" ? null : op.state }, op.body);
      continue;
    }
    const next = edited(item, op);
    const movedAway = "owner_id" in op.body && op.body.owner_id !== ownerId;
    if (next.status === status && !movedAway) items.splice(index, 0, next);
  }
  return items;
}

/** One item as it will be once its queued edits arrive. */
export function applyToItem(item, ops) {
  return ops.filter((op) => op.itemId === item.id && op.kind === "edit").reduce(edited, item);
}

