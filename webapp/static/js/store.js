// Who is logged in and the people of their organization, as last read from the API.
import { ApiError, csrfToken, get, setCsrfToken } from "./api.js";
import { forgetAccount } from "./outbox.js";
import { forgetDevice } from "./push.js";

export const session = { user: null, people: [], byId: new Map(), reviewCount: 0 };

// Who this device last saw logged in: whose data to clear when logging out after the session already ended.
const LAST_ACCOUNT = "plate-account";
// A logout made offline: this device is cleared, but the server's session cookie still has to be ended.
const PENDING_LOGOUT = "plate-pending-logout";

/** The session, or null when nobody is logged in (offline: the last one this device saw). */
export async function loadSession() {
  try {
    const data = await get("/session");
    session.user = data.user;
    setCsrfToken(data.csrf_token);
    localStorage.setItem(LAST_ACCOUNT, String(data.user.id));
    return data.user;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

export async function loadPeople() {
  session.people = await get("/people");
  session.byId = new Map(session.people.map((person) => [person.id, person]));
  return session.people;
}

export const person = (id) => session.byId.get(id) || (session.user?.id === id ? session.user : null);
export const zoneOf = (id) => person(id)?.time_zone || session.user?.time_zone;

/** Everyone below a person, direct reports first, each with their depth in the tree. */
export function peopleBelow(managerId, depth = 1) {
  const direct = session.people.filter((p) => p.manager_id === managerId);
  return direct.flatMap((p) => [{ ...p, depth }, ...peopleBelow(p.id, depth + 1)]);
}

/** Whose plate the logged-in person may add to: their own, anyone below, and their manager's. */
export function addableOwners() {
  const me = session.user;
  const owners = [{ id: me.id, label: `Me (${me.name})` }];
  for (const p of peopleBelow(me.id)) owners.push({ id: p.id, label: `${"· ".repeat(p.depth - 1)}${p.name}` });
  const manager = person(me.manager_id);
  if (manager) owners.push({ id: manager.id, label: `${manager.name} (my manager)` });
  return owners;
}

/** End `user`'s session on the server with their CSRF token: true once none of theirs is left, false if unreachable. */
async function endServerSession(user, csrf) {
  const end = (token) => fetch("/api/v1/session", {
    method: "DELETE", credentials: "same-origin", cache: "no-store",
    headers: { Accept: "application/json", "X-CSRF-Token": token || "" },
  });
  try {
    const response = await end(csrf);
    if (response.status !== 403) return response.ok || response.status === 401; // 401: it had already ended
    // Not this cookie's token (it was rotated, or never known offline): see whose session it is first.
    const current = await fetch("/api/v1/session", { credentials: "same-origin", cache: "no-store" });
    if (!current.ok) return current.status === 401;
    const data = await current.json();
    if (user != null && data.user.id !== user) return true; // someone else has logged in since: theirs stays
    const again = await end(data.csrf_token);
    await self.caches?.open("plate-api").then((cache) => cache.delete("/api/v1/session")).catch(() => {}); // that read left a copy
    return again.ok || again.status === 401;
  } catch (error) {
    return false; // offline
  }
}

/** A logout made offline, finished now: false while the server still cannot be reached (the device stays logged out). */
export async function endPendingLogout() {
  const pending = JSON.parse(localStorage.getItem(PENDING_LOGOUT) || "null");
  if (!pending) return true;
  if (!(await endServerSession(pending.user, pending.csrf))) return false;
  localStorage.removeItem(PENDING_LOGOUT);
  return true;
}

/** A new login replaced the session a pending logout was meant to end. */
export function forgetPendingLogout() {
  localStorage.removeItem(PENDING_LOGOUT);
}

/** Log out of this device: end the session (now, or on the next load with a connection), forget its data and unsent writes. */
export async function logOut() {
  const stored = Number(localStorage.getItem(LAST_ACCOUNT)) || null;
  const userId = session.user?.id ?? stored; // with the session already gone (401), the last account seen here
  if (userId) await forgetDevice(userId); // while the session lasts: the server forgets this device's endpoint
  const csrf = csrfToken();
  if (await endServerSession(userId, csrf)) forgetPendingLogout();
  else localStorage.setItem(PENDING_LOGOUT, JSON.stringify({ user: userId, csrf }));
  if ("caches" in window) await caches.delete("plate-api");
  if (userId) await forgetAccount(userId);
  localStorage.removeItem(LAST_ACCOUNT);
  session.user = null;
  location.replace("/login");
}
