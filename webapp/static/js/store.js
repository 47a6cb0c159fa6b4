// Who is logged in and the people of their organization, as last read from the API.
import { ApiError, del, get, setCsrfToken } from "./api.js";
import { forgetAccount } from "./outbox.js";
import { forgetDevice } from "./push.js";

export const session = { user: null, people: [], byId: new Map(), reviewCount: 0 };

/** The session, or null when nobody is logged in (offline: the last one this device saw). */
export async function loadSession() {
  try {
    const data = await get("/session");
    session.user = data.user;
    setCsrfToken(data.csrf_token);
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

/** Log out of this device: end the session, then forget its cached data and unsent writes. */
export async function logOut() {
  const userId = session.user?.id;
  if (userId) await forgetDevice(userId); // while the session lasts: the server forgets this device's endpoint
  try {
    await del("/session");
  } catch (error) {
    // offline: the cookie ends with the next login; this device's data is cleared either way
  }
  if ("caches" in window) await caches.delete("plate-api");
  if (userId) await forgetAccount(userId);
  session.user = null;
  location.replace("/login");
}
